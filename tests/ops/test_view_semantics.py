"""View semantics against torch: version counters of in-place view ops (``t_``, ``squeeze_``...), views
made in ``no_grad`` / ``inference_mode`` (requires_grad, is_leaf, is_inference, the errors of editing
them in place under grad mode) and the node names of in-place view ops. Each case runs the same
snippet in torch and funcgrad and compares what it observes (values printed as torch prints them,
errors as class and message)."""
from __future__ import annotations

import re

import pytest
import torch

import funcgrad


def observe(L, code):
    """Run ``code`` (statements; ``obs(v)`` records a value, ``err(f)`` the error of calling ``f``) with
    ``L`` the library; the list of what it recorded."""
    seen = []

    def obs(*vs):
        seen.append(tuple(re.sub(r" at 0x[0-9a-f]+", "", str(v)) for v in vs))

    def err(f):
        try:
            f()
        except Exception as e:  # noqa: BLE001 - the class and message are what we compare
            seen.append((type(e).__name__, str(e)))
            return
        seen.append(("no error",))

    exec(code, {"L": L, "obs": obs, "err": err})
    return seen


CASES = {
    # in-place view ops bump the version counter (shared with the base and its other views)
    "t_": "x = L.ones(2, 3); x.t_(); obs(x._version, x.shape, x.stride())",
    "t_1d": "x = L.ones(3); x.t_(); obs(x._version)",
    "transpose_": "x = L.ones(2, 3); x.transpose_(0, 1); obs(x._version, x.shape)",
    "swapdims_": "x = L.ones(2, 3); x.swapdims_(0, 1); x.swapaxes_(1, 0); obs(x._version, x.shape)",
    "squeeze_": "x = L.ones(1, 3); x.squeeze_(); obs(x._version, x.shape)",
    "squeeze_noop": "x = L.ones(2, 3); x.squeeze_(); x.squeeze_(0); x.squeeze_((0,)); obs(x._version)",
    "unsqueeze_": "x = L.ones(3); x.unsqueeze_(0); obs(x._version, x.shape)",
    "as_strided_": "x = L.ones(6); x.as_strided_((2, 3), (3, 1)); obs(x._version, x.shape)",
    "view_t_shared": "x = L.ones(2, 3); v = x[0:]; v.t_(); obs(x._version, v._version, x.shape, v.shape)",
    "inference_t_": "with L.inference_mode():\n x = L.ones(2, 3); x.t_(); obs(x.shape); err(lambda: x._version)",
    # their nodes are torch's in-place overloads; their refusals are torch's check_inplace
    "inplace_view_nodes": """
a = L.ones(1, 2, 3, requires_grad=True)
for f in [lambda b: b[0].t_(), lambda b: b.transpose_(0, 1), lambda b: b.squeeze_(), lambda b: b.squeeze_(0),
          lambda b: b.squeeze_((0,)), lambda b: b.unsqueeze_(0), lambda b: b.as_strided_((6,), (1,))]:
    b = a * 1
    r = f(b)
    obs(r.grad_fn, r.grad_fn.next_functions[0][0], r._version)
b = a[0] * 1
b.t_(); b.unsqueeze_(0); b.squeeze_(0); b.transpose_(0, 1)
(b * L.arange(6.).reshape(b.shape)).sum().backward()
obs(a.grad)
""",
    "leaf_t_": "a = L.ones(2, 3, requires_grad=True); err(lambda: a.t_())",
    "leaf_view_t_": "a = L.ones(2, 3, requires_grad=True); err(lambda: a[0:].t_())",
    "unbind_unsqueeze_": "a = L.ones(2, 3, requires_grad=True); err(lambda: a.unbind()[0].unsqueeze_(0))",
    "leaf_t_nograd": "a = L.ones(2, 3, requires_grad=True)\nwith L.no_grad(): a.t_()\nobs(a._version, a.shape, a.grad_fn)",
    "saved_then_t_": """
a = L.ones(2, 3, requires_grad=True)
b = a * 1; y = b.sin(); b.t_()
err(lambda: y.sum().backward())
b = a * 1; y = b.sin(); b[0:].unsqueeze_(0)
err(lambda: y.sum().backward())
b = a[:1] * 1; y = b.sin(); b.squeeze_(0)
err(lambda: y.sum().backward())
""",
    # views made in no_grad mode: requires_grad through the base, no node, a leaf, no gradient of their own
    "nograd_view_flags": """
a = L.ones(3, requires_grad=True)
with L.no_grad():
    for v in (a[1:], a.view(3), a.view(3, 1), a.reshape(3), a.expand(2, 3), a.unsqueeze(0), a.t(), a.unbind()[0],
              a.narrow(0, 0, 2), a.select(0, 1), a.as_strided((2,), (1,)), a.view_as(a)):
        obs(v.requires_grad, v.grad_fn, v.is_leaf, v._base is a, v.is_inference())
    v = a[1:][1:]
    obs(v.requires_grad, v.grad_fn)
    obs(a.detach()[1:].requires_grad, (a * 1)[1:].requires_grad)
x = L.ones(3)
with L.no_grad(): v = x[1:]
obs(v.requires_grad)
""",
    "nograd_view_use": """
a = L.ones(3, requires_grad=True)
with L.no_grad(): v = a[1:]
w = v * 2
obs(w.requires_grad, w.grad_fn, w.grad_fn.next_functions)
w.sum().backward()
obs(a.grad, v.grad)
u = v[1:]
obs(u.requires_grad, u.grad_fn, u.is_leaf)
v.requires_grad_(False)
obs(v.requires_grad)
err(lambda: L.autograd.grad((v * 2).sum(), v))
""",
    "nograd_view_inplace": """
a = L.ones(3, requires_grad=True)
for f in [lambda v: v.mul_(2), lambda v: v.add_(1), lambda v: v.t_(), lambda v: v.unsqueeze_(0),
          lambda v: v.detach_(), lambda v: v.zero_(), lambda v: v.copy_(L.ones(2))]:
    with L.no_grad(): v = a[1:]
    err(lambda: f(v))
with L.no_grad(): v = a[1:]
for f in [lambda: v[1:].mul_(2), lambda: v.unsqueeze(0).mul_(2), lambda: v.t().mul_(2), lambda: v.view(2).t_(),
          lambda: v.unsqueeze(0).squeeze_(0)]:
    err(f)
with L.no_grad(): v = a.view(3, 1)
for ix in [0, (0, 0), slice(1, None), None, Ellipsis, (slice(None), 0)]:
    def f():
        v[ix] = 1.
    err(f)
with L.no_grad():
    v = a[1:]
    v.mul_(2)
    obs(v._version, a)
x = L.ones(3)
with L.no_grad(): v = x[1:]
err(lambda: v.mul_(a[1:]))
v.mul_(2)
obs(v._version, x)
""",
    # a view is an inference tensor exactly when its base is
    "inference_views": """
b = L.ones(3)
with L.inference_mode():
    w = b[1:]; w2 = b.view(3); w3 = b * 2; w4 = b.t()
    obs(w.is_inference(), w2.is_inference(), w3.is_inference(), w4.is_inference())
    bi = L.ones(3)
    obs(bi[1:].is_inference())
obs(w.is_inference(), w.requires_grad, bi[1:].is_inference(), bi.t().is_inference(), (bi * 2).is_inference())
w.mul_(2)
obs(w._version, b)
a = L.ones(3, requires_grad=True)
with L.inference_mode():
    w = a[1:]
    obs(w.is_inference(), w.requires_grad, w.grad_fn, w.is_leaf)
err(lambda: w.mul_(2))
u = w[1:]
obs(u.requires_grad, u.grad_fn, u.is_leaf, u.is_inference())
err(lambda: u.mul_(2))
""",
    "detach_views": """
for mk in [lambda: L.ones(3)[1:], lambda: L.ones(3, dtype=L.long)[1:], lambda: L.ones(3).view(3),
           lambda: L.ones(2, 3).t()]:
    v = mk()
    err(lambda: v.detach_())
x = L.ones(2, 3); x.t_(); err(lambda: x.detach_())
""",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_view_semantics(name):
    code = CASES[name]
    assert observe(funcgrad, code) == observe(torch, code)
