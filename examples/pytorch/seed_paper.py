"""Check dcor-stream -minibatch against the seed paper's statistics on real
activations: a tiny MLP trained for a few seconds on synthetic 8x8 "digits"
(10 noisy class prototypes), its hidden layers on an evaluation set dumped
to float32 .npy with the rows sorted by class, and the labels one-hot.

The paper's statistics (Zhen et al. 2022, Partial_DC.py) are written out
here from their definitions, in float64: New_DC (U-centred distance
matrices, bracket over n(n-3), correlation with 1e-18 under the root),
P_DC(A, B, GT) (A's matrix with its projection on B's removed, correlated
with GT's) and the loss Distance_Correlation (rows normalised, 1e-12 under
each distance's root, double centring, 1e-9 beside Gxx*Gyy). It prints
their means over consecutive batches of --batch rows and over the batches
of a shuffled order as JSON; compare with

  dcor-stream matrix -rows h1=mlp_h1.npy -cols h2=mlp_h2.npy -given gt=labels.npy -minibatch 128 -format json

    python3 seed_paper.py --out DIR
"""
import argparse
import json
import os

import numpy as np
import torch


def dist(x, eps=0.0):
    d = (x.unsqueeze(0) - x.unsqueeze(1)).square().sum(-1)
    return torch.sqrt(d + eps)


def ucentre(x):
    n = x.shape[0]
    a = dist(x)
    r = a.sum(0, keepdim=True)
    u = a - r / (n - 2) - r.T / (n - 2) + a.sum() / ((n - 1) * (n - 2))
    return u - torch.diag(torch.diag(u))


def bracket(a, b):
    n = a.shape[0]
    return (a * b).sum() / (n * (n - 3))


def corr(a, b):
    return bracket(a, b) / torch.sqrt(bracket(a, a) * bracket(b, b) + 1e-18)


def new_dc(x, y):
    return corr(ucentre(x), ucentre(y)).item()


def p_dc(a, b, gt):
    A, B, G = ucentre(a), ucentre(b), ucentre(gt)
    return corr(A - bracket(A, B) / bracket(B, B) * B, G).item()


def loss_dc(x, y):
    def centred(x):
        x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
        a = dist(x, 1e-12)
        return a - a.mean(0, keepdim=True) - a.mean(1, keepdim=True) + a.mean()
    A, B = centred(x), centred(y)
    return ((A * B).mean() / torch.sqrt((A * A).mean() * (B * B).mean() + 1e-9)).item()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, default=4000)
    p.add_argument("--batch", type=int, default=128)
    a = p.parse_args()
    torch.manual_seed(0)
    protos = torch.randn(10, 64)

    def digits(n):
        y = torch.randint(0, 10, (n,))
        return protos[y] + 1.5 * torch.randn(n, 64), y

    net = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xtr, ytr = digits(8000)
    for _ in range(3):
        for i in range(0, len(xtr), 128):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xtr[i:i + 128]), ytr[i:i + 128]).backward()
            opt.step()
    x, y = digits(a.n)
    order = torch.argsort(y, stable=True)  # rows sorted by class
    x, y = x[order], y[order]
    with torch.no_grad():
        h1 = net[1](net[0](x))
        h2 = net[3](net[2](h1))
    gt = torch.nn.functional.one_hot(y, 10).float()
    os.makedirs(a.out, exist_ok=True)
    for name, v in [("mlp_h1", h1), ("mlp_h2", h2), ("labels", gt)]:
        np.save(os.path.join(a.out, name + ".npy"), v.numpy().astype(np.float32))
    # The statistics of the float32 values as saved, in float64.
    h1, h2, gt = (torch.from_numpy(np.load(os.path.join(a.out, f + ".npy"))).double() for f in ("mlp_h1", "mlp_h2", "labels"))
    res = {}
    for kind, idx in [("consecutive", torch.arange(a.n)), ("shuffled", torch.randperm(a.n, generator=torch.Generator().manual_seed(1)))]:
        s = {"new_dc_h1_h2": 0.0, "new_dc_h2_gt": 0.0, "p_dc_h1_h2_gt": 0.0, "loss_dc_h1_h2": 0.0}
        batches = 0
        for i in range(0, a.n, a.batch):
            j = idx[i:i + a.batch]
            if len(j) < 4:
                break
            s["new_dc_h1_h2"] += new_dc(h1[j], h2[j])
            s["new_dc_h2_gt"] += new_dc(h2[j], gt[j])
            s["p_dc_h1_h2_gt"] += p_dc(h1[j], h2[j], gt[j])
            s["loss_dc_h1_h2"] += loss_dc(h1[j], h2[j])
            batches += 1
        res[kind] = {k: v / batches for k, v in s.items()}
        res[kind]["batches"] = batches
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
