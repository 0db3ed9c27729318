"""The subprocess around the binary: temporary files removed on return, on
error and on Ctrl-C; progress; fork()ed workers; the wheel's binary."""

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import dcor_stream
from conftest import workspaces

BIG = 6000  # rows: a run of about a second, long enough to interrupt


def test_temp_dir_removed_on_return_and_error(xyz, tmpdir_env):
    x, y, _ = xyz
    seen = []
    dcor_stream.dcor(x, y, progress=lambda line: seen.append(workspaces(tmpdir_env)))
    assert seen and all(list(ws.values()) == [["x.npy", "y.npy"]] for ws in seen)
    assert workspaces(tmpdir_env) == {}
    bad = x.copy()
    bad[3, 0] = np.nan
    with pytest.raises(dcor_stream.DataError):
        dcor_stream.matrix({"a": x, "b": bad})
    with pytest.raises(dcor_stream.DataError):
        dcor_stream.dcor(x, y[:10])
    with pytest.raises(dcor_stream.UsageError):
        dcor_stream.dcor(x, y, exponent=5)
    assert workspaces(tmpdir_env) == {}


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="no signals to threads on Windows")
def test_keyboard_interrupt_stops_the_binary(rng, tmpdir_env):
    x, y = rng.normal(size=(BIG, 8)), rng.normal(size=(BIG, 8))
    lines = []

    def ctrl_c(line):
        # Ctrl-C while the binary runs, taken by this thread (the one that
        # runs the callback), as the kernel may choose any thread for it.
        lines.append(line)
        if len(lines) == 1:
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt, match="interrupted"):
        dcor_stream.dcor(x, y, ci=True, permutations=20, progress=ctrl_c, tile=64)
    assert time.monotonic() - start < 30
    assert not any(l["pass"] == 3 and l["done"] == l["total"] for l in lines)  # it stopped before the end
    assert workspaces(tmpdir_env) == {}


def test_callback_exception_stops_the_run(rng, tmpdir_env):
    x, y = rng.normal(size=(BIG, 8)), rng.normal(size=(BIG, 8))

    class Stop(Exception):
        pass

    def stop(line):
        raise Stop("enough")

    with pytest.raises(Stop, match="enough"):
        dcor_stream.dcor(x, y, ci=True, progress=stop, tile=64)
    assert workspaces(tmpdir_env) == {}


CHILD = textwrap.dedent("""
    import sys, numpy as np, dcor_stream
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=({n}, 8)), rng.normal(size=({n}, 8))
    def started(line):
        if line["done"] > 0 and not started.said:
            print("started", flush=True)
            started.said = True
    started.said = False
    try:
        dcor_stream.dcor(x, y, ci=True, permutations=20, progress=started, tile=64)
    except KeyboardInterrupt as e:
        print("KeyboardInterrupt:", e, flush=True)
        sys.exit(130)
    print("finished", flush=True)
""")


def test_ctrl_c_in_a_terminal(tmpdir_env):
    """Ctrl-C in a terminal signals the whole foreground process group:
    Python and the binary both get SIGINT."""
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(n=BIG)], stdout=subprocess.PIPE, text=True,
                             start_new_session=True, env=dict(os.environ, DCOR_STREAM_TMPDIR=str(tmpdir_env)))
    try:
        assert child.stdout.readline() == "started\n"
        assert workspaces(tmpdir_env)  # the arrays, while it runs
        os.killpg(child.pid, signal.SIGINT)
        out, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130 and out.startswith("KeyboardInterrupt: dcor-stream: interrupted"), out
    assert workspaces(tmpdir_env) == {}


def test_progress_stream(xyz, capfd):
    x, y, _ = xyz
    lines = []
    dcor_stream.dcor(x, y, ci=True, permutations=9, progress=lines.append, tile=16)
    ends = [l["pass"] for l in lines if l["done"] == l["total"]]
    assert ends == [1, 2, 3] and all(l["total"] == 10 and l["total_pairs"] == 60 * 59 // 2 for l in lines)
    dcor_stream.dcor(x, y, progress=False)
    dcor_stream.dcor(x, y)  # stderr is not a terminal here: no bar
    assert capfd.readouterr().err == ""


def test_progress_bar_on_stderr(xyz, capfd, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # the bar without tqdm
    dcor_stream.dcor(*xyz[:2], progress=True, tile=16)
    err = capfd.readouterr().err
    assert "\rdcor: [" in err and "100.0% 10/10 tiles" in err and err.endswith("\n")


def test_progress_bar_tqdm(xyz, capfd):
    pytest.importorskip("tqdm", reason="tqdm is not installed (optional)")
    dcor_stream.dcor(*xyz[:2], ci=True, progress=True, tile=16)
    err = capfd.readouterr().err
    assert "dcor: 100%" in err and "dcor (pass 2): 100%" in err and "10/10" in err


def _in_child(seed):
    x = np.random.default_rng(seed).normal(size=(80, 3))
    return dcor_stream.dcor(x, np.sin(x)).bcdcor


@pytest.mark.skipif(sys.platform == "win32", reason="no fork on Windows")
def test_fork_workers():
    """fork()ed workers (multiprocessing, DataLoader workers) run the binary
    as the parent does; an in-process Go runtime would deadlock here."""
    dcor_stream.dcor([[1], [2], [3], [5]], [[1], [3], [2], [4]])  # the parent ran one first
    with multiprocessing.get_context("fork").Pool(2) as pool:
        got = pool.map(_in_child, range(4))
    assert got == [_in_child(s) for s in range(4)]


def test_binary_is_the_wheels():
    path = dcor_stream.binary()
    assert os.access(path, os.X_OK)
    if os.environ.get("DCOR_STREAM_TEST_WHEEL"):  # set by .ci/pytest.sh
        here = os.path.dirname(dcor_stream.__file__)
        assert "site-packages" in here and path == os.path.join(here, "bin", "dcor-stream")
        assert "DCOR_STREAM_BIN" not in os.environ
    out = subprocess.run([path, "-h"], capture_output=True, text=True)
    assert "usage: dcor-stream" in out.stderr + out.stdout


def test_notices_warn_and_minibatch(xyz):
    x, y, _ = xyz
    with pytest.warns(dcor_stream.DcorStreamWarning, match="cka_rbf left out"):
        r = dcor_stream.dcor(x, y, cka=True, exponent=1.5)
    assert r.cka_rbf is None and r.cka_linear is not None and r.notes
    m = dcor_stream.dcor(x, y, minibatch=15)  # the seed paper's minibatch mean: its 1×1 matrix
    assert isinstance(m, dcor_stream.MatrixResult) and m.minibatch["batches"] == 4 and m.bcdcor.shape == (1, 1)
