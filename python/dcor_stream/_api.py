"""dcor(), matrix() and merge(): options to flags, inputs to files, the
binary's JSON to results."""

import os
import warnings

from . import _binary
from ._errors import DcorStreamWarning, UsageError
from ._inputs import Workspace
from ._results import MatrixResult, Result

_LOUD = ("warning", "left out", "dropped", "differ")


def _flags(**options):
    """The command line's flags of options: an unknown option, or a value
    that is not a number where one is wanted, is a UsageError."""
    try:
        return _flag_list(**options)
    except (TypeError, ValueError) as e:
        raise UsageError("dcor_stream: " + str(e).replace("_flag_list() got an unexpected keyword argument",
                                                          "unknown option")) from None


def _flag_list(*, exponent=1.0, ci=False, ci_level=0.95, permutations=0, seed=1, cka=False, precision="float64",
           memory=None, workers=None, estimator="auto", key=None, key_missing=None, drop_invalid=False,
           normalize_rows=False, tile=None, block=None, budget=None, shuffle=None, minibatch=None,
           rbf_sigma=None, shard=None, state=None, checkpoint=None, from_state=None, tmpdir=None):
    f = []
    if exponent != 1.0:
        f += ["-exponent", repr(float(exponent))]
    if ci:
        f.append("-ci")
        if ci_level != 0.95:
            f += ["-ci-level", repr(float(ci_level))]
    if permutations:
        f += ["-permutations", str(int(permutations)), "-seed", str(int(seed))]
    if cka:
        f.append("-cka")
    if rbf_sigma is not None:
        f += ["-rbf-sigma", repr(float(rbf_sigma))]
    if precision != "float64":
        f += ["-precision", str(precision)]
    if memory is not None:
        f += ["-mem", str(memory)]
    if workers is not None:
        f += ["-workers", str(int(workers))]
    if tile is not None:
        f += ["-tile", str(int(tile))]
    if estimator != "auto":
        f += ["-estimator", str(estimator)]
    if block is not None:
        f += ["-block", str(int(block))]
    if budget is not None:
        f += ["-budget", f"{float(budget)}s" if isinstance(budget, (int, float)) else str(budget)]
    if shuffle is not None:
        f += ["-shuffle", str(int(shuffle))]
    if minibatch is not None:
        f += ["-minibatch", str(int(minibatch))]
    if key is not None:
        f += ["-key", str(key)]
    if key_missing is not None:
        f += ["-key-missing", str(key_missing)]
    if drop_invalid:
        f.append("-drop-invalid")
    if normalize_rows:
        f.append("-normalize-rows")
    if shard is not None:
        i, n = shard if not isinstance(shard, str) else shard.split("/")
        if state is None:
            raise UsageError("shard= needs state=FILE, where the shard's state is written")
        f += ["-shard", f"{int(i)}/{int(n)}", "-state", os.path.abspath(os.fspath(state))]
    elif state is not None:
        raise UsageError("state= goes with shard=(I, N)")
    if checkpoint is not None:
        f += ["-checkpoint", os.path.abspath(os.fspath(checkpoint))]
    if from_state is not None:
        f += ["-from", os.path.abspath(os.fspath(from_state))]
    if tmpdir is not None:
        f += ["-tmpdir", os.path.abspath(os.fspath(tmpdir))]
    return f


def _space(ws, obj, name):
    mod = type(obj).__module__ or ""
    if mod.startswith("pyarrow") and hasattr(obj, "schema"):
        return ws.add_table(obj, name)
    return ws.add(obj, name)


def _notes(notes):
    for n in notes:
        if any(w in n for w in _LOUD):
            warnings.warn(n, DcorStreamWarning, stacklevel=3)
    return notes


