"""``python -m funcgrad.distributed.run``: torchrun for funcgrad.

    python -m funcgrad.distributed.run --nproc-per-node 2 train.py --batch-size 8

starts ``--nproc-per-node`` workers of ``train.py`` with torchrun's environment (``RANK``,
``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``, ``GROUP_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``, ``TORCHELASTIC_RUN_ID``...), each as ``python -m funcgrad train.py ...`` so that
``import torch`` gives funcgrad. Multi-node: the same command on every node with ``--nnodes``,
``--node-rank`` and ``--master-addr`` (static rendezvous; elastic restarts are not implemented).
When a worker fails, the others are stopped and the launcher exits with an error naming the
first failure (torch's ``ChildFailedError`` report).
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

__all__ = ["main", "parse_args", "get_args_parser"]


def get_args_parser():
    p = argparse.ArgumentParser(prog="funcgrad.distributed.run",
                                description="funcgrad's torchrun: launch workers of a distributed script")
    a = p.add_argument
    a("--nnodes", type=str, default="1")
    a("--nproc-per-node", "--nproc_per_node", type=str, default="1")
    a("--node-rank", "--node_rank", type=int, default=0)
    a("--master-addr", "--master_addr", type=str, default="127.0.0.1")
    a("--master-port", "--master_port", type=int, default=29500)
    a("--standalone", action="store_true", help="single node, a free port")
    a("--rdzv-endpoint", "--rdzv_endpoint", type=str, default="")
    a("--rdzv-backend", "--rdzv_backend", type=str, default="static")
    a("--rdzv-id", "--rdzv_id", type=str, default="none")
    a("--rdzv-conf", "--rdzv_conf", type=str, default="")
    a("--max-restarts", "--max_restarts", type=int, default=0)
    a("--monitor-interval", "--monitor_interval", type=float, default=0.1)
    a("--start-method", "--start_method", type=str, default="spawn")
    a("--role", type=str, default="default")
    a("--log-dir", "--log_dir", type=str, default=None)
    a("-r", "--redirects", type=str, default="0")
    a("-t", "--tee", type=str, default="0")
    a("--local-addr", "--local_addr", type=str, default=None)
    a("-m", "--module", action="store_true", help="run the script as a python module (python -m)")
    a("--no-python", "--no_python", action="store_true", help="run the script as an executable")
    a("--run-path", "--run_path", action="store_true")
    a("--no-funcgrad", action="store_true", help="run workers with plain python (no `import torch` alias)")
    a("training_script", type=str)
    a("training_script_args", nargs=argparse.REMAINDER)
    return p


def parse_args(argv):
    return get_args_parser().parse_args(argv)


def _free_port():
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def _nproc(v):
    if v in ("cpu", "auto"):
        return os.cpu_count() or 1
    if v == "gpu":
        raise ValueError("--nproc-per-node gpu: funcgrad's launcher counts processes; give a number")
    return int(v)


def _cmd(args):
    if args.no_python:
        return [args.training_script, *args.training_script_args]
    py = [sys.executable, "-u"]
    if not args.no_funcgrad:
        py += ["-m", "funcgrad"]
    if args.module:
        return py + ["-m", args.training_script, *args.training_script_args]
    return py + [args.training_script, *args.training_script_args]


def _stop(procs, grace=5.0):
    for p in procs:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
            except OSError:
                pass
    end = time.monotonic() + grace
    for p in procs:
        while p.poll() is None and time.monotonic() < end:
            time.sleep(0.05)
        if p.poll() is None:
            p.kill()
            p.wait()


def _report(script, failures):
    """torch's ChildFailedError summary."""
    first = failures[0]
    lines = ["funcgrad.distributed.run: ChildFailedError: ", "=" * 60, f"{script} FAILED", "-" * 60, "Failures:"]
    if len(failures) > 1:
        for i, f in enumerate(failures[1:], 1):
            lines += [f"[{i}]:", *_fail(f)]
    else:
        lines.append("  <NO_OTHER_FAILURES>")
    lines += ["-" * 60, "Root Cause (first observed failure):", "[0]:", *_fail(first), "=" * 60]
    print("\n".join(lines), file=sys.stderr, flush=True)


def _fail(f):
    t, rank, local, code, pid = f
    sig = ""
    if code < 0:
        try:
            sig = f" (signal {signal.Signals(-code).name})"
        except ValueError:
            pass
    return [f"  time      : {time.strftime('%Y-%m-%d_%H:%M:%S', time.localtime(t))}",
            f"  host      : {socket.gethostname()}",
            f"  rank      : {rank} (local_rank: {local})",
            f"  exitcode  : {code} (pid: {pid}){sig}",
            "  error_file: <N/A>",
            "  traceback : see the worker's output above"]


def run(args):
    nproc = _nproc(args.nproc_per_node)
    nnodes = int(str(args.nnodes).split(":")[-1])
    addr, port = args.master_addr, args.master_port
    if args.rdzv_endpoint:
        h, _, p = args.rdzv_endpoint.rpartition(":")
        addr, port = (h or addr), int(p) if p else port
    if args.standalone:
        nnodes, addr, port = 1, "127.0.0.1", _free_port()
    world = nnodes * nproc
    run_id = args.rdzv_id if args.rdzv_id != "none" else uuid.uuid4().hex[:8]
    procs = []
    ranks = {}
    for local in range(nproc):
        rank = args.node_rank * nproc + local
        env = dict(os.environ)
        env.update(RANK=str(rank), LOCAL_RANK=str(local), WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(nproc),
                   GROUP_RANK=str(args.node_rank), GROUP_WORLD_SIZE=str(nnodes), ROLE_RANK=str(rank),
                   ROLE_WORLD_SIZE=str(world), ROLE_NAME=args.role, MASTER_ADDR=addr, MASTER_PORT=str(port),
                   TORCHELASTIC_RUN_ID=run_id, TORCHELASTIC_RESTART_COUNT="0", TORCHELASTIC_MAX_RESTARTS="0",
                   TORCH_NCCL_ASYNC_ERROR_HANDLING="1")
        if nproc > 1 and "OMP_NUM_THREADS" not in os.environ:
            env["OMP_NUM_THREADS"] = "1"
        cmd = _cmd(args)
        if getattr(args, "local_rank_arg", False):  # torch.distributed.launch without --use-env
            cmd.insert(len(cmd) - len(args.training_script_args), f"--local-rank={local}")
        p = subprocess.Popen(cmd, env=env)
        procs.append(p)
        ranks[p.pid] = (rank, local)
    failures = []
    try:
        while True:
            alive = False
            for p in procs:
                code = p.poll()
                if code is None:
                    alive = True
                elif code != 0 and not any(f[4] == p.pid for f in failures):
                    failures.append((time.time(), *ranks[p.pid], code, p.pid))
            if failures or not alive:
                break
            time.sleep(args.monitor_interval)
    except KeyboardInterrupt:
        _stop(procs)
        raise
    if failures:
        _stop(procs)
        _report(args.training_script, failures)
        return 1
    return 0


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
