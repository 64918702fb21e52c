"""The backward engine: walks the graph in torch's order and records every vjp lazily.

Nothing is computed while walking: each node's vjp (``jax.vjp`` of its forward) is recorded
as a pending op. At the end, every gradient that reaches a leaf (``.grad``), a retained
non-leaf or an ``autograd.grad`` output is materialised together, so a whole backward pass
(and any forward work still pending) runs as one cached XLA program.
"""
from __future__ import annotations

import operator
import warnings
from weakref import ref as _weakref

from jax.core import Tracer as _Tracer

from .. import _lazy
from .._autograd import grad_mode
from .._autograd.anomaly_mode import _state as _anomaly, warn_forward_trace
from .._autograd.graph import _ZEROS, AccumulateGrad, Dropped, Node, OpNode, _array_types, _edge, data_edits, undrop
from .._ops.creation import _copy_op, ones_like, zeros, zeros_like
from .._ops.pointwise import add as _add
from .._ops.registry import JOINT_VJP, OPS, dispatch, joint_vjp_op, methods, vjp_op
from ..tensor import Tensor

__all__ = ["run_backward", "backward", "grad", "queue_callback"]

_ADD_PRIM = OPS["add"].prim


def _wrap(value, device):
    return Tensor._make(value, device)


def _add_raw(a, b):
    shape, dtype = _lazy._aval(a)
    return _lazy.record(_ADD_PRIM, (dtype,), [a, b], shape, dtype)


class _Values:
    """Gradients as raw values (no create_graph) or Tensors (create_graph), converted at the edges."""

    def __init__(self, raw, device):
        self.raw = raw
        self.device = device

    def tensor(self, g):
        if g is None or not self.raw:
            return g
        return Tensor._make(g, self.device)

    def value(self, t):
        if t is None or not self.raw:
            return t
        return t._value()

    def add(self, a, b):
        return _add_raw(a, b) if self.raw else _add(a, b)


def _op_backward(node, grads, create_graph):
    """Input gradients of an OpNode from its output gradient (vjp of the forward).

    With ``create_graph`` grads are Tensors and each vjp is a differentiable op; otherwise they
    are raw values (arrays or pending Lazy) and each vjp is recorded directly.
    """
    vals = node._check_saved() if node._freed or node._saved else node.vals
    g = grads[0]
    if node._dropped:
        vals = undrop(vals)
    n = len(vals)
    params = (("params", node.params),)
    out = []
    if create_graph:
        if g is None:
            g = zeros(node._out[0], dtype=node._out[1])
        ins = None
        for e, (nxt, nr) in enumerate(node.next_functions):
            if nxt is None:
                out.append(None)
                continue
            if ins is None:
                ins = list(_saved_inputs(node, vals))
            i = node._pos[e]
            deps = _formula_inputs(node.op, i, n)
            args = [t if k in deps or not t.requires_grad else t.detach() for k, t in enumerate(ins)]
            out.append(dispatch(vjp_op(node.op, i, n), args + [g], params, node.name() + "Backward"))
        return out
    if g is None:
        g = _lazy.record(_ZEROS, (node._out[0], node._out[1].np), (), node._out[0], node._out[1].np)
    record = _lazy.record
    args = None
    op = node.op
    pos = node._pos
    if op in JOINT_VJP:
        return _joint_backward(node, vals, g, params, n)
    vjps = _plan_vjps(node._p, n)
    for e, (nxt, nr) in enumerate(node.next_functions):
        if nxt is None:
            out.append(None)
            continue
        i = pos[e]
        if args is None:
            args = list(vals)
            args.append(g)
        v = vals[i]
        out.append(record(vjps[i], params, args, v.shape, v.dtype if type(v) is _Lazy else _lazy._aval(v)[1]))
    return out


_Lazy = _lazy.Lazy
_vjp_prims: dict = {}




