"""Every registry op's ``saves`` covers what its vjp reads.

A graph node keeps only the float input values its op's ``saves`` names (torch's saved variables,
also used for version-counter checks); the others are dropped (freed, only shape and dtype kept)
and the vjp runs on zeros there. That is right only if the vjp of each input that requires grad
does not read a dropped value. This test runs the first float32 OpInfo samples of each op (torch's op_db)
through funcgrad, catches every node built (no value is computed: the tape is never run), traces
each input's vjp to a jaxpr and checks that the primal float inputs it reads (after dead-code
elimination) are in ``saves[i]`` (or ``saves[i]`` names ``"result"``, which keeps every input).
"""
from __future__ import annotations

import os
import sys
import warnings

import jax
import numpy as np
import pytest
from jax._src.interpreters import partial_eval as pe

import funcgrad
from funcgrad import _lazy
from funcgrad._ops import registry as R

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "ops"))
U = pytest.importorskip("opdb_util")
torch = U.torch


# samples per op: the first few in the normal run (optional inputs and flags vary across them:
# bce_with_logits' pos_weight is not in the first); every sample with FUNCGRAD_LONG=1
_SAMPLES = None if os.environ.get("FUNCGRAD_LONG") else int(os.environ.get("FUNCGRAD_SAVES_SAMPLES", "4"))


def _reads(op, i, params, avals):
    """Indices of the primal inputs whose values the vjp of input ``i`` reads."""
    n = len(avals)
    prim = R.vjp_op(op, i, n).prim
    specs = [jax.ShapeDtypeStruct(s, d) for s, d in avals]
    shape, dtype = _lazy.infer(op.prim, params, specs)
    specs.append(jax.ShapeDtypeStruct(shape, dtype))
    cj = jax.make_jaxpr(lambda *xs: prim.impl((("params", params),), *xs))(*specs)
    _, used = pe.dce_jaxpr(cj.jaxpr, [True] * len(cj.jaxpr.outvars))
    return {k for k, u in enumerate(used[:n]) if u}


def _capture(monkeypatch):
    nodes = {}
    orig = R._attach_planned  # every graph node of a registry op is built here

    def spy(plan, op, inputs, vals, params, out):
        orig(plan, op, inputs, vals, params, out)
        node = out.grad_fn
        if op.saves is None or op.name in R._KEEP_ALL:
            return
        rg = tuple(node._pos[e] for e, (f, _) in enumerate(node.next_functions) if f is not None)
        avals = tuple(_lazy._aval(v) for v in vals)
        isf = tuple(isinstance(x, funcgrad.Tensor) and x._dtype in R._DIFF
                    for x in inputs if x is not None and x is not R.ABSENT)
        nodes.setdefault((op.name, params, avals, rg), (op, params, avals, rg, isf))

    monkeypatch.setattr(R, "_attach_planned", spy)
    return nodes


def test_saves_cover_what_the_vjp_reads(monkeypatch):
    nodes = _capture(monkeypatch)
    # anomaly mode sends every call down the general path, so the per-op fast path's ops (add, mul,
    # the unary pointwise ops) build their nodes in ``_attach_planned`` too, where the spy sees them
    anomaly = funcgrad.autograd.set_detect_anomaly(True, check_nan=False)
    ran = 0
    for info in U.OP_DB:
        if not info.supports_autograd:
            continue
        fn = U.resolve(info)
        if fn is None:
            continue
        try:
            samples = U.samples_for(info, torch.float32)[:_SAMPLES]
        except Exception:  # noqa: BLE001 - torch's sample generator itself failing is not ours to test
            continue
        for s in samples:
            memo = {}
            try:
                a, args, kw = U.to_fg(s.input, memo), U.to_fg(s.args, memo), U.to_fg(s.kwargs, memo)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fn(a, *args, **kw)
                ran += 1
            except Exception:  # noqa: BLE001 - errors are test_opdb's business; here only nodes built
                pass
    anomaly.__exit__(None, None, None)
    _lazy.flush()
    assert ran > 400, ran
    ops = {k[0] for k in nodes}
    assert len(ops) > 200, len(ops)
    assert {"add", "mul", "div", "tanh", "exp"} <= ops, sorted(ops)
    bad = []
    for op, params, avals, rg, isf in nodes.values():
        for i in rg:
            s = op.saves.get(i)
            if s is None or "result" in s:
                continue  # nothing dropped: every input value is kept
            extra = sorted(k for k in _reads(op, i, params, avals) if k not in s and isf[k])
            if extra:
                bad.append(f"{op.name}: the gradient of input {i} reads inputs {extra}, saves[{i}] = {s}")
    assert not bad, "\n".join(sorted(set(bad)))


def _backward_error(y):
    """The first part of the error ``y.sum().backward()`` raises (a saved input modified in place),
    or None."""
    try:
        y.sum().backward()
    except RuntimeError as e:
        return str(e).split(":")[0]
    return None


def test_group_norm_weight_is_saved():
    """torch's NativeGroupNormBackward0 saves input and weight whatever requires grad."""
    for rg in ("x", "w", "b"):
        for mod in ("x", "w"):
            res = []
            for lib in (torch, funcgrad):
                lib.manual_seed(0)
                d = {"x": lib.randn(2, 4, 3), "w": lib.randn(4), "b": lib.randn(4)}
                d[rg].requires_grad_()
                y = lib.nn.functional.group_norm(d["x"], 2, d["w"], d["b"])
                with lib.no_grad():
                    d[mod].add_(1)
                res.append(_backward_error(y))
            assert res[0] == res[1], (rg, mod, res)


def test_group_norm_without_weight_saves_only_the_input():
    """Without a weight torch saves only the input: a bias changed in place after the call is not an
    error (a bias that requires grad is left out: torch 2.13's backward fails on it, 'tensor does not
    have a device')."""
    for mod in ("x", "b"):
        res = []
        for lib in (torch, funcgrad):
            lib.manual_seed(0)
            d = {"x": lib.randn(2, 4, 3, requires_grad=True), "b": lib.randn(4)}
            y = lib.nn.functional.group_norm(d["x"], 2, None, d["b"])
            with lib.no_grad():
                d[mod].add_(1)
            res.append(_backward_error(y))
        assert res[0] == res[1], (mod, res)
    x = funcgrad.randn(2, 4, 3, requires_grad=True)
    b = funcgrad.randn(4)
    funcgrad.nn.functional.group_norm(x, 2, None, b).pow(2).sum().backward()
    xt = torch.tensor(x.detach().numpy(), requires_grad=True)
    torch.nn.functional.group_norm(xt, 2, None, torch.tensor(b.numpy())).pow(2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_embedding_bag_per_sample_weights_saved():
    for rg in ("w", "p"):
        for mod in ("w", "p"):
            res = []
            for lib in (torch, funcgrad):
                d = {"w": lib.tensor(np.arange(30.0, dtype=np.float32).reshape(10, 3)),
                     "p": lib.tensor(np.linspace(0.1, 0.9, 6, dtype=np.float32))}
                d[rg].requires_grad_()
                y = lib.nn.functional.embedding_bag(lib.tensor([1, 2, 3, 4, 5, 6]), d["w"], lib.tensor([0, 3]),
                                                    mode="sum", per_sample_weights=d["p"])
                with lib.no_grad():
                    d[mod].mul_(2)
                res.append(_backward_error(y))
            assert res[0] == res[1], (rg, mod, res)
