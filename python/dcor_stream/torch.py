"""Models in the loop: the activations of chosen layers of a PyTorch model,
captured to .npy files the binary reads, and layer × layer matrices of two
models (needs torch).

    import dcor_stream.torch as dst
    files = dst.capture(model, loader, ["layer2", "layer4"], "acts/", prefix="resnet.")
    m = dst.compare(model_a, model_b, loader, ["layer3"], ["blocks.5"], ci=True)
    m.plot()

A forward hook on each named module (the names of model.named_modules())
copies its output, or a Hugging Face model's hidden_states[K] for the layer
"hidden_states.K" (the model is called with output_hidden_states=True); each
batch is reduced to one row per sample (or per token) in float32 and
appended to PREFIX<layer>.npy, whose header is written last: memory holds
one batch, never the whole array, and the loader's length need not be
known. The sample IDs of the rows go to PREFIXids.npy (int64).
"""

import os
import tempfile

import numpy as np
import torch

from ._api import matrix

_ID_KEYS = ("id", "ids")
_HEADER = 128  # bytes reserved for a .npy header, rewritten at the end


class WithIndex(torch.utils.data.Dataset):
    """A map-style dataset whose items are the wrapped item plus its index
    (a tuple item gets the index appended): ids="last" reads it."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        item = self.dataset[i]
        if isinstance(item, tuple):
            return (*item, i)
        return item, i


class _Appender:
    """A .npy file grown row block by row block; its header (shape) is
    written by close()."""

    def __init__(self, path, dtype):
        self.path, self.dtype = path, np.dtype(dtype)
        self.f = open(path, "wb")
        self.f.write(b"\0" * _HEADER)
        self.rows, self.width = 0, None

    def append(self, block, layer):
        block = np.ascontiguousarray(block, dtype=self.dtype)
        width = block.shape[1:] if block.ndim > 1 else ()
        if self.width is None:
            self.width = width
        elif width != self.width:
            raise ValueError(
                f"layer {layer}: a batch of {int(np.prod(width))} values per sample after batches of "
                f"{int(np.prod(self.width))}: variable-length outputs (tokens of padded batches) need "
                f"tokens='mean', 'cls', 'last' or 'all'")
        self.f.write(block.tobytes())
        self.rows += len(block)

    def close(self):
        shape = (self.rows, *(self.width or ()))
        d = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": shape}
        text = repr(d).encode("latin1")
        pad = _HEADER - 10 - len(text) - 1
        if pad < 0:
            raise ValueError(f"{self.path}: shape {shape} does not fit the header")
        self.f.seek(0)
        self.f.write(b"\x93NUMPY\x01\x00" + (_HEADER - 10).to_bytes(2, "little") + text + b" " * pad + b"\n")
        self.f.close()

    def abort(self):
        self.f.close()
        os.remove(self.path)


def _first_tensor(out):
    """The tensor of a module's output: the first of a tuple (LSTM and
    attention layers), or a model output's last_hidden_state."""
    while isinstance(out, (tuple, list)):
        out = out[0]
    if hasattr(out, "last_hidden_state") and not torch.is_tensor(out):
        out = out.last_hidden_state
    if not torch.is_tensor(out):
        raise TypeError(f"layer output is {type(out).__name__}, not a tensor")
    return out


def _batch_ids(batch, ids, start, b):
    """The int64 IDs of a batch of b samples (see capture)."""
    if callable(ids):
        v = ids(batch)
    elif isinstance(ids, str) and ids != "last":
        v = batch[ids]
    elif ids == "last":
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError('ids="last": each batch must be (inputs, ..., ids): wrap the dataset in WithIndex')
        v = batch[-1]
    elif isinstance(batch, dict) and any(k in batch for k in _ID_KEYS):
        v = batch[next(k for k in _ID_KEYS if k in batch)]
    else:
        return np.arange(start, start + b, dtype=np.int64)
    v = torch.as_tensor(v).reshape(-1).to("cpu", torch.int64).numpy()
    if len(v) != b:
        raise ValueError(f"a batch of {b} samples has {len(v)} IDs")
    return v