def _joint_backward(node, vals, g, params, n):
    """``_op_backward`` of an op in ``JOINT_VJP``: one vjp entry computing every needed input
    gradient (a tuple) and one entry per gradient reading it. A node whose forward saved its
    loop's intermediates (``node._res``, set by the op's module) reads them instead."""
    edges = node.next_functions
    positions = tuple([node._pos[e] for e, (nxt, _) in enumerate(edges) if nxt is not None])
    op = node.op
    res = node.__dict__.get("_res")
    if res is not None:
        # (prim, values) the forward left on the node: the gradients from what its forward loop
        # saved, without running it again; ``prim(params, *values, *inputs, grad) -> tuple``
        prim, args = res[0], list(res[1])
        params = (("params", node.params), ("positions", positions))
    else:
        prim = _vjp_prims.get((op, positions, n))
        if prim is None:
            prim = _vjp_prims[(op, positions, n)] = joint_vjp_op(op, positions, n).prim
        args = []
    args.extend(vals)
    args.append(g)
    picks = iter(_lazy.record_tuple(prim, params, args, [_lazy._aval(vals[p]) for p in positions]))
    return [None if nxt is None else next(picks) for nxt, _ in edges]


def _formula_inputs(op, i, n):
    """Inputs whose values the gradient of input ``i`` reads (torch's saved variables); the
    others enter the double-backward graph detached, so e.g. the gradient of ``a + b`` does not
    require grad, as in torch."""
    if op.saves is None:
        return range(n)
    s = op.saves.get(i, ())
    if "result" in s:
        return range(n)
    return set(s)


def _saved_inputs(node, vals):
    """The forward inputs as tensors wired to their graph edges (for create_graph)."""
    edge_at = {p: e for e, p in enumerate(node._pos)}
    for k, v in enumerate(vals):
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
        if g is None:
            continue
        a = g._array() if hasattr(g, "_array") else _lazy.value_of(g)
        if np.isnan(np.asarray(a)).any():
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")


def _apply(node, grads, create_graph):
    outs = node.apply(grads, create_graph) if not isinstance(node, OpNode) else _op_backward(node, grads, create_graph)
    if _anomaly.enabled and _anomaly.check_nan:
        _check_nan(node, outs)
    return outs


class _PlainTypes:
    """Node classes that are plain single-output registry nodes (filled as they are seen)."""

    def __contains__(self, cls):
        r = _plain_cache.get(cls)
        if r is None:
            r = _plain_cache[cls] = cls.__mro__[1] is OpNode
        return r


_plain_cache: dict = {}
_plain = _PlainTypes()


_seq_key = operator.attrgetter("_seq")


def _replayed(t, g, retain_graph):
    """Whether ``t.backward(g)`` (``g`` a raw value; no create_graph, inputs or anomaly mode) ran
    as its graph's backward plan; False: it is for the general walk (then ``t.grad_fn``'s plan, if
    any, counts a miss)."""
    root = t.grad_fn
    if not _plain_cache.get(type(root)) or t._output_nr != 0:
        return False
    plan = _plans.get(root._p)
    if plan is None:
        return False
    if plan.replay(root, g, t._st.device, retain_graph):
        return True
    plan.misses += 1
    return False


