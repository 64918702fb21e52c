"""torch.autocast against torch: output dtypes, values, grad_fn names and gradient dtypes under torch's
per-op policy (CPU, bfloat16 and float16), nesting, state functions, custom_fwd, GradScaler loops."""
import warnings

import numpy as np
import pytest
import torch

import funcgrad as fg


def _copy_params(lib, mods, rng):
    for m in mods:
        for p in m.parameters():
            with lib.no_grad():
                p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.2))


def _model_run(lib, dtype_name):
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32))
    conv, lin, ln = lib.nn.Conv2d(3, 4, 3), lib.nn.Linear(144, 16), lib.nn.LayerNorm(16)
    lin2 = lib.nn.Linear(16, 16)
    _copy_params(lib, (conv, lin, ln, lin2), rng)
    F = lib.nn.functional
    outs = {}
    with lib.autocast("cpu", dtype=getattr(lib, dtype_name)):
        y = conv(x)
        z = lin(y.flatten(1))
        n = ln(z)
        h = lin2(n)                       # a bf16 input into a float32 Linear
        s = F.softmax(h, -1)
        q = h.view(2, 1, 4, 4)
        a = F.scaled_dot_product_attention(q, q, q)
        r = h + lib.ones(16)              # plain promotion: float32 wins
        ce = F.cross_entropy(s + a.reshape(2, 16), lib.tensor([1, 2]))
        for k, v in dict(y=y, z=z, n=n, h=h, s=s, a=a, r=r, ce=ce).items():
            outs[k] = (str(v.dtype), type(v.grad_fn).__name__, v.detach().float().numpy())
    outs["next"] = [type(f[0]).__name__ for f in z.grad_fn.next_functions]
    ce.backward()
    grads = [(str(p.grad.dtype), p.grad.numpy()) for m in (conv, lin, ln, lin2) for p in m.parameters()]
    return outs, grads


@pytest.mark.parametrize("dtype_name", ["bfloat16", "float16"])
def test_model_under_cpu_autocast_matches_torch(dtype_name):
    ro, rg = _model_run(torch, dtype_name)
    go, gg = _model_run(fg, dtype_name)
    tol = 3e-2 if dtype_name == "bfloat16" else 4e-3
    assert go["next"] == ro["next"]
    for k in ("y", "z", "n", "h", "s", "a", "r", "ce"):
        assert go[k][:2] == ro[k][:2], k
        np.testing.assert_allclose(go[k][2], ro[k][2], rtol=tol, atol=tol, err_msg=k)
    for (rd, rv), (gd, gv) in zip(rg, gg):
        assert gd == rd == "torch.float32"
        np.testing.assert_allclose(gv, rv, rtol=tol, atol=tol * max(1.0, np.abs(rv).max()))


def _ops(L):
    F = L.nn.functional
    rng = np.random.default_rng(1)

    def t(*shape, dtype=np.float32):
        return L.tensor(rng.standard_normal(shape).astype(dtype))

    a, b, v, w3 = t(4, 4), t(4, 4), t(4), t(2, 4, 4)
    h = t(4, 4).to(L.bfloat16)
    tgt = L.tensor([0, 1, 2, 3])
    return {
        "mm": lambda: L.mm(a, b), "bmm": lambda: L.bmm(w3, w3), "addmm": lambda: L.addmm(a, a, b),
        "baddbmm": lambda: L.baddbmm(w3, w3, w3), "addbmm": lambda: L.addbmm(a, w3, w3),
        "matmul_1d": lambda: L.matmul(v, v), "matmul_nd": lambda: L.matmul(w3, a), "mv": lambda: L.mv(a, v),
        "dot": lambda: L.dot(v, v), "einsum": lambda: L.einsum("ij,jk->ik", a, b),
        "linear_bf16_in": lambda: F.linear(h, a, v), "conv1d": lambda: F.conv1d(t(1, 2, 5), t(3, 2, 2)),
        "conv_transpose2d": lambda: F.conv_transpose2d(t(1, 2, 3, 3), t(2, 2, 2, 2)),
        "prelu": lambda: F.prelu(a, L.tensor([0.25])), "vecdot": lambda: L.linalg.vecdot(a, b),
        "sdpa": lambda: F.scaled_dot_product_attention(w3, w3, w3),
        "cat": lambda: L.cat([h, a]), "stack": lambda: L.stack([h, h]),
        "mse": lambda: F.mse_loss(h, h), "l1": lambda: F.l1_loss(h, a), "smooth_l1": lambda: F.smooth_l1_loss(h, h),
        "huber": lambda: F.huber_loss(h, h), "nll": lambda: F.nll_loss(h, tgt), "ce": lambda: F.cross_entropy(h, tgt),
        "bce_logits": lambda: F.binary_cross_entropy_with_logits(h, h.sigmoid()),
        "bce": lambda: F.binary_cross_entropy(h.sigmoid(), h.sigmoid()), "kl": lambda: F.kl_div(h, h),
        "cdist": lambda: L.cdist(h, h), "prod": lambda: h.prod(), "trace": lambda: L.trace(h),
        "exp": lambda: h.exp(), "sum": lambda: h.sum(), "softmax": lambda: h.softmax(-1),
        "log_softmax": lambda: F.log_softmax(h, -1), "layer_norm": lambda: F.layer_norm(h, (4,)),
        "gelu": lambda: F.gelu(h), "mul": lambda: h * a, "f64_mm": lambda: L.mm(a.double(), b.double()),
        "int_add": lambda: L.tensor([1, 2]) + 1, "cosine_similarity": lambda: F.cosine_similarity(h, h),
        "avg_pool3d": lambda: F.avg_pool3d(t(1, 1, 2, 2, 2).to(L.bfloat16), 2),
        "lstm": lambda: L.nn.LSTM(4, 3, num_layers=2, bidirectional=True)(w3)[1][1],
        "gru": lambda: L.nn.GRU(4, 3)(w3)[0], "batch_norm": lambda: L.nn.BatchNorm1d(4)(h),
        "group_norm": lambda: L.nn.GroupNorm(2, 4)(h), "embedding": lambda: L.nn.Embedding(5, 3)(tgt),
    }


