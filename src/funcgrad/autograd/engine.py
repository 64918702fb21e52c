"""The backward engine: walks the graph in torch's order and records every vjp lazily.

Nothing is computed while walking: each node's vjp (``jax.vjp`` of its forward) is recorded
as a pending op. At the end, every gradient that reaches a leaf (``.grad``), a retained
non-leaf or an ``autograd.grad`` output is materialised together, so a whole backward pass
(and any forward work still pending) runs as one cached XLA program.
"""
from __future__ import annotations

import heapq

from .. import _lazy
from . import grad_mode
from .anomaly_mode import _state as _anomaly, warn_forward_trace
from .graph import AccumulateGrad, OpNode

__all__ = ["run_backward"]


def _T():
    from ..tensor import Tensor

    return Tensor


def _wrap(value, device):
    return _T()._make(value, device)


def _add(a, b):
    from .._ops.pointwise import add

    return add(a, b)


def _op_backward(node, grads, create_graph):
    """Input gradients of an OpNode from its output gradient (vjp of the forward)."""
    from .._ops.registry import dispatch, vjp_op

    node._check_saved()
    g = grads[0]
    Tensor = _T()
    if g is None:
        from .._ops.creation import zeros

        g = zeros(node._out[0], dtype=node._out[1])
    vals = node.vals
    n = len(vals)
    params = (("params", node.params),)
    out = []
    for e, (nxt, nr) in enumerate(node.next_functions):
        if nxt is None:
            out.append(None)
            continue
        i = node._pos[e]
        vop = vjp_op(node.op, i, n)
        if create_graph:
            ins = list(_saved_inputs(node))
            r = dispatch(vop, ins + [g], params, node.name() + "Backward")
        else:
            r = Tensor._make(_lazy.record(vop.prim, params, list(vals) + [g._value()]), g._st.device)
        out.append(r)
    return out


def _saved_inputs(node):
    """The forward inputs as tensors wired to their graph edges (for create_graph)."""
    Tensor = _T()
    edge_at = {p: e for e, p in enumerate(node._pos)}
    for k, v in enumerate(node.vals):
        e = edge_at.get(k)
        nxt = node.next_functions[e][0] if e is not None else None
        if isinstance(nxt, AccumulateGrad):
            yield nxt.variable
            continue
        t = Tensor._make(v)
        if nxt is not None:
            t.grad_fn = nxt
            t._output_nr = node.next_functions[e][1]
            t._rg = True
        yield t


def _check_nan(node, outs):
    import numpy as np

    for i, g in enumerate(outs):
        if g is not None and np.isnan(np.asarray(g._array())).any():
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")


def _apply(node, grads, create_graph):
    outs = node.apply(grads, create_graph) if not isinstance(node, OpNode) else _op_backward(node, grads, create_graph)
    if _anomaly.enabled and _anomaly.check_nan:
        _check_nan(node, outs)
    return outs


