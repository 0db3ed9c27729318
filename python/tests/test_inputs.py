"""Every input type gives the result of the float64 array; files are passed
by path; bad input raises the exception with the command line's words."""

import os

import numpy as np
import pytest

import dcor_stream
from conftest import ACTIVATIONS, workspaces

INTS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


@pytest.fixture
def small_ints(rng):
    """Integer-valued data in [0, 100): every dtype holds it exactly."""
    x = rng.integers(0, 100, size=(50, 4)).astype(np.float64)
    y = np.c_[x[:, :2] % 7, rng.integers(0, 100, size=50)]
    return x, y


@pytest.mark.parametrize("dtype", INTS + ["float16", "float32", "float64", ">f8", "bool"])
def test_dtypes(small_ints, dtype):
    x, y = small_ints
    if dtype == "bool":
        x = x > 50
    want = dcor_stream.dcor(x.astype(np.float64), y).to_dict()
    assert dcor_stream.dcor(x.astype(dtype), y).to_dict() == want


def test_shapes_and_lists(small_ints):
    x, y = small_ints
    want = dcor_stream.dcor(x, y).to_dict()
    assert dcor_stream.dcor(x.reshape(50, 2, 2), y).to_dict() == want  # (n, ...) flattened per sample
    assert dcor_stream.dcor(x.tolist(), y.tolist()).to_dict() == want
    assert dcor_stream.dcor(np.asfortranarray(x), y[::1]).to_dict() == want
    assert dcor_stream.dcor(np.repeat(x, 2, axis=1)[:, ::2], y).to_dict() == want  # not contiguous
    one = dcor_stream.dcor(x[:, 0], y).to_dict()
    assert one == dcor_stream.dcor(x[:, :1], y).to_dict() and one["x_dim"] == 1


def test_frames(small_ints):
    x, y = small_ints
    want = dcor_stream.dcor(x, y).to_dict()
    pd = pytest.importorskip("pandas", reason="pandas is not installed")
    assert dcor_stream.dcor(pd.DataFrame(x, columns=list("abcd")), pd.DataFrame(y)).to_dict() == want
    assert dcor_stream.dcor(pd.Series(x[:, 0]), y).to_dict() == dcor_stream.dcor(x[:, 0], y).to_dict()
    with pytest.raises(dcor_stream.DataError, match="not numbers"):
        dcor_stream.dcor(pd.DataFrame({"a": ["p", "q"] * 25, "b": x[:, 0]}), y)


def test_polars(small_ints):
    pl = pytest.importorskip("polars", reason="polars is not installed (optional)")
    x, y = small_ints
    assert dcor_stream.dcor(pl.DataFrame(x), y).bcdcor == dcor_stream.dcor(x, y).bcdcor


def test_arrow_table_and_files(tmp_path, monkeypatch):
    pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed")
    import pyarrow.ipc
    import pyarrow.parquet as pq
    table = pa.ipc.open_file(ACTIVATIONS).read_all()
    a = np.array(table.column("model_a").to_pylist())
    b = np.array(table.column("model_b").to_pylist())
    want = dcor_stream.dcor(a, b).to_dict()
    assert a.shape == (1000, 64) and want["n"] == 1000
    assert dcor_stream.dcor(ACTIVATIONS + ":model_a", ACTIVATIONS + ":model_b").to_dict() == want
    monkeypatch.chdir(os.path.dirname(ACTIVATIONS))  # relative to the caller's directory
    assert dcor_stream.dcor("activations.arrow:model_a", "activations.arrow:model_b").to_dict() == want
    pq.write_table(table, tmp_path / "acts.parquet", row_group_size=300)
    assert dcor_stream.dcor(f"{tmp_path}/acts.parquet:model_a", b).to_dict() == want
    cols = pa.table({f"c{i}": a[:, i] for i in range(3)})
    assert dcor_stream.dcor(cols, b).to_dict() == dcor_stream.dcor(a[:, :3], b).to_dict()