def run_backward(roots, retain_graph, create_graph, inputs=None, capture=False, allow_unused=False, tried=False):
    """Run backward from ``roots`` = [(tensor, grad Tensor)].

    Nodes run in decreasing sequence number, which is torch's order (a node is always created
    after the nodes of its inputs, so every consumer of a node runs before it); an
    ``AccumulateGrad`` runs as soon as all its gradients have arrived, as in torch.

    With ``capture`` (autograd.grad) returns the gradients of ``inputs`` instead of
    accumulating into ``.grad``; with ``inputs`` and no capture, accumulates only into those.
    """
    if retain_graph is None:
        retain_graph = create_graph
    plain_walk = not create_graph and inputs is None and not _anomaly.enabled and len(roots) == 1
    building = None
    if plain_walk:
        t, g = roots[0]
        if not tried and _replayed(t, g._value(), retain_graph):
            return []
        root = t.grad_fn
        plan = _plans.get(root._p) if _plain_cache.get(type(root)) else None
        if plan is not None and plan.misses > 4 and plan.misses & 63:
            plain_walk = False  # its plan keeps missing: a churning structure, walked as it comes

    want = None  # where gradients are captured: {(node, nr): [index into inputs]}
    if inputs is not None:
        want = {}
        for k, t in enumerate(inputs):
            if not t._rg:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            want.setdefault(_edge(t), []).append(k)
    captured = [None] * (len(inputs) if inputs is not None else 0)

    V = _Values(not create_graph, roots[0][0]._st.device)
    buffers = {}
    root_nodes = []
    for t, g in roots:
        node, nr = _edge(t)
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * node._num_outputs()
            root_nodes.append(node)
        g = V.value(g)
        buf[nr] = g if buf[nr] is None else V.add(buf[nr], g)

    # reachable nodes; incoming-edge counts for the AccumulateGrad sinks
    seen = set(root_nodes)
    stack = list(root_nodes)
    order = []
    acc_deps = {}
    while stack:
        n = stack.pop()
        if type(n) is AccumulateGrad:
            continue
        order.append(n)
        tp = type(n)
        plain = _plain_cache.get(tp)
        if plain is None:
            plain = tp in _plain
        for nxt in (n._next[::2] if plain else [f for f, _ in n.next_functions]):
            if nxt is None:
                continue
            if type(nxt) is AccumulateGrad:  # a sink: runs once its incoming edges are done
                acc_deps[nxt] = acc_deps.get(nxt, 0) + 1
                continue
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    order.sort(key=_seq_key, reverse=True)
    for n in root_nodes:
        if type(n) is AccumulateGrad and n not in acc_deps:
            order.append(n)

    if plain_walk and _plain_cache.get(type(order[0])) and order[0] is root_nodes[0]:
        key = order[0]._p
        fails = _unplannable.get(key, 0)
        if fails <= 4 or not fails & 63:  # a graph that keeps having hooks (say) is not planned every step
            building = _build_plan(order)
            if building is None:
                if len(_unplannable) > 256:
                    _unplannable.clear()
                _unplannable[key] = fails + 1
            elif fails:
                del _unplannable[key]
    touched = []
    executed = []
    prev_grad = grad_mode._mode.grad
    grad_mode._mode.grad = create_graph
    done = False
    try:
        if create_graph or want is not None or _anomaly.enabled:
            for node in order:
                _run_node(node, buffers, acc_deps, V, create_graph, want, captured, capture, touched, executed)
        else:
            _walk(order, buffers, acc_deps, V, touched, executed)
        done = True
    finally:
        grad_mode._mode.grad = prev_grad
        if not done:
            _callbacks.clear()
    if building is not None:
        if len(_plans) > 256:
            _plans.clear()
        old = _plans.get(building.key)
        if old is not None:
            building.misses = old.misses
        _plans[building.key] = building
    if _callbacks:
        _run_callbacks()
    if not retain_graph:
        for node in executed:
            if _plain_cache.get(type(node)) and node._p.needed:  # OpNode._release, inlined for plain nodes
                if node.vals is not None:
                    node._freed = True
                    node.vals = None
            elif type(node) is not AccumulateGrad:
                node._release()
    if capture:
        for k, g in enumerate(captured):
            if g is None and not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {k} appears to not have been used in the "
                                   "graph. Set allow_unused=True if this is the desired behavior.")
        pending = [g._value() for g in captured if g is not None]
        if not create_graph:
            _lazy.materialize([p for p in pending if type(p) is _lazy.Lazy])
    elif not create_graph and touched:
        # .backward(): the gradients stay pending until observed, the next op, or an optimizer step,
        # which records its update after them so the whole training step is one XLA program
        _lazy.defer()
    return captured


