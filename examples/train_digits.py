"""A small MLP and a small CNN trained on scikit-learn's bundled digits (8x8 images, no download),
eagerly and under ``funcgrad.compile``; prints test accuracy and time per epoch.

    python examples/train_digits.py [--epochs 30] [--model cnn|mlp|both] [--compiled|--eager|--both]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import funcgrad as torch
import funcgrad.nn as nn


def load(seed=0):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]  # N x 1 x 8 x 8
    y = d.target.astype(np.int64)
    idx = np.random.default_rng(seed).permutation(len(x))
    split = int(0.8 * len(x))
    return (x[idx[:split]], y[idx[:split]]), (x[idx[split:]], y[idx[split:]])


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(32 * 2 * 2, 10))


def progress(it, desc):
    try:
        from tqdm import tqdm

        return tqdm(it, desc=desc, leave=False, ncols=80)
    except ImportError:
        return it


def train(make, compiled, epochs, batch=64, seed=0):
    torch.manual_seed(seed)
    (xtr, ytr), (xte, yte) = load(seed)
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step(xb, yb):
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    if compiled:
        step = torch.compile(step)
    rng = np.random.default_rng(seed)
    n = (len(xtr) // batch) * batch  # full batches only: one compiled program
    t0 = time.perf_counter()
    for _ in progress(range(epochs), ("compiled " if compiled else "eager ") + make.__name__):
        order = rng.permutation(len(xtr))[:n]
        for i in range(0, n, batch):
            j = order[i:i + batch]
            loss = step(torch.tensor(xtr[j]), torch.tensor(ytr[j]))
        loss.item()
    per_epoch = (time.perf_counter() - t0) / max(epochs, 1)
    model.eval()
    with torch.no_grad():
        acc = (model(torch.tensor(xte)).argmax(1) == torch.tensor(yte)).float().mean().item()
    return acc, per_epoch


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--model", choices=["mlp", "cnn", "both"], default="both")
    ap.add_argument("--mode", choices=["eager", "compiled", "both"], default="both")
    args = ap.parse_args(argv)
    results = {}
    for make in ([mlp, cnn] if args.model == "both" else [mlp if args.model == "mlp" else cnn]):
        for compiled in ([False, True] if args.mode == "both" else [args.mode == "compiled"]):
            acc, t = train(make, compiled, args.epochs)
            results[(make.__name__, compiled)] = acc
            print(f"{make.__name__:>4} {'compiled' if compiled else 'eager':>8}: test accuracy {acc:.3f}, "
                  f"{t * 1e3:.0f} ms/epoch")
    return results


if __name__ == "__main__":
    main()
