"""Recurrent layers: RNN, LSTM, GRU (multi-layer, bidirectional, batch_first, dropout, packed
sequences) and their cells, plus ``nn.utils.rnn``.

A layer's pass over time is one registry op whose forward is a ``jax.lax.scan`` (one XLA loop,
not one op per time step); its gradient is ``jax.vjp`` of that scan. Sequences of different
lengths (packed input) run masked: past its length a sequence's state stays as it was and its
output is zero, as torch's packed kernels leave them.
"""
from __future__ import annotations

import collections
import functools
import math

import jax
import jax.numpy as jnp

from .. import _dtypes, _lazy, _ops
from .._autograd.graph import OpNode
from .._ops.registry import JOINT_VJP, broadcast_shape, defop
from ..tensor import Tensor
from . import init
from ._spatial import routed_pad
from .module import Module
from .parameter import Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "PackedSequence",
           "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence", "unpad_sequence",
           "unpack_sequence"]


def _post(mode, gi, gh, h, c, w_hr):
    """One time step after its two matmuls: ``gi`` (input part), ``gh`` (``h @ w_hh.T + b_hh``)
    and the state (h, c) give the new state. ATen's cell formulas."""
    if mode == "LSTM":
        i, f, g, o = jnp.split(gi + gh, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h if w_hr is None else h @ w_hr.T), c
    if mode == "GRU":
        ir, iz, in_ = jnp.split(gi, 3, axis=-1)
        hr, hz, hn = jnp.split(gh, 3, axis=-1)
        r = jax.nn.sigmoid(ir + hr)
        z = jax.nn.sigmoid(iz + hz)
        n = jnp.tanh(in_ + r * hn)
        return (h - n) * z + n, c  # ATen's GRU cell: (hidden - newgate) * inputgate + newgate
    pre = gi + gh
    return (jnp.tanh(pre) if mode == "RNN_TANH" else jax.nn.relu(pre)), c


def _hh(h, w_hh, b_hh):
    gh = h @ w_hh.T
    return gh if b_hh is None else gh + b_hh


def _scan_fwd(mode, gi, h0, c0, lengths, w_hh, b_hh, w_hr, save):
    """The loop over time: (T, B, H) outputs (zero past a sequence's length), the final cell state,
    and with ``save`` what the backward loop reads: each step's ``gh`` and incoming state."""
    steps = jnp.arange(gi.shape[0])

    def step(carry, inp):
        h, c = carry
        g, t = inp
        gh = _hh(h, w_hh, b_hh)
        h2, c2 = _post(mode, g, gh, h, c, w_hr)
        live = (t < lengths)[:, None]
        h2 = jnp.where(live, h2, h)
        c2 = jnp.where(live, c2, c)
        y = jnp.where(live, h2, jnp.zeros_like(h2))
        if not save:
            return (h2, c2), y
        return (h2, c2), (y, gh, h, c if mode == "LSTM" else None)

    (_, cT), out = jax.lax.scan(step, (h0, c0), (gi, steps))
    return out, cT


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _scan_core(mode, gi, h0, c0, lengths, w_hh, b_hh, w_hr):
    """(outputs, final cell state) of the recurrence, ``gi`` = the input's matmul. Its own vjp: one
    reverse loop holding only the elementwise cell and ``dgh @ w_hh``; the weight gradients are
    one matmul over all steps after it (JAX's scan transpose accumulates them step by step)."""
    return _scan_fwd(mode, gi, h0, c0, lengths, w_hh, b_hh, w_hr, False)


def _scan_core_fwd(mode, gi, h0, c0, lengths, w_hh, b_hh, w_hr):
    (ys, ghs, hs, cs), cT = _scan_fwd(mode, gi, h0, c0, lengths, w_hh, b_hh, w_hr, True)
    return (ys, cT), (gi, ghs, hs, cs, c0, lengths, w_hh, b_hh, w_hr)


