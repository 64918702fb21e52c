"""fully_shard on 4 processes trains exactly like one process on the whole batch, with 1/4 of the
parameter and optimizer memory per process."""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "workers"))
from _dist_util import spawn  # noqa: E402
from common import reference  # noqa: E402

STEPS = 20
WORLD = 4


def test_fsdp_equals_single_process_with_sharded_memory(tmp_path):
    res = spawn("fsdp_train.py", WORLD, (STEPS, "eager,compiled"), timeout=180, OUT_DIR=tmp_path)
    for rc, text in res:
        assert rc == 0, text[-3000:]
    got = json.loads((tmp_path / "fsdp.json").read_text())
    losses, params = reference(torch, STEPS)  # real torch, one process, the concatenated batch
    for mode in ("eager", "compiled"):
        g = got[mode]
        assert g["class"] == "FSDPSequential"
        assert g["keys"] == list(params)  # full state_dict under the original names
        np.testing.assert_allclose(g["losses"], losses, rtol=1e-5, atol=1e-6)
        for k, v in params.items():
            np.testing.assert_allclose(np.array(g["params"][k]), v, rtol=1e-5, atol=1e-6)
        assert g["reload_err"] == 0.0
        full = g["full_bytes"]  # 848 bytes of float32 parameters
        for param_bytes, opt_bytes in g["bytes"]:
            # each parameter is padded to a multiple of WORLD elements: at most WORLD - 1 extra per tensor
            assert full / WORLD <= param_bytes <= full / WORLD + 4 * len(params)
            assert opt_bytes == param_bytes  # SGD momentum: one buffer per shard
    stats = got["compiled"]["compiled"]
    assert stats["calls"] >= STEPS - 1 and stats["eager_calls"] <= 1, stats
