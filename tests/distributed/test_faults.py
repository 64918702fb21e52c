"""Failures end every rank with a clear error within the timeout, never a hang."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _dist_util import WORKERS, env, free_port, launch, spawn  # noqa: E402


def _caught(text):
    return [line for line in text.splitlines() if line.startswith("CAUGHT")]


def test_not_initialized():
    ((rc, out),) = spawn("faults.py", 1, ("before_init", 5), timeout=60)
    assert rc == 0, out
    msg = ("CAUGHT ValueError: Default process group has not been initialized, please make sure to call "
           "init_process_group.")
    assert _caught(out) == [msg] * 3


def test_rank_raises_others_fail_fast():
    t0 = time.monotonic()
    (rc0, out0), (rc1, out1) = spawn("faults.py", 2, ("raise", 30), timeout=90)
    assert time.monotonic() - t0 < 80
    assert rc1 == 1 and "RuntimeError: rank 1 failed on purpose" in out1
    assert rc0 != 0, out0
    (line,) = _caught(out0)
    assert line.startswith("CAUGHT DistBackendError: funcgrad.distributed.all_reduce failed"), line
    assert "peer process" in line


def test_wrong_world_size_times_out():
    t0 = time.monotonic()
    res = spawn("faults.py", 2, ("raise", 6), timeout=90, world_size=3)
    assert time.monotonic() - t0 < 60
    for rc, out in res:
        assert rc == 3, out
    assert _caught(res[0][1])[0].startswith("CAUGHT DistStoreError: Timed out after")
    assert "2/3 clients joined" in _caught(res[0][1])[0]
    assert _caught(res[1][1])[0].startswith("CAUGHT DistStoreError")


def test_unreachable_master():
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "funcgrad", os.path.join(WORKERS, "faults.py"), "x", "3"],
                       env=env(RANK=1, WORLD_SIZE=2, MASTER_ADDR="127.0.0.1", MASTER_PORT=free_port()),
                       capture_output=True, text=True, timeout=60)
    assert time.monotonic() - t0 < 40
    assert p.returncode == 3
    assert _caught(p.stdout)[0].startswith("CAUGHT DistNetworkError: The client socket has timed out after 3000ms "
                                           "while trying to connect to (127.0.0.1, ")


def test_launcher_stops_everyone_when_a_worker_fails():
    t0 = time.monotonic()
    rc, out = launch(os.path.join(WORKERS, "faults.py"), 2, ("raise", 30), timeout=90)
    assert time.monotonic() - t0 < 80
    assert rc == 1, out
    assert "ChildFailedError" in out and "rank      : 1 (local_rank: 1)" in out
    assert "RuntimeError: rank 1 failed on purpose" in out


def test_hung_rank_watchdog_ends_the_waiting_rank():
    t0 = time.monotonic()
    (rc0, out0), (rc1, out1) = spawn("faults.py", 2, ("hang", 6), timeout=90)
    assert time.monotonic() - t0 < 80
    assert rc0 == 1, out0
    assert "watchdog: all_reduce did not finish within 6s" in out0
    assert rc1 != 0  # rank 0 hosted JAX's coordination service: its end ends rank 1 too, with a message
