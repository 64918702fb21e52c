"""DistributedDataParallel on 2 processes trains exactly like one process on the whole batch."""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "workers"))
from _dist_util import launch, spawn  # noqa: E402
from common import reference  # noqa: E402

STEPS = 20


def test_ddp_equals_single_process_eager_and_compiled(tmp_path):
    res = spawn("ddp_train.py", 2, (STEPS, "eager,compiled"), timeout=150, OUT_DIR=tmp_path)
    for rc, text in res:
        assert rc == 0, text[-3000:]
    got = json.loads((tmp_path / "ddp.json").read_text())
    losses, params = reference(torch, STEPS)  # real torch, one process, the concatenated batch
    for mode in ("eager", "compiled"):
        g = got[mode]
        assert g["keys"] == [f"module.{k}" for k in params]
        np.testing.assert_allclose(g["losses"], losses, rtol=1e-5, atol=1e-6)
        for k, v in params.items():
            np.testing.assert_allclose(np.array(g["params"][f"module.{k}"]), v, rtol=1e-5, atol=1e-6)
        assert g["no_sync_err"] < 1e-6
    stats = got["compiled"]["compiled"]
    assert stats["calls"] >= STEPS - 1 and stats["eager_calls"] <= 1, stats


def test_ddp_gpt_example_under_the_launcher(tmp_path):
    example = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "ddp_gpt.py")
    rc, out = launch(example, 2, ("--steps", "2", "--n-layer", "1", "--n-embd", "16", "--out-dir", tmp_path),
                     timeout=240)
    assert rc == 0, out[-3000:]
    assert "iter 0: loss" in out and "iter 1: loss" in out
    sums = sorted(line.split()[-1] for line in out.splitlines() if "parameter checksum" in line)
    assert len(sums) == 2 and sums[0] == sums[1]  # replicas identical after training
    assert (tmp_path / "ckpt.pt").exists()
