"""Threads training separate models at once give the serial results (one shared lazy tape)."""
import os
import threading

import numpy as np
import pytest

import funcgrad as fg

LONG = bool(os.environ.get("FUNCGRAD_LONG"))


def train(seed, steps):
    rng = np.random.default_rng(seed)
    w1 = fg.tensor(rng.standard_normal((6, 8)).astype(np.float32) * 0.3, requires_grad=True)
    w2 = fg.tensor(rng.standard_normal((8, 1)).astype(np.float32) * 0.3, requires_grad=True)
    x = fg.tensor(rng.standard_normal((16, 6)).astype(np.float32))
    y = fg.tensor(rng.standard_normal((16, 1)).astype(np.float32))
    opt = fg.optim.Adam([w1, w2], lr=0.01)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = ((x @ w1).tanh() @ w2 - y).pow(2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, w1.detach().numpy(), w2.detach().numpy()


@pytest.mark.parametrize("n_threads", [2, 4])
def test_threads_equal_serial(n_threads):
    steps = 200 if LONG else 40
    repeats = 20 if LONG else 2
    serial = [train(s, steps) for s in range(n_threads)]
    for _ in range(repeats):
        results = [None] * n_threads
        errors = []

        def run(i):
            try:
                results[i] = train(i, steps)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        for (sl, s1, s2), (tl, t1, t2) in zip(serial, results):
            np.testing.assert_allclose(tl, sl, rtol=1e-6)
            np.testing.assert_allclose(t1, s1, rtol=1e-6)
            np.testing.assert_allclose(t2, s2, rtol=1e-6)
