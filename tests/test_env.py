"""Environment calls scripts make (torch.cuda, torch.backends, torch.accelerator, finfo/iinfo, threads,
matmul precision, Generator state, amp) compared with real torch 2.13 (a CPU build)."""
import warnings

import numpy as np
import pytest
import torch

import funcgrad as fg

NO_GPU = not fg.cuda.is_available()


@pytest.mark.parametrize("dt", ["float32", "float64", "float16", "bfloat16", None])
def test_finfo_like_torch(dt):
    t = torch.finfo(getattr(torch, dt)) if dt else torch.finfo()
    f = fg.finfo(getattr(fg, dt)) if dt else fg.finfo()
    assert repr(f) == repr(t)
    for k in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(f, k) == getattr(t, k), k


@pytest.mark.parametrize("dt", ["int64", "int32", "int16", "int8", "uint8"])
def test_iinfo_like_torch(dt):
    t, f = torch.iinfo(getattr(torch, dt)), fg.iinfo(getattr(fg, dt))
    assert repr(f) == repr(t)
    assert (f.bits, f.min, f.max, f.dtype) == (t.bits, t.min, t.max, t.dtype)


def test_info_type_errors():
    with pytest.raises(TypeError):
        fg.finfo(fg.int32)
    with pytest.raises(TypeError):
        fg.iinfo(fg.float32)


@pytest.mark.skipif(not NO_GPU, reason="compares with a CPU-only torch")
def test_cuda_without_gpu_like_cpu_torch():
    for name in ("is_available", "device_count", "is_bf16_supported", "memory_allocated", "max_memory_allocated",
                 "memory_reserved", "empty_cache", "is_initialized"):
        assert getattr(fg.cuda, name)() == getattr(torch.cuda, name)(), name
    for name in ("current_device", "get_device_name", "synchronize"):
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            getattr(torch.cuda, name)()
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            getattr(fg.cuda, name)()
    assert fg.cuda.manual_seed(1) is None and fg.cuda.manual_seed_all(1) is None
    assert fg.accelerator.is_available() is torch.accelerator.is_available()
    assert fg.accelerator.current_accelerator() == torch.accelerator.current_accelerator()
    assert fg.accelerator.device_count() == torch.accelerator.device_count()


def test_cuda_seed_does_not_move_cpu_stream():
    fg.manual_seed(0)
    a = fg.rand(3).tolist()
    fg.manual_seed(0)
    fg.cuda.manual_seed_all(123)
    if NO_GPU:
        assert fg.rand(3).tolist() == a


def test_backends_flags():
    # torch's own test utilities (imported by the op_db tests in this process) freeze torch's flags
    with getattr(torch.backends, "__allow_nonbracketed_mutation")():
        _backends_flags()


def _backends_flags():
    for mod in (torch, fg):
        mod.backends.cudnn.benchmark = True
        mod.backends.cudnn.deterministic = True
        mod.backends.cudnn.allow_tf32 = False
    try:
        assert fg.backends.cudnn.benchmark and fg.backends.cudnn.deterministic and not fg.backends.cudnn.allow_tf32
        assert fg.backends.mps.is_available() is torch.backends.mps.is_available()
        assert fg.backends.cudnn.is_available() is torch.backends.cudnn.is_available()
        assert fg.backends.cudnn.enabled is torch.backends.cudnn.enabled
        assert fg.backends.cuda.matmul.allow_tf32 == torch.backends.cuda.matmul.allow_tf32
        with fg.backends.cudnn.flags(enabled=False):
            assert fg.backends.cudnn.enabled is False
        assert fg.backends.cudnn.enabled is True
    finally:
        for mod in (torch, fg):
            mod.backends.cudnn.benchmark = False
            mod.backends.cudnn.deterministic = False
            mod.backends.cudnn.allow_tf32 = True


def test_matmul_precision_like_torch():
    import jax

    before = jax.config.jax_default_matmul_precision
    try:
        assert fg.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "highest"
        for p in ("high", "medium", "highest"):
            torch.set_float32_matmul_precision(p)
            fg.set_float32_matmul_precision(p)
            assert fg.get_float32_matmul_precision() == torch.get_float32_matmul_precision()
            assert fg.backends.cuda.matmul.allow_tf32 == torch.backends.cuda.matmul.allow_tf32
        fg.set_float32_matmul_precision("high")
        assert jax.config.jax_default_matmul_precision == "tensorfloat32"
        with pytest.warns(UserWarning, match="is not one of 'highest', 'high', or 'medium'"):
            fg.set_float32_matmul_precision("bad")
    finally:
        torch.set_float32_matmul_precision("highest")
        fg.set_float32_matmul_precision("highest")
        jax.config.update("jax_default_matmul_precision", before)


