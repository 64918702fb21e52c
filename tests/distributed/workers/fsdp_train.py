"""fully_shard training on every rank (rank r trains on its block of the global batch), eagerly and
compiled. Rank 0 writes, per mode, the averaged losses, the full state_dict and every rank's
parameter + optimizer-state bytes to ``$OUT_DIR/fsdp.json``.

usage: fsdp_train.py STEPS MODE[,MODE...] [--collectives]   (--collectives: run collectives.py's checks first,
in the same processes: JAX's runtime starts once per process)"""
import datetime
import json
import os
import sys

import torch
import torch.distributed as dist
from torch.distributed.fsdp import fully_shard

from common import init_state, make_model, train_on_rank

steps, modes = int(sys.argv[1]), sys.argv[2].split(",")
dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
r, w = dist.get_rank(), dist.get_world_size()
results = {}
if "--collectives" in sys.argv:
    import collectives

    collectives.run(os.environ["OUT_DIR"])


def nbytes(tensors):
    return sum(t.numel() * t.element_size() for t in tensors)


for mode in modes:
    model = make_model(torch)
    model.load_state_dict({k: torch.tensor(v) for k, v in init_state(0).items()})
    full_bytes = nbytes(model.parameters())
    fully_shard(model[0])
    fully_shard(model)
    losses, opt, step, _ = train_on_rank(torch, dist, model, steps, mode)
    param_bytes = nbytes(model.parameters())
    opt_bytes = nbytes(t for s in opt.state.values() for t in s.values() if isinstance(t, torch.Tensor))
    sizes = [None] * w
    dist.all_gather_object(sizes, (param_bytes, opt_bytes))
    sd = model.state_dict()
    # a full state_dict loads back (every rank keeps its blocks)
    model.load_state_dict({k: v * 2 for k, v in sd.items()})
    reloaded = model.state_dict()
    reload_err = max((reloaded[k] - 2 * sd[k]).abs().max().item() for k in sd)
    results[mode] = {"losses": losses, "keys": list(sd), "params": {k: v.tolist() for k, v in sd.items()},
                     "full_bytes": full_bytes, "bytes": sizes, "reload_err": reload_err,
                     "class": type(model).__name__, "compiled": getattr(step, "stats", None)}

if r == 0:
    with open(os.path.join(os.environ["OUT_DIR"], "fsdp.json"), "w") as f:
        json.dump(results, f)
dist.barrier()
dist.destroy_process_group()
