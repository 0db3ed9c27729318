"""Dense numpy references of the statistics, from their definitions (n×n
matrices: small n only), independent of the binary's additive sums.

    a_ij = |x_i - x_j|^α                                     (Euclidean)
    double centring  A_ij = a_ij - a_i. - a_.j + a_..        (means)
    V²_xy = mean(A ∘ B),  dCor² = V²_xy / sqrt(V²_xx V²_yy)  (Székely, Rizzo & Bakirov 2007)
    U-centring  Ã_ij = a_ij - r_i/(n-2) - r_j/(n-2) + T/((n-1)(n-2)),  Ã_ii = 0
                (r_i = Σ_j a_ij, T = Σ_i r_i)
    U_xy = Σ_{i≠j} Ã_ij B̃_ij / (n(n-3)),  R*_xy = U_xy / sqrt(U_xx U_yy)   (Székely & Rizzo 2014)
    pdCor = (R*_xy - R*_xz R*_yz) / sqrt((1 - R*_xz²)(1 - R*_yz²))
    debiased CKA: the R* formula on Gram matrices K = X Xᵀ (linear) or
    exp(-|x_i - x_j|²/(2σ²)) (RBF), diagonal left out (Kornblith et al. 2019,
    unbiased HSIC of Song et al. 2012)
"""

import math

import numpy as np


def flat(x):
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(len(x), -1)


def distances(x, exponent=1.0):
    x = flat(x)
    d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    return d ** exponent


def double_centre(a):
    return a - a.mean(0) - a.mean(1)[:, None] + a.mean()


def u_centre(a):
    n = len(a)
    a = a.copy()
    np.fill_diagonal(a, 0)
    r = a.sum(1)
    u = a - r[:, None] / (n - 2) - r[None, :] / (n - 2) + r.sum() / ((n - 1) * (n - 2))
    np.fill_diagonal(u, 0)
    return u


def u_prod(a, b):
    n = len(a)
    return (a * b).sum() / (n * (n - 3))


def pair(x, y, z=None, exponent=1.0):
    """The pair mode's statistics of x and y (and given z) by their formulas."""
    a, b = distances(x, exponent), distances(y, exponent)
    A, B = double_centre(a), double_centre(b)
    vxy, vxx, vyy = (A * B).mean(), (A * A).mean(), (B * B).mean()
    ua, ub = u_centre(a), u_centre(b)
    uxy, uxx, uyy = u_prod(ua, ub), u_prod(ua, ua), u_prod(ub, ub)
    n = len(a)
    r = uxy / math.sqrt(uxx * uyy)
    m = n * (n - 3) / 2
    out = dict(dcor_sq=vxy / math.sqrt(vxx * vyy), dcov_sq=vxy, dvar_x_sq=vxx, dvar_y_sq=vyy,
               bcdcor=r, dcov_u=uxy, dvar_x_u=uxx, dvar_y_u=uyy,
               t_stat=math.sqrt(m - 1) * r / math.sqrt(1 - r * r), t_df=m - 1)
    out["dcor"] = math.sqrt(out["dcor_sq"])
    if z is not None:
        uc = u_centre(distances(z, exponent))
        uzz = u_prod(uc, uc)
        rxz = u_prod(ua, uc) / math.sqrt(uxx * uzz)
        ryz = u_prod(ub, uc) / math.sqrt(uyy * uzz)
        out.update(bcdcor_xz=rxz, bcdcor_yz=ryz,
                   pdcor=(r - rxz * ryz) / math.sqrt((1 - rxz ** 2) * (1 - ryz ** 2)),
                   pdcov=uxy - u_prod(ua, uc) * u_prod(ub, uc) / uzz,
                   semi_partial=(rxz - r * ryz) / math.sqrt(1 - r * r))
    return out


def cka(kx, ky):
    """Debiased CKA and unbiased HSIC of two Gram (kernel) matrices."""
    ux, uy = u_centre(kx), u_centre(ky)
    h = u_prod(ux, uy)
    return h / math.sqrt(u_prod(ux, ux) * u_prod(uy, uy)), h


def linear_cka(x, y):
    x, y = flat(x), flat(y)
    return cka(x @ x.T, y @ y.T)


def rbf_cka(x, y, sigma_x, sigma_y):
    return cka(np.exp(-distances(x, 2) / (2 * sigma_x ** 2)), np.exp(-distances(y, 2) / (2 * sigma_y ** 2)))
