"""torch tensors in, and dcor_stream.torch: capture and compare on small
models, token modes with padding, IDs through a shuffled loader,
DataLoader workers."""

import os

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="torch is not installed: .ci/pytest.sh does not install it (the only torch this machine's "
    "registries serve is PyPI's CUDA build, about 4 GB with its nvidia-* wheels; set TORCH_SITE to a site-packages "
    "that has torch to run these)")

import dcor_stream  # noqa: E402
import dcor_stream.torch as dst  # noqa: E402


@pytest.fixture
def xy(rng):
    x = rng.integers(0, 50, size=(64, 6)).astype(np.float32)  # exact in float16 and bfloat16
    return x, np.c_[x[:, :2] % 5, rng.integers(0, 9, size=64)]


def test_tensors(xy):
    x, y = xy
    want = dcor_stream.dcor(x, y).to_dict()
    t = torch.from_numpy(x).requires_grad_()
    assert dcor_stream.dcor(t * 1, torch.from_numpy(y)).to_dict() == want  # a non-leaf with a graph
    for dtype in (torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int16, torch.uint8):
        assert dcor_stream.dcor(torch.from_numpy(x).to(dtype), y).to_dict() == want, dtype
    assert dcor_stream.dcor(torch.from_numpy(x).reshape(64, 2, 3), y).to_dict() == want
    assert dcor_stream.dcor(torch.from_numpy(x).T.contiguous().T, y).to_dict() == want  # column-major
    with pytest.raises(dcor_stream.DataError, match="complex"):
        dcor_stream.dcor(torch.ones(8, 2, dtype=torch.complex64), y[:8])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU here")
def test_gpu_tensor_is_moved_with_a_warning(xy):
    x, y = xy
    with pytest.warns(UserWarning, match="copied to the CPU"):
        r = dcor_stream.dcor(torch.from_numpy(x).cuda(), y)
    assert r.bcdcor == dcor_stream.dcor(x, y).bcdcor


class Net(torch.nn.Module):
    def __init__(self, width):
        super().__init__()
        self.a = torch.nn.Linear(6, width)
        self.b = torch.nn.Sequential(torch.nn.Tanh(), torch.nn.Linear(width, 3))

    def forward(self, x):
        return self.b(self.a(x))


def _data(n=120):
    g = torch.Generator().manual_seed(0)
    return dst.WithIndex(torch.utils.data.TensorDataset(torch.randn(n, 6, generator=g)))


def _outputs(model, x, layer):
    got = {}
    h = dict(model.named_modules())[layer].register_forward_hook(lambda m, i, o: got.setdefault("o", o))
    with torch.no_grad():
        model(x)
    h.remove()
    return got["o"].numpy()


def test_capture_writes_the_layer_outputs(tmp_path):
    torch.manual_seed(1)
    model, data = Net(8), _data()
    loader = torch.utils.data.DataLoader(data, batch_size=32, shuffle=True)
    paths = dst.capture(model, loader, ["a", "b.1"], tmp_path, ids="last", prefix="m.")
    ids = np.load(tmp_path / "m.ids.npy")
    assert sorted(ids) == list(range(120)) and list(ids) != list(range(120))
    x = data.dataset.tensors[0]
    for layer, d in (("a", 8), ("b.1", 3)):
        got = np.load(paths[layer])
        assert got.dtype == np.float32 and got.shape == (120, d)
        np.testing.assert_array_equal(got, _outputs(model, x[ids], layer))
    assert model.training  # given back as it was


def test_compare_equals_matrix_of_the_files(tmp_path):
    torch.manual_seed(2)
    a, b = Net(8), Net(5)
    loader = torch.utils.data.DataLoader(_data(), batch_size=50)
    m = dst.compare(a, b, loader, ["a", "b.1"], ["a", "b.1"], ids="last", out_dir=tmp_path, ci=True)
    assert m.rows == ["a:a", "a:b.1"] and m.cols == ["b:a", "b:b.1"]
    files = dcor_stream.matrix({"a:a": str(tmp_path / "a.a.npy"), "a:b.1": str(tmp_path / "a.b.1.npy")},
                               {"b:a": str(tmp_path / "b.a.npy"), "b:b.1": str(tmp_path / "b.b.1.npy")}, ci=True)
    assert np.array_equal(m.bcdcor, files.bcdcor) and np.array_equal(m.cov, files.cov)