# -- backward plans: the walk of a recurring graph structure, replayed --------------------------------------
class _BackwardPlan:
    """The walk of one graph structure (a training step's: the same node classes, params and edges
    every step), made from a general walk: per node, in the walk's order, the checks that a new graph
    has this structure and the vjps to record, where each gradient goes. A node's params may differ
    from the plan's (the shapes of a batch of another length): its vjps then take its own. ``replay`` checks a graph
    against it first and records nothing unless the whole graph matches and nothing the general walk
    treats specially is there (hooks, retained grads, leaves with a gradient, freed or modified saved
    values, anomaly mode, create_graph, inputs=); then it records the same entries in the same order."""

    __slots__ = ("key", "specs", "nslots", "leaves", "misses")

    def __init__(self, key, specs, nslots, leaves):
        self.key = key
        self.specs = specs  # per op node: (cls, plan, params, n values, len(_next), edge checks, records, ...)
        self.nslots = nslots  # op nodes, then leaves' AccumulateGrad nodes
        self.leaves = leaves  # slot of each leaf
        self.misses = 0

    def replay(self, root, g, device, retain_graph):
        specs = self.specs
        nodes = [None] * self.nslots
        nodes[0] = root
        last = root._seq + 1
        n_ops = len(specs)
        allvals = [None] * n_ops
        pws = None  # per node, the vjps' params where its params are not the plan's (else None)
        # 1. the graph has this plan's structure, and nothing the general walk treats specially
        for k in range(n_ops):
            cls, p, params, n, nlen, checks, _, _, _ = specs[k]
            node = nodes[k]
            if type(node) is not cls or node._p is not p or node._special or node._freed:
                return False
            pp = node.params
            if pp is not params:
                # other params (a view's shape, a pad's amounts: a batch of another length): the same
                # walk, with this node's params, as the general walk records them
                if pws is None:
                    pws = [None] * n_ops
                pws[k] = _wrap_params(pp)
            s = node._seq
            if s >= last:  # the general walk's order (decreasing sequence numbers), each node once
                return False
            last = s
            vals = node.vals
            if len(vals) != n:
                return False
            for st, version, _, j in node._saved:
                if type(st) is _weakref:
                    st = st()
                    if st is None:
                        continue
                if st.version != version or (j >= 0 and st.value is not vals[j]) or \
                        (j < 0 and data_edits and data_edits.get(st, -1) > s):
                    return False  # the general walk raises torch's error (reads the new value, warns) there
            nf = node._next
            if len(nf) != nlen:
                return False
            for e, c in checks:
                x = nf[e]
                if c < 0:
                    if x is not None:
                        return False
                    continue
                cur = nodes[c]
                if cur is None:
                    nodes[c] = x
                elif cur is not x:
                    return False
            allvals[k] = vals
        leaves = self.leaves
        for c in leaves:
            acc = nodes[c]
            if type(acc) is not AccumulateGrad or acc._special:
                return False
            leaf = acc.variable
            if leaf._grad is not None or leaf._hooks or leaf._post_acc_hooks:
                return False
        if len(leaves) > 1 and len(set(nodes[n_ops:])) != len(leaves):
            return False
        # 2. the records of the general walk, in its order
        record = _lazy.record
        add = _add_raw
        buf = [None] * self.nslots
        buf[0] = g
        for k in range(n_ops):
            vals = allvals[k]
            if nodes[k]._dropped:
                # ``undrop``'s common case inlined: each Dropped's zeros placed on the device already
                args = []
                for v in vals:
                    if type(v) is Dropped:
                        z = v.zeros
                        if z is None or z.value is None or type(z.value) not in _array_types:
                            args = list(undrop(vals))
                            break
                        v = z
                    args.append(v)
                vals = args
                args = [*vals, buf[k]]
            else:
                args = [*vals, buf[k]]
            pw = specs[k][7] if pws is None or pws[k] is None else pws[k]
            for c, i, vjp, first in specs[k][6]:
                v = vals[i]
                gi = record(vjp, pw, args, v.shape, v.dtype if type(v) is _Lazy else _lazy._aval(v)[1])
                buf[c] = gi if first else add(buf[c], gi)
        make = Tensor._make
        for c in leaves:
            nodes[c].variable._grad = make(buf[c], device)
        if _callbacks:
            _run_callbacks()
        if not retain_graph:
            for k in range(n_ops):
                node = nodes[k]
                if specs[k][8]:  # OpNode._release, inlined
                    if node.vals is not None:
                        node._freed = True
                        node.vals = None
                else:
                    node._release()
        if leaves:
            _lazy.defer()
        self.misses = 0
        return True


_plans: dict = {}  # root node's NodePlan -> _BackwardPlan
_unplannable: dict = {}  # root node's NodePlan -> how many graphs in a row had no plan


