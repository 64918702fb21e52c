"""gelu, layer_norm and scaled_dot_product_attention carry hand-written derivatives (custom_jvp tangent
maps JAX transposes into torch's backward formulas): values, gradients and grad_fn names against torch."""
import numpy as np
import pytest
import torch

import funcgrad as fg

TOL = {"float32": (1e-4, 1e-5), "float64": (1e-10, 1e-12), "bfloat16": (3e-2, 3e-2)}


def _close(a, b, dt):
    a, b = a.detach().float().numpy(), b.detach().float().numpy()
    rtol, atol = TOL[dt]
    np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("dt", ["float32", "float64", "bfloat16"])
def test_gelu_values_and_two_derivatives(dt):
    xs = np.array([-20., -8., -3.3, -1., -0.1, 0., 0.2, 1., 3., 9., 30.])
    outs = []
    for lib in (torch, fg):
        x = lib.tensor(xs, dtype=getattr(lib, dt), requires_grad=True)
        y = lib.nn.functional.gelu(x)
        g, = lib.autograd.grad(y.sum(), x, create_graph=True)
        h, = lib.autograd.grad(g.sum(), x)
        outs.append((y, g, h, type(y.grad_fn).__name__))
    for a, b in zip(*outs):
        if isinstance(a, str):
            assert a == b
        else:
            _close(a, b, dt)


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("ns", [(8,), (3, 8)])
@pytest.mark.parametrize("affine", [(True, True), (False, False), (True, False)])
def test_layer_norm_grads(dt, ns, affine):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 8)) * 3 + 1
    w, b, gw = rng.standard_normal(ns), rng.standard_normal(ns), rng.standard_normal((4, 3, 8))
    outs = []
    for lib in (torch, fg):
        X = lib.tensor(x, dtype=getattr(lib, dt), requires_grad=True)
        W = lib.tensor(w, dtype=getattr(lib, dt), requires_grad=True) if affine[0] else None
        B = lib.tensor(b, dtype=getattr(lib, dt), requires_grad=True) if affine[1] else None
        y = lib.nn.functional.layer_norm(X, ns, W, B)
        ins = [t for t in (X, W, B) if t is not None]
        gs = lib.autograd.grad((y * lib.tensor(gw, dtype=getattr(lib, dt))).sum(), ins, create_graph=True)
        hs = lib.autograd.grad(sum((g * g).sum() for g in gs), ins, allow_unused=True) if affine[0] else []
        outs.append([y, *gs, *hs, type(y.grad_fn).__name__])
    for a, b in zip(*outs):
        if a is None:  # torch: no path to the bias in the gradient graph; funcgrad's vjp reads it: zeros
            assert b is None or not b.detach().numpy().any()
        elif isinstance(a, str):
            assert a == b
        else:
            _close(a, b, dt)


def test_layer_norm_forward_ad():
    rng = np.random.default_rng(1)
    x, t, w, tw = (rng.standard_normal(s) for s in ((4, 8), (4, 8), 8, 8))
    outs = []
    for lib in (torch, fg):
        fa = lib.autograd.forward_ad
        with fa.dual_level():
            X = fa.make_dual(lib.tensor(x), lib.tensor(t))
            W = fa.make_dual(lib.tensor(w), lib.tensor(tw))
            outs.append(fa.unpack_dual(lib.nn.functional.layer_norm(X, (8,), W, lib.tensor(w))).tangent.numpy())
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("case", ["plain", "causal", "bool", "empty_row", "float", "gqa", "gqa_causal"])
def test_sdpa_grads(dt, case):
    rng = np.random.default_rng(2)
    B, H, L, S, E = 2, 4, 5, 6, 8
    hk = 2 if case.startswith("gqa") else H
    q, k, v = rng.standard_normal((B, H, L, E)), rng.standard_normal((B, hk, S, E)), rng.standard_normal((B, hk, S, E))
    gw = rng.standard_normal((B, H, L, E))
    mask = None
    if case in ("bool", "empty_row"):
        mask = rng.random((L, S)) > 0.3
        if case == "empty_row":
            mask[1] = False  # a row attending to nothing: torch's CPU kernel gives zeros
    elif case == "float":
        mask = rng.standard_normal((B, 1, L, S))
    outs = []
    for lib in (torch, fg):
        Q, K, V = (lib.tensor(a, dtype=getattr(lib, dt), requires_grad=True) for a in (q, k, v))
        M = None if mask is None else lib.tensor(mask) if mask.dtype == bool else \
            lib.tensor(mask, dtype=getattr(lib, dt), requires_grad=True)
        o = lib.nn.functional.scaled_dot_product_attention(Q, K, V, attn_mask=M, is_causal="causal" in case,
                                                           enable_gqa=case.startswith("gqa"))
        ins = [Q, K, V] + ([M] if M is not None and M.requires_grad else [])
        outs.append([o, *lib.autograd.grad((o * lib.tensor(gw, dtype=getattr(lib, dt))).sum(), ins)])
    for a, b in zip(*outs):
        _close(a, b, dt)


def test_sdpa_double_backward():
    # torch has no double backward for its CPU flash kernel; funcgrad's is the derivative of the
    # flash backward: check it against a float64 central difference of the first gradient
    rng = np.random.default_rng(3)
    q0 = rng.standard_normal((1, 2, 4, 8))
    k, v = (fg.tensor(rng.standard_normal((1, 2, 4, 8))) for _ in range(2))

    def grad_q(a):
        q = fg.tensor(a, requires_grad=True)
        o = fg.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return q, fg.autograd.grad((o * o).sum(), q, create_graph=True)[0]

    q, g = grad_q(q0)
    h, = fg.autograd.grad(g.sum(), q)
    d = rng.standard_normal(q0.shape)
    eps = 1e-6
    num = (float(grad_q(q0 + eps * d)[1].sum()) - float(grad_q(q0 - eps * d)[1].sum())) / (2 * eps)
    np.testing.assert_allclose(num, float((h * fg.tensor(d)).sum()), rtol=1e-5)
