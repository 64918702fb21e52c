"""DDP training on every rank: rank r trains on its block of a global batch, eagerly and then with the
step compiled by torch.compile. Rank 0 writes, per mode, the loss averaged over ranks per step and
the final parameters to ``$OUT_DIR/ddp.json``.

usage: ddp_train.py STEPS MODE[,MODE...]"""
import datetime
import json
import os
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from common import init_state, make_model, train_on_rank

steps, modes = int(sys.argv[1]), sys.argv[2].split(",")
dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
r, w = dist.get_rank(), dist.get_world_size()
results = {}

for mode in modes:
    model = make_model(torch)
    # only rank 0 has the reference initialisation: DDP must broadcast it
    model.load_state_dict({k: torch.tensor(v) for k, v in init_state(seed=0 if r == 0 else 100 + r).items()})
    ddp = DDP(model)
    losses, opt, step, (xb, yb) = train_on_rank(torch, dist, ddp, steps, mode)

    # no_sync: gradients accumulate locally; the next synced backward averages the accumulated sum
    opt.zero_grad()
    with ddp.no_sync():
        torch.nn.functional.mse_loss(ddp(xb), yb).backward()
    local = ddp.module[0].weight.grad.clone()
    torch.nn.functional.mse_loss(ddp(xb), yb).backward()
    expected = local * 2
    dist.all_reduce(expected, op=dist.ReduceOp.AVG)
    no_sync_err = (ddp.module[0].weight.grad - expected).abs().max().item()
    sd = ddp.state_dict()
    results[mode] = {"losses": losses, "keys": list(sd), "params": {k: v.tolist() for k, v in sd.items()},
                     "no_sync_err": no_sync_err, "compiled": getattr(step, "stats", None)}

if r == 0:
    with open(os.path.join(os.environ["OUT_DIR"], "ddp.json"), "w") as f:
        json.dump(results, f)
dist.barrier()
dist.destroy_process_group()
