"""Write the activations of chosen layers of a PyTorch model to .npy files
that dcor-stream reads (memory-mapped, one (n, d) float32 array per layer),
with the sample IDs beside them.

Use it from your own code:

    from export_activations import export_layers
    files = export_layers(model, ["layer2", "layer4", "fc"], loader, "acts/", prefix="resnet.")

or run this file for the self-contained demo (two tiny random networks on
random data), which is what run_example.sh does:

    python3 export_activations.py --out /tmp/acts --n 2000

Nothing here depends on the model: a forward hook on each named module
(``dict(model.named_modules())``, the names ``print(model)`` shows) copies
its output, flattened to one row per sample, into a float32 .npy opened with
``np.lib.format.open_memmap`` at its final shape (n from the dataset's
length). Rows are appended in the loader's order, so memory holds one batch,
never the whole array. The sample IDs of each row go to ``<prefix>ids.npy``
(int64), in the same order.

Sample IDs: the loader must give them. Batches may be
``(inputs, ids)``, ``(inputs, targets, ids)`` (the IDs last) or a dict with
an ``"id"`` entry; ``WithIndex(dataset)`` turns any map-style dataset into
one whose items end with their index. With ``order="id"`` the row of a
sample is written at position ``id`` (the IDs must then be 0..n-1, as
``WithIndex`` gives), so files written by differently shuffled loaders line
up row by row, as dcor-stream's row alignment needs.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch


class WithIndex(torch.utils.data.Dataset):
    """A map-style dataset whose items are the wrapped item plus its index."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        item = self.dataset[i]
        if isinstance(item, tuple):
            return (*item, i)
        return item, i


def _split_batch(batch):
    """(inputs for the model, int64 IDs) from one batch of the loader."""
    if isinstance(batch, dict):
        ids = batch["id"]
        inputs = {k: v for k, v in batch.items() if k != "id"}
        if len(inputs) == 1:
            inputs = next(iter(inputs.values()))
        return inputs, torch.as_tensor(ids, dtype=torch.int64)
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise ValueError("each batch must be (inputs, ..., ids) or a dict with 'id': wrap the dataset in WithIndex")
    return batch[0], torch.as_tensor(batch[-1], dtype=torch.int64)


def _first_tensor(out):
    """The tensor of a module's output (the first one of a tuple, as LSTM and attention layers return)."""
    while isinstance(out, (tuple, list)):
        out = out[0]
    if not torch.is_tensor(out):
        raise TypeError(f"layer output is {type(out).__name__}, not a tensor")
    return out


def _set_rows(path, rows):
    """Shrink the .npy at path to its first rows (for loaders that drop samples).

    The header keeps its length (a shorter shape is padded with spaces), so
    the data does not move; the file is truncated after the last row."""
    with open(path, "r+b") as f:
        version = np.lib.format.read_magic(f)
        shape, fortran, dtype = np.lib.format._read_array_header(f, version)
        start = f.tell()
        new = dict(descr=np.lib.format.dtype_to_descr(dtype), fortran_order=fortran, shape=(rows, *shape[1:]))
        text = repr(new).encode("latin1")
        head = 10 if version == (1, 0) else 12
        pad = start - head - len(text) - 1
        if pad < 0:
            raise ValueError(f"{path}: the new header does not fit")
        f.seek(head)
        f.write(text + b" " * pad + b"\n")
        f.truncate(start + rows * int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize)


