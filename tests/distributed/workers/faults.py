"""Failure modes. usage: faults.py MODE TIMEOUT_S. Prints ``CAUGHT <class>: <message>`` for an expected
error and exits 3, so the test sees which error each rank got."""
import datetime
import sys
import time

import torch
import torch.distributed as dist

mode, timeout = sys.argv[1], float(sys.argv[2])
t0 = time.monotonic()


def caught(e):
    print(f"CAUGHT {type(e).__name__}: {e} [after {time.monotonic() - t0:.1f}s]", flush=True)
    sys.exit(3)


if mode == "before_init":
    for f in (dist.get_rank, lambda: dist.all_reduce(torch.ones(2)), dist.barrier):
        try:
            f()
        except ValueError as e:
            print(f"CAUGHT {type(e).__name__}: {e}", flush=True)
    sys.exit(0)

try:
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=timeout))
except Exception as e:  # noqa: BLE001
    caught(e)

if mode == "twice":
    try:
        dist.init_process_group("gloo")
    except ValueError as e:
        caught(e)

t = torch.ones(3) * (dist.get_rank() + 1)
dist.all_reduce(t)
if mode == "raise" and dist.get_rank() == 1:
    raise RuntimeError("rank 1 failed on purpose")
if mode == "hang" and dist.get_rank() == 1:
    time.sleep(timeout + 8)  # alive but absent from the collectives: rank 0's watchdog ends it
    sys.exit(0)
t0 = time.monotonic()
try:
    for _ in range(3):
        dist.all_reduce(t)
        t.sum().item()
    dist.barrier()
except Exception as e:  # noqa: BLE001
    caught(e)
print("OK", t.tolist(), flush=True)
dist.destroy_process_group()