def test_ids_survive_a_shuffled_loader(tmp_path):
    torch.manual_seed(3)
    a, b = Net(8), Net(4)
    data = _data()
    plain = torch.utils.data.DataLoader(data, batch_size=40)
    shuffled = torch.utils.data.DataLoader(data, batch_size=40, shuffle=True)
    want = dst.compare(a, b, plain, ["a"], ["b.1"], ids="last")
    got = dst.compare(a, b, plain, ["a"], ["b.1"], ids="last", loader_b=shuffled, out_dir=tmp_path)
    assert np.load(tmp_path / "a.ids.npy").tolist() != np.load(tmp_path / "b.ids.npy").tolist()
    # key="ids" lines the rows up; float32 GEMMs of other batches differ in the last bits
    assert got.bcdcor[0, 0] == pytest.approx(want.bcdcor[0, 0], rel=1e-6)
    with pytest.raises(dcor_stream.DataError, match="ids"):  # by row order they do not line up
        dcor_stream.dcor(str(tmp_path / "a.a.npy"), str(tmp_path / "b.b.1.npy"))


class Tokens(torch.nn.Module):
    """[B, T] token ids to [B, T, 4] embeddings and a layer over them."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(20, 4)
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, input_ids, attention_mask):
        return self.lin(self.emb(input_ids))


def test_tokens_all_counts_only_real_tokens(tmp_path):
    torch.manual_seed(4)
    lengths = [3, 5, 2, 4, 5, 1]
    batches = []
    for s in range(0, 6, 2):  # batches of 2 padded to the longer one
        t = max(lengths[s:s + 2])
        ids = torch.zeros(2, t, dtype=torch.long)
        mask = torch.zeros(2, t, dtype=torch.long)
        for k in range(2):
            ids[k, :lengths[s + k]] = torch.arange(1, lengths[s + k] + 1) + s + k
            mask[k, :lengths[s + k]] = 1
        batches.append({"input_ids": ids, "attention_mask": mask, "id": torch.tensor([s, s + 1])})
    model = Tokens()
    paths = dst.capture(model, batches, ["emb", "lin"], tmp_path, tokens="all")
    emb = np.load(paths["emb"])
    ids = np.load(tmp_path / "ids.npy")
    assert emb.shape == (sum(lengths), 4)
    want_ids = [(s << 32) + p for s, n in enumerate(lengths) for p in range(n)]
    assert ids.tolist() == want_ids
    table = model.emb.weight.detach().numpy()
    token = [p + 1 + s for s, n in enumerate(lengths) for p in range(n)]
    np.testing.assert_array_equal(emb, table[token])
    mean = np.load(dst.capture(model, batches, ["emb"], tmp_path, tokens="mean", prefix="m.")["emb"])
    start = np.cumsum([0] + lengths)
    np.testing.assert_allclose(mean, [emb[start[i]:start[i + 1]].mean(0) for i in range(6)], rtol=1e-6)
    r = dcor_stream.matrix({"emb": paths["emb"], "lin": paths["lin"]})
    assert r.n == sum(lengths)


class Pairs(torch.utils.data.Dataset):
    """Each item is a dCor computed in the DataLoader's worker process."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        x = np.random.default_rng(i).normal(size=(40, 2))
        return dcor_stream.dcor(x, x ** 2).bcdcor


@pytest.mark.skipif(os.name == "nt", reason="no fork on Windows")
def test_dataloader_workers():
    Pairs()[0]  # the parent runs one first
    got = list(torch.utils.data.DataLoader(Pairs(), batch_size=None, num_workers=2,
                                           multiprocessing_context="fork"))
    assert [float(v) for v in got] == [Pairs()[i] for i in range(4)]