@torch.no_grad()
def export_layers(model, layers, loader, out_dir, prefix="", n=None, order="loader", device=None, pool=None):
    """Run loader through model once and write each layer of layers to
    <out_dir>/<prefix><layer>.npy, float32 (n, d); the IDs to <prefix>ids.npy.

    layers: module names (as in model.named_modules()); n: samples to expect
    (default: len(loader.dataset)); order: "loader" (append in the loader's
    order) or "id" (row = sample ID, IDs in 0..n-1); pool: None (flatten
    everything: d = C·H·W for a feature map) or "mean" (average a feature
    map over its spatial positions: d = C). Returns {layer: path}.
    """
    if order not in ("loader", "id"):
        raise ValueError(f'order={order!r}: want "loader" or "id"')
    if pool not in (None, "mean"):
        raise ValueError(f'pool={pool!r}: want None or "mean"')
    os.makedirs(out_dir, exist_ok=True)
    n = len(loader.dataset) if n is None else n
    modules = dict(model.named_modules())
    missing = [l for l in layers if l not in modules]
    if missing:
        raise KeyError(f"no such layers {missing}; the model has {[k for k in modules if k]}")
    model.eval()
    paths = {l: os.path.join(out_dir, f"{prefix}{l}.npy") for l in layers}
    arrays = {}   # layer -> memmap, opened at the first batch (d is known then)
    current = {}  # layer -> this batch's output
    hooks = []
    for l in layers:
        def hook(_module, _inputs, output, l=l):
            current[l] = _first_tensor(output).detach()
        hooks.append(modules[l].register_forward_hook(hook))
    ids = np.lib.format.open_memmap(os.path.join(out_dir, f"{prefix}ids.npy"), mode="w+", dtype=np.int64, shape=(n,))
    seen = np.zeros(n, dtype=bool) if order == "id" else None
    rows = 0
    try:
        for batch in loader:
            inputs, bids = _split_batch(batch)
            b = len(bids)
            if rows + b > n:
                raise ValueError(f"the loader gave more than n = {n} samples")
            if device is not None:
                inputs = inputs.to(device)
            current.clear()
            model(inputs)
            bids = bids.numpy()
            if order == "id":
                if bids.min() < 0 or bids.max() >= n:
                    raise ValueError(f'order="id" needs IDs in 0..{n - 1}, got {bids.min()}..{bids.max()}')
                if seen[bids].any():
                    raise ValueError(f"sample ID {bids[seen[bids]][0]} seen twice")
                seen[bids] = True
                where = bids
            else:
                where = slice(rows, rows + b)
            for l in layers:
                if l not in current:
                    raise RuntimeError(f"layer {l} did not run in the forward pass")
                out = current[l]
                if pool == "mean" and out.dim() > 2:
                    out = out.flatten(2).mean(2)
                out = out.reshape(b, -1).to("cpu", torch.float32).numpy()
                if l not in arrays:
                    arrays[l] = np.lib.format.open_memmap(paths[l], mode="w+", dtype=np.float32, shape=(n, out.shape[1]))
                arrays[l][where] = out
            ids[where] = bids
            rows += b
    finally:
        for h in hooks:
            h.remove()
    for a in arrays.values():
        a.flush()
    ids.flush()
    del arrays, ids
    if rows != n:
        if order == "id":
            raise ValueError(f'order="id": the loader gave {rows} of {n} samples')
        for p in [*paths.values(), os.path.join(out_dir, f"{prefix}ids.npy")]:
            _set_rows(p, rows)
    return paths


# The demo: two small random networks seeing the same inputs.

class TinyMLP(torch.nn.Module):
    def __init__(self, d_in, widths, seed):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        dims = [d_in, *widths]
        self.layers = torch.nn.ModuleList()
        for i, (a, b) in enumerate(zip(dims, dims[1:])):
            lin = torch.nn.Linear(a, b)
            with torch.no_grad():
                lin.weight.copy_(torch.randn(b, a, generator=g) / a ** 0.5)
                lin.bias.copy_(0.1 * torch.randn(b, generator=g))
            self.layers.append(torch.nn.Sequential(lin, torch.nn.Tanh()))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def demo_data(n, d_in, seed):
    """n inputs of d_in dims driven by a 4-dim latent, plus a 10-class label."""
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(n, 4, generator=g)
    x = h @ torch.randn(4, d_in, generator=g) + 0.5 * torch.randn(n, d_in, generator=g)
    y = (h @ torch.randn(4, 10, generator=g)).argmax(1)
    return torch.utils.data.TensorDataset(x, y)


def main(argv=None):
    p = argparse.ArgumentParser(description="export the layers of two tiny random networks on random data to .npy")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--n", type=int, default=2000, help="samples")
    p.add_argument("--batch", type=int, default=128, help="batch size")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--order", choices=("id", "loader"), default="id",
                   help='"id": row i is sample i in every file; "loader": rows in each shuffled loader\'s order, aligned by dcor-stream -key ids')
    a = p.parse_args(argv)
    torch.manual_seed(a.seed)
    data = WithIndex(demo_data(a.n, 16, a.seed))
    # Model A and model B see the samples in two different shuffled orders:
    # order="id" writes row i for sample i in both, so the files line up;
    # order="loader" writes them as they came, and dcor-stream -key ids
    # lines them up by the IDs written beside them.
    written = {}
    for name, widths, seed in (("a", [32, 32, 32, 32], a.seed + 10), ("b", [48, 24, 12], a.seed + 20)):
        model = TinyMLP(16, widths, seed)
        loader = torch.utils.data.DataLoader(data, batch_size=a.batch, shuffle=True)
        layers = [f"layers.{i}" for i in range(len(widths))]
        written[name] = export_layers(model, layers, loader, a.out, prefix=f"{name}.", order=a.order)
    # The class as one-hot rows: their distances are 0 for the same class and
    # sqrt(2) otherwise, where class numbers as one column would invent an order.
    labels = np.lib.format.open_memmap(os.path.join(a.out, "label.npy"), mode="w+", dtype=np.float32, shape=(a.n, 10))
    labels[:] = np.eye(10, dtype=np.float32)[data.dataset.tensors[1].numpy()]
    labels.flush()
    written["label"] = os.path.join(a.out, "label.npy")
    # Its IDs (sample i in row i), for -key ids.
    np.save(os.path.join(a.out, "label.ids.npy"), np.arange(a.n, dtype=np.int64))
    json.dump(written, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