def _inputs(batch, ids):
    """The model's inputs of a batch and the keyword-argument form."""
    if isinstance(batch, dict):
        skip = set(_ID_KEYS) | ({ids} if isinstance(ids, str) else set())
        return {k: v for k, v in batch.items() if k not in skip}, True
    if isinstance(batch, (tuple, list)):
        return batch[0], False
    return batch, False


def _to(x, device):
    if device is None:
        return x
    if isinstance(x, dict):
        return {k: v.to(device) if torch.is_tensor(v) else v for k, v in x.items()}
    return x.to(device)


def _reduce(out, tokens, mask, layer, pool=None):
    """One row per sample (or per real token with tokens="all") of a
    layer's output, float32 on the CPU, as (rows, positions or None)."""
    b = out.shape[0]
    if tokens is None:
        if pool == "mean" and out.dim() > 2:
            out = out.flatten(2).mean(2)
        return out.reshape(b, -1).to("cpu", torch.float32).numpy(), None
    if out.dim() != 3:
        raise ValueError(f"layer {layer}: tokens={tokens!r} needs [batch, tokens, features] outputs, got shape {tuple(out.shape)}")
    t = out.shape[1]
    m = torch.ones(b, t, dtype=torch.bool, device=out.device) if mask is None else mask.to(out.device).bool()
    if m.shape != (b, t):
        raise ValueError(f"layer {layer}: attention_mask of shape {tuple(m.shape)} for outputs {tuple(out.shape)}")
    out = out.to(torch.float32)
    if tokens == "mean":
        w = m.to(out.dtype).unsqueeze(-1)
        r = (out * w).sum(1) / w.sum(1).clamp(min=1)
    elif tokens == "cls":
        r = out[:, 0]
    elif tokens == "last":
        pos = torch.arange(t, device=out.device).expand(b, t)
        last = torch.where(m, pos, torch.full_like(pos, -1)).max(1).values.clamp(min=0)
        r = out[torch.arange(b, device=out.device), last]
    elif tokens == "all":
        where = m.nonzero(as_tuple=False)  # (sample, position) of the real tokens, row-major
        r = out[where[:, 0], where[:, 1]]
        return r.cpu().numpy(), where.cpu().numpy()
    else:
        raise ValueError(f'tokens={tokens!r}: want None, "mean", "cls", "last" or "all"')
    return r.cpu().numpy(), None