def run_backward(roots, retain_graph, create_graph, inputs=None, capture=False, allow_unused=False):
    """Run backward from ``roots`` = [(tensor, grad Tensor)].

    With ``capture`` (autograd.grad) returns the gradients of ``inputs`` instead of
    accumulating into ``.grad``; with ``inputs`` and no capture, accumulates only into those.
    """
    Tensor = _T()
    if retain_graph is None:
        retain_graph = create_graph
    from .._ops.registry import _edge

    # Where gradients are captured: {(node, nr): index into inputs}
    want = None
    if inputs is not None:
        want = {}
        for k, t in enumerate(inputs):
            if not t._rg:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            want.setdefault(_edge(t), []).append(k)
    captured = [None] * (len(inputs) if inputs is not None else 0)

    buffers = {}
    root_nodes = []
    for t, g in roots:
        node, nr = _edge(t)
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * node._num_outputs()
            root_nodes.append(node)
        buf[nr] = g if buf[nr] is None else _add(buf[nr], g)

    deps = {}
    seen = set(root_nodes)
    stack = list(root_nodes)
    while stack:
        n = stack.pop()
        for nxt, _ in n.next_functions:
            if nxt is None:
                continue
            deps[nxt] = deps.get(nxt, 0) + 1
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)

    ready = [(-n._seq, id(n), n) for n in root_nodes if deps.get(n, 0) == 0]
    heapq.heapify(ready)
    touched = []
    executed = []
    with grad_mode.set_grad_enabled(create_graph):
        while ready:
            _, _, node = heapq.heappop(ready)
            grads = buffers.pop(node, None) or [None] * node._num_outputs()
            if node._tensor_pre_hooks:
                for nr, hooks in node._tensor_pre_hooks.items():
                    for h in list(hooks.values()):
                        if grads[nr] is not None:
                            r = h(grads[nr])
                            if r is not None:
                                grads[nr] = r
            if node._retained:
                for nr, ref in node._retained.items():
                    t = ref()
                    if t is not None and grads[nr] is not None:
                        _retain(t, grads[nr], create_graph)
                        touched.append(t._grad)
            if want is not None:
                for nr in range(len(grads)):
                    ks = want.get((node, nr))
                    if ks and not isinstance(node, AccumulateGrad):
                        for k in ks:
                            captured[k] = grads[nr]
            if node._pre_hooks:
                for h in list(node._pre_hooks.values()):
                    r = h(tuple(grads))
                    if r is not None:
                        grads = list(r)
            if all(g is None for g in grads):
                outs = [None] * len(node.next_functions)
            elif isinstance(node, AccumulateGrad):
                _accumulate(node, grads[0], create_graph, want, captured, capture, touched)
                outs = []
            else:
                if _anomaly.enabled:
                    try:
                        outs = _apply(node, grads, create_graph)
                    except Exception:
                        warn_forward_trace(node)
                        raise
                else:
                    outs = _apply(node, grads, create_graph)
            if node._hooks:
                for h in list(node._hooks.values()):
                    r = h(tuple(outs), tuple(grads))
                    if r is not None:
                        outs = list(r)
            executed.append(node)
            for (nxt, nr), g in zip(node.next_functions, outs):
                if nxt is None:
                    continue
                if g is not None:
                    buf = buffers.get(nxt)
                    if buf is None:
                        buf = buffers[nxt] = [None] * nxt._num_outputs()
                    buf[nr] = g if buf[nr] is None else _add(buf[nr], g)
                d = deps[nxt] - 1
                deps[nxt] = d
                if d == 0:
                    heapq.heappush(ready, (-nxt._seq, id(nxt), nxt))
    if not retain_graph:
        for node in executed:
            node._release()
    if capture:
        for k, g in enumerate(captured):
            if g is None and not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                                   "Set allow_unused=True if this is the desired behavior.")
        pending = [g._value() for g in captured if g is not None]
    else:
        pending = [t._value() for t in touched]
    if not create_graph:
        _lazy.materialize([p for p in pending if type(p) is _lazy.Lazy])
    return captured


def _retain(t, g, create_graph):
    if t._grad is None:
        t._grad = g if create_graph else g.detach()
        if not create_graph:
            t._grad = _T()._make(g._value(), g._st.device)
    elif create_graph:
        t._grad = _add(t._grad, g)
    else:
        with grad_mode.no_grad():
            t._grad.add_(g)


def _accumulate(node, g, create_graph, want, captured, capture, touched):
    leaf = node.variable
    if leaf._hooks:
        for h in list(leaf._hooks.values()):
            r = h(g)
            if r is not None:
                g = r
    if want is not None:
        ks = want.get((node, 0))
        if ks:
            for k in ks:
                captured[k] = g
        if capture or not ks:
            return
    if leaf._grad is None:
        leaf._grad = g if create_graph else _T()._make(g._value(), g._st.device)
    elif create_graph:
        leaf._grad = _add(leaf._grad, g)
    else:
        with grad_mode.no_grad():
            leaf._grad.add_(g)
    touched.append(leaf._grad)
    if leaf._post_acc_hooks:
        for h in list(leaf._post_acc_hooks.values()):
            h(leaf)
