"""Inputs to files the binary reads: arrays written once as .npy into a
private temporary directory (on tmpfs where there is room), memory-mapped
.npy files and paths passed as they are."""

import os
import re
import shutil
import tempfile
import warnings

from ._errors import DataError

_SAFE = re.compile(r"[^A-Za-z0-9._+-]")


class Workspace:
    """A private temporary directory (mode 0700) for one call: the arrays'
    .npy files, removed by close() (on return, on error, on Ctrl-C) by the
    process that made it. The binary runs in it, so that a space read from
    it is named by its file name alone, the same in every shard."""

    def __init__(self):
        self.dir = None
        self.pid = os.getpid()
        self.names = set()
        self.pending = []  # (name, array) to write once the sizes are known

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.dir is not None and os.getpid() == self.pid:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def _filename(self, name):
        base = _SAFE.sub("_", str(name)) or "space"
        if base.startswith("-"):
            base = "_" + base
        stem, k = base, 1
        while stem.lower() in self.names:
            k += 1
            stem = f"{base}.{k}"
        self.names.add(stem.lower())
        return stem + ".npy"

    def add(self, obj, name):
        """The SPEC of obj for the binary (written later by write())."""
        if isinstance(obj, (str, os.PathLike)):
            return _path_spec(os.fspath(obj))
        import numpy as np
        path = _npy_path(obj)
        if path is not None:
            return os.path.abspath(path) + ":data"
        arr = as_array(obj, name)
        fname = self._filename(name)
        self.pending.append((fname, arr))
        return fname + ":data"

    def add_table(self, obj, name):
        """A pyarrow Table or RecordBatch, written as an Arrow IPC file (its
        columns and nulls as they are: the binary checks them)."""
        import pyarrow as pa
        import pyarrow.ipc
        table = obj if isinstance(obj, pa.Table) else pa.Table.from_batches([obj])
        fname = self._filename(name)[:-4] + ".arrow"
        self.pending.append((fname, table))
        return fname + ":*"

    def write(self):
        """Write the pending arrays: into one new private directory, on
        /dev/shm when it is a tmpfs with room for them all."""
        if self.dir is None:
            size = sum(a.nbytes if hasattr(a, "dtype") else a.nbytes for _, a in self.pending)
            self.dir = tempfile.mkdtemp(prefix="dcor-stream-", dir=_tmp_root(size))
        for fname, arr in self.pending:
            path = os.path.join(self.dir, fname)
            if hasattr(arr, "schema"):
                import pyarrow.ipc
                with pyarrow.ipc.new_file(path, arr.schema) as wr:
                    wr.write_table(arr)
            else:
                write_npy(path, arr)
        self.pending = []
        return self.dir


def _tmp_root(size):
    """$DCOR_STREAM_TMPDIR, else /dev/shm if it is a tmpfs with room for
    size bytes and a margin, else the system's temporary directory."""
    env = os.environ.get("DCOR_STREAM_TMPDIR")
    if env:
        return env
    shm = "/dev/shm"
    try:
        if os.path.isdir(shm) and os.access(shm, os.W_OK):
            st = os.statvfs(shm)
            free = st.f_bavail * st.f_frsize
            with open("/proc/mounts") as f:
                tmpfs = any(l.split()[1:3] == [shm, "tmpfs"] for l in f)
            if tmpfs and free > 2 * size + (64 << 20):
                return shm
    except (OSError, AttributeError):
        pass
    return None


def _path_spec(s):
    """A path or SPEC string, its file made absolute (the binary runs in the
    workspace); URLs, "-" and column lists of the shipped syntax kept."""
    if "://" in s or s == "-":
        return s
    if os.path.exists(s):
        return os.path.abspath(s)
    name, eq, rest = s.partition("=")
    if eq and name and not any(c in name for c in ":/,*?[\\"):
        return name + "=" + _path_spec(rest)
    f, colon, cols = s.rpartition(":")
    if colon and f and os.path.exists(f):
        return os.path.abspath(f) + ":" + cols
    return s


