"""Write the activations of chosen layers of a PyTorch model to .npy files
that dcor-stream reads (memory-mapped, one (n, d) float32 array per layer),
with the sample IDs beside them.

Use it from your own code:

    from export_activations import export_layers
    files = export_layers(model, ["layer2", "layer4", "fc"], loader, "acts/", prefix="resnet.")

or run this file for the self-contained demo (two tiny random networks on
random data), which is what run_example.sh does:

    python3 export_activations.py --out /tmp/acts --n 2000

The capture itself is ``dcor_stream.torch.capture`` (python/ of this
repository, ``pip install ./python`` or the dcor-stream wheel; without it
installed, it is imported from the source tree): a forward hook on each named
module (``dict(model.named_modules())``, the names ``print(model)`` shows)
copies its output, flattened to one row per sample, into a float32 .npy,
appended batch by batch, so memory holds one batch, never the whole array.
The sample IDs of each row go to ``<prefix>ids.npy`` (int64), in the same
order. ``dcor_stream.torch.compare`` does this for two models and computes
the layer x layer matrix in one call.

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

try:
    import dcor_stream.torch as dst
except ImportError:  # not installed: the package of this checkout
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    import dcor_stream.torch as dst

WithIndex = dst.WithIndex


def _ids(batch):
    """The IDs of a batch: (inputs, ..., ids) or a dict with an "id" entry."""
    if isinstance(batch, dict) and "id" in batch:
        return batch["id"]
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise ValueError("each batch must be (inputs, ..., ids) or a dict with 'id': wrap the dataset in WithIndex")
    return batch[-1]


def _at_most(loader, n):
    """The batches of loader, failing once they hold more than n samples."""
    rows = 0
    for batch in loader:
        rows += len(torch.as_tensor(_ids(batch)).reshape(-1))
        if rows > n:
            raise ValueError(f"the loader gave more than n = {n} samples")
        yield batch


def export_layers(model, layers, loader, out_dir, prefix="", n=None, order="loader", device=None, pool=None):
    """Run loader through model once and write each layer of layers to
    <out_dir>/<prefix><layer>.npy, float32 (n, d); the IDs to <prefix>ids.npy.

    layers: module names (as in model.named_modules()); n: at most this many
    samples (default: len(loader.dataset)); order: "loader" (append in the
    loader's order) or "id" (row = sample ID, IDs in 0..n-1); pool: None
    (flatten everything: d = C·H·W for a feature map) or "mean" (average a
    feature map over its spatial positions: d = C). Returns {layer: path}.
    """
    if n is None and hasattr(loader, "dataset"):
        n = len(loader.dataset)
    batches = loader if n is None else _at_most(loader, n)
    return dst.capture(model, batches, layers, out_dir, ids=_ids, prefix=prefix, device=device, pool=pool, order=order)


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