def _build_plan(order):
    """The ``_BackwardPlan`` of the graph whose op nodes are ``order`` (the general walk's order),
    or None when a node is one the plan cannot replay (a custom Function, a joint vjp, hooks...)."""
    slot = {node: k for k, node in enumerate(order)}
    leaves = {}
    specs = []
    n_ops = len(order)
    for node in order:
        tp = type(node)
        if not _plain_cache.get(tp) or node._special or tp._num_outputs is not _one_output or \
                tp.__name__ == "NotImplemented" or node._freed or node.vals is None:
            return None
        p = node._p
        if p.op in JOINT_VJP:
            return None
        n = len(node.vals)
        vjps = _node_vjps(p.op, p.pos, n)
        nf = node._next
        checks = []
        recs = []
        for e in range(0, len(nf), 2):
            x = nf[e]
            if x is None:
                checks.append((e, -1))
                continue
            if nf[e + 1] != 0:
                return None
            if type(x) is AccumulateGrad:
                c = leaves.get(x)
                if c is None:
                    c = leaves[x] = n_ops + len(leaves)
            else:
                c = slot.get(x)
                if c is None:
                    return None
            checks.append((e, c))
            recs.append((c, p.pos[e >> 1], vjps[p.pos[e >> 1]], c))
        pp = node.params
        specs.append([tp, p, pp, n, len(nf), tuple(checks), recs, _wrap_params(pp), p.needed])
    # whether each record is the first gradient to reach its slot (later ones are added to it)
    seen = {0}
    for sp in specs:
        recs = []
        for c, i, vjp, _ in sp[6]:
            recs.append((c, i, vjp, c not in seen))
            seen.add(c)
        sp[6] = tuple(recs)
    if any(vjp is None for sp in specs for _, _, vjp, _ in sp[6]):
        return None
    return _BackwardPlan(order[0]._p, [tuple(sp) for sp in specs], n_ops + len(leaves), tuple(leaves.values()))


_callbacks = []


def queue_callback(callback):
    """Run ``callback()`` once the current backward pass has finished (torch's
    ``Variable._execution_engine.queue_callback``; DistributedDataParallel reduces gradients there)."""
    _callbacks.append(callback)


def _run_callbacks():
    try:
        while _callbacks:
            _callbacks.pop(0)()
    finally:
        _callbacks.clear()


def _walk(order, buffers, acc_deps, V, touched, executed):
    """``_run_node`` over ``order`` for a plain ``backward()`` (no create_graph, captures or anomaly
    mode): plain op nodes without hooks run inline here (their vjps recorded, their gradients
    summed into the buffers), every other node takes ``_run_node``."""
    record = _lazy.record
    plain_cache = _plain_cache
    pop = buffers.pop
    get = buffers.get
    add = _add_raw
    append = executed.append
    make = Tensor._make
    device = V.device
    for node in order:
        tp = type(node)
        plain = plain_cache.get(tp)
        if plain is None:
            plain = tp in _plain
        if not plain or node._special:
            _run_node(node, buffers, acc_deps, V, False, None, None, False, touched, executed)
            continue
        grads = pop(node, None)
        g = grads[0] if grads is not None else None
        nf = node._next
        outs = None
        if g is not None:
            vals = node.vals
            if node._freed:
                vals = node._check_saved()  # raises torch's error
            else:
                for st, version, _, k in node._saved:  # the common case of ``_check_saved``, inlined
                    if type(st) is _weakref:
                        st = st()
                        if st is None:
                            continue
                    if st.version != version or (k >= 0 and st.value is not vals[k]) or \
                            (k < 0 and data_edits and data_edits.get(st, -1) > node._seq):
                        vals = node._check_saved()
                        break
            if node._dropped:
                vals = undrop(vals)
            params = _wrap_params(node.params)
            p = node._p
            op = p.op
            n = len(vals)
            if op in JOINT_VJP:
                outs = _joint_backward(node, vals, g, params, n)
            else:
                pos = p.pos
                vjps = p.vjps
                if vjps is None or len(vjps) != n:
                    vjps = _plan_vjps(p, n)
                args = [*vals, g]
                if tp.__name__ == "NotImplemented":
                    outs = []
                    for e in range(0, len(nf), 2):
                        i = pos[e >> 1]
                        outs.append(None if nf[e] is None else record(vjps[i], params, args, vals[i].shape,
                                                                      _lazy._aval(vals[i])[1]))
                    _lazy.flush()  # its derivative raises while traced: raise it here, in backward(), as torch does
        append(node)
        # each edge's vjp is recorded and summed into its node's buffer in one pass
        for e in range(0, len(nf), 2):
            nxt = nf[e]
            if nxt is None:
                continue
            if g is not None:
                if outs is None:
                    i = pos[e >> 1]
                    v = vals[i]
                    gi = record(vjps[i], params, args, v.shape, v.dtype if type(v) is _Lazy else _lazy._aval(v)[1])
                else:
                    gi = outs[e >> 1]
                if gi is not None:
                    nr = nf[e + 1]
                    buf = get(nxt)
                    if buf is None:
                        if nr == 0 and type(nxt)._num_outputs is _one_output:
                            buffers[nxt] = [gi]
                        else:
                            buf = buffers[nxt] = [None] * nxt._num_outputs()
                            buf[nr] = gi
                    else:
                        buf[nr] = gi if buf[nr] is None else add(buf[nr], gi)
            if type(nxt) is AccumulateGrad:
                d = acc_deps[nxt] - 1
                acc_deps[nxt] = d
                if d == 0:
                    leaf = nxt.variable
                    if nxt._special or leaf._grad is not None or leaf._hooks or leaf._post_acc_hooks:
                        _run_node(nxt, buffers, acc_deps, V, False, None, None, False, touched, executed)
                        continue
                    # the common case of ``_run_node`` and ``_accumulate``: a leaf without hooks and
                    # without a gradient yet takes the incoming one as its ``.grad``
                    grads = pop(nxt, None)
                    if grads is not None and grads[0] is not None:
                        leaf._grad = gt = make(grads[0], device)
                        touched.append(gt)
                    append(nxt)


