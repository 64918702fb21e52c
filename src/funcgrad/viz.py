"""``make_dot``: the autograd graph as a graphviz ``Digraph`` (in the spirit of torchviz).

Needs the python ``graphviz`` package (``pip install funcgrad[viz]``); the DOT source
(``make_dot(y).source``) needs nothing more, rendering to SVG/PNG needs Graphviz's ``dot`` binary.
"""
from __future__ import annotations

from .autograd.graph import AccumulateGrad, OpNode
from .tensor import Tensor

__all__ = ["make_dot"]


def _shape(shape):
    return "(" + ", ".join(map(str, shape)) + ")"


def make_dot(var, params=None, show_attrs=False, show_saved=False, max_attr_chars=50):
    """Graph of the nodes that ``var`` (a tensor or tuple of tensors) was computed by.

    Leaves are light blue boxes labelled with their name in ``params`` (e.g. ``dict(model.named_parameters())``)
    and shape; op nodes are grey boxes with torch's node names; outputs are green. With
    ``show_saved``, tensors a node saved for backward are orange boxes.
    """
    try:
        from graphviz import Digraph
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError("funcgrad.viz.make_dot needs the graphviz package: pip install 'funcgrad[viz]'") from e
    names = {id(v): k for k, v in (params or {}).items()}
    dot = Digraph(name="autograd", format="svg",
                  node_attr=dict(style="filled", shape="box", align="left", fontsize="10", ranksep="0.1",
                                 height="0.2", fontname="monospace"),
                  graph_attr=dict(size="12,12"))
    seen = set()

    def node_id(obj):
        return str(id(obj))

    def add_node(fn):
        if fn is None or id(fn) in seen:
            return
        seen.add(id(fn))
        if isinstance(fn, AccumulateGrad):
            v = fn.variable
            label = (names.get(id(v), "") + "\n" if id(v) in names else "") + _shape(v.shape)
            dot.node(node_id(fn), label, fillcolor="lightblue")
        else:
            label = fn.name()
            if show_attrs and isinstance(fn, OpNode) and fn.params:
                attrs = ", ".join(f"{k}={v}" for k, v in fn.params if isinstance(k, str))[:max_attr_chars]
                if attrs:
                    label += "\n" + attrs
            dot.node(node_id(fn), label, fillcolor="lightgrey")
            if show_saved and isinstance(fn, OpNode):
                for st, version, meta, k in fn._saved:
                    sid = f"{id(fn)}_saved_{k}"
                    dot.node(sid, f"saved {'result' if k < 0 else f'input {k}'}\n{_shape(meta[1])}",
                             fillcolor="orange")
                    dot.edge(sid, node_id(fn), dir="none")
        for nxt, _ in fn.next_functions:
            if nxt is not None:
                add_node(nxt)
                dot.edge(node_id(nxt), node_id(fn))

    outs = var if isinstance(var, (tuple, list)) else (var,)
    for v in outs:
        if not isinstance(v, Tensor):
            raise TypeError(f"make_dot expects tensors, got {type(v).__name__}")
        oid = f"out_{id(v)}"
        dot.node(oid, _shape(v.shape), fillcolor="darkolivegreen1")
        if v.grad_fn is not None:
            add_node(v.grad_fn)
            dot.edge(node_id(v.grad_fn), oid)
        elif v.requires_grad:
            acc = v._accumulate_node()
            add_node(acc)
            dot.edge(node_id(acc), oid)
    return dot
