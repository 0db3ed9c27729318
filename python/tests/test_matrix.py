"""matrix(): labelled arrays equal to the pair calls to the bit, frame(),
cov and compare(), plot(); shards and merge() equal to one call."""

import numpy as np
import pytest

import dcor_stream
from conftest import ACTIVATIONS


@pytest.fixture
def spaces(xyz):
    x, y, z = xyz
    return {"x": x, "y": y, "x2": x[:, :2], "z": z}


def test_square_matrix_equals_pair_calls(spaces):
    m = dcor_stream.matrix(spaces, ci=True, cka=True, permutations=19, seed=2)
    names = list(spaces)
    assert m.rows == m.cols == names and m.n == 60
    assert set(m.stats()) >= {"bcdcor", "p_value", "dcor", "bcdcor_se", "perm_p_value", "cka_linear", "cka_rbf"}
    for stat in m.stats():
        assert isinstance(m[stat], np.ndarray) and m[stat].shape == (4, 4) and m[stat].dtype == np.float64
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i == j:
                continue
            r = dcor_stream.dcor(spaces[a], spaces[b], ci=True, cka=True, permutations=19, seed=2)
            for stat in ("bcdcor", "p_value", "dcor", "dcor_sq", "bcdcor_se", "cka_linear", "cka_rbf", "perm_p_value"):
                assert m[stat][i, j] == getattr(r, stat), (stat, a, b)
    assert np.array_equal(m.bcdcor, m.bcdcor.T) and np.all(np.diag(m.bcdcor) == 1)


def test_rows_cols_given(spaces):
    z = spaces.pop("z")
    m = dcor_stream.matrix({"x": spaces["x"], "x2": spaces["x2"]}, {"y": spaces["y"]}, given=z)
    assert m.rows == ["x", "x2"] and m.cols == ["y"] and m.bcdcor.shape == (2, 1)
    for i, a in enumerate(m.rows):
        r = dcor_stream.dcor(spaces[a], spaces["y"], z)
        assert (m.bcdcor[i, 0], m.pdcor[i, 0], m.semi_partial[i, 0]) == (r.bcdcor, r.pdcor, r.semi_partial)


def test_list_and_paths_are_labelled(xyz):
    x, y, _ = xyz
    m = dcor_stream.matrix([x, y])
    assert m.rows == ["rows0", "rows1"] and m.bcdcor[0, 1] == dcor_stream.dcor(x, y).bcdcor
    m = dcor_stream.matrix([ACTIVATIONS + ":model_a", "b=" + ACTIVATIONS + ":model_b"])
    assert m.rows == [ACTIVATIONS + ":model_a", "b"]
    assert m.bcdcor[0, 1] == dcor_stream.dcor(ACTIVATIONS + ":model_a", ACTIVATIONS + ":model_b").bcdcor


def test_frame(spaces):
    pd = pytest.importorskip("pandas", reason="pandas is not installed")
    m = dcor_stream.matrix(spaces)
    f = m.frame("bcdcor")
    assert isinstance(f, pd.DataFrame) and list(f.index) == list(f.columns) == list(spaces)
    assert f.loc["x", "y"] == m.bcdcor[0, 1] and m.frame("dcor").loc["y", "z"] == m.dcor[1, 3]
    with pytest.raises(KeyError, match="pdcor"):
        m.frame("pdcor")  # no given space


def test_cov_and_compare(spaces):
    m = dcor_stream.matrix(spaces, ci=True, compare=[(("x", "y"), ("x2", "y")), ((0, 3), ("y", "z"))])
    k = len(spaces)
    assert m.cov.shape == (k * k, k * k) and np.array_equal(m.cov, m.cov.T)
    assert np.allclose(np.sqrt(np.diag(m.cov)).reshape(k, k), m.bcdcor_se, rtol=1e-12, atol=0)
    c = m.compare(("x", "y"), ("x2", "y"))
    assert c.a == ("x", "y") and c.b == ("x2", "y") and c.level == 0.95
    assert c.diff == m.bcdcor[0, 1] - m.bcdcor[2, 1] and c.ci[0] < c.diff < c.ci[1]
    for got, want in zip([c, m.compare(("x", "z"), ("y", "z"))], m.contrasts):  # the binary's -compare
        assert (got.a, got.b, got.diff, got.se) == (want.a, want.b, want.diff, want.se)
        assert got.ci == pytest.approx(want.ci, rel=1e-14)
    with pytest.raises(dcor_stream.UsageError, match="ci=True"):
        dcor_stream.matrix(spaces).compare(("x", "y"), ("x2", "y"))
    with pytest.raises(dcor_stream.UsageError, match="nope"):
        dcor_stream.matrix(spaces, ci=True, compare=[(("nope", "y"), ("x", "y"))])


def test_plot(spaces, tmp_path):
    mpl = pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    mpl.use("Agg")
    m = dcor_stream.matrix(spaces)
    ax = m.plot("bcdcor")
    assert [t.get_text() for t in ax.get_xticklabels()] == list(spaces)
    assert len(ax.texts) == 16 and ax.texts[1].get_text() == f"{m.bcdcor[0, 1]:.2f}"
    ax.figure.savefig(tmp_path / "m.png")
    assert (tmp_path / "m.png").stat().st_size > 1000


def test_repr(spaces):
    text = repr(dcor_stream.matrix(spaces))
    assert text.startswith("MatrixResult(n=60, 4×4") and "x2" in text.splitlines()[-2]


def test_pair_shards_merge_to_one_call(xyz, tmp_path):
    x, y, z = xyz
    states = [dcor_stream.dcor(x, y, z, shard=(i, 3), state=tmp_path / f"s{i}", tile=16) for i in range(3)]
    assert states == [str(tmp_path / f"s{i}") for i in range(3)]
    assert dcor_stream.merge(states).to_dict() == dcor_stream.dcor(x, y, z, tile=16).to_dict()
    with pytest.raises(dcor_stream.DataError, match="shard"):
        dcor_stream.merge(states[:2])
    with pytest.raises(dcor_stream.UsageError, match="state"):
        dcor_stream.dcor(x, y, shard=(0, 3))


def test_matrix_shards_two_rounds_of_ci(spaces, tmp_path):
    opts = dict(ci=True, tile=16)
    first = [dcor_stream.matrix(spaces, shard=(i, 2), state=tmp_path / f"a{i}", **opts) for i in range(2)]
    dcor_stream.merge(first, state=tmp_path / "round1")
    second = [dcor_stream.matrix(spaces, shard=(i, 2), state=tmp_path / f"b{i}", from_state=tmp_path / "round1", **opts)
              for i in range(2)]
    got, want = dcor_stream.merge(second), dcor_stream.matrix(spaces, **opts)
    assert got.rows == want.rows == list(spaces)
    for stat in want.stats() + ["cov"]:
        assert np.array_equal(getattr(got, stat), getattr(want, stat)), stat
