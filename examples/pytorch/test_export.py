"""Checks of export_activations.py: python3 -m unittest -v test_export (Debian's python3-torch)."""

import os
import tempfile
import unittest

import numpy as np
import torch

from export_activations import TinyMLP, WithIndex, demo_data, export_layers


class Pair(torch.nn.Module):
    """A layer returning a tuple, as LSTM and attention layers do."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(16, 5)

    def forward(self, x):
        return self.lin(x), None


class WithTuple(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.pair = Pair()
        self.conv = torch.nn.Conv1d(1, 2, 3)

    def forward(self, x):
        y, _ = self.pair(x)
        return self.conv(y.unsqueeze(1))


class ExportTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.out = self.dir.name
        self.data = WithIndex(demo_data(300, 16, 7))
        self.x = self.data.dataset.tensors[0]

    def tearDown(self):
        self.dir.cleanup()

    def reference(self, model, layer):
        """The layer's output for every sample in dataset order, without the exporter."""
        got = {}
        h = dict(model.named_modules())[layer].register_forward_hook(lambda m, i, o: got.setdefault("o", o))
        with torch.no_grad():
            model.eval()
            model(self.x)
        h.remove()
        o = got["o"][0] if isinstance(got["o"], tuple) else got["o"]
        return o.reshape(len(self.x), -1).numpy()

    def test_shuffled_loader_rows_match_ids(self):
        model = TinyMLP(16, [8, 6], 3)
        loader = torch.utils.data.DataLoader(self.data, batch_size=64, shuffle=True)
        paths = export_layers(model, ["layers.0", "layers.1"], loader, self.out, prefix="m.")
        ids = np.load(os.path.join(self.out, "m.ids.npy"))
        self.assertEqual(ids.dtype, np.int64)
        self.assertEqual(sorted(ids.tolist()), list(range(300)))
        self.assertNotEqual(ids.tolist(), list(range(300)))  # shuffled
        for layer, dim in (("layers.0", 8), ("layers.1", 6)):
            got = np.load(paths[layer])
            self.assertEqual((got.dtype, got.shape), (np.float32, (300, dim)))
            np.testing.assert_allclose(got, self.reference(model, layer)[ids], rtol=1e-5, atol=1e-6)

    def test_order_id_aligns_two_shuffles(self):
        model = TinyMLP(16, [8], 3)
        for prefix in ("p.", "q."):
            loader = torch.utils.data.DataLoader(self.data, batch_size=50, shuffle=True)
            export_layers(model, ["layers.0"], loader, self.out, prefix=prefix, order="id")
        p = np.load(os.path.join(self.out, "p.layers.0.npy"))
        q = np.load(os.path.join(self.out, "q.layers.0.npy"))
        np.testing.assert_array_equal(p, q)
        np.testing.assert_allclose(p, self.reference(model, "layers.0"), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(np.load(os.path.join(self.out, "p.ids.npy")), np.arange(300))

    def test_drop_last_shrinks_the_files(self):
        model = TinyMLP(16, [8], 3)
        loader = torch.utils.data.DataLoader(self.data, batch_size=64, drop_last=True)
        paths = export_layers(model, ["layers.0"], loader, self.out)
        got = np.load(paths["layers.0"])
        self.assertEqual(got.shape, (256, 8))
        self.assertEqual(os.path.getsize(paths["layers.0"]), 128 + 256 * 8 * 4)
        np.testing.assert_allclose(got, self.reference(model, "layers.0")[:256], rtol=1e-5, atol=1e-6)
        self.assertEqual(np.load(os.path.join(self.out, "ids.npy")).tolist(), list(range(256)))

    def test_tuple_and_conv_outputs(self):
        model = WithTuple()
        loader = torch.utils.data.DataLoader(self.data, batch_size=100)
        paths = export_layers(model, ["pair", "conv"], loader, self.out)
        self.assertEqual(np.load(paths["pair"]).shape, (300, 5))
        self.assertEqual(np.load(paths["conv"]).shape, (300, 2 * 3))
        np.testing.assert_allclose(np.load(paths["conv"]), self.reference(model, "conv"), rtol=1e-5, atol=1e-6)

    def test_pool_mean(self):
        model = WithTuple()
        loader = torch.utils.data.DataLoader(self.data, batch_size=100)
        paths = export_layers(model, ["conv", "pair"], loader, self.out, pool="mean")
        want = self.reference(model, "conv").reshape(300, 2, 3).mean(2)
        np.testing.assert_allclose(np.load(paths["conv"]), want, rtol=1e-5, atol=1e-6)
        self.assertEqual(np.load(paths["pair"]).shape, (300, 5))  # no spatial dims: as is

    def test_errors(self):
        model = TinyMLP(16, [8], 3)
        loader = torch.utils.data.DataLoader(self.data, batch_size=100)
        with self.assertRaisesRegex(KeyError, "no such layers"):
            export_layers(model, ["nope"], loader, self.out)
        bare = torch.utils.data.DataLoader(self.x, batch_size=100)
        with self.assertRaisesRegex(ValueError, "WithIndex"):
            export_layers(model, ["layers.0"], bare, self.out)
        with self.assertRaisesRegex(ValueError, "more than n"):
            export_layers(model, ["layers.0"], loader, self.out, n=100)


if __name__ == "__main__":
    unittest.main()