@pytest.mark.parametrize("dtype_name", ["bfloat16", "float16"])
def test_cpu_policy_op_by_op(dtype_name):
    results = {}
    for lib in (torch, fg):
        ops = _ops(lib)
        with lib.autocast("cpu", dtype=getattr(lib, dtype_name)):
            results[lib.__name__] = {}
            for name, f in ops.items():
                try:
                    results[lib.__name__][name] = str(f().dtype)
                except RuntimeError as e:
                    results[lib.__name__][name] = "RuntimeError"
    if dtype_name == "float16":
        # torch's oneDNN LSTM kernel refuses float16 on CPUs without AVX512-FP16 ("could not create a primitive
        # descriptor"); funcgrad runs the layer in float16 as the policy says
        assert results["torch"].pop("lstm") in ("RuntimeError", "torch.float16")
        assert results["funcgrad"].pop("lstm") == "torch.float16"
    assert results["funcgrad"] == results["torch"]


def test_nesting_disable_decorator_and_state():
    for L in (torch, fg):
        lin = L.nn.Linear(3, 3)
        x = L.ones(2, 3)
        assert not L.is_autocast_enabled("cpu")
        with L.autocast("cpu"):
            assert L.is_autocast_enabled("cpu") and L.get_autocast_dtype("cpu") is L.bfloat16
            assert lin(x).dtype is L.bfloat16
            with L.autocast("cpu", enabled=False):
                assert not L.is_autocast_enabled("cpu") and lin(x).dtype is L.float32
                with L.autocast("cpu"):
                    assert lin(x).dtype is L.bfloat16 and L.is_autocast_enabled("cpu")
            assert lin(x).dtype is L.bfloat16 and L.get_autocast_dtype("cpu") is L.bfloat16
        assert not L.is_autocast_enabled("cpu") and lin(x).dtype is L.float32
        assert not L.is_autocast_enabled()
        with L.autocast("cpu", dtype=L.float16):
            assert lin(x).dtype is L.float16 and L.get_autocast_dtype("cpu") is L.float16

        @L.autocast("cpu")
        def f(t):
            return lin(t)
        assert f(x).dtype is L.bfloat16 and lin(x).dtype is L.float32
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with L.cpu.amp.autocast():
                assert lin(x).dtype is L.bfloat16
            with L.autocast("cpu", dtype=L.float64):
                assert lin(x).dtype is L.float32
        msgs = [str(m.message) for m in w]
        assert any("torch.cpu.amp.autocast(args...)` is deprecated" in m for m in msgs)
        assert any("In CPU autocast, but the target dtype is not supported" in m for m in msgs)
        with pytest.raises(RuntimeError, match="device type at start of device string: tpu"):
            L.autocast("tpu")
        with pytest.raises(RuntimeError, match="unsupported autocast device_type 'hip'"):
            L.autocast("hip")
        with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
            L.autocast(L.device("cpu"))