_one_output = Node._num_outputs
_wrapped_params: dict = {}


def _wrap_params(p):
    """``(("params", p),)``, the vjp ops' parameters for a node's params ``p``: one object per ``p``
    (kept by ``p``'s id while ``p`` is the object it wraps), so recorded entries share it."""
    w = _wrapped_params.get(id(p))
    if w is not None and w[0][1] is p:
        return w
    if len(_wrapped_params) > 4096:
        _wrapped_params.clear()
    w = _wrapped_params[id(p)] = (("params", p),)
    return w


def _plan_vjps(p, n):
    """The vjp primitives of a node plan's op for ``n`` input values, kept on the plan."""
    vjps = p.vjps
    if vjps is None or len(vjps) != n:
        vjps = p.vjps = _node_vjps(p.op, p.pos, n)
    return vjps


def _node_vjps(op, pos, n):
    """The vjp primitive of each input position of ``op`` with ``n`` input values (None where no edge)."""
    out = [None] * n
    for i in pos:
        if i >= 0:
            key = (op, i, n)
            prim = _vjp_prims.get(key)
            if prim is None:
                prim = _vjp_prims[key] = vjp_op(op, i, n).prim
            out[i] = prim
    return out


def _run_node(node, buffers, acc_deps, V, create_graph, want, captured, capture, touched, executed):
    grads = buffers.pop(node, None) or [None] * node._num_outputs()
    plain = _plain_cache.get(type(node))
    if plain is None:
        plain = type(node) in _plain
    if plain and want is None and not node._special and not _anomaly.enabled:
        # the common case: an op node without hooks, retained grads or captures
        outs = _op_backward(node, grads, create_graph) if grads[0] is not None else [None] * len(node.next_functions)
        if type(node).__name__ == "NotImplemented":
            _lazy.flush()  # its derivative raises while traced: raise it here, in backward(), as torch does
        executed.append(node)
        _propagate(node, outs, buffers, acc_deps, V, create_graph, want, captured, capture, touched, executed)
        return
    if node._tensor_pre_hooks:
        for nr, hooks in node._tensor_pre_hooks.items():
            for h in list(hooks.values()):
                if grads[nr] is not None:
                    t = V.tensor(grads[nr])
                    # a hook may return a new grad, or edit the one it got in place and return None
                    grads[nr] = V.value(_hook_result(h, t, h(t)))
    if node._retained:
        for nr, ref in node._retained.items():
            t = ref()
            if t is not None and grads[nr] is not None:
                _retain(t, V.tensor(grads[nr]), create_graph)
                touched.append(t._grad)
    if want is not None and type(node) is not AccumulateGrad:
        for nr in range(len(grads)):
            ks = want.get((node, nr))
            if ks:
                for k in ks:
                    captured[k] = V.tensor(grads[nr])
    if node._pre_hooks:
        grads = [V.tensor(g) for g in grads]
        for h in list(node._pre_hooks.values()):
            r = h(tuple(grads))
            if r is not None:
                grads = [_hook_result(h, a, b) if a is not None else b for a, b in zip(grads, r)]
        grads = [V.value(g) for g in grads]
    if type(node) is AccumulateGrad:
        if grads[0] is not None:
            _accumulate(node, V.tensor(grads[0]), create_graph, want, captured, capture, touched)
        if node._hooks and (want is None or not capture and want.get((node, 0))):
            # after accumulating (torch runs no AccumulateGrad outside ``inputs``): hook((), (grad,))
            go = tuple(V.tensor(g) for g in grads)
            for h in list(node._hooks.values()):
                h((), go)
        executed.append(node)
        return
    if len(grads) == 1 and grads[0] is None or all(g is None for g in grads):
        outs = [None] * len(node.next_functions)
    elif type(node).__mro__[1] is OpNode and not _anomaly.enabled:
        outs = _op_backward(node, grads, create_graph)
    elif isinstance(node, OpNode):
        try:
            outs = _apply(node, grads, create_graph)
        except Exception:
            warn_forward_trace(node)
            raise
    else:  # custom Functions see Tensors
        tg = [V.tensor(g) for g in grads]
        try:
            outs = _apply(node, tg, create_graph)
        except Exception:
            if _anomaly.enabled:
                warn_forward_trace(node)
            raise
        outs = [V.value(o) for o in outs]
    if node._hooks:
        outs = [V.tensor(o) for o in outs]
        for h in list(node._hooks.values()):
            r = h(tuple(outs), tuple(V.tensor(g) for g in grads))
            if r is not None:
                outs = [_hook_result(h, a, b) if a is not None else b for a, b in zip(outs, r)]
        outs = [V.value(o) for o in outs]
    executed.append(node)
    _propagate(node, outs, buffers, acc_deps, V, create_graph, want, captured, capture, touched, executed)


