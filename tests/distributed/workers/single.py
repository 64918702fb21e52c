"""world_size 1 (no JAX multi-process runtime): the API works end to end in one process; DDP with
buffers (BatchNorm) eager and compiled matches the plain module; fully_shard of one rank is the module."""
import datetime

import torch
import torch.distributed as dist
from torch.distributed.fsdp import fully_shard
from torch.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("gloo", init_method="tcp://127.0.0.1:" + __import__("os").environ["MASTER_PORT"], rank=0,
                        world_size=1, timeout=datetime.timedelta(seconds=20))
assert dist.get_world_size() == 1 and dist.get_rank() == 0 and dist.is_initialized()
t = torch.arange(4.0)
for op in (dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.MAX, dist.ReduceOp.PRODUCT):
    dist.all_reduce(t, op=op)
assert t.tolist() == [0.0, 1.0, 2.0, 3.0]
torch.manual_seed(0)


def make():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 1))


x, y = torch.randn(8, 3), torch.randn(8, 1)
results = []
for wrap, compiled in ((lambda m: m, False), (DDP, False), (DDP, True), (fully_shard, False), (fully_shard, True)):
    model = wrap(make())
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss.detach()

    if compiled:
        step = torch.compile(step, fullgraph=True)
    results.append([step().item() for _ in range(5)])
    sd = model.state_dict()
    results[-1].append(sd[[k for k in sd if k.endswith("running_mean")][0]].tolist())
for i, r in enumerate(results[1:]):
    flat = lambda v: [a for b in v for a in (b if isinstance(b, list) else [b])]  # noqa: E731
    assert all(abs(a - b) <= 1e-5 * abs(b) + 1e-6 for a, b in zip(flat(r), flat(results[0]))), (i, r, results[0])
dist.barrier()
dist.destroy_process_group()
assert not dist.is_initialized()
print("single ok")