def test_weight_cast_cached_within_region_like_torch():
    """torch caches the bf16 cast of a float32 leaf: two uses share one ToCopyBackward0 node."""
    for L in (torch, fg):
        lin = L.nn.Linear(3, 3, bias=False)
        with L.autocast("cpu"):
            y1, y2 = lin(L.ones(2, 3)), lin(L.ones(2, 3))
            same = y1.grad_fn.next_functions[1][0].next_functions[0][0] is \
                y2.grad_fn.next_functions[1][0].next_functions[0][0]
        with L.autocast("cpu", cache_enabled=False):
            y3, y4 = lin(L.ones(2, 3)), lin(L.ones(2, 3))
            diff = y3.grad_fn.next_functions[1][0].next_functions[0][0] is not \
                y4.grad_fn.next_functions[1][0].next_functions[0][0]
        assert same and diff, L.__name__


def test_custom_fwd_bwd():
    def run(L):
        class MyMM(L.autograd.Function):
            @staticmethod
            @L.amp.custom_fwd(device_type="cpu", cast_inputs=L.float32)
            def forward(ctx, a, b):
                ctx.save_for_backward(a, b)
                ctx.inner = L.is_autocast_enabled("cpu")
                return a.mm(b)

            @staticmethod
            @L.amp.custom_bwd(device_type="cpu")
            def backward(ctx, g):
                a, b = ctx.saved_tensors
                ctx.bwd_enabled = L.is_autocast_enabled("cpu")
                return g.mm(b.t()), a.t().mm(g)

        a = L.ones(2, 2, requires_grad=True)
        with L.autocast("cpu"):
            h = L.mm(a, a)                                # bf16
            out = MyMM.apply(h, a)                        # run in float32, autocast off inside
        out.sum().backward()
        return str(h.dtype), str(out.dtype), out.grad_fn.inner if hasattr(out.grad_fn, "inner") else None, \
            str(a.grad.dtype)
    assert run(fg) == run(torch)


def test_cuda_policy_table_by_device_mapping():
    """No GPU here: CPU tensors follow the CUDA table (private hook), float16 as torch's CUDA default.
    Expected dtypes are torch's CUDA policy (autocast_mode.h's AT_FORALL_* lists)."""
    from funcgrad import _autocast

    st = _autocast.state
    st.policy_device = {"cpu": "cuda"}
    fg.set_autocast_enabled("cuda", True)
    try:
        h = fg.ones(3, 3, dtype=fg.float16)
        a = fg.ones(3, 3)
        F = fg.nn.functional
        got = {"mm": fg.mm(a, a).dtype, "linear": F.linear(a, a).dtype, "softmax": h.softmax(-1).dtype,
               "exp": h.exp().dtype, "sum": h.sum().dtype, "layer_norm": F.layer_norm(h, (3,)).dtype,
               "cat": fg.cat([h, a]).dtype, "addcmul": fg.addcmul(h, h, h).dtype, "mul": (h * h).dtype,
               "log_softmax": F.log_softmax(h, -1).dtype, "mse": F.mse_loss(h, h).dtype}
        assert got == {"mm": fg.float16, "linear": fg.float16, "softmax": fg.float32, "exp": fg.float32,
                       "sum": fg.float32, "layer_norm": fg.float32, "cat": fg.float32, "addcmul": fg.float16,
                       "mul": fg.float16, "log_softmax": fg.float32, "mse": fg.float32}
        with pytest.raises(RuntimeError, match="unsafe to autocast"):
            F.binary_cross_entropy(a.sigmoid(), a.sigmoid())
    finally:
        fg.set_autocast_enabled("cuda", False)
        st.policy_device = {}
        st.refresh()
    assert fg.mm(fg.ones(2, 2), fg.ones(2, 2)).dtype is fg.float32


def test_gradscaler_autocast_training_loop_matches_torch():
    def run(L):
        rng = np.random.default_rng(5)
        model = L.nn.Sequential(L.nn.Linear(6, 8), L.nn.ReLU(), L.nn.Linear(8, 3))
        _copy_params(L, (model,), rng)
        opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        scaler = L.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=3)
        x = L.tensor(rng.standard_normal((5, 6)).astype(np.float32))
        y = L.tensor([0, 1, 2, 1, 0])
        losses, scales = [], []
        for i in range(8):
            opt.zero_grad()
            with L.autocast("cpu", dtype=L.bfloat16):
                loss = L.nn.functional.cross_entropy(model(x), y)
            if i == 4:
                loss = loss * float("inf")
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            losses.append(loss.item())
            scales.append(scaler.get_scale())
        return np.array(losses), scales, [p.detach().numpy() for p in model.parameters()]
    rl, rs, rp = run(torch)
    gl, gs, gp = run(fg)
    assert gs == rs
    np.testing.assert_allclose(gl, rl, rtol=2e-2)
    for g, r in zip(gp, rp):
        np.testing.assert_allclose(g, r, rtol=2e-2, atol=2e-2)