def _npy_path(obj):
    """The .npy file behind obj when obj is the whole of a memory-mapped
    .npy (np.load(..., mmap_mode=...) or open_memmap), else None."""
    import numpy as np
    if not isinstance(obj, np.memmap) or not getattr(obj, "filename", None):
        return None
    fn = obj.filename
    if not str(fn).lower().endswith(".npy") or not obj.flags.c_contiguous:
        return None
    try:
        with open(fn, "rb") as f:
            fmt = np.lib.format
            version = fmt.read_magic(f)
            read = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(version)
            if read is None:
                return None
            shape, fortran, dtype = read(f)
            start = f.tell()
    except (OSError, ValueError):
        return None
    if shape != obj.shape or fortran or dtype != obj.dtype or start != obj.offset or not dtype.isnative and dtype.byteorder != "<":
        return None
    if obj.flags.writeable:
        obj.flush()
    return fn


def as_array(obj, name):
    """obj as a numpy array the binary reads: a float or integer dtype,
    little-endian, one row per sample. Torch tensors are detached and moved
    to the CPU (a GPU tensor with a warning); pandas and polars frames,
    lists and anything numpy takes are converted."""
    import numpy as np
    mod = type(obj).__module__ or ""
    if mod.startswith("torch") and hasattr(obj, "detach"):
        t = obj.detach()
        if t.device.type != "cpu":
            warnings.warn(f"{name}: a tensor on {t.device} copied to the CPU for dcor-stream", stacklevel=4)
            t = t.cpu()
        if t.dtype.is_complex:
            raise DataError(f"{name}: dtype {t.dtype} is complex: want a float or integer dtype")
        import torch
        if t.dtype in (torch.bfloat16,):
            t = t.to(torch.float32)
        arr = t.numpy()
    elif mod.startswith("pandas"):
        arr = _frame_numpy(obj, name, list(getattr(obj, "columns", [getattr(obj, "name", name)])))
    elif mod.startswith("polars"):
        cols = list(getattr(obj, "columns", [getattr(obj, "name", name)]))
        arr = _frame_numpy(obj, name, cols)
    else:
        try:
            arr = np.asarray(obj)
        except ValueError as e:
            raise DataError(f"{name}: not an array of numbers: {e}") from None
    return check_array(arr, name)


def _frame_numpy(obj, name, cols):
    import numpy as np
    arr = obj.to_numpy()
    if arr.dtype == object:
        dtypes = getattr(obj, "dtypes", None)
        bad = [c for c, d in zip(cols, dtypes)] if dtypes is not None else cols
        try:
            bad = [c for c, d in zip(cols, list(dtypes)) if not _numeric_name(str(d))]
        except TypeError:
            pass
        raise DataError(f"{name}: column(s) {bad} are not numbers (want float or integer columns)")
    return arr


def _numeric_name(d):
    d = d.lower()
    return any(d.startswith(p) for p in ("float", "int", "uint", "bool")) or d in ("f32", "f64")


def check_array(arr, name):
    import numpy as np
    if arr.dtype.kind == "b":
        arr = arr.astype(np.uint8)
    if arr.dtype.kind not in "fiu":
        raise DataError(f"{name}: dtype {arr.dtype} is not a number (want a float or integer dtype)")
    if arr.dtype.kind == "f" and arr.dtype.itemsize > 8:
        arr = arr.astype(np.float64)
    if arr.dtype.byteorder == ">" or arr.dtype.byteorder == "=" and not np.little_endian:
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    if arr.ndim == 0:
        raise DataError(f"{name}: a scalar, not one row per sample")
    if arr.shape[0] == 0:
        raise DataError(f"{name}: no samples (an empty array of shape {arr.shape})")
    return arr


def write_npy(path, arr):
    """Write arr as a C-order .npy without a whole copy: contiguous arrays
    in one write, others row block by row block."""
    import numpy as np
    header = {"descr": np.lib.format.dtype_to_descr(arr.dtype), "fortran_order": False, "shape": arr.shape}
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header) if _fits_v1(header) else np.lib.format.write_array_header_2_0(f, header)
        if arr.flags.c_contiguous:
            f.write(memoryview(arr).cast("B") if arr.size else b"")
        else:
            row = max(1, arr.nbytes // max(arr.shape[0], 1))
            step = max(1, (64 << 20) // row)
            for i in range(0, arr.shape[0], step):
                f.write(np.ascontiguousarray(arr[i:i + step]).tobytes())


def _fits_v1(header):
    return len(repr(header)) < 60000