def _hook_result(hook, before, r):
    """What a hook's return value means, checked as torch checks it: None keeps ``before`` (edited in
    place or not); a tensor must keep its size and type."""
    if r is None:
        return before
    name = getattr(hook, "__name__", type(hook).__name__)
    if not isinstance(r, Tensor):
        raise TypeError(f"expected Variable, but hook returned '{type(r).__name__}'")
    if r._shape != before._shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value")
    if r._dtype is not before._dtype:
        raise RuntimeError(f"hook '{name}' has changed the type of value (was {before.type()} got {r.type()})")
    return r


def _propagate(node, outs, buffers, acc_deps, V, create_graph, want, captured, capture, touched, executed):
    for (nxt, nr), g in zip(node.next_functions, outs):
        if nxt is None:
            continue
        if g is not None:
            buf = buffers.get(nxt)
            if buf is None:
                buf = buffers[nxt] = [None] * nxt._num_outputs()
            buf[nr] = g if buf[nr] is None else V.add(buf[nr], g)
        if type(nxt) is AccumulateGrad:
            d = acc_deps[nxt] - 1
            acc_deps[nxt] = d
            if d == 0:
                _run_node(nxt, buffers, acc_deps, V, create_graph, want, captured, capture, touched, executed)


def _retain(t, g, create_graph):
    if t._grad is None:
        t._grad = g if create_graph else g.detach()
        if not create_graph:
            t._grad = Tensor._make(g._value(), g._st.device)
    elif create_graph:
        t._grad = _add(t._grad, g)
    else:
        with grad_mode.no_grad():
            t._grad.add_(g)


def _accumulate(node, g, create_graph, want, captured, capture, touched):
    leaf = node.variable
    if leaf._hooks:
        for h in list(leaf._hooks.values()):
            g = _hook_result(h, g, h(g))
    if want is not None:
        ks = want.get((node, 0))
        if ks:
            for k in ks:
                captured[k] = g
        if capture or not ks:
            return
    if leaf._grad is None:
        if create_graph and g.requires_grad:
            leaf._grad = _copy_op(zeros_like(g), g)  # torch clones it: the grad's node is CopyBackwards
        else:
            leaf._grad = g.detach() if create_graph else Tensor._make(g._value(), g._st.device)
    elif create_graph:
        leaf._grad = _add(leaf._grad, g)
    else:
        with grad_mode.no_grad():
            leaf._grad.add_(g)
    touched.append(leaf._grad)
    if leaf._post_acc_hooks:
        for h in list(leaf._post_acc_hooks.values()):
            h(leaf)


# -- the API over run_backward: autograd.backward, autograd.grad, Tensor.backward ----------------------------
def _as_tuple(x):
    if x is None:
        return ()
    if isinstance(x, (list, tuple)):
        return tuple(x)
    return (x,)


_ones_cache: dict = {}