def dcor(x, y, z=None, *, exponent=1.0, ci=False, ci_level=0.95, permutations=0, seed=1, cka=False,
         precision="float64", memory=None, workers=None, estimator="auto", key=None, progress=None, **options):
    """Distance correlation of x and y (and partial dCor given z), exact,
    computed by the dcor-stream binary: dCor and dCor² (V-statistics, R
    energy::dcor), bias-corrected dCor² R* (bcdcor) with its t-test, pdCor;
    with ci=True delete-one jackknife SEs and intervals, permutations=R the
    permutation tests, cka=True debiased linear and RBF CKA.

    x, y, z: arrays of n samples ((n,), (n, d), or (n, ...) flattened per
    sample; any float or integer dtype), torch tensors, pandas or polars
    frames, pyarrow tables, lists, or paths and SPECs of the command line
    ("acts.parquet:layer3", "s3://bucket/y.arrow:label"), aligned by row
    (or by key="COLUMN" of sample IDs).

    Options are the command line's flags: memory ("8GiB": -mem),
    workers, estimator ("auto", "tiles", "univariate", "blocks"), and in
    **options tile, block, budget (seconds), shuffle, key_missing,
    drop_invalid, normalize_rows, rbf_sigma, checkpoint=FILE, and
    shard=(I, N) with state=FILE (returns the state's path; then merge()),
    from_state=FILE (the second round of ci/permutations on shards).
    progress: None (a bar when stderr is a terminal), True, False, or a
    callable receiving each {"pass", "done", "total", ...} line.

    Returns a Result. Raises DataError, UsageError or InternalError.
    """
    flags = _flags(exponent=exponent, ci=ci, ci_level=ci_level, permutations=permutations, seed=seed, cka=cka,
                   precision=precision, memory=memory, workers=workers, estimator=estimator, key=key, **options)
    with Workspace() as ws:
        args = ["-format", "json", "-x", _space(ws, x, "x"), "-y", _space(ws, y, "y")]
        if z is not None:
            args += ["-z", _space(ws, z, "z")]
        cwd = ws.write()
        if options.get("shard") is not None:
            _binary.run(flags + args, cwd=cwd, progress=progress, desc="dcor shard")
            return os.path.abspath(os.fspath(options["state"]))
        data, notes = _binary.run_json(flags + args, cwd=cwd, progress=progress, desc="dcor")
    if "rows" in data:  # -minibatch: the 1×1 matrix
        return MatrixResult(data, _notes(notes))
    return Result(data, _notes(notes))


def _named(spaces, what):
    """(names, objects) of a dict {name: space} or a list (names from 0,
    or a path's stem)."""
    if spaces is None:
        return [], []
    if isinstance(spaces, dict):
        return [str(k) for k in spaces], list(spaces.values())
    if isinstance(spaces, (str, os.PathLike)) or hasattr(spaces, "shape"):
        raise UsageError(f"{what}: want a dict {{name: array}} or a list of spaces, not one space")
    spaces = list(spaces)
    return [_label(s) if isinstance(s, (str, os.PathLike)) else f"{what}{i}" for i, s in enumerate(spaces)], spaces


def _label(spec):
    """The label of a path or SPEC as the user wrote it: NAME of
    NAME=SPEC, the stem of a .npy file, else the SPEC itself (the binary
    sees it made absolute)."""
    spec = os.fspath(spec)
    name, eq, _ = spec.partition("=")
    if eq and name and not any(c in name for c in ":/,*?[\\"):
        return name
    base = os.path.basename(spec.split(":")[0] if not os.path.exists(spec) else spec)
    return base[:-4] if base.lower().endswith(".npy") else spec