def _scan_core_bwd(mode, res, cts):
    gi, ghs, hs, cs, c0, lengths, w_hh, b_hh, w_hr = res
    dys, dcT = cts
    steps = jnp.arange(gi.shape[0])
    lstm = mode == "LSTM"
    c_dummy = jnp.zeros_like(c0)

    def step(carry, inp):
        dh, dc, dwhr = carry
        g, gh, h, c, t, dy = inp
        c = c if lstm else c_dummy
        live = (t < lengths)[:, None]
        zero_h, zero_c = jnp.zeros_like(dh), jnp.zeros_like(dc)
        _, pull = jax.vjp(lambda g_, gh_, h_, c_, w_: _post(mode, g_, gh_, h_, c_, w_), g, gh, h, c, w_hr)
        dg, dgh, dh_d, dc_d, dw = pull((jnp.where(live, dh + dy, zero_h), jnp.where(live, dc, zero_c)))
        dh_prev = dh_d + dgh @ w_hh + jnp.where(live, zero_h, dh)
        dc_prev = (dc_d + jnp.where(live, zero_c, dc)) if lstm else dc
        if dwhr is not None:
            dwhr = dwhr + dw
        return (dh_prev, dc_prev, dwhr), (dg, dgh)

    init = (jnp.zeros(hs.shape[1:], hs.dtype), dcT, None if w_hr is None else jnp.zeros_like(w_hr))
    (dh0, dc0, dwhr), (dgi, dghs) = jax.lax.scan(step, init, (gi, ghs, hs, cs, steps, dys), reverse=True)
    dw_hh = jnp.einsum("tbg,tbp->gp", dghs, hs)
    db_hh = dghs.sum((0, 1)) if b_hh is not None else None
    return dgi, dh0, dc0 if lstm else jnp.zeros_like(c0), None, dw_hh, db_hh, dwhr