def test_memmapped_npy_is_passed_by_path(small_ints, tmp_path, tmpdir_env):
    x, y = small_ints
    np.save(tmp_path / "x.npy", x)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    seen = []
    r = dcor_stream.dcor(mm, y, progress=lambda line: seen.append(workspaces(tmpdir_env)))
    assert r.to_dict() == dcor_stream.dcor(x, y).to_dict()
    assert seen and all(list(ws.values()) == [["y.npy"]] for ws in seen), seen  # x was not copied
    assert dcor_stream.dcor(mm[:40], y[:40]).to_dict() == dcor_stream.dcor(x[:40], y[:40]).to_dict()  # a slice is


def test_temp_dir_on_tmpfs(small_ints, monkeypatch):
    monkeypatch.delenv("DCOR_STREAM_TMPDIR", raising=False)
    with open("/proc/mounts") if os.path.exists("/proc/mounts") else open(os.devnull) as f:
        if not any(l.split()[1:3] == ["/dev/shm", "tmpfs"] for l in f):
            pytest.skip("no tmpfs at /dev/shm")
    mine = f"space{os.getpid()}"  # a file name no other process's call has

    def ours():
        return {d for d in os.listdir("/dev/shm")
                if d.startswith("dcor-stream-") and os.path.exists(f"/dev/shm/{d}/{mine}.npy")}

    seen = []
    dcor_stream.matrix({mine: small_ints[0], "y": small_ints[1]}, progress=lambda line: seen.append(ours()))
    assert seen and all(len(s) == 1 for s in seen), "no private directory of the call in /dev/shm"
    assert ours() == set()  # removed on return


def test_nan_and_inf_name_file_column_row(small_ints):
    x, y = small_ints
    x = x.copy()
    x[7, 1] = np.nan
    with pytest.raises(dcor_stream.DataError) as e:
        dcor_stream.dcor(x, y)
    assert str(e.value) == 'dcor-stream: x.npy: column "data": row 7: NaN at element 1 (use drop_invalid=True to drop such rows)'
    x[7, 1] = -np.inf
    with pytest.raises(dcor_stream.DataError, match=r'l3\.npy: column "data": row 7: -Inf at element 1'):
        dcor_stream.matrix({"l3": x, "y": y})
    r = dcor_stream.dcor(x, y, drop_invalid=True)
    assert r.dropped_rows == 1 and r.n == 49
    assert r.bcdcor == dcor_stream.dcor(np.delete(x, 7, 0), np.delete(y, 7, 0)).bcdcor


def test_bad_input(small_ints):
    x, y = small_ints
    cases = [
        ((x[:40], y), dcor_stream.DataError, "row count mismatch: x.npy has 40 rows, y.npy has 50 rows"),
        ((np.zeros((0, 3)), y), dcor_stream.DataError, r"x: no samples"),
        ((x.astype(complex), y), dcor_stream.DataError, "complex128 is not a number"),
        ((x.astype(str), y), dcor_stream.DataError, "is not a number"),
        ((np.float64(3.0), y), dcor_stream.DataError, "a scalar"),
        (([[1, 2], [3]], y), dcor_stream.DataError, "not an array of numbers"),
        (("no-such-file.arrow:a", y), dcor_stream.DataError, "no-such-file.arrow"),
    ]
    for args, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            dcor_stream.dcor(*args)


@pytest.mark.parametrize("kw, msg", [
    (dict(bogus=1), "unknown option 'bogus'"),
    (dict(exponent=3), "-exponent 3 is outside"),
    (dict(permutations="many"), "invalid literal"),
    (dict(precision="float8"), "float8"),
    (dict(ci=True, ci_level=1.5), "ci-level"),
    (dict(estimator="magic"), "magic"),
])
def test_bad_options_are_usage_errors(small_ints, kw, msg):
    with pytest.raises(dcor_stream.UsageError, match=msg) as e:
        dcor_stream.dcor(*small_ints, **kw)
    assert "usage:" not in str(e.value) and "Traceback" not in str(e.value)
