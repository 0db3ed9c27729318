"""The results: every field of the binary's JSON as a typed attribute."""

import math
from collections import namedtuple

F, I, S, P, L = float, int, str, "pair", "list"

# The pair mode's JSON (job.Pair, job.BlockPair, job.Choice), in its order.
PAIR_FIELDS = {
    "n": I, "dcor": F, "dcor_sq": F, "dcov": F, "dcov_sq": F, "dvar_x_sq": F, "dvar_y_sq": F,
    "bcdcor": F, "dcov_u": F, "dvar_x_u": F, "dvar_y_u": F, "t_stat": F, "t_df": F, "p_value": F,
    "pdcor": F, "pdcov": F, "bcdcor_xz": F, "bcdcor_yz": F, "semi_partial": F,
    "dcor_se": F, "dcor_ci": P, "bcdcor_se": F, "bcdcor_ci": P, "pdcor_se": F, "pdcor_ci": P, "ci_level": F,
    "permutations": I, "seed": I, "perm_p_value": F, "perm_p_value_v": F, "pdcor_perm_p_value": F,
    "cka_linear": F, "hsic_linear_u": F, "cka_rbf": F, "hsic_rbf_u": F, "rbf_sigma_x": F, "rbf_sigma_y": F,
    "exponent": F, "dropped_rows": I, "precision": S, "x_dim": I, "y_dim": I, "z_dim": I,
    "flags": L, "passes": I, "estimator": S,
    # the block estimator
    "block": I, "blocks": I, "unused_rows": I, "shuffle_seed": I, "dcov_u_se": F, "pdcov_se": F,
    "semi_partial_se": F,
    # -budget
    "budget_seconds": F, "predicted_exact_seconds": F, "predicted_seconds": F, "calibration_seconds": F,
    "elapsed_seconds": F, "reason": S,
}

# The statistics of the matrix mode, each a grid [row][col].
MATRIX_STATS = ("bcdcor", "p_value", "bcdcor_se", "perm_p_value", "dcor", "dcor_sq", "cka_linear",
                "cka_rbf", "hsic_rbf_u", "pdcor", "pdcor_se", "semi_partial", "semi_partial_se")
MATRIX_FIELDS = {
    "n": I, "rows": L, "cols": L, "row_dims": L, "col_dims": L, "given": S, "given_dim": I,
    **{k: "grid" for k in MATRIX_STATS},
    "rbf_sigma_rows": "vector", "rbf_sigma_cols": "vector", "bcdcor_cov": "grid", "ci_level": F,
    "permutations": I, "seed": I, "exponent": F, "dropped_rows": I, "normalize_rows": bool,
    "estimator": S, "precision": S, "minibatch": dict, "block": I, "blocks": I, "unused_rows": I,
    "shuffle_seed": I, "budget_seconds": F, "predicted_exact_seconds": F, "predicted_seconds": F,
    "calibration_seconds": F, "elapsed_seconds": F, "reason": S, "flags": L,
}


def _num(v):
    return None if v is None else float(v)


def _typed(kind, v):
    if v is None:
        return None
    if kind is F:
        return float(v)
    if kind is I:
        return int(v)
    if kind == P:
        return (_num(v[0]), _num(v[1]))
    if kind == "grid":
        import numpy as np
        return np.array([[math.nan if x is None else float(x) for x in row] for row in v], dtype=np.float64).reshape(len(v), -1)
    if kind == "vector":
        import numpy as np
        return np.array([float(x) for x in v], dtype=np.float64)
    return v


class _Fields:
    _fields = {}

    def __init__(self, data, notes=()):
        self._data = data
        self.notes = list(notes)
        for k, kind in self._fields.items():
            setattr(self, k, _typed(kind, data.get(k)))
        for k, v in data.items():  # fields of a newer binary, untyped
            if k not in self._fields and not hasattr(self, k):
                setattr(self, k, v)

    def to_dict(self):
        """The binary's JSON object, as parsed (a new dict)."""
        import copy
        return copy.deepcopy(self._data)


class Result(_Fields):
    """The statistics of dcor(): each field of the command line's JSON
    (README, "Output") as an attribute, None where the run has none (pdcor
    without z, the intervals without ci=True, ...). flags names the
    degenerate cases; notes are the binary's notices."""

    _fields = PAIR_FIELDS

    def __repr__(self):
        keys = ["n", "bcdcor", "p_value", "dcor", "pdcor", "bcdcor_se", "bcdcor_ci", "perm_p_value",
                "cka_linear", "cka_rbf", "estimator"]
        parts = [f"{k}={getattr(self, k)!r}" for k in keys if getattr(self, k, None) is not None]
        if self.flags:
            parts.append(f"flags={self.flags!r}")
        return "Result(" + ", ".join(parts) + ")"


Contrast = namedtuple("Contrast", "a b diff se ci level")
Contrast.__doc__ = """bcdcor[a] - bcdcor[b] of two matrix entries, each (row, col), with its
jackknife SE and normal interval at level (clamped to [-2, 2])."""