_scan_core.defvjp(_scan_core_fwd, _scan_core_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _saved_core(mode, gi, h0, c0, lengths, w_hh, b_hh, w_hr, saved):
    """``_scan_core`` whose forward loop already ran (``saved``: its outputs and intermediates, from
    ``_res_prim``): the value is read from ``saved``, the vjp is the same reverse loop."""
    return saved[0], saved[1]


def _saved_core_fwd(mode, gi, h0, c0, lengths, w_hh, b_hh, w_hr, saved):
    ys, cT, gi_s, ghs, hs, cs = saved
    return (ys, cT), (gi_s, ghs, hs, cs, c0, lengths, w_hh, b_hh, w_hr)


def _saved_core_bwd(mode, res, cts):
    return _scan_core_bwd(mode, res, cts) + (None,)


_saved_core.defvjp(_saved_core_fwd, _saved_core_bwd)


def _input_gates(x, w_ih, b_ih, lengths, reverse):
    """The input's matmul for every step, (T, B, G), and with ``reverse`` each sequence reversed
    within its own length (then also the (T, B) gather index that reverses it back; else None)."""
    gi = x @ w_ih.T
    if b_ih is not None:
        gi = gi + b_ih
    if not reverse:
        return gi, None
    steps = jnp.arange(x.shape[0])
    idx = jnp.where(steps[:, None] < lengths[None, :], lengths[None, :] - 1 - steps[:, None], steps[:, None])
    return jnp.take_along_axis(gi, idx[:, :, None], axis=0), idx


def _weights(wb, has_bias, has_proj):
    """(w_ih, w_hh, b_ih, b_hh, w_hr) of a layer's weight list (None for what it lacks)."""
    b_ih, b_hh = (wb[2], wb[3]) if has_bias else (None, None)
    return wb[0], wb[1], b_ih, b_hh, wb[-1] if has_proj else None


def _scan_layer(x, h0, c0, lengths, w_ih, w_hh, b_ih, b_hh, w_hr=None, *, mode, reverse, which, core=True,
                saved=None):
    """One direction of one layer over (T, B, I) input; ``which`` picks the output: the (T, B, H)
    hidden sequence, or the final cell state (B, H) of an LSTM. ``core=False``: the loop without
    its own vjp (forward-mode AD differentiates that one)."""
    gi, idx = _input_gates(x, w_ih, b_ih, lengths, reverse)
    if saved is not None:
        ys, cT = _saved_core(mode, gi, h0, c0, lengths, w_hh, b_hh, w_hr, saved)
    elif core:
        ys, cT = _scan_core(mode, gi, h0, c0, lengths, w_hh, b_hh, w_hr)
    else:
        ys, cT = _scan_fwd(mode, gi, h0, c0, lengths, w_hh, b_hh, w_hr, False)
    if which == "c":
        return cT
    if reverse:
        ys = jnp.take_along_axis(ys, idx[:, :, None], axis=0)
    return ys


def _layer_fwd(x, h0, c0, lengths, *wb, mode, reverse, which, has_bias, has_proj=False, core=True, saved=None):
    return _scan_layer(x, h0, c0, lengths, *_weights(wb, has_bias, has_proj), mode=mode, reverse=reverse, which=which,
                       core=core, saved=saved)


@defop(_layer_fwd, node=lambda params: "MkldnnRnnLayerBackward0" if dict(params)["mode"] == "LSTM" else
       "StackBackward0", method=False, function=False, nondiff=(3,),
       jvp=functools.partial(_layer_fwd, core=False))
def _rnn_layer(x, h0, c0, lengths, weights, mode, reverse, which, has_proj=False):
    return (x, h0, c0, lengths, *weights), (("mode", mode), ("reverse", reverse), ("which", which),
                                            ("has_bias", len(weights) - has_proj == 4), ("has_proj", has_proj))


JOINT_VJP.add(_rnn_layer.op)  # the gradients of input, states and weights from one reverse scan


def _res_impl(params, x, h0, c0, lengths, *wb):
    """The forward loop once, keeping what the backward loop reads: (core outputs, final cell
    state, input matmul, per-step ``gh``, incoming h [, incoming c])."""
    p = dict(params)
    w_ih, w_hh, b_ih, b_hh, w_hr = _weights(wb, p["has_bias"], p.get("has_proj"))
    gi = _input_gates(x, w_ih, b_ih, lengths, p["reverse"])[0]
    (ys, ghs, hs, cs), cT = _scan_fwd(p["mode"], gi, h0, c0, lengths, w_hh, b_hh, w_hr, True)
    return (ys, cT, gi, ghs, hs) + ((cs,) if cs is not None else ())


def _res_bwd_impl(params, *args):
    """The input gradients at ``positions`` of a layer op from what ``_res_impl`` saved."""
    p = dict(params)
    op_params, positions = p["params"], p["positions"]
    k = 6 if dict(op_params)["mode"] == "LSTM" else 5
    saved = tuple(args[:k]) + ((None,) if k == 5 else ())
    xs, g = list(args[k:-1]), args[-1]

    def f(*sel):
        ys = list(xs)
        for q, v in zip(positions, sel):
            ys[q] = v
        return _layer_fwd(*ys, saved=saved, **dict(op_params))

    return tuple(jax.vjp(f, *[xs[q] for q in positions])[1](g))


_RES = _lazy.Prim("rnn_layer_saved", _res_impl)
_RES_BWD = _lazy.Prim("rnn_layer_saved_vjp", _res_bwd_impl)


def _run_layer(x, h0, c0, lengths, weights, mode, reverse, proj):
    """One direction of one layer: (output sequence, final cell state or None). When a gradient
    will be taken, its forward loop runs once keeping its intermediates, which both graph nodes
    (output and cell state) read in backward: no second forward loop inside the backward program."""
    out = _rnn_layer(x, h0, c0, lengths, weights, mode, reverse, "h", proj)
    c = _rnn_layer(x, h0, c0, lengths, weights, mode, reverse, "c", proj) if mode == "LSTM" else None
    node = out.grad_fn
    if node is None or not _lazy.is_lazy() or type(node).__mro__[1] is not OpNode or node.vals is None:
        return out, c
    vals = list(node.vals)
    n_saved = 6 if mode == "LSTM" else 5
    B, T = x._shape[1], x._shape[0]
    H = c0._shape[-1]
    P = out._shape[-1]
    G = node.vals[5].shape[0]  # w_hh: (gates * H, P)
    dt = out._dtype.np
    shapes = [(T, B, P), (B, H), (T, B, G), (T, B, G), (T, B, P), (T, B, H)][:n_saved]
    items = _lazy.record_tuple(_RES, node.params, vals, [(shp, dt) for shp in shapes])
    y = items[0]
    if reverse:
        y = _lazy.record(_UNREVERSE, (), [y, vals[3]], (T, B, P), dt)
    out._st.value = y  # the same value, from the loop that keeps its intermediates
    node._res = (_RES_BWD, tuple(items))
    if c is not None and c.grad_fn is not None:
        c._st.value = items[1]
        c.grad_fn._res = (_RES_BWD, tuple(items))
    return out, c


def _unreverse_impl(params, ys, lengths):
    T = ys.shape[0]
    steps = jnp.arange(T)
    idx = jnp.where(steps[:, None] < lengths[None, :], lengths[None, :] - 1 - steps[:, None], steps[:, None])
    return jnp.take_along_axis(ys, idx[:, :, None], axis=0)


_UNREVERSE = _lazy.Prim("rnn_unreverse", _unreverse_impl)


def _last_hidden(out, lengths, reverse):
    """The final hidden state of each sequence: at its last valid step (first step when reversed)."""
    if reverse:
        return out[0]
    if lengths is None:  # every sequence is full length: no index to read (a gather checks its bounds)
        return out[-1]
    idx = (lengths - 1).clamp(min=0).view(1, -1, 1).expand(1, out._shape[1], out._shape[2])
    return out.gather(0, idx).squeeze(0)


class PackedSequence(collections.namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices",
                                                                "unsorted_indices"])):
    """torch's packed batch of variable-length sequences (time-major, sorted by length)."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        return type(self)(self.data.to(*args, **kwargs), self.batch_sizes, self.sorted_indices,
                          self.unsorted_indices)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def _invert_permutation(perm):
    if perm is None:
        return None
    out = _ops.creation.zeros_like(perm)
    return out.scatter(0, perm, _ops.creation.arange(perm.numel(), dtype=perm.dtype))


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    if padding_side not in ("right", "left"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    max_len = max(s._shape[0] for s in sequences)
    trail, dtype = sequences[0]._shape[1:], sequences[0].dtype
    # torch copies each sample into a tensor of the first one's dtype and trailing shape (broadcast)
    sequences = [s if s._shape[1:] == trail and s.dtype is dtype else _like_first(s, trail, dtype) for s in sequences]
    # each sample as one constant pad along its first dim, the longest too (by 0): a pad of a slice
    # (``seq[i:i + n]``) is folded into a window with the start and length as inputs (``_lazy._fold``),
    # so a batch's structure and shapes depend on its longest length only, not on every sample's
    pad_op = _ops.shape.constant_pad_nd
    padded = []
    for s in sequences:
        n = max_len - s._shape[0]
        amounts = (0, 0) * (len(s._shape) - 1) + ((0, n) if padding_side == "right" else (n, 0))
        padded.append(routed_pad(s, amounts, padding_value, lambda: pad_op(s, list(amounts), padding_value)))
    return _ops.indexing.stack(padded, 0 if batch_first else 1)


def _like_first(s, trail, dtype):
    """Sample ``s`` as ``pad_sequence``'s copy into the output makes it: broadcast to its length and the
    first sample's trailing shape, cast to its dtype (torch's errors where it does not broadcast)."""
    dst = (s._shape[0],) + tuple(trail)
    if s._shape != dst:
        b = broadcast_shape(dst, tuple(s._shape))  # torch's error where they do not broadcast
        if b != dst:
            raise RuntimeError(f"output with shape {list(dst)} doesn't match the broadcast shape {list(b)}")
        s = s.expand(dst)
    return s if s.dtype is dtype else s.to(dtype)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, :int(n)] for i, n in enumerate(_lengths_list(lengths))]


def _lengths_list(lengths):
    if isinstance(lengths, Tensor):
        return [int(v) for v in lengths.tolist()]
    return [int(v) for v in lengths]


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    lens = _lengths_list(lengths)
    if enforce_sorted:
        if any(a < b for a, b in zip(lens, lens[1:])):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                               "sidestep this requirement if you do not need ONNX exportability.")
        order = list(range(len(lens)))
        sorted_indices = None
    else:
        order = sorted(range(len(lens)), key=lambda i: -lens[i])
        sorted_indices = _ops.creation.tensor(order, dtype=_dtypes.int64)
    if any(n <= 0 for n in lens):
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' that "
                           "is <= 0")
    if not batch_first:
        input = input.transpose(0, 1)
    slens = [lens[i] for i in order]
    if slens[0] > input._shape[1]:
        raise RuntimeError(f"Expected sequence length to be smaller than or equal to {input._shape[1]}")
    batch_sizes = [sum(1 for n in slens if n > t) for t in range(slens[0])]
    rows = []
    for t, bs in enumerate(batch_sizes):
        rows.extend((order[b], t) for b in range(bs))
    bi = _ops.creation.tensor([r[0] for r in rows], dtype=_dtypes.int64)
    ti = _ops.creation.tensor([r[1] for r in rows], dtype=_dtypes.int64)
    data = input[bi, ti]
    return PackedSequence(data, _ops.creation.tensor(batch_sizes, dtype=_dtypes.int64), sorted_indices)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    data, batch_sizes = sequence.data, [int(b) for b in sequence.batch_sizes.tolist()]
    B = batch_sizes[0]
    T = len(batch_sizes)
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"Expected total_length to be at least the length of the longest sequence in input, but "
                             f"got total_length={total_length} and max sequence length being {T}")
        T = total_length
    lengths = [sum(1 for bs in batch_sizes if bs > b) for b in range(B)]
    # position of (t, b) in data
    offsets = [0]
    for bs in batch_sizes:
        offsets.append(offsets[-1] + bs)
    index, mask = [], []
    for t in range(T):
        for b in range(B):
            ok = t < len(batch_sizes) and b < batch_sizes[t]
            index.append(offsets[t] + b if ok else 0)
            mask.append(ok)
    idx = _ops.creation.tensor(index, dtype=_dtypes.int64)
    out = data.index_select(0, idx).view((T, B) + tuple(data._shape[1:]))
    m = _ops.creation.tensor(mask).view((T, B) + (1,) * (data.dim() - 1))
    out = out.masked_fill(m.logical_not(), padding_value)
    lengths_t = _ops.creation.tensor(lengths, dtype=_dtypes.int64)
    if sequence.unsorted_indices is not None:
        out = out.index_select(1, sequence.unsorted_indices)
        lengths_t = lengths_t.index_select(0, sequence.unsorted_indices)
    if batch_first:
        out = out.transpose(0, 1)
    return out, lengths_t


def pack_sequence(sequences, enforce_sorted=True):
    lengths = [s._shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


_FILLED: dict = {}


def _filled(shape, value, dtype, device):
    """A constant the layer uses internally (zero initial states, full lengths): its array is made
    once per shape, not put on the device again every step."""
    key = (shape, value, dtype, device)
    a = _FILLED.get(key)
    if a is None:
        a = _ops.creation.full(shape, value, dtype=dtype, device=device)._array()
        if isinstance(a, jax.core.Tracer):
            return Tensor._make(a, device)
        if len(_FILLED) > 256:
            _FILLED.clear()
        _FILLED[key] = a
    return Tensor._make(a, device)


class RNNBase(Module):
    _gate_mult = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an element "
                             "being zeroed")
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        num_directions = 2 if bidirectional else 1
        gate = self._gate_mult[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_in = input_size if layer == 0 else real_hidden * num_directions
                suffix = "_reverse" if direction == 1 else ""
                names = [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
                shapes = [(gate, layer_in), (gate, real_hidden)]
                if bias:
                    names += [f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"]
                    shapes += [(gate,), (gate,)]
                if proj_size > 0:
                    names.append(f"weight_hr_l{layer}{suffix}")
                    shapes.append((proj_size, hidden_size))
                for n, s in zip(names, shapes):
                    setattr(self, n, Parameter(_ops.creation.empty(s, dtype=dtype, device=device)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def flatten_parameters(self):
        pass

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def forward(self, input, hx=None):
        from . import functional as F

        packed = isinstance(input, PackedSequence)
        nd = 2 if self.bidirectional else 1
        if packed:
            x, lengths = pad_packed_sequence(input)
            if input.sorted_indices is not None:
                x = x.index_select(1, input.sorted_indices)
                lengths = lengths.index_select(0, input.sorted_indices)
            is_batched = True
        else:
            is_batched = input.dim() == 3
            if input.dim() not in (2, 3):
                # torch's three classes word it three ways
                word = {"LSTM": " ", "GRU": " "}.get(self.mode, " tensor ")
                raise ValueError(f"{self.mode if self.mode in ('LSTM', 'GRU') else 'RNN'}: Expected input to be 2D or "
                                 f"3D, got {input.dim()}D{word}instead")
            x = input if is_batched else input.unsqueeze(1)
            if self.batch_first and is_batched:
                x = x.transpose(0, 1)
            lengths = None
        T, B = x._shape[0], x._shape[1]
        if x._shape[2] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                               f"{x._shape[2]}")
        if lengths is None:
            lengths = _filled((B,), T, _dtypes.int64, x.device)
        is_lstm = self.mode == "LSTM"
        shape = (self.num_layers * nd, B, self.proj_size or self.hidden_size)
        cell_shape = (self.num_layers * nd, B, self.hidden_size)
        if hx is None:  # zero states, one per layer and direction (no (layers, B, H) tensor to index)
            h0 = c0 = None
        else:
            h0, c0 = ((hx[0], hx[1]) if is_lstm else (hx, None))  # indexed as torch does (a tensor hx too)
            if is_batched and not packed:
                if is_lstm and (h0.dim() != 3 or c0.dim() != 3):
                    raise RuntimeError(f"For batched 3-D input, hx and cx should also be 3-D but got ({h0.dim()}-D, "
                                       f"{c0.dim()}-D) tensors")
                if not is_lstm and h0.dim() != 3:
                    raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {h0.dim()}-D tensor")
            if not is_batched and not packed:
                if is_lstm and (h0.dim() != 2 or c0.dim() != 2):
                    raise RuntimeError(f"For unbatched 2-D input, hx and cx should also be 2-D but got ({h0.dim()}-D, "
                                       f"{c0.dim()}-D) tensors")
                if not is_lstm and h0.dim() != 2:
                    raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {h0.dim()}-D tensor")
            if not is_batched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
            if packed and input.sorted_indices is not None:
                h0 = h0.index_select(1, input.sorted_indices)
                c0 = c0.index_select(1, input.sorted_indices) if c0 is not None else None
            if tuple(h0._shape) != shape:
                raise RuntimeError(f"Expected hidden{'[0]' if is_lstm else ''} size {shape}, got {list(h0._shape)}")
            if c0 is not None and tuple(c0._shape) != cell_shape:
                raise RuntimeError(f"Expected hidden[1] size {cell_shape}, got {list(c0._shape)}")
        zeros_c = None if is_lstm else _filled((B, self.hidden_size), 0, x.dtype, x.device)
        hs, cs = [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(nd):
                k = layer * nd + d
                weights = [getattr(self, n) for n in self._all_weights[k]]
                if h0 is None:
                    h_init = _filled(shape[1:], 0, x.dtype, x.device)
                    c_init = _filled(cell_shape[1:], 0, x.dtype, x.device) if is_lstm else zeros_c
                else:
                    h_init = h0[k]
                    c_init = c0[k] if is_lstm else zeros_c
                proj = self.proj_size > 0
                out, c_last = _run_layer(layer_in, h_init, c_init, lengths, weights, self.mode, d == 1, proj)
                outs.append(out)
                hs.append(_last_hidden(out, lengths if packed else None, d == 1))
                if is_lstm:
                    cs.append(c_last)
            layer_in = outs[0] if nd == 1 else _ops.indexing.cat(outs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        h_n = _ops.indexing.stack(hs, 0)
        c_n = _ops.indexing.stack(cs, 0) if is_lstm else None
        output = layer_in
        if packed:
            if input.unsorted_indices is not None:
                h_n = h_n.index_select(1, input.unsorted_indices)
                c_n = c_n.index_select(1, input.unsorted_indices) if c_n is not None else None
            out_packed = pack_padded_sequence(output, lengths)
            output = PackedSequence(out_packed.data, input.batch_sizes, input.sorted_indices,
                                    input.unsorted_indices)
        else:
            if self.batch_first and is_batched:
                output = output.transpose(0, 1)
            if not is_batched:
                output = output.squeeze(1)
                h_n = h_n.squeeze(1)
                c_n = c_n.squeeze(1) if c_n is not None else None
        return (output, (h_n, c_n)) if is_lstm else (output, h_n)


class RNN(RNNBase):
    def __init__(self, *args, **kwargs):
        nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if len(args) > 3:
            nonlinearity = args[3]
            args = args[:3] + args[4:]
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", *args, **kwargs)


class LSTM(RNNBase):
    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    def __init__(self, *args, **kwargs):
        super().__init__("GRU", *args, **kwargs)


class RNNCellBase(Module):
    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        kw = dict(dtype=dtype, device=device)
        self.weight_ih = Parameter(_ops.creation.empty((num_chunks * hidden_size, input_size), **kw))
        self.weight_hh = Parameter(_ops.creation.empty((num_chunks * hidden_size, hidden_size), **kw))
        if bias:
            self.bias_ih = Parameter(_ops.creation.empty(num_chunks * hidden_size, **kw))
            self.bias_hh = Parameter(_ops.creation.empty(num_chunks * hidden_size, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def _prep(self, input, hx, n):
        if input.dim() not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        if hx is None:
            z = _ops.creation.zeros((x._shape[0], self.hidden_size), dtype=x.dtype, device=x.device)
            hx = (z,) * n
        elif n == 1:
            hx = (hx if batched else hx.unsqueeze(0),)
        else:
            hx = tuple(h if batched else h.unsqueeze(0) for h in hx)
        return x, hx, batched

    def _lin(self, x, h):
        from . import functional as F

        return F.linear(x, self.weight_ih, self.bias_ih), F.linear(h, self.weight_hh, self.bias_hh)


class RNNCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, (h,), batched = self._prep(input, hx, 1)
        gi, gh = self._lin(x, h)
        pre = gi + gh
        if self.nonlinearity == "tanh":
            out = pre.tanh()
        elif self.nonlinearity == "relu":
            out = pre.relu()
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        x, (h, c), batched = self._prep(input, hx, 2)
        gi, gh = self._lin(x, h)
        i, f, g, o = (gi + gh).chunk(4, 1)
        c2 = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h2 = o.sigmoid() * c2.tanh()
        return (h2, c2) if batched else (h2.squeeze(0), c2.squeeze(0))


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), batched = self._prep(input, hx, 1)
        gi, gh = self._lin(x, h)
        ir, iz, in_ = gi.chunk(3, 1)
        hr, hz, hn = gh.chunk(3, 1)
        r = (ir + hr).sigmoid()
        z = (iz + hz).sigmoid()
        n = (in_ + r * hn).tanh()
        out = (h - n) * z + n
        return out if batched else out.squeeze(0)