def _ones_for(out):
    """``ones_like(out)`` for the implicit gradient of a scalar: one device array per (shape, dtype,
    device), shared (arrays are immutable; an in-place edit of the tensor replaces its value)."""
    global _last_ones
    key = (out._shape, out._dtype, out._st.device)
    a = _ones_cache.get(key)
    if a is None or _lazy._state.tracing:
        with grad_mode.no_grad():
            g = ones_like(out)
        a = g._st.value
        if _lazy._state.tracing or type(a) is not _Lazy or a.value is None or isinstance(a.value, _Tracer):
            return g
        if len(_ones_cache) > 64:
            _ones_cache.clear()
        _ones_cache[key] = a
    if not out._shape:
        _last_ones = (out._dtype, out._st.device, a)
    return Tensor._make(a, out._st.device)


_last_ones = (None, None, None)  # (dtype, device, value) of the last scalar's ones given out


def _make_grads(outputs, grad_outputs, create_graph):
    roots = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(out, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(out).__name__}")
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if out.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not out.dtype.is_floating_point:
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got {out.dtype}")
            g = _ones_for(out)
        else:
            if not isinstance(g, Tensor):
                raise TypeError(f"gradients can be either Tensors or None, but got {type(g).__name__}")
            if g.shape != out.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                                   f"has a shape of {out.shape}.")
            if g.dtype is not out.dtype:
                with grad_mode.no_grad():
                    g = g.to(out.dtype)
            if not create_graph:
                g = g.detach()
        roots.append((out, g))
    return roots


_warned_cycle = False


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None, inputs=None):
    """Accumulate gradients of ``tensors`` into the ``.grad`` of graph leaves (or only of ``inputs``)."""
    tensors = _as_tuple(tensors)
    grads = _as_tuple(grad_tensors if grad_tensors is not None else grad_variables)
    if not grads:
        grads = (None,) * len(tensors)
    if len(grads) != len(tensors):
        raise RuntimeError(f"grad can be implicitly created only for scalar outputs" if not grads else
                           f"got {len(grads)} gradients for {len(tensors)} tensors")
    roots = _make_grads(tensors, grads, create_graph)
    global _warned_cycle
    if create_graph and not _warned_cycle:  # torch warns once per process
        _warned_cycle = True
        warnings.warn(
            "Using backward() with create_graph=True will create a reference cycle between the parameter and its "
            "gradient which can cause a memory leak. We recommend using autograd.grad when creating the graph to "
            "avoid this. If you have to use this function, make sure to reset the .grad fields of your parameters "
            "to None after use to break the cycle and avoid the leak.", UserWarning, stacklevel=3)
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if len(inputs) == 0:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    got = run_backward(roots, retain_graph, create_graph, inputs=inputs, capture=False)
    if inputs is not None:  # a non-leaf input accumulates into its .grad (as retain_grad does)
        for t, g in zip(inputs, got):
            if g is not None and t.grad_fn is not None:
                _retain(t, g, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of ``outputs`` w.r.t. ``inputs`` as a tuple; ``.grad`` is left untouched."""
    outputs = _as_tuple(outputs)
    inputs_t = _as_tuple(inputs)
    if not inputs_t:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    grads = _as_tuple(grad_outputs) or (None,) * len(outputs)
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    roots = _make_grads(outputs, grads, create_graph)
    res = run_backward(roots, retain_graph, create_graph, inputs=inputs_t, capture=True, allow_unused=allow_unused)
    if materialize_grads:
        res = [zeros_like(t) if g is None else g for g, t in zip(res, inputs_t)]
    return tuple(res)


def _tensor_backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf (see torch.Tensor.backward)."""
    if gradient is None and inputs is None and create_graph is False and self._rg and self._shape == () and \
            self._dtype.is_floating_point and type(self) is Tensor:
        # ``loss.backward()``: what ``backward`` checks and makes, for a real scalar that requires grad
        last = _last_ones
        tried = self._dtype is last[0] and self._st.device is last[1] and not _anomaly.enabled and \
            not _lazy._state.tracing
        if tried and _replayed(self, last[2], retain_graph):
            return
        run_backward([(self, _ones_for(self))], retain_graph, False, tried=tried)
        return
    backward(self, gradient, retain_graph, create_graph, inputs=inputs)


_tensor_backward.__name__, _tensor_backward.__qualname__ = "backward", "Tensor.backward"
methods({"backward": _tensor_backward})
