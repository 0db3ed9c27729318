"""dcor() against the formulas (refs.py), the dcor package, and the
binary's own JSON on the same files; intervals, permutations and CKA."""

import json
import math
import subprocess

import numpy as np
import pytest

import dcor_stream
import refs

REL = 1e-12  # the binary's sums are exact; the dense reference rounds at n² terms


def close(got, want, rel=REL, abs_=1e-15):
    return math.isclose(got, want, rel_tol=rel, abs_tol=abs_)


@pytest.mark.parametrize("exponent", [1.0, 0.5, 1.5, 2.0])
def test_pair_matches_formulas(xyz, exponent):
    x, y, z = xyz
    r = dcor_stream.dcor(x, y, z, exponent=exponent)
    want = refs.pair(x, y, z, exponent)
    assert r.n == len(x) and r.exponent == exponent
    for k, v in want.items():
        assert close(getattr(r, k), v), f"{k}(exponent={exponent}) = {getattr(r, k)!r}, want {v!r}"
    assert r.dcov == pytest.approx(math.sqrt(want["dcov_sq"]), rel=REL)
    assert 0 < r.p_value < 1e-3 and r.flags == []


def test_pair_without_z_has_no_partial(xyz):
    x, y, _ = xyz
    r = dcor_stream.dcor(x, y)
    assert r.pdcor is None and r.semi_partial is None and r.bcdcor_ci is None and r.perm_p_value is None
    assert r.cka_linear is None and r.x_dim == 3 and r.y_dim == 3
    assert isinstance(r.n, int) and isinstance(r.bcdcor, float)


def test_against_dcor_package(xyz):
    dcor = pytest.importorskip("dcor", reason="the dcor package is not installed (pip install dcor)")
    x, y, z = xyz
    r = dcor_stream.dcor(x, y, z)
    assert r.dcor == pytest.approx(dcor.distance_correlation(x, y), rel=1e-10)
    assert r.bcdcor == pytest.approx(dcor.u_distance_correlation_sqr(x, y), rel=1e-10)
    assert r.pdcor == pytest.approx(dcor.partial_distance_correlation(x, y, z), rel=1e-10)
    r = dcor_stream.dcor(x, y, exponent=0.5)
    assert r.dcor == pytest.approx(dcor.distance_correlation(x, y, exponent=0.5), rel=1e-10)
    assert r.bcdcor == pytest.approx(dcor.u_distance_correlation_sqr(x, y, exponent=0.5), rel=1e-10)


def test_equals_the_command_line_to_the_bit(xyz, tmp_path):
    x, y, z = xyz
    paths = []
    for name, a in (("x", x), ("y", y), ("z", z)):
        paths.append(str(tmp_path / f"{name}.npy"))
        np.save(paths[-1], a)
    flags = ["-format", "json", "-quiet", "-ci", "-permutations", "19", "-seed", "5", "-cka"]
    cli = subprocess.run([dcor_stream.binary(), *flags, "-x", paths[0], "-y", paths[1], "-z", paths[2]],
                         capture_output=True, text=True, check=True)
    want = json.loads(cli.stdout)
    for xs, ys, zs in ((x, y, z), tuple(paths)):
        r = dcor_stream.dcor(xs, ys, zs, ci=True, permutations=19, seed=5, cka=True)
        assert r.to_dict() == want


def test_ci_and_permutations(xyz):
    x, y, z = xyz
    r = dcor_stream.dcor(x, y, z, ci=True, permutations=99, seed=3)
    assert r.ci_level == 0.95 and r.permutations == 99 and r.seed == 3
    for est, se, ci in ((r.bcdcor, r.bcdcor_se, r.bcdcor_ci), (r.dcor, r.dcor_se, r.dcor_ci),
                        (r.pdcor, r.pdcor_se, r.pdcor_ci)):
        assert se > 0 and ci[0] < est < ci[1], (est, se, ci)
        assert ci[1] - ci[0] == pytest.approx(2 * 1.959963984540054 * se, rel=1e-9)
    for p in (r.perm_p_value, r.perm_p_value_v, r.pdcor_perm_p_value):
        assert 0 < p <= 1 and (p * 100) == pytest.approx(round(p * 100))  # (1 + #{T* >= T}) / (R + 1)
    assert r.perm_p_value == 0.01  # strong dependence: no permutation reaches it
    again = dcor_stream.dcor(x, y, z, ci=True, permutations=99, seed=3)
    assert again.to_dict() == r.to_dict()
    wide = dcor_stream.dcor(x, y, ci=True, ci_level=0.99)
    assert wide.ci_level == 0.99 and wide.bcdcor_ci[0] < r.bcdcor_ci[0] and wide.bcdcor_ci[1] > r.bcdcor_ci[1]


def test_permutation_p_of_independent_data(rng):
    x, y = rng.normal(size=(40, 2)), rng.normal(size=(40, 2))
    p = [dcor_stream.dcor(x, y, permutations=49, seed=s).perm_p_value for s in (1, 2)]
    assert all(0.02 <= v <= 1 for v in p)
    assert p[0] != p[1]  # the seed draws the permutations


def test_cka(xyz):
    x, y, _ = xyz
    r = dcor_stream.dcor(x, y, cka=True, rbf_sigma=1.7)
    want, h = refs.linear_cka(x, y)
    assert close(r.cka_linear, want, 1e-10) and close(r.hsic_linear_u, h, 1e-10)
    want, h = refs.rbf_cka(x, y, 1.7, 1.7)
    assert r.rbf_sigma_x == r.rbf_sigma_y == 1.7
    assert close(r.cka_rbf, want, 1e-10) and close(r.hsic_rbf_u, h, 1e-10)
    r = dcor_stream.dcor(x, y, cka=True)  # the median heuristic
    d = refs.distances(x)[np.triu_indices(len(x), 1)]
    assert r.rbf_sigma_x == np.sort(d)[(len(d) - 1) // 2]
    assert close(r.cka_rbf, refs.rbf_cka(x, y, r.rbf_sigma_x, r.rbf_sigma_y)[0], 1e-10)


def test_degenerate_is_flagged_not_nan(rng):
    r = dcor_stream.dcor(np.ones((10, 2)), rng.normal(size=(10, 2)))
    assert r.dcor == 0 and r.bcdcor == 0 and r.flags


def test_result_repr_and_dict(xyz):
    x, y, _ = xyz
    r = dcor_stream.dcor(x, y, ci=True)
    text = repr(r)
    assert text.startswith("Result(n=60, bcdcor=") and "bcdcor_ci=(" in text and "pdcor" not in text
    d = r.to_dict()
    assert d["bcdcor"] == r.bcdcor and d["bcdcor_ci"] == list(r.bcdcor_ci)
    d["bcdcor"] = 0
    assert r.to_dict()["bcdcor"] == r.bcdcor  # a copy


def test_readme_one_liner():
    r = dcor_stream.dcor([[1], [2], [3], [5]], [[1], [3], [2], [4]])
    assert r.n == 4 and r.bcdcor == pytest.approx(-0.5) and "Result(n=4" in str(r)
