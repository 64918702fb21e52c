"""Strides and storage offsets of views (torch's layout, replayed from a view chain), and writing
through a view chain into its storage: what ``Tensor`` needs of views, below the op layer."""
from __future__ import annotations

import jax.numpy as jnp

from . import _lazy

__all__ = ["layout", "is_contiguous_layout", "contiguous_strides", "compute_stride", "write_through"]


def _write_impl(chain, root, new):
    idx = jnp.arange(root.size, dtype=jnp.int32 if root.size < 2**31 else jnp.int64).reshape(root.shape)
    for prim, params in chain:
        idx = prim.impl(params, idx)
    new = jnp.broadcast_to(new.astype(root.dtype), idx.shape)
    return root.reshape(-1).at[idx.reshape(-1)].set(new.reshape(-1)).reshape(root.shape)


_WRITE = _lazy.Prim("view_write", _write_impl)


def write_through(root, chain, new):
    """The storage value after writing ``new`` into the view ``chain`` of ``root``."""
    return _lazy.record(_WRITE, chain, [root, new])


# -- strides: torch's layout of a view, replayed from its chain --------------------------------------
def contiguous_strides(shape):
    st, acc = [], 1
    for s in reversed(shape):
        st.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(st))


def compute_stride(oldshape, oldstride, newshape):
    """Strides of ``newshape`` viewing (oldshape, oldstride), or None when no view can (ATen's computeStride)."""
    numel = 1
    for s in oldshape:
        numel *= s
    if numel == 0 or not oldshape:
        return oldstride if tuple(oldshape) == tuple(newshape) else contiguous_strides(newshape)
    newstride = [0] * len(newshape)
    view_d = len(newshape) - 1
    chunk = oldstride[-1]
    tn = vn = 1
    for td in range(len(oldshape) - 1, -1, -1):
        tn *= oldshape[td]
        if td == 0 or (oldshape[td - 1] != 1 and oldstride[td - 1] != tn * chunk):
            while view_d >= 0 and (vn < tn or newshape[view_d] == 1):
                newstride[view_d] = vn * chunk
                vn *= newshape[view_d]
                view_d -= 1
            if vn != tn:
                return None
            if td > 0:
                chunk = oldstride[td - 1]
                tn = vn = 1
    if view_d != -1:
        return None
    return tuple(newstride)


def _rule_reshape(shape, st, off, p):
    new = p["shape"]
    return new, compute_stride(shape, st, new) or contiguous_strides(new), off


def _rule_axes(shape, st, off, p):
    ax = p["axes"]
    return tuple(shape[a] for a in ax), tuple(st[a] for a in ax), off


def _rule_expand(shape, st, off, p):
    new = p["shape"]
    lead = len(new) - len(shape)
    out = [0] * lead + [0 if (s == 1 and n != 1) else t for s, n, t in zip(shape, new[lead:], st)]
    return tuple(new), tuple(out), off


def _rule_narrow(shape, st, off, p):
    d = p["dim"]
    shape = list(shape)
    shape[d] = p["length"]
    return tuple(shape), st, off + p["start"] * st[d]


def _rule_slice(shape, st, off, p):
    d, a, b, k = p["dim"], p["start"], p["stop"], p["step"]
    shape, st = list(shape), list(st)
    shape[d] = len(range(a, b, k))
    o = off + a * st[d]
    st[d] *= k
    return tuple(shape), tuple(st), o


def _rule_select(shape, st, off, p):
    d = p["dim"]
    return shape[:d] + shape[d + 1:], st[:d] + st[d + 1:], off + p["index"] * st[d]


def _rule_diag(shape, st, off, p):
    k, d1, d2 = p["offset"], p["dim1"], p["dim2"]
    n = max(min(shape[d1] + min(k, 0), shape[d2] - max(k, 0)), 0)
    o = off + (k * st[d2] if k >= 0 else -k * st[d1])
    keep = [i for i in range(len(shape)) if i not in (d1, d2)]
    return tuple(shape[i] for i in keep) + (n,), tuple(st[i] for i in keep) + (st[d1] + st[d2],), o


def _rule_strided(shape, st, off, p):
    o = p["offset"]
    return p["size"], p["stride"], o


def _rule_unfold(shape, st, off, p):
    d, size, step = p["dim"], p["size"], p["step"]
    shape, st = list(shape), list(st)
    n = (shape[d] - size) // step + 1 if shape else 1
    inner = st[d] if st else 1
    if shape:
        shape[d] = n
        st[d] *= step
    return tuple(shape) + (size,), tuple(st) + (inner,), off


_RULES = {"view": _rule_reshape, "squeeze": _rule_reshape, "unsqueeze": _rule_reshape,
          "_unsafe_view": _rule_reshape, "unflatten": _rule_reshape,
          "permute": _rule_axes, "transpose": _rule_axes, "t": _rule_axes, "_mT": _rule_axes,
          "expand": _rule_expand, "narrow": _rule_narrow, "split_narrow": _rule_narrow, "slice": _rule_slice,
          "select": _rule_select, "unbind_select": _rule_select, "diagonal": _rule_diag, "as_strided": _rule_strided,
          "unfold": _rule_unfold, "alias": lambda a, b, c, p: (a, b, c), "view_replay": None}


def layout(t):
    """(shape, strides, storage offset) of ``t`` as torch lays it out (tensors made by ops are contiguous)."""
    chain = t._view
    if not chain:
        return t._shape, contiguous_strides(t._shape), 0
    root = t._st.value.shape
    shape, st, off = tuple(root), contiguous_strides(root), 0
    for prim, params in chain:
        rule = _RULES.get(prim.name)
        if rule is None:
            return t._shape, contiguous_strides(t._shape), 0
        shape, st, off = rule(shape, st, off, dict(params))
    return tuple(shape), tuple(st), off


def is_contiguous_layout(shape, st):
    z = 1
    for s, k in zip(reversed(shape), reversed(st)):
        if s == 0:
            return True
    for s, k in zip(reversed(shape), reversed(st)):
        if s != 1:
            if k != z:
                return False
            z *= s
    return True
