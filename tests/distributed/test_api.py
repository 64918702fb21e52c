"""The torch.distributed surface without a process group: names under ``import torch``, errors, ReduceOp,
DistributedSampler's defaults, ``shard`` on a one-process mesh, the launcher's torchrun flags."""
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
import torch
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

import funcgrad
import funcgrad.distributed as fdist
from funcgrad.distributed import run as frun

sys.path.insert(0, os.path.dirname(__file__))
from _dist_util import env  # noqa: E402


def test_torch_names_resolve_to_funcgrad():
    code = """
import funcgrad
funcgrad.install()
import torch.distributed as dist
import torch.distributed.nn.functional as dfn
from torch.nn.parallel import DistributedDataParallel
from torch.distributed.fsdp import fully_shard, FullyShardedDataParallel
from torch.utils.data.distributed import DistributedSampler
import torch
assert dist is funcgrad.distributed and dfn is funcgrad.distributed.nn.functional
assert torch.nn.parallel.DistributedDataParallel is DistributedDataParallel
assert fully_shard is funcgrad.distributed.fsdp.fully_shard
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr


def test_uninitialized_like_torch():
    assert fdist.is_available() == torch.distributed.is_available()
    assert fdist.is_initialized() is False
    for name in ("get_rank", "get_world_size", "barrier"):
        with pytest.raises(ValueError) as ours:
            getattr(fdist, name)()
        with pytest.raises(ValueError) as theirs:
            getattr(torch.distributed, name)()
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError) as ours:
        fdist.all_reduce(funcgrad.ones(2))
    assert str(ours.value) == str(theirs.value)


def test_reduce_op_prints_as_torch():
    for name in ("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"):
        a, b = getattr(fdist.ReduceOp, name), getattr(torch.distributed.ReduceOp, name)
        assert (str(a), repr(a)) == (str(b), repr(b))


def test_error_classes_are_runtime_errors_like_torch():
    for name in ("DistError", "DistBackendError", "DistNetworkError", "DistStoreError"):
        ours, theirs = getattr(fdist, name), getattr(torch.distributed, name)
        assert issubclass(ours, RuntimeError) and issubclass(theirs, RuntimeError)
        assert [c.__name__ for c in ours.__mro__[:3]] == [c.__name__ for c in theirs.__mro__[:3]]


def test_env_rendezvous_needs_the_variables(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29999")
    with pytest.raises(ValueError, match="environment variable RANK expected, but not set"):
        fdist.init_process_group("gloo")
    assert not fdist.is_initialized()


def test_distributed_sampler_defaults_need_a_group():
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        funcgrad.utils.data.DistributedSampler(range(4))
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        torch.utils.data.DistributedSampler(range(4))


def test_shard_places_values_and_keeps_autograd():
    mesh = Mesh(np.array(jax.local_devices()[:1]), ("data",))
    model = funcgrad.nn.Linear(4, 2)
    w_before = model.weight.detach().clone()
    assert fdist.shard(model, mesh) is model
    x = fdist.shard(funcgrad.randn(8, 4), mesh, P("data"))
    assert funcgrad.to_jax(x).sharding == NamedSharding(mesh, P("data"))
    assert funcgrad.to_jax(model.weight).sharding == NamedSharding(mesh, P())
    assert funcgrad.equal(model.weight, w_before) and model.weight.requires_grad
    model(x).sum().backward()
    assert model.weight.grad.shape == (2, 4)
    with pytest.raises(TypeError, match="expected a Tensor or a Module"):
        fdist.shard([1, 2], mesh)


def test_launcher_accepts_torchrun_flags():
    a = frun.parse_args(["--nproc_per_node", "4", "--nnodes", "1", "--master_port", "1234", "--standalone",
                         "train.py", "--lr", "0.1"])
    assert (a.nproc_per_node, a.master_port, a.standalone) == ("4", 1234, True)
    assert a.training_script == "train.py" and a.training_script_args == ["--lr", "0.1"]
    assert frun._cmd(a)[-4:] == ["funcgrad", "train.py", "--lr", "0.1"]


def test_world_size_one_end_to_end():
    from _dist_util import spawn

    ((rc, out),) = spawn("single.py", 1, timeout=120)
    assert rc == 0 and "single ok" in out, out[-3000:]
