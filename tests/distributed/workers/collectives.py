"""Collectives on every rank; the same script runs under real torch (gloo) and under funcgrad.
Writes each rank's results as JSON to ``$OUT_DIR/rank<r>.json`` (``run`` is also used by fsdp_train.py)."""
import datetime
import json
import os

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dfn


def run(out_dir):
    r, w = dist.get_rank(), dist.get_world_size()
    res = {"rank": r, "world": w, "initialized": dist.is_initialized(), "backend": dist.get_backend()}
    try:
        dist.init_process_group("gloo")
    except ValueError as e:
        res["init_twice"] = f"{type(e).__name__}: {e}"

    def base(shape=(2, 3), dtype=torch.float32):
        n = 1
        for s in shape:
            n *= s
        return (torch.arange(n, dtype=torch.float64).reshape(shape) * (r + 1) + r - 1.5).to(dtype)

    for name in ["SUM", "AVG", "MAX", "MIN", "PRODUCT"]:
        t = base()
        dist.all_reduce(t, op=getattr(dist.ReduceOp, name))
        res[f"all_reduce_{name}"] = t.tolist()
    t = base(dtype=torch.int64)
    dist.all_reduce(t)
    res["all_reduce_int"] = t.tolist()
    t = base()
    work = dist.all_reduce(t, async_op=True)
    work.wait()
    res["all_reduce_async"] = t.tolist()

    out = [torch.zeros(2, 3) for _ in range(w)]
    dist.all_gather(out, base())
    res["all_gather"] = [o.tolist() for o in out]
    o = torch.zeros(2 * w, 3)
    dist.all_gather_into_tensor(o, base())
    res["all_gather_into_tensor"] = o.tolist()

    o = torch.zeros(2, 3)
    dist.reduce_scatter_tensor(o, base((2 * w, 3)))
    res["reduce_scatter_tensor"] = o.tolist()
    o = torch.zeros(2, 3)
    dist.reduce_scatter_tensor(o, base((2 * w, 3)), op=dist.ReduceOp.MAX)
    res["reduce_scatter_tensor_max"] = o.tolist()
    o = torch.zeros(2, 3)
    dist.reduce_scatter(o, [base() + i for i in range(w)])
    res["reduce_scatter"] = o.tolist()

    for src in range(w):
        t = base()
        dist.broadcast(t, src=src)
        res[f"broadcast_{src}"] = t.tolist()

    o = torch.zeros(2 * w, 3)
    dist.all_to_all_single(o, base((2 * w, 3)))
    res["all_to_all_single"] = o.tolist()
    outs = [torch.zeros(3) for _ in range(w)]
    dist.all_to_all(outs, [base((3,)) + 10 * i for i in range(w)])
    res["all_to_all"] = [x.tolist() for x in outs]

    t = base()
    gl = [torch.zeros(2, 3) for _ in range(w)] if r == 0 else None
    dist.gather(t, gl, dst=0)
    res["gather"] = [x.tolist() for x in gl] if gl else None
    t = torch.zeros(2, 3)
    dist.scatter(t, [base() * 10 + i for i in range(w)] if r == 1 else None, src=1)
    res["scatter"] = t.tolist()
    t = base()
    dist.reduce(t, dst=1)
    res["reduce"] = t.tolist()

    objs = [None] * w
    dist.all_gather_object(objs, {"rank": r, "s": "x" * r})
    res["all_gather_object"] = objs
    lst = [r, "hello", {"k": r}] if r == 0 else [None, None, None]
    dist.broadcast_object_list(lst, src=0)
    res["broadcast_object_list"] = lst

    # differentiable collectives (torch.distributed.nn.functional)
    x = base().requires_grad_()
    y = dfn.all_reduce(x * 2)
    (y * (r + 1)).sum().backward()
    res["nn_all_reduce"] = [y.tolist(), x.grad.tolist()]
    x = base().requires_grad_()
    parts = dfn.all_gather(x)
    loss = sum((p * (i + 1) * (r + 2)).sum() for i, p in enumerate(parts))
    loss.backward()
    res["nn_all_gather"] = [[p.tolist() for p in parts], x.grad.tolist()]

    dist.barrier()
    with open(os.path.join(out_dir, f"rank{r}.json"), "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    run(os.environ["OUT_DIR"])
    dist.destroy_process_group()