def matrix(rows, cols=None, *, given=None, ci=False, permutations=0, cka=False, minibatch=None, compare=None,
           exponent=1.0, ci_level=0.95, seed=1, precision="float64", memory=None, workers=None,
           estimator="auto", key=None, progress=None, **options):
    """The matrix of dCor, bcdcor (with its t-test p-value), and given a
    space pdcor and semi_partial, between every pair of rows (a square
    matrix) or every row and every column space, each space's distances
    computed once per tile. rows, cols: a dict {name: space} or a list of
    spaces (arrays, tensors, frames, paths: as dcor()); given: one space.
    ci=True adds SEs and the covariance of the entries (m.cov, m.compare),
    permutations=R permutation p-values, cka=True debiased linear and RBF
    CKA; minibatch=B the seed paper's minibatch mean (a biased estimator).
    compare: [((row, col), (row, col)), ...] contrasts computed by the
    binary (m.contrasts). Other options as dcor(). Returns a MatrixResult
    labelled with the names given."""
    flags = _flags(exponent=exponent, ci=ci, ci_level=ci_level, permutations=permutations, seed=seed, cka=cka,
                   precision=precision, memory=memory, workers=workers, estimator=estimator, key=key,
                   minibatch=minibatch, **options)
    rnames, robjs = _named(rows, "rows")
    cnames, cobjs = _named(cols, "cols")
    if not robjs:
        raise UsageError("matrix: no spaces")
    with Workspace() as ws:
        args = ["-format", "json"]
        flag = "-space" if cols is None else "-rows"
        specs = {}
        for nm, o in zip(rnames, robjs):
            specs[id(o)] = specs.get(id(o)) or _space(ws, o, nm)
            args += [flag, specs[id(o)]]
        for nm, o in zip(cnames, cobjs):
            specs[id(o)] = specs.get(id(o)) or _space(ws, o, nm)
            args += ["-cols", specs[id(o)]]
        if given is not None:
            args += ["-given", _space(ws, given, "given")]
        for a, b in compare or []:
            (i, j), (k, l) = _entry(a, rnames, cnames or rnames), _entry(b, rnames, cnames or rnames)
            args += ["-compare", f"{i},{j}-{k},{l}"]
        cwd = ws.write()
        if options.get("shard") is not None:
            _binary.run(flags + args, cmd="matrix", cwd=cwd, progress=progress, desc="matrix shard")
            return os.path.abspath(os.fspath(options["state"]))
        data, notes = _binary.run_json(flags + args, cmd="matrix", cwd=cwd, progress=progress, desc="matrix")
    return _relabel(data, _notes(notes), rnames, cnames or rnames)


def _entry(e, rnames, cnames):
    """A matrix entry (row, col) by label or index, as indices for -compare."""
    try:
        return tuple(x if isinstance(x, int) else names.index(x) for x, names in zip(e, (rnames, cnames)))
    except ValueError:
        raise UsageError(f"compare: entry {e!r}: want (row, col) among the rows {rnames} and the columns {cnames}") from None


def _relabel(data, notes, rnames, cnames):
    """The result with the Python names in place of the binary's labels (of
    the files written), in rows, cols, compare and flags."""
    if len(data.get("rows", [])) != len(rnames) or len(data.get("cols", [])) != len(cnames):
        return MatrixResult(data, notes)  # a glob of a path made more spaces: the binary's labels
    rmap = dict(zip(data["rows"], rnames))
    cmap = dict(zip(data["cols"], cnames))
    for c in data.get("compare", []):
        for e in (c["a"], c["b"]):
            e["row"], e["col"] = rmap.get(e["row"], e["row"]), cmap.get(e["col"], e["col"])
    for f in data.get("flags", []):
        f["row"], f["col"] = rmap.get(f["row"], f["row"]), cmap.get(f["col"], f["col"])
    return MatrixResult(data, notes, rows=rnames, cols=cnames)


def merge(states, *, ci_level=None, compare=None, state=None, progress=None):
    """Merge the state files written by dcor(..., shard=(i, n), state=FILE)
    or matrix(..., shard=...) for every shard i of n: the result of the
    whole job, to the last bit the same as one run. state=FILE also writes
    the merged state (the from_state= of the second round of ci or
    permutations). compare as matrix() (by indices or the labels of the
    binary)."""
    args = ["-format", "json"]
    if ci_level is not None:
        args += ["-ci-level", repr(float(ci_level))]
    if state is not None:
        args += ["-state", os.path.abspath(os.fspath(state))]
    for a, b in compare or []:
        args += ["-compare", f"{a[0]},{a[1]}-{b[0]},{b[1]}"]
    args += [os.path.abspath(os.fspath(s)) for s in states]
    data, notes = _binary.run_json(args, cmd="merge", progress=progress)
    if "rows" in data:
        return MatrixResult(data, _notes(notes))
    return Result(data, _notes(notes))
