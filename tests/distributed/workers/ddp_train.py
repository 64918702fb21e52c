"""DDP training on every rank: rank r trains on its block of a global batch. Rank 0 writes the
averaged loss per step and the final parameters to ``$OUT_DIR/ddp.json``.

usage: ddp_train.py {eager,compiled} STEPS"""
import datetime
import json
import os
import sys

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from common import data, init_state, make_model

mode, steps = sys.argv[1], int(sys.argv[2])
dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
r, w = dist.get_rank(), dist.get_world_size()

model = make_model(torch)
# only rank 0 has the reference initialisation: DDP must broadcast it
model.load_state_dict({k: torch.tensor(v) for k, v in init_state(seed=0 if r == 0 else 100 + r).items()})
ddp = DDP(model)
opt = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
x, y = data()
n = x.shape[0] // w
xb, yb = torch.tensor(x[r * n:(r + 1) * n]), torch.tensor(y[r * n:(r + 1) * n])


def step():
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(ddp(xb), yb)
    loss.backward()
    opt.step()
    return loss.detach()


if mode == "compiled":
    step = torch.compile(step, fullgraph=True)
losses = []
for _ in range(steps):
    loss = step()
    dist.all_reduce(loss, op=dist.ReduceOp.AVG)
    losses.append(loss.item())

# no_sync: gradients accumulate locally, the next synced backward averages the sum
opt.zero_grad()
with ddp.no_sync():
    torch.nn.functional.mse_loss(ddp(xb), yb).backward()
local = [p.grad.clone() for p in ddp.parameters()]
torch.nn.functional.mse_loss(ddp(xb), yb).backward()
synced = [p.grad.clone() for p in ddp.parameters()]
expected = local[0] * 2
dist.all_reduce(expected, op=dist.ReduceOp.AVG)
no_sync_err = (synced[0] - expected).abs().max().item()
opt.zero_grad()

sd = ddp.state_dict()
if r == 0:
    with open(os.path.join(os.environ["OUT_DIR"], "ddp.json"), "w") as f:
        json.dump({"losses": losses, "keys": list(sd), "params": {k: v.tolist() for k, v in sd.items()},
                   "no_sync_err": no_sync_err, "compiled": getattr(step, "stats", None)}, f)
dist.barrier()
dist.destroy_process_group()