class MatrixResult(_Fields):
    """The matrix of matrix(): each statistic a numpy array indexed
    [row, col] (m.bcdcor, m.dcor, m.pdcor, ...), labelled by m.rows and
    m.cols; m.frame(stat) is a pandas DataFrame; m.cov the jackknife
    covariance of the bcdcor entries (row-major, with ci=True); m.contrasts
    the comparisons asked with compare=; m.compare(a, b) any other."""

    _fields = MATRIX_FIELDS

    def __init__(self, data, notes=(), rows=None, cols=None, given=None):
        if rows is not None:
            data = dict(data, rows=list(rows), cols=list(cols))
            if given is not None and "given" in data:
                data["given"] = given
        super().__init__(data, notes)
        self.cov = self.bcdcor_cov
        self.contrasts = [self._contrast(c) for c in (self.compare_ or [])]

    def __getattr__(self, name):
        raise AttributeError(f"MatrixResult has no {name!r}")

    @property
    def compare_(self):
        return self._data.get("compare")

    def _contrast(self, c):
        a, b = (c["a"]["row"], c["a"]["col"]), (c["b"]["row"], c["b"]["col"])
        return Contrast(a, b, _num(c["diff"]), _num(c["se"]), (_num(c["ci"][0]), _num(c["ci"][1])), self.ci_level)

    def stats(self):
        """The names of the statistics this result holds."""
        return [k for k in MATRIX_STATS if getattr(self, k, None) is not None]

    def __getitem__(self, stat):
        v = getattr(self, stat, None) if stat in MATRIX_STATS else None
        if v is None:
            raise KeyError(f"{stat!r}: this matrix holds {self.stats()}")
        return v

    def _index(self, entry):
        r, c = entry
        i = self.rows.index(r) if not isinstance(r, int) else r
        j = self.cols.index(c) if not isinstance(c, int) else c
        return i, j

    def compare(self, a, b):
        """The paired contrast bcdcor[a] - bcdcor[b] of entries a and b, each
        (row, col) by label or index, with its delete-one jackknife SE
        (needs ci=True). diff and se are computed as the command line's
        -compare does, to the bit; the interval's normal quantile is
        Python's (within 1e-15 of the binary's)."""
        if self.cov is None:
            from ._errors import UsageError
            raise UsageError("compare needs the jackknife covariance of the entries: matrix(..., ci=True)")
        (i, j), (k, l) = self._index(a), self._index(b)
        c = len(self.cols)
        ia, ib = i * c + j, k * c + l
        v = self.cov[ia, ia] + self.cov[ib, ib] - 2 * self.cov[ia, ib]
        d = float(self.bcdcor[i, j] - self.bcdcor[k, l])
        se = math.sqrt(max(float(v), 0.0))
        from statistics import NormalDist
        z = NormalDist().inv_cdf((1 + self.ci_level) / 2)
        ci = (max(-2.0, d - z * se), min(2.0, d + z * se))
        return Contrast((self.rows[i], self.cols[j]), (self.rows[k], self.cols[l]), d, se, ci, self.ci_level)

    def frame(self, stat="bcdcor"):
        """The statistic as a pandas DataFrame, rows × cols (needs pandas)."""
        import pandas as pd
        return pd.DataFrame(self[stat], index=list(self.rows), columns=list(self.cols))

    def plot(self, stat="bcdcor", ax=None, annotate=None, cmap="viridis", **kw):
        """A heatmap of the statistic (needs matplotlib); returns the Axes.
        annotate: write the values in the cells (default: up to 12 × 12)."""
        import matplotlib.pyplot as plt
        grid = self[stat]
        if ax is None:
            _, ax = plt.subplots(figsize=(1.2 + 0.6 * len(self.cols), 1.0 + 0.5 * len(self.rows)))
        im = ax.imshow(grid, cmap=cmap, aspect="auto", **kw)
        ax.set_xticks(range(len(self.cols)), labels=self.cols, rotation=45, ha="right")
        ax.set_yticks(range(len(self.rows)), labels=self.rows)
        ax.figure.colorbar(im, ax=ax, label=stat)
        if annotate is None:
            annotate = grid.shape[0] <= 12 and grid.shape[1] <= 12
        if annotate:
            for i in range(grid.shape[0]):
                for j in range(grid.shape[1]):
                    ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=8, color="w")
        ax.set_title(f"{stat} (n = {self.n})")
        ax.figure.tight_layout()
        return ax

    def __repr__(self):
        head = f"MatrixResult(n={self.n}, {len(self.rows)}×{len(self.cols)}, stats={self.stats()}"
        if self.flags:
            head += f", flagged={len(self.flags)}"
        lines = [head + ")"]
        w = max([len(str(r)) for r in self.rows] + [6])
        lines.append(" " * w + "  " + " ".join(f"{str(c)[:10]:>10}" for c in self.cols))
        for i, r in enumerate(self.rows):
            lines.append(f"{str(r):<{w}}  " + " ".join(f"{v:10.4f}" for v in self.bcdcor[i]))
        return "\n".join(lines)