@torch.no_grad()
def capture(model, loader, layers, out_dir, *, ids=None, tokens=None, prefix="", device=None, pool=None,
            order="loader", forward=None):
    """Run loader through model once (eval mode, torch.no_grad()) and write
    each layer to out_dir/PREFIX<layer>.npy, float32 (rows, d), and the IDs
    of the rows to out_dir/PREFIXids.npy (int64). Returns {layer: path}.

    layers: module names (model.named_modules()) or "hidden_states.K".
    ids: None (a dict batch's "id"/"ids" entry, else the running count in
    the loader's order), "last" (the last element of a tuple batch, as
    WithIndex gives), a dict key, or a callable(batch) -> IDs.
    tokens: None (flatten each sample's output; pool="mean" averages a
    feature map over its positions), or for [B, T, D] outputs "mean" (over
    the real tokens), "cls" (position 0), "last" (the last real token), "all"
    (every real token a row; its ID sample_id * 2**32 + position). Real
    tokens are those of the batch's attention_mask (all without one).
    order: "loader" (rows as they come) or "id" (rows sorted by ID, which
    must then be 0..n-1: files of differently shuffled loaders line up row
    by row). device: where the inputs go (the model's device is yours).
    forward: callable(model, inputs) replacing the call of the model.
    """
    if order not in ("loader", "id"):
        raise ValueError(f'order={order!r}: want "loader" or "id"')
    if pool not in (None, "mean"):
        raise ValueError(f'pool={pool!r}: want None or "mean"')
    if isinstance(layers, str):
        layers = [layers]
    os.makedirs(out_dir, exist_ok=True)
    modules = dict(model.named_modules())
    hidden = {l: int(l.split(".", 1)[1]) for l in layers if l.startswith("hidden_states.") and l not in modules}
    missing = [l for l in layers if l not in modules and l not in hidden]
    if missing:
        raise KeyError(f"no such layers {missing}; the model has {[k for k in modules if k][:50]} "
                       f"(and hidden_states.K of a Hugging Face model)")
    was_training = model.training
    model.eval()
    paths = {l: os.path.join(out_dir, f"{prefix}{l}.npy") for l in layers}
    id_path = os.path.join(out_dir, f"{prefix}ids.npy")
    current, hooks = {}, []
    for l in layers:
        if l in hidden:
            continue

        def hook(_module, _inputs, output, l=l):
            current[l] = _first_tensor(output).detach()
        hooks.append(modules[l].register_forward_hook(hook))
    files = {l: _Appender(p, np.float32) for l, p in paths.items()}
    id_file = _Appender(id_path, np.int64)
    samples = 0
    ok = False
    try:
        for batch in loader:
            inputs, kw = _inputs(batch, ids)
            inputs = _to(inputs, device)
            current.clear()
            if forward is not None:
                res = forward(model, inputs)
            elif kw:
                res = model(**inputs, **({"output_hidden_states": True} if hidden else {}))
            else:
                res = model(inputs)
            if hidden:
                hs = getattr(res, "hidden_states", None)
                if hs is None:
                    raise ValueError(f"layers {sorted(hidden)}: the model returned no hidden_states")
                for l, k in hidden.items():
                    current[l] = hs[k].detach()
            mask = inputs.get("attention_mask") if isinstance(inputs, dict) else None
            b = None
            for l in layers:
                if l not in current:
                    raise RuntimeError(f"layer {l} did not run in the forward pass")
                b = current[l].shape[0]
                break
            bids = _batch_ids(batch, ids, samples, b)
            pos = None
            for l in layers:
                rows, where = _reduce(current[l], tokens, mask, l, pool)
                files[l].append(rows, l)
                pos = where if where is not None else pos
            if pos is not None:
                id_file.append((bids[pos[:, 0]].astype(np.int64) << 32) + pos[:, 1], "ids")
            else:
                id_file.append(bids, "ids")
            samples += b
        ok = True
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
        for f in [*files.values(), id_file]:
            f.close() if ok else f.abort()
    if order == "id":
        _sort_by_id(list(paths.values()), id_path)
    return paths


def _sort_by_id(paths, id_path):
    """Rewrite each file with its rows in the order of the IDs 0..n-1."""
    ids = np.load(id_path)
    n = len(ids)
    perm = np.argsort(ids, kind="stable")
    if not np.array_equal(ids[perm], np.arange(n)):
        raise ValueError(f'order="id" needs the IDs 0..{n - 1}, each once')
    for p in paths:
        src = np.load(p, mmap_mode="r")
        tmp = p + ".tmp"
        dst = np.lib.format.open_memmap(tmp, mode="w+", dtype=src.dtype, shape=src.shape)
        step = max(1, (64 << 20) // max(src[0].nbytes, 1))
        for i in range(0, n, step):
            dst[i:i + step] = src[perm[i:i + step]]
        dst.flush()
        del dst, src
        os.replace(tmp, p)
    np.save(id_path, np.arange(n, dtype=np.int64))


def compare(model_a, model_b, loader, layers_a, layers_b, *, ids=None, tokens=None, out_dir=None, loader_b=None,
            device=None, **matrix_options):
    """capture the layers of model_a and of model_b (over loader, or
    loader_b for model_b) into out_dir (default a temporary directory,
    removed after), then matrix(layers_a × layers_b) aligned by the sample
    IDs (key="ids"). The rows are labelled "a:<layer>", the columns
    "b:<layer>" when the names clash, else by the layer names. Returns the
    MatrixResult."""
    tmp = None
    if out_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="dcor-stream-acts-")
        out_dir = tmp.name
    try:
        pa = capture(model_a, loader, layers_a, out_dir, ids=ids, tokens=tokens, prefix="a.", device=device)
        pb = capture(model_b, loader_b or loader, layers_b, out_dir, ids=ids, tokens=tokens, prefix="b.", device=device)
        clash = set(layers_a) & set(layers_b)
        rows = {(f"a:{l}" if clash else l): pa[l] for l in layers_a}
        cols = {(f"b:{l}" if clash else l): pb[l] for l in layers_b}
        matrix_options.setdefault("key", "ids")
        return matrix(rows, cols, **matrix_options)
    finally:
        if tmp is not None:
            tmp.cleanup()
