"""Finding and running the dcor-stream binary: arguments in, JSON out,
progress drawn from its -progress-fd stream, exit status mapped to the
exceptions, Ctrl-C forwarded as SIGINT."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading

from ._errors import DataError, InternalError, UsageError

_EXE = "dcor-stream.exe" if os.name == "nt" else "dcor-stream"


def binary():
    """The path of the dcor-stream binary: $DCOR_STREAM_BIN, else the one in
    the wheel (dcor_stream/bin), else dcor-stream on PATH."""
    env = os.environ.get("DCOR_STREAM_BIN")
    if env:
        return env
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", _EXE)
    if os.path.exists(here):
        if os.name != "nt" and not os.access(here, os.X_OK):
            try:  # an installer that dropped the mode bits of the wheel
                os.chmod(here, os.stat(here).st_mode | 0o111)
            except OSError:
                pass
        return here
    found = shutil.which("dcor-stream")
    if found:
        return found
    raise InternalError(
        "dcor_stream: no dcor-stream binary: it ships in the platform wheel (dcor_stream/bin); "
        "in a source checkout build one with `go build ./cmd/dcor-stream` and set DCOR_STREAM_BIN, "
        "or `pip install ./python` (which needs Go)")


class _Bar:
    """A progress bar fed by the lines of -progress-fd: tqdm when installed,
    else one line on stderr redrawn in place. callback, if given, receives
    each line as a dict instead."""

    def __init__(self, desc, callback=None):
        self.desc, self.callback = desc, callback
        self.tqdm, self.pass_, self.drawn = None, 0, False

    def update(self, line):
        if self.callback is not None:
            self.callback(line)
            return
        p, done, total = line.get("pass", 1), line.get("done", 0), max(line.get("total", 1), 1)
        label = self.desc if p == 1 else f"{self.desc} (pass {p})"
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            if self.tqdm is None or p != self.pass_:
                if self.tqdm is not None:
                    self.tqdm.close()
                self.tqdm = tqdm(total=total, desc=label, unit="tile", leave=False)
            self.tqdm.n = done
            self.tqdm.refresh()
        else:
            width = 30
            fill = int(width * done / total)
            sys.stderr.write(f"\r{label}: [{'=' * fill}{' ' * (width - fill)}] {100 * done / total:5.1f}% {done}/{total} tiles ")
            sys.stderr.flush()
            self.drawn = True
        self.pass_ = p

    def close(self):
        if self.tqdm is not None:
            self.tqdm.close()
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _want_progress(progress):
    if callable(progress):
        return True
    if progress is None:
        try:
            return sys.stderr is not None and sys.stderr.isatty()
        except (AttributeError, ValueError):
            return False
    return bool(progress)


def _clean(text, cwd):
    """The binary's message, without the temporary directory's path and with
    the flags of its hints spelled as the Python keywords."""
    if cwd:
        text = text.replace(cwd + os.sep, "").replace(cwd, ".")
    return (text.replace("use -drop-invalid", "use drop_invalid=True")
            .replace("run 'dcor-stream -h' for usage", "")
            .replace("run 'dcor-stream matrix -h' for usage", "")
            .replace("run 'dcor-stream merge -h' for usage", "").strip())


def run(args, *, cmd=None, cwd=None, progress=None, desc="dcor-stream"):
    """Run the binary: dcor-stream [cmd] [flags of ours] args. Return (stdout
    text, the notices it printed on stderr). Raises DataError, UsageError or
    InternalError with the binary's message, and KeyboardInterrupt after
    forwarding Ctrl-C as SIGINT and waiting for the binary to stop (it
    writes its checkpoint then)."""
    exe = binary()
    ours = []
    show = cmd != "merge" and _want_progress(progress)
    r = w = None
    kw = {}
    if cmd != "merge":
        ours.append("-quiet")
    if show:
        if os.name == "nt":
            ours.append("-progress-fd=2")
        else:
            r, w = os.pipe()
            ours.append(f"-progress-fd={w}")
            kw["pass_fds"] = (w,)
    args = [exe, *([cmd] if cmd else []), *ours, *args]
    if os.name == "nt":
        kw["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
    bar = _Bar(desc, progress if callable(progress) else None) if show else None
    try:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, **kw)
    except OSError as e:
        if r is not None:
            os.close(r)
            os.close(w)
        raise InternalError(f"dcor_stream: cannot run {exe}: {e}") from None
    if w is not None:
        os.close(w)
    out, err, failed = [], [], []
    lock = threading.Lock()

    def drain(f, dst):
        dst.append(f.read())

    def feed(line):
        # An exception of the caller's callback stops the run and is raised
        # after it; the stream is still drained so the binary never blocks.
        with lock:
            if failed:
                return
            try:
                bar.update(line)
            except BaseException as e:
                failed.append(e)
                _interrupt(proc)

    def lines(f):
        for raw in f:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            feed(line)

    def stderr_lines(f):
        # On Windows the progress lines share stderr with the messages.
        keep = []
        for raw in f:
            if bar is not None and raw.startswith(b'{"pass"'):
                try:
                    feed(json.loads(raw))
                    continue
                except ValueError:
                    pass
            keep.append(raw)
        err.append(b"".join(keep))

    threads = [threading.Thread(target=drain, args=(proc.stdout, out), daemon=True),
               threading.Thread(target=stderr_lines, args=(proc.stderr,), daemon=True)]
    prog = None
    if r is not None:
        prog = os.fdopen(r, "rb")
        threads.append(threading.Thread(target=lines, args=(prog,), daemon=True))
    for t in threads:
        t.start()
    interrupted = False
    try:
        while True:
            try:
                # Not a blocking waitpid: a SIGINT that lands on another
                # thread (the kernel's choice) is seen by the next poll.
                proc.wait(timeout=1)
                break
            except subprocess.TimeoutExpired:
                pass
            except KeyboardInterrupt:
                interrupted = True
                _interrupt(proc)
    finally:
        for t in threads:
            t.join()
        proc.stdout.close()
        proc.stderr.close()
        if prog is not None:
            prog.close()
        if bar is not None:
            bar.close()
    stdout = b"".join(out).decode("utf-8", "replace")
    stderr = b"".join(err).decode("utf-8", "replace")
    if failed:
        raise failed[0]
    if interrupted:
        raise KeyboardInterrupt(_clean(stderr, cwd) or "dcor-stream interrupted")
    code = proc.returncode
    if code == 0:
        return stdout, [_clean(l, cwd).removeprefix("dcor-stream: ").removeprefix("matrix: ")
                        for l in stderr.splitlines() if l.strip()]
    msg = _clean(stderr, cwd)
    if code == 1:
        raise DataError(msg)
    if code == 2:
        raise UsageError(msg.split("\nusage:")[0].strip())
    if code < 0:
        raise InternalError(f"dcor-stream ended by signal {-code}: {msg}")
    raise InternalError(msg or f"dcor-stream: exit status {code}")


def _interrupt(proc):
    """Forward Ctrl-C to the binary (the terminal may have sent it the
    signal too; a second one is harmless)."""
    try:
        if os.name == "nt":
            proc.send_signal(signal.CTRL_BREAK_EVENT)
        else:
            proc.send_signal(signal.SIGINT)
    except OSError:
        pass


def run_json(args, **kw):
    """run, then the one JSON object the binary printed, and the notices."""
    stdout, notes = run(args, **kw)
    try:
        return json.loads(stdout), notes
    except ValueError:
        raise InternalError(f"dcor-stream printed no JSON object: {stdout[:200]!r}") from None
