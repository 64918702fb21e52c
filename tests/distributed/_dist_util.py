"""Spawning funcgrad worker processes for the distributed tests."""
import os
import signal
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WORKERS = os.path.join(HERE, "workers")
SRC = os.path.abspath(os.path.join(HERE, "..", "..", "src"))


def free_port():
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def env(**extra):
    e = dict(os.environ)
    e["PYTHONPATH"] = SRC + os.pathsep + WORKERS + os.pathsep + e.get("PYTHONPATH", "")
    e.setdefault("JAX_PLATFORMS", "cpu")
    e["PYTHONUNBUFFERED"] = "1"
    e.update({k: str(v) for k, v in extra.items()})
    return e


def communicate(procs, timeout):
    """Wait for all processes (SIGKILL on timeout: JAX's runtime catches SIGTERM); [(rc, output)]."""
    outs = []
    for p in procs:
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                if q.poll() is None:
                    q.send_signal(signal.SIGKILL)
            out, _ = p.communicate()
            out = out + "\n<KILLED: timeout>"
        outs.append((p.returncode, out))
    return outs


def spawn(script, nproc, args=(), timeout=120, world_size=None, runtime="funcgrad", **extra):
    """Start ``nproc`` ranks of ``workers/script`` with torchrun's environment; [(rc, output)] per rank."""
    port = free_port()
    procs = []
    for r in range(nproc):
        e = env(RANK=r, LOCAL_RANK=r, WORLD_SIZE=world_size or nproc, LOCAL_WORLD_SIZE=nproc,
                MASTER_ADDR="127.0.0.1", MASTER_PORT=port, **extra)
        cmd = [sys.executable, "-m", "funcgrad"] if runtime == "funcgrad" else [sys.executable]
        procs.append(subprocess.Popen(cmd + [os.path.join(WORKERS, script), *map(str, args)], env=e,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    return communicate(procs, timeout)


def launch(script, nproc, args=(), timeout=120, launcher_args=(), **extra):
    """``python -m funcgrad.distributed.run --nproc-per-node N script args``: (rc, output)."""
    cmd = [sys.executable, "-m", "funcgrad.distributed.run", "--nproc-per-node", str(nproc), "--master-port",
           str(free_port()), *launcher_args, script, *map(str, args)]
    p = subprocess.Popen(cmd, env=env(**extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return communicate([p], timeout)[0]