def test_threads_and_determinism():
    assert fg.get_num_threads() >= 1
    fg.set_num_threads(1)
    assert fg.get_num_threads() == 1
    fg.use_deterministic_algorithms(True)
    assert fg.are_deterministic_algorithms_enabled()
    fg.use_deterministic_algorithms(False)
    assert not fg.are_deterministic_algorithms_enabled() and not fg.is_deterministic_algorithms_warn_only_enabled()


def test_generator_state_and_seeds():
    g = fg.manual_seed(7)
    assert isinstance(g, fg.Generator) and g.initial_seed() == 7 == fg.initial_seed()
    st = fg.get_rng_state()
    assert st.dtype is fg.uint8
    a = fg.randn(4).tolist()
    fg.set_rng_state(st)
    assert fg.randn(4).tolist() == a
    g = fg.Generator()
    s = g.seed()
    assert g.initial_seed() == s
    with pytest.raises(TypeError):
        g.set_state([1, 2])


def test_no_grad_decorator_forms_and_is_inference():
    x = fg.ones(2, requires_grad=True)

    @fg.no_grad
    def f(v):
        return v * 2

    @fg.no_grad()
    def g(v):
        return v * 2

    @fg.enable_grad
    def h(v):
        return v * 2

    assert not f(x).requires_grad and not g(x).requires_grad
    with fg.no_grad():
        assert h(x).requires_grad
    assert not x.is_inference()
    with fg.inference_mode():
        y = fg.ones(2)
        assert y.is_inference() == torch.ones(2).is_inference() is False or y.is_inference()
    with torch.inference_mode():
        ty = torch.ones(2)
    assert y.is_inference() is ty.is_inference() is True


def test_set_printoptions_roundtrip():
    fg.set_printoptions(precision=2)
    torch.set_printoptions(precision=2)
    try:
        assert repr(fg.tensor([1.23456, 2.0])) == repr(torch.tensor([1.23456, 2.0]))
    finally:
        fg.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")


def test_autocast_and_gradscaler_without_gpu():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with fg.autocast("cuda"):
            assert not fg.is_autocast_enabled("cuda")
        s = fg.amp.GradScaler("cuda")
    if NO_GPU:
        assert not s.is_enabled() and any("CUDA is not available" in str(x.message) for x in w)
        x = fg.ones(2, requires_grad=True)
        assert s.scale(x) is x and s.get_scale() == 1.0
    with fg.autocast("cpu", dtype=fg.bfloat16):  # torch's CPU policy (tests/amp/test_autocast.py)
        assert fg.is_autocast_enabled("cpu")
    with fg.autocast("cpu", enabled=False):
        pass


def test_gradscaler_cpu_like_torch():
    """GradScaler('cpu') scales, unscales, skips the step on inf and backs off / grows like torch."""
    torch.manual_seed(0)
    tl = torch.nn.Linear(3, 1)
    fl = fg.nn.Linear(3, 1)
    with fg.no_grad():
        fl.weight.copy_(fg.tensor(tl.weight.detach().numpy()))
        fl.bias.copy_(fg.tensor(tl.bias.detach().numpy()))
    ts = torch.amp.GradScaler("cpu", init_scale=4.0, growth_interval=2)
    fs = fg.amp.GradScaler("cpu", init_scale=4.0, growth_interval=2)
    topt = torch.optim.SGD(tl.parameters(), lr=0.1)
    fopt = fg.optim.SGD(fl.parameters(), lr=0.1)
    xs = [np.ones((2, 3), np.float32), np.full((2, 3), np.inf, np.float32), np.ones((2, 3), np.float32) * 2,
          np.ones((2, 3), np.float32), np.ones((2, 3), np.float32)]
    for x in xs:
        for lib, m, s, o in ((torch, tl, ts, topt), (fg, fl, fs, fopt)):
            o.zero_grad()
            loss = m(lib.tensor(x)).sum()
            s.scale(loss).backward()
            s.unscale_(o)
            s.step(o)
            s.update()
        assert fs.get_scale() == ts.get_scale()
        np.testing.assert_allclose(fl.weight.detach().numpy(), tl.weight.detach().numpy(), rtol=1e-6)
    assert fs.state_dict() == ts.state_dict()
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
        fopt.zero_grad()
        fs.scale(fl(fg.ones(1, 3)).sum()).backward()
        fs.unscale_(fopt)
        fs.unscale_(fopt)
