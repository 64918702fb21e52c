"""``funcgrad.compile``: a whole imperative step (forward, ``backward()``, ``optimizer.step()``) as one
``jax.jit`` program, with the eager step's effects on every tensor.

How: the function's state is discovered (tensors reachable from its arguments, closure and the
globals it names: module parameters and buffers, their ``.grad``, optimizer state and learning
rates, the random generator's counter). A pure function ``(args, state) -> (outputs, new state)``
is traced by running the user's code on tensors that wrap JAX tracers: funcgrad's ops, the
autograd engine and the optax updates all trace like any JAX code. The program is cached under
guards (argument shapes/dtypes/requires_grad, python arguments, grad mode, the state's
structure, ``train()``/``eval()``); each call feeds the current state in and writes the new
state back into the same tensor objects (versions bumped as eager execution would).

What cannot be traced (``.item()``, ``print`` of a value, python control flow on tensor values)
makes the call fall back to eager execution with a one-time warning, or, with
``fullgraph=True``, raises an error naming the line.
"""
from __future__ import annotations

import collections
import dis

import functools
import itertools
import operator
import sys
import traceback
import types
import warnings

import jax
import numpy as np
from jax.extend import core as _jcore

from . import _lazy
from ._ops import creation
from ._ops.registry import const as creation_const
from ._ops.registry import OpDef, dispatch
from .autograd import grad_mode
from .nn.module import Module
from .optim.optimizer import Optimizer
from ._device import _CPU
from ._dtypes import _FROM_NP as _NP2DT
from .tensor import Storage, Tensor

__all__ = ["compile", "CompiledFunction", "GraphBreak", "OptimizedModule"]

_TRACE_ERRORS = (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError,
                 jax.errors.TracerIntegerConversionError, jax.errors.TracerBoolConversionError)
_TRACED_HYPER = ("lr", "betas")
_spmd_program = None  # set by funcgrad.distributed.init_process_group: pure -> jit-like program


def _set_spmd_program(fn):
    global _spmd_program
    _spmd_program = fn


class GraphBreak(RuntimeError):
    """Raised with ``fullgraph=True`` when the function does something that needs a concrete value."""


class _State:
    """The mutable state a step reads and writes, discovered from the function and its arguments."""

    def __init__(self, tensors, modules, optimizers):
        self.tensors = tensors  # distinct by storage
        self.modules = modules
        self.optimizers = optimizers
        self.gen = creation.default_generator()

    def fingerprint(self):
        """What can grow behind the discovered state's back: optimizer state created lazily (for
        funcgrad's own optimizers, the ``optimizer.state`` tensors themselves, which are state)."""
        return tuple((len(o.state), sum(len(v) for v in o.state.values() if isinstance(v, dict)))
                     if o._user_step else tuple(map(id, _exposed(o))) for o in self.optimizers)

    def signature(self):
        t = tuple((x._shape, x._dtype, x._rg, None if x._grad is None else (x._grad._shape, x._grad._dtype))
                  for x in self.tensors)
        m = tuple(m.training for m in self.modules)
        o = tuple(tuple(tuple(sorted((k, _static(v)) for k, v in g.items()
                                     if k != "params" and k not in _traced_hyper(opt)))
                        + (len(g["params"]), tuple(id(p) for p in g["params"]),
                           id(g) in opt._opt_state)
                        for g in opt.param_groups) for opt in self.optimizers)
        return t, m, o

    # values in/out, as pytrees of arrays
    def read(self):
        vals = {
            "t": [x._array() for x in self.tensors],
            "g": [None if x._grad is None else x._grad._array() for x in self.tensors],
            "o": [self._opt_read(o) for o in self.optimizers],
            # on the device: the fast path feeds it again while the counter does not move (a host
            # array would be copied to the device on every call)
            "rng": jax.device_put(np.asarray(self.gen._count, np.uint32)),
            # an input, not a constant: manual_seed between calls changes it
            "key": self.gen._key,
        }
        return vals

    @staticmethod
    def _opt_read(opt):
        hyper_keys = _traced_hyper(opt)
        return {"state": {i: _concrete(_group_state(opt, g)) for i, g in enumerate(opt.param_groups)
                          if id(g) in opt._opt_state},
                "hyper": [{k: (_f64(g[k]) if k != "betas" else tuple(_f64(b) for b in g[k]))
                           for k in hyper_keys if k in g} for g in opt.param_groups]}

    def snapshot(self):
        return ([(x._st.value, x._st.version, x._grad, x.__dict__.get("_vcache")) for x in self.tensors],
                [(dict(o._opt_state), collections.defaultdict(dict, {p: dict(s) for p, s in o.state.items()}),
                  [{k: g[k] for k in _traced_hyper(o) if k in g} for g in o.param_groups], o._step_count)
                 for o in self.optimizers],
                (self.gen._count, self.gen._key))

    def restore(self, snap):
        ts, os_, (count, key) = snap
        for x, (value, version, grad, vcache) in zip(self.tensors, ts):
            x._st.value, x._st.version, x._grad = value, version, grad
            if vcache is not None:
                x._vcache = vcache
        for o, (opt_state, state, hyper, step_count) in zip(self.optimizers, os_):
            o._opt_state, o.state, o._step_count = opt_state, state, step_count
            for g, h in zip(o.param_groups, hyper):
                g.update(h)
        self.gen._count, self.gen._key = count, key

    def install(self, vals):
        """Put (traced) values into the live objects."""
        self._installed = vals["t"]
        for x, v, g in zip(self.tensors, vals["t"], vals["g"]):
            x._st.value = _lazy.wrap(v)
            if x._view is not None:
                x._vcache = (x._st.version, x._st.value)
            if g is None:
                x._grad = None
            else:
                x._grad = Tensor._make(g, x.device)
        for o, ov in zip(self.optimizers, vals["o"]):
            for i, g in enumerate(o.param_groups):
                if i in ov["state"]:
                    key = o._opt_state[id(g)][0]
                    o._opt_state[id(g)] = (key, ov["state"][i])
                for k, v in ov["hyper"][i].items():
                    g[k] = v
        self.gen._count = vals["rng"]
        self.gen._key = vals["key"]

    def collect(self):
        """The current values (after the step), in ``read``'s layout."""
        # tensors the step did not write come back as None: no output buffer, no copy
        new_t = [_lazy.value_of(x._st.value) for x in self.tensors]
        out = {
            "t": [None if n is old else n for n, old in zip(new_t, self._installed)],
            "g": [None if x._grad is None else x._grad._array() for x in self.tensors],
            "o": [self._opt_read_traced(o) for o in self.optimizers],
            "rng": self.gen._count,
            "key": self.gen._key,
        }
        return out

    @staticmethod
    def _opt_read_traced(opt):
        return {"state": {i: opt._opt_state[id(g)][1] for i, g in enumerate(opt.param_groups) if id(g) in opt._opt_state},
                "hyper": [{k: g[k] for k in _traced_hyper(opt) if k in g} for g in opt.param_groups]}

    def write_back(self, vals, plan):
        """Store a call's results into the live objects, as eager execution would have left them.

        Nothing here waits for the program: learning rates the step did not change are not read
        back, and the random counter advances by the number of draws seen while tracing."""
        for x, g in zip(self.tensors, vals["g"]):
            if g is None:
                x._grad = None
            elif x._grad is not None and x._grad._shape == tuple(g.shape):
                x._grad._st.value = _lazy.wrap(g)
            else:
                x._grad = Tensor._make(g, x.device)
        self._write_opts(vals, plan)
        # after the optimizers: ``optimizer.state`` tensors that are state get the program's values
        # (Adam's float32 ``step`` computed in the program, no cast left pending)
        for x, v, dv in zip(self.tensors, vals["t"], plan["versions"]):
            if v is not None:
                x._st.value = _lazy.wrap(v)
            if dv:
                x._st.version += dv
            if v is not None and x._view is not None:
                x._vcache = (x._st.version, x._st.value)
        self.gen._count += plan["draws"]

    def _write_opts(self, vals, plan):
        for o, ov in zip(self.optimizers, vals["o"]):
            for i, g in enumerate(o.param_groups):
                if i in ov["state"]:
                    params = [p for p in g["params"] if p.grad is not None] or g["params"]
                    # watched for in-place edits before the next step, as the eager step does
                    watch = o._expose_state(params, ov["state"][i])
                    o._opt_state[id(g)] = (tuple(id(p) for p in params), ov["state"][i], watch)
                for k, v in ov["hyper"][i].items():
                    if (id(o), i, k) in plan["hyper_changed"]:
                        g[k] = tuple(float(b) for b in v) if k == "betas" else float(v)
            o._step_count += plan["opt_steps"]


def _group_state(opt, g):
    """A parameter group's optax state; where its ``optimizer.state`` tensors were edited in place
    since the last step (a version moved), the state taken from them, as the eager step does."""
    entry = opt._opt_state[id(g)]
    if opt._edited(entry):
        key = set(entry[0])
        return opt._adopt_state([p for p in g["params"] if id(p) in key], entry[1])
    return entry[1]


def _concrete(tree):
    if type(tree) is tuple and all(type(v) is not _lazy.Lazy and type(v) is not tuple for v in tree):
        return tree
    return jax.tree_util.tree_map(lambda v: _lazy.value_of(v) if type(v) is _lazy.Lazy else v, tree)


def _f64(v):
    """A hyper-parameter as a float64 program input: python numbers as cached device scalars (no
    host-to-device conversion per call)."""
    if type(v) is float or type(v) is int:
        return creation_const(float(v), _F64)
    return np.asarray(v, np.float64)


_F64 = np.dtype(np.float64)

# the fast path's checks: C-level maps over the discovered state, no python loop per tensor
_is = operator.is_
_get_view = operator.attrgetter("_view")
_get_rg = operator.attrgetter("_rg")
_get_st = operator.attrgetter("_st")
_get_stvalue = operator.attrgetter("value")  # of a Storage
_get_opt = operator.attrgetter("param_groups", "_opt_state", "state")
_get_value = operator.attrgetter("_st.value")
_get_grad = operator.attrgetter("_grad")
_get_mod = operator.attrgetter("training", "_struct_version")
_get_version = operator.attrgetter("version")
_params_of = operator.itemgetter("params")
_flat = itertools.chain.from_iterable
_consume = collections.deque(maxlen=0).extend
_SCALARS = (int, float, bool, str, type(None))
_get_spec = operator.attrgetter("_shape", "_dtype", "_rg", "_st.device")  # _arg_spec's, per plain Tensor
_array_of = Tensor._array
_new = object.__new__
_gm_mode = grad_mode._mode
_dict_get = dict.get
_dict_keys = dict.keys
_dict_values = dict.values
_rep_value = itertools.repeat("value")
_rep_version = itertools.repeat("version")


_END = object()  # ends a variable-length part of ``_probe`` (a longer or shorter part is a mismatch)


def _probe(f):
    """Everything the fast path checks by identity, as one list (compared with ``f.ref`` in one
    C-level pass; a list display of maps, the cheapest way to build it): per state tensor its
    storage, gradient object, view and flag (its shape follows from its storage's value and its
    view); the gradients' storages; the optimizers' parameter groups, their parameters and
    ``optimizer.state`` entries; then what a call changes (from ``f.k0`` on, re-read alone by
    ``_tail``): every storage's value and the optimizers' state entries."""
    ts = f.watched
    return [*map(_get_st, ts), *map(_get_grad, ts), *map(_get_view, ts), *map(_get_rg, ts),
            *map(_get_st, f.gtensors), *_flat(map(_get_opt, f.optims)), *_flat(f.pglists), _END,
            *_flat(map(_params_of, f.glist)), _END, *_flat(map(_dict_values, f.xst)), _END,
            *_flat(map(_dict_values, f.xdicts)), _END,
            *map(_get_stvalue, f.storages), *map(_dict_get, f.ost_rep, f.gids), _END]


def _tail(f):
    return [*map(_get_stvalue, f.storages), *map(_dict_get, f.ost_rep, f.gids), _END]


def _probe_tensors(f):
    """``_probe`` for a function that reaches no optimizer."""
    ts = f.watched
    return [*map(_get_st, ts), *map(_get_grad, ts), *map(_get_view, ts), *map(_get_rg, ts),
            *map(_get_st, f.gtensors), *map(_get_stvalue, f.storages)]


def _tail_tensors(f):
    return [*map(_get_stvalue, f.storages)]


def _out_tensor(array, single):
    """The one tensor a call returns, its shape and dtype known from the trace: no lookups, its
    value the program's array itself."""
    st = _new(Storage)
    st.value, st.version, st.device, st.last_fn = array, 0, _CPU, None
    t = _new(Tensor)
    t._st = st
    t._shape, t._dtype, t._rg, t.grad_fn = single[0], single[2], False, None
    if _gm_mode.inference:
        t._inference = True
    return t


def _getter(idx):
    """``comb -> tuple(comb[i] for i in idx)`` as one C call (``itemgetter`` returns a bare item for one index)."""
    idx = tuple(idx)
    if len(idx) == 1:
        i = idx[0]
        return lambda c: (c[i],)
    if not idx:
        return lambda c: ()
    return operator.itemgetter(*idx)


def _same(a, b):
    return len(a) == len(b) and all(map(_is, a, b))


_struct_version = operator.attrgetter("_struct_version")


def _plain_group(g):
    """A parameter group whose entries (besides ``params``) compare by value without tensor ``==``."""
    return all(k == "params" or type(v) in _SCALARS or (type(v) is tuple and all(type(b) in _SCALARS for b in v))
               for k, v in g.items())


class _Entry:
    """A traced step as one flat jitted program: ``call(*used input leaves) -> kept output leaves``.

    Outputs that are an input passed through unchanged (a gradient the step did not touch, a
    learning rate, an unused random counter) are not program outputs (each output costs a buffer
    and an array object per call), nor is a value twice: ``pairs`` rebuilds the full output list
    from the kept outputs and the inputs. Inputs the program does not read are not passed
    (``used``: flat inputs -> the program's). ``state_map`` gives, per state input leaf, the
    output leaf holding its value after the call (-1: unchanged), so the next call's inputs need
    no read of the state; None where the step changes the state's structure (the next call has
    other guards)."""

    __slots__ = ("call", "plan", "out_tree", "pairs", "state_map", "single", "readonly", "used", "in_tree",
                 "n_args")

    def __init__(self, call, plan, out_tree, pairs, state_map, single, readonly, used, in_tree, n_args):
        self.call, self.plan, self.out_tree, self.pairs = call, plan, out_tree, pairs
        self.state_map, self.single, self.readonly = state_map, single, readonly
        self.used, self.in_tree, self.n_args = used, in_tree, n_args

    def run(self, flat):
        used = self.used
        return self.call(*(flat if used is None else used(flat)))


class _Fast:
    """What the last call left behind, to check the next call against, and the next call's
    write-back as flat lists (see ``CompiledFunction._arm``). ``comb`` below is a call's kept
    outputs followed by its flat inputs: every value a call leaves is ``comb[i]`` for an ``i``
    known at arming."""

    __slots__ = ("entry", "state", "spec", "types", "roots", "grad", "inputs", "watched", "ref", "k0", "modules",
                 "gtensors", "storages", "pglists", "mods", "groups", "snaps", "optims", "glist", "ost_rep", "gids",
                 "xst", "xdicts", "user_fp", "gen", "count",
                 "key", "plain", "dst", "dget", "vst", "vdv", "owrites", "osteps", "draws", "nget", "out_get",
                 "generic", "probe", "tail", "out_pair")


def _traced_hyper(opt):
    """Hyper-parameters fed to the program as inputs: funcgrad's own optimizers only. A user's
    step() does python arithmetic with them (``alpha=-group['lr']``), so there they stay numbers
    and are part of the guards instead (a changed value recompiles, never a stale constant)."""
    r = _hyper_by_class.get(type(opt))
    if r is None:
        r = _hyper_by_class[type(opt)] = () if opt._user_step else _TRACED_HYPER
    return r


_hyper_by_class: dict = {}


def _static(v):
    if isinstance(v, (list, dict, set)):
        return repr(v)
    if isinstance(v, Tensor):
        return ("tensor", v._shape)
    return v


def _exposed(opt):
    """The ``optimizer.state`` tensors of one of funcgrad's own optimizers."""
    return [t for st in opt.state.values() if type(st) is dict for t in st.values() if isinstance(t, Tensor)]


def _discover(fn, args, kwargs, opt_state=True):
    tensors, modules, optimizers = {}, {}, {}
    seen = set()

    def add_tensor(t):
        tensors.setdefault(id(t._st), t)

    def walk(obj, depth):
        if depth > 6 or id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, Tensor):
            add_tensor(obj)
        elif isinstance(obj, Module):
            modules[id(obj)] = obj
            for m in obj.modules():
                modules[id(m)] = m
            for p in obj.parameters():
                add_tensor(p)
            for b in obj.buffers():
                add_tensor(b)
        elif isinstance(obj, Optimizer):
            optimizers[id(obj)] = obj
            for g in obj.param_groups:
                for p in g["params"]:
                    add_tensor(p)
            if obj._user_step:  # funcgrad's own optimizers keep their state in the optax pytree
                for st in obj.state.values():
                    walk(st, depth + 1)
            elif opt_state:  # and show it as ``optimizer.state`` tensors: written by the program
                for t in _exposed(obj):
                    add_tensor(t)
        elif isinstance(obj, functools.partial):
            walk(obj.func, depth + 1)
            walk(obj.args, depth + 1)
            walk(obj.keywords, depth + 1)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            for x in obj:
                walk(x, depth + 1)
        elif isinstance(obj, dict):
            for x in obj.values():
                walk(x, depth + 1)
        elif isinstance(obj, (types.FunctionType, types.MethodType)):
            f = obj.__func__ if isinstance(obj, types.MethodType) else obj
            if isinstance(obj, types.MethodType):
                walk(obj.__self__, depth + 1)
            if _user_code(f):
                walk(f.__defaults__ or (), depth + 1)
                walk(f.__kwdefaults__ or {}, depth + 1)
                for cell in f.__closure__ or ():
                    try:
                        walk(cell.cell_contents, depth + 1)
                    except ValueError:
                        pass
                for name in _names(f.__code__):
                    if name in f.__globals__:
                        walk(f.__globals__[name], depth + 1)
        elif hasattr(obj, "__dict__") and _user_code(type(obj)) and not isinstance(obj, type):
            for x in vars(obj).values():
                walk(x, depth + 1)

    walk(fn, 0)
    for a in list(args) + list(kwargs.values()):
        walk(a, 1)
    return _State(list(tensors.values()), list(modules.values()), list(optimizers.values()))


def _roots(fn, args, kwargs):
    """What the function reaches directly (closure, named globals, default arguments, a partial's
    arguments, non-tensor arguments), compared by identity (``_same``)."""
    return _roots_fn(fn)(args, kwargs)


_cell_contents = operator.attrgetter("cell_contents")


def _roots_fn(fn):
    """``_roots`` for one function, with what cannot change (a partial's arguments, a bound method's
    object, the code's global names) looked up once: a compiled call only reads the live parts."""
    fixed = []
    while isinstance(fn, functools.partial):
        fixed.extend(fn.args)
        fixed.extend(fn.keywords.values())
        fn = fn.func
    f = fn.__func__ if isinstance(fn, types.MethodType) else fn
    fixed.append(getattr(fn, "__self__", None))
    code = getattr(f, "__code__", None)
    names = tuple(sorted(_global_names(code))) if code is not None else ()
    gget = f.__globals__.get if code is not None else None

    def roots(args, kwargs):
        # the defaults tuple is replaced, never edited: its identity stands for its items
        ids = [*fixed, getattr(f, "__defaults__", None)]
        kd = getattr(f, "__kwdefaults__", None)
        if kd:
            ids.extend(kd.values())
        cells = getattr(f, "__closure__", None)
        if cells:
            try:
                ids.extend(map(_cell_contents, cells))
            except ValueError:  # an empty cell (a name assigned later)
                ids.extend(c.cell_contents if _filled(c) else _EMPTY for c in cells)
        if names:
            ids.extend(map(gget, names))
        for a in args:
            if type(a) is not Tensor and not isinstance(a, Tensor):
                ids.append(a)
        if kwargs:
            ids.extend(a for a in kwargs.values() if not isinstance(a, Tensor))
        return ids

    return roots


_EMPTY = object()


def _filled(cell):
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def _global_names(code):
    """The names ``code`` (and the functions and comprehensions inside it) reads as globals."""
    names = {i.argval for i in dis.get_instructions(code)
             if i.opname in ("LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL")}
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _global_names(c)
    return names


def _names(code):
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _names(c)
    return names


def _user_code(obj):
    mod = getattr(obj, "__module__", None) or ""
    top = mod.split(".")[0]
    return top not in ("funcgrad", "jax", "jaxlib", "numpy", "optax", "builtins", "torch") and top not in \
        sys.stdlib_module_names


def _arg_spec(args, kwargs):
    if not kwargs and all(type(a) is Tensor for a in args):
        return tuple([(a._shape, a._dtype, a._rg, a._st.device) for a in args])

    def spec(a):
        if isinstance(a, Tensor):
            return ("T", a._shape, a._dtype.name, a._rg, str(a.device))
        if isinstance(a, (list, tuple)):
            return (type(a).__name__, tuple(spec(x) for x in a))
        if isinstance(a, dict):
            return ("dict", tuple(sorted((k, spec(v)) for k, v in a.items())))
        try:
            hash(a)
            return ("py", a)
        except TypeError:
            return ("id", id(a))
    return spec(tuple(args)), spec(dict(kwargs))


def _split_args(args, kwargs):
    """Tensor leaves of the arguments (traced) and a function rebuilding the arguments from arrays."""
    if not kwargs and all(type(a) is Tensor for a in args):
        meta = [(a._rg, a._st.device) for a in args]

        def rebuild_plain(traced):
            new = []
            for a, (rg, dev) in zip(traced, meta):
                t = Tensor._make(a, dev)
                t._rg = rg
                new.append(t)
            return tuple(new), {}

        return [a._array() for a in args], rebuild_plain
    leaves, treedef = jax.tree_util.tree_flatten((args, kwargs), is_leaf=lambda x: isinstance(x, Tensor))
    idx = [i for i, x in enumerate(leaves) if isinstance(x, Tensor)]
    arrays = [leaves[i]._array() for i in idx]
    meta = [(leaves[i]._rg, leaves[i].device) for i in idx]

    def rebuild(traced):
        new = list(leaves)
        for i, a, (rg, dev) in zip(idx, traced, meta):
            t = Tensor._make(a, dev)
            t._rg = rg
            new[i] = t
        return jax.tree_util.tree_unflatten(treedef, new)

    return arrays, rebuild


def _user_frame(exc):
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _user_file(f.filename)]
    return frames[-1] if frames else None


def _user_file(path):
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    return not os.path.abspath(path).startswith(here) and "site-packages" not in path and "<frozen" not in path


def _structure(state):
    """What adds or removes state behind the discovered objects: a module's attributes assigned
    (a new parameter, buffer or submodule), an optimizer's parameter groups edited."""
    return (list(map(_struct_version, state.modules)),
            [[id(p) for g in o.param_groups for p in g["params"]] + [len(o.param_groups)] for o in state.optimizers])


class CompiledFunction:
    """A compiled step: ``__call__`` runs the cached program for the current guards.

    Fast path: after a call, what it left behind is remembered (``_arm``): the state's values as
    the program wrote them, ``requires_grad`` flags, ``.grad`` objects, ``train()`` flags, module
    structure versions, parameter groups, optimizer states, the random counter, the next call's
    program inputs. A call whose guards and state are all still those (checked by identity with
    C-level maps, no python walk per tensor) feeds the remembered inputs straight to the program.
    Anything else (a value edited in place, a tensor replaced, a learning rate changed by a
    scheduler, a flag flipped, ``eval()``, an eager optimizer step) takes the full path: discover,
    guard, read the state."""

    def __init__(self, fn, *, fullgraph=False, donate=False):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.fullgraph = fullgraph
        self.donate = donate
        self._cache = {}
        self._eager = False
        self._discovered = None
        self._roots = _roots_fn(fn)
        self._fast = None
        self.stats = {"traces": 0, "calls": 0, "eager_calls": 0, "fast_calls": 0}

    def _state(self, args, kwargs):
        """The discovered state, reused while the objects the function reaches are the same."""
        roots = self._roots(args, kwargs)
        cached = self._discovered
        if cached is not None and _same(cached[0], roots) and cached[1].fingerprint() == cached[1]._fp and \
                cached[2] == _structure(cached[1]):
            return cached[1]
        state = _discover(self.fn, args, kwargs)
        state._fp = state.fingerprint()
        self._discovered = (roots, state, _structure(state))
        return state

    def _give_up(self, why):
        if self.fullgraph:
            raise GraphBreak(f"funcgrad.compile(fullgraph=True): {getattr(self.fn, '__name__', self.fn)}: {why}")
        warnings.warn(f"funcgrad.compile: {getattr(self.fn, '__name__', self.fn)} {why}; it runs eagerly from now on.",
                      UserWarning, stacklevel=4)
        self._eager = True

    def cache_info(self):
        """Programs built (one per distinct guard set) and how calls were served (``fast_calls``: calls
        whose state was unchanged since the last one, served without reading it)."""
        return dict(self.stats, programs=len(self._cache))

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self.__call__, obj)

    def __call__(self, *args, **kwargs):
        f = self._fast
        if f is not None:
            if _lazy.pending():
                _lazy.flush()
            if self._unchanged(f, args, kwargs):
                return self._fast_call(f, args, kwargs)
            self._fast = None
        if self._eager:
            self.stats["eager_calls"] += 1
            return self.fn(*args, **kwargs)
        _lazy.flush()
        state = self._state(args, kwargs)
        spec = _arg_spec(args, kwargs)
        key = (spec, state.signature(), grad_mode.is_grad_enabled())
        entry = self._cache.get(key)
        arg_arrays, rebuild = _split_args(args, kwargs)
        if entry is None:
            entry = self._trace(state, arg_arrays, rebuild)
            if entry is None or entry == "retry":
                self.stats["eager_calls"] += 1
                if entry == "retry":
                    self._discovered = None
                    self._retries = getattr(self, "_retries", 0) + 1
                    if self._retries > 3:
                        self._give_up("its state keeps changing structure between calls")
                return self.fn(*args, **kwargs)
            self._cache[key] = entry
        self.stats["calls"] += 1
        if type(entry) is not _Entry:  # a distributed (SPMD) program: pytree in, pytree out
            program, plan = entry
            out, new_state = program(arg_arrays, state.read())
            state.write_back(new_state, plan)
            return _tensors_of(out)
        flat = jax.tree_util.tree_leaves((arg_arrays, state.read()))
        return self._run(entry, state, flat, spec, self._roots(args, kwargs))

    def _run(self, entry, state, flat, spec, roots):
        return self._run_rest(entry, state, flat, entry.run(flat), spec, roots)

    def _fast_call(self, f, args, kwargs):
        """A call whose state is what the last one left: its inputs are known, its results go
        straight into the objects the last call wrote (flat lists, C-level loops)."""
        stats = self.stats
        stats["calls"] += 1
        stats["fast_calls"] += 1
        if f.plain:
            flat = [*map(_array_of, args), *f.inputs]
        else:
            flat = _split_args(args, kwargs)[0] + f.inputs
        entry = f.entry
        res = entry.run(flat)
        if entry.readonly and entry.single is not None:  # writes nothing: one array out
            j, i = f.out_pair
            return _out_tensor(res[j] if j >= 0 else flat[i], entry.single)
        if f.generic:  # a view written, a hyper-parameter the step sets: the general write-back
            return self._run_rest(entry, f.state, flat, res, f.spec, f.roots)
        comb = res + flat
        if not entry.readonly:
            if f.dst:
                _consume(map(setattr, f.dst, _rep_value, f.dget(comb)))
            if f.vst:
                _consume(map(setattr, f.vst, _rep_version, map(operator.add, map(_get_version, f.vst), f.vdv)))
            for ost, gid, key, tdef, get, watch in f.owrites:
                ost[gid] = (key, tdef.unflatten(get(comb)), watch)
            for o, n in f.osteps:
                o._step_count += n
            if f.draws:
                f.gen._count += f.draws
            # what the next call checks against and feeds
            f.inputs = list(f.nget(comb))
            f.ref[f.k0:] = f.tail(f)
            f.count = f.gen._count
        if entry.single is not None:
            return _out_tensor(comb[f.out_get], entry.single)
        return _tensors_of(jax.tree_util.tree_unflatten(f.out_get[0], f.out_get[1](comb)))

    def _run_rest(self, entry, state, flat, res, spec, roots):
        full = [res[j] if j >= 0 else flat[i] for j, i in entry.pairs]
        out, new = jax.tree_util.tree_unflatten(entry.out_tree, full)
        state.write_back(new, entry.plan)
        self._arm(entry, state, flat, res, spec, roots)
        if entry.single is not None:
            return _out_tensor(out, entry.single)
        return _tensors_of(out)

    def _arm(self, entry, state, flat, res, spec, roots):
        """Remember what this call left (the next call's inputs and what to check them against) and
        lay out the next call's write-back: per destination (a tensor's storage, an optimizer
        state entry) the index of its new value in ``comb``."""
        self._fast = None
        smap = entry.state_map
        if smap is None or self.donate:
            return
        ts = state.tensors
        n_args, n_res, pairs = entry.n_args, len(res), entry.pairs
        f = _Fast()
        f.entry, f.state, f.spec, f.roots, f.grad = entry, state, spec, roots, _gm_mode.grad
        # all arguments plain Tensors (``_arg_spec``'s tuple of per-argument tuples)
        f.plain = type(spec) is tuple and len(spec) == n_args and all(len(a) == 4 for a in spec)
        if f.plain:
            f.spec, f.types = list(spec), [Tensor] * n_args

        def cidx(pos):  # an output's index in ``comb`` (kept outputs, then the flat inputs)
            j, i = pairs[pos]
            return j if j >= 0 else n_res + i

        out_pos, new = jax.tree_util.tree_unflatten(entry.out_tree, list(range(len(pairs))))
        ins = jax.tree_util.tree_unflatten(entry.in_tree, list(range(n_args, len(flat))))
        if entry.single is not None:
            f.out_get, f.out_pair = cidx(out_pos), pairs[out_pos]
        else:
            f.out_get = (jax.tree_util.tree_structure(out_pos),
                         _getter([cidx(p) for p in jax.tree_util.tree_leaves(out_pos)]))
        f.inputs = [flat[n_args + j] if m < 0 else (res[pairs[m][0]] if pairs[m][0] >= 0 else flat[pairs[m][1]])
                    for j, m in enumerate(smap)]
        f.nget = _getter([cidx(m) if m >= 0 else n_res + n_args + j for j, m in enumerate(smap)])
        plan = entry.plan
        f.generic = bool(plan["hyper_changed"])
        dst, dsrc = [], []
        for i, x in enumerate(ts):
            pos = new["t"][i]
            if pos is not None:
                if x._view is not None:
                    f.generic = True
                dst.append(x._st)
                dsrc.append(cidx(pos))
            pos = new["g"][i]
            if pos is not None:
                src, own = cidx(pos), ins["g"][i]
                if own is None or src != n_res + own:
                    dst.append(x._grad._st)
                    dsrc.append(src)
        f.dst, f.dget = dst, _getter(dsrc)
        f.vst = [x._st for x, dv in zip(ts, plan["versions"]) if dv]
        f.vdv = [dv for dv in plan["versions"] if dv]
        f.owrites = []
        for o, ov in zip(state.optimizers, new["o"]):
            for i, g in enumerate(o.param_groups):
                if i in ov["state"]:
                    sub = ov["state"][i]
                    e = o._opt_state[id(g)]
                    f.owrites.append((o._opt_state, id(g), e[0], jax.tree_util.tree_structure(sub),
                                      _getter([cidx(p) for p in jax.tree_util.tree_leaves(sub)]),
                                      e[2] if len(e) > 2 else []))
        f.osteps = [(o, plan["opt_steps"]) for o in state.optimizers] if plan["opt_steps"] else []
        f.draws = plan["draws"]
        # optimizer.state tensors are written as state (``_discover``): all of them must be
        known = {id(x) for x in ts}
        if any(id(t) not in known for o in state.optimizers if not o._user_step for t in _exposed(o)):
            return
        f.watched = list(ts)
        f.gtensors = [x._grad for x in ts if x._grad is not None]
        f.storages = list(map(_get_st, ts)) + list(map(_get_st, f.gtensors))
        f.modules = state.modules
        f.mods = list(map(_get_mod, state.modules))
        opts = state.optimizers
        for o in opts:
            pgs = o.param_groups
            if type(pgs) is not list or not all(type(g) is dict and _plain_group(g) for g in pgs) or \
                    not isinstance(o.state, dict) or not isinstance(o._opt_state, dict):
                return
        f.optims = opts
        f.pglists = [o.param_groups for o in opts]
        f.glist = list(_flat(f.pglists))
        f.groups, f.snaps = f.glist, list(map(dict, f.glist))
        f.ost_rep = [o._opt_state for o in opts for _ in o.param_groups]
        f.gids = [id(g) for o in opts for g in o.param_groups]
        f.xst = [o.state for o in opts if not o._user_step]
        f.xdicts = list(_flat(map(_dict_values, f.xst)))
        if not all(type(d) is dict for d in f.xdicts):
            return
        f.probe, f.tail = (_probe, _tail) if opts else (_probe_tensors, _tail_tensors)
        f.ref = f.probe(f)
        f.k0 = len(f.ref) - len(f.tail(f))
        f.user_fp = any(o._user_step for o in opts)
        f.gen = state.gen
        f.count, f.key = state.gen._count, state.gen._key
        self._fast = f

    def _unchanged(self, f, args, kwargs):
        """Whether the state and guards are exactly what the last call left (see ``_arm``)."""
        gen = f.gen
        if _gm_mode.grad != f.grad or gen._count != f.count or gen._key is not f.key:
            return False
        if f.plain:
            if kwargs or list(map(type, args)) != f.types or list(map(_get_spec, args)) != f.spec:
                return False
        elif _arg_spec(args, kwargs) != f.spec:
            return False
        if not _same(self._roots(args, kwargs), f.roots):
            return False
        if f.modules and list(map(_get_mod, f.modules)) != f.mods:
            return False
        if f.groups and f.groups != f.snaps:
            return False
        try:
            probe = f.probe(f)
            if len(probe) != len(f.ref) or not all(map(_is, probe, f.ref)):
                return False
        except (KeyError, TypeError, AttributeError):  # a parameter group or optimizer state edited oddly
            return False
        if f.optims:
            if f.user_fp and f.state.fingerprint() != f.state._fp:
                return False
        return True

    def _trace(self, state, arg_arrays, rebuild):
        fn = self.fn
        plan = {}

        def pure(arg_vals, state_vals):
            snap = state.snapshot()
            versions = [x._st.version for x in state.tensors]
            steps = [o._step_count for o in state.optimizers]
            draws = state.gen._draws
            was_tracing = _lazy._state.tracing
            _lazy._state.tracing = True
            try:
                state.install(state_vals)
                a, k = rebuild(arg_vals)
                out = fn(*a, **k)
                # a tensor argument is traced as a fresh tensor: a gradient or an in-place edit the step
                # gives it would be lost (the caller's tensor keeps its old value, no .grad)
                plan["arg_writes"] = [x for x in jax.tree_util.tree_leaves((a, k), is_leaf=lambda t: isinstance(t, Tensor))
                                      if isinstance(x, Tensor) and (x._grad is not None or x._st.version)]
                out_arrays = jax.tree_util.tree_map(lambda t: t._array() if isinstance(t, Tensor) else t, out,
                                                    is_leaf=lambda t: isinstance(t, Tensor))
                new = state.collect()
                _lazy.flush()
                # tensors the step created and stored where the next call will read them (an optimizer's
                # lazily made state, a python attribute): not part of this program's state, so running it
                # again would start them afresh. Such a call runs eagerly and the next one is traced anew.
                known = {id(x._st) for x in state.tensors}
                after = _discover(fn, a, k, opt_state=False)
                plan["escaped"] = [x for x in after.tensors if id(x._st) not in known
                                   and not any(x is t for t in jax.tree_util.tree_leaves(
                                       (a, k), is_leaf=lambda t: isinstance(t, Tensor)))]
                plan["versions"] = [x._st.version - v for x, v in zip(state.tensors, versions)]
                plan["opt_steps"] = max([o._step_count - s for o, s in zip(state.optimizers, steps)] or [0])
                plan["draws"] = state.gen._draws - draws
                plan["hyper_changed"] = {(id(o), i, k) for o, ov_in, ov_out in
                                         zip(state.optimizers, state_vals["o"], new["o"])
                                         for i, (hi, ho) in enumerate(zip(ov_in["hyper"], ov_out["hyper"]))
                                         for k in hi if ho[k] is not hi[k]}
                return out_arrays, new
            finally:
                _lazy._state.tracing = was_tracing
                _lazy.discard()
                state.restore(snap)

        state_vals = state.read()
        self.stats["traces"] += 1
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Some donated buffers were not usable")
                if _spmd_program is not None:
                    # under an initialized process group (funcgrad.distributed), the step runs as every rank's
                    # own program with the rank axis bound, so its collectives (DDP's all-reduce) are compiled in
                    compiled = _spmd_program(pure).lower(arg_arrays, state_vals).compile()
                    entry = (compiled, plan)
                else:
                    # trace exactly once (the user's code runs against live python state, so a second trace
                    # could see different state), then compile the traced program with flat inputs/outputs
                    entry = self._flat_program(pure, arg_arrays, state_vals, plan)
        except _TRACE_ERRORS as e:
            frame = _user_frame(e)
            where = f"{frame.filename}:{frame.lineno}: {frame.line}" if frame else "unknown location"
            if self.fullgraph:
                raise GraphBreak(f"funcgrad.compile(fullgraph=True): {getattr(fn, '__name__', fn)} needs a concrete "
                                 f"value at {where} (.item(), print of a value, bool() or python control flow on a "
                                 "tensor). Move it out of the compiled function or use fullgraph=False to run "
                                 "such calls eagerly.") from None
            warnings.warn(f"funcgrad.compile: {getattr(fn, '__name__', fn)} cannot be traced ({type(e).__name__} at "
                          f"{where}); it runs eagerly from now on.", UserWarning, stacklevel=3)
            self._eager = True
            return None
        if plan.get("arg_writes"):
            self._give_up("writes to a tensor argument (its .grad, or in place), which a compiled program would "
                          "not pass back; reach that tensor through a closure, a module or an optimizer instead")
            return None
        if plan.get("escaped"):
            return "retry"
        return entry

    def _flat_program(self, pure, arg_arrays, state_vals, plan):
        """``pure`` traced once to a jaxpr, compiled as a function of the flat input leaves returning
        only the outputs that are not an input passed through (an ``_Entry``)."""
        closed, out_shape = jax.make_jaxpr(pure, return_shape=True)(arg_arrays, state_vals)
        flat_in = jax.tree_util.tree_leaves((arg_arrays, state_vals))
        out_tree = jax.tree_util.tree_structure(out_shape)
        jaxpr, consts = closed.jaxpr, closed.consts
        in_pos = {v: i for i, v in enumerate(jaxpr.invars)}
        pairs, keep, kept = [], [], {}
        for v in jaxpr.outvars:
            i = in_pos.get(v, -1) if not self.donate and isinstance(v, _jcore.Var) else -1
            if i >= 0:
                pairs.append((-1, i))
            elif isinstance(v, _jcore.Var) and v in kept:  # one value at several places: one output
                pairs.append((kept[v], -1))
            else:
                if isinstance(v, _jcore.Var):
                    kept[v] = len(keep)
                pairs.append((len(keep), -1))
                keep.append(v)
        n_args = len(jax.tree_util.tree_leaves(arg_arrays))
        # inputs the program reads (an unused random key, a state tensor only written): the others
        # are not passed (each input costs the call a check)
        read = {v for e in jaxpr.eqns for v in e.invars if isinstance(v, _jcore.Var)}
        read.update(v for v in keep if isinstance(v, _jcore.Var))
        used = [i for i, v in enumerate(jaxpr.invars) if v in read] if not self.donate else \
            list(range(len(jaxpr.invars)))
        n_in = len(jaxpr.invars)

        def program(*vals):
            full = [None] * n_in
            for i, a in zip(used, vals):
                full[i] = a
            env = jax.core.eval_jaxpr(jaxpr, consts, *full)
            out = [None] * len(keep)
            for k, (j, _) in enumerate(pairs):
                if j >= 0:
                    out[j] = env[k]
            return out

        donate = tuple(range(n_args, len(flat_in))) if self.donate else ()
        compiled = jax.jit(program, donate_argnums=donate).lower(*[flat_in[i] for i in used]).compile()
        # per state input leaf, where its value is after the call
        in_paths = [p for p, _ in jax.tree_util.tree_flatten_with_path(state_vals)[0]]
        out_paths = {p[1:]: i for i, (p, _) in enumerate(jax.tree_util.tree_flatten_with_path(out_shape)[0])
                     if p[0].idx == 1}
        state_map = []
        for p in in_paths:
            m = out_paths.pop(p, None)
            if m is None and p[0].key != "t":  # a gradient or optimizer state the step dropped
                state_map = None
                break
            state_map.append(-1 if m is None else m)
        if out_paths:  # outputs with no input (a gradient the step created): the next call has other guards
            state_map = None
        o = out_shape[0]
        single = None
        if isinstance(o, jax.ShapeDtypeStruct):
            single = (tuple(o.shape), np.dtype(o.dtype), _NP2DT[np.dtype(o.dtype)])
        # a step that writes no state (every state output is its input, no version bump, no draw, no
        # optimizer step): a call leaves the state exactly as it found it
        n_user = len(jax.tree_util.tree_leaves(out_shape[0]))
        readonly = state_map is not None and all(j < 0 for j, _ in pairs[n_user:]) and \
            not any(plan["versions"]) and not plan["draws"] and not plan["opt_steps"] and not plan["hyper_changed"]
        return _Entry(compiled, plan, out_tree, pairs, state_map, single, readonly,
                      None if len(used) == len(flat_in) else _getter(used),
                      jax.tree_util.tree_structure(state_vals), n_args)


def _tensors_of(out):
    if isinstance(out, jax.Array):
        return Tensor._make(out)
    return jax.tree_util.tree_map(lambda a: Tensor._make(a) if isinstance(a, jax.Array) else a, out)


def compile(fn=None, *, fullgraph=False, donate=False, mode=None, dynamic=None, backend=None):  # noqa: A001
    """Compile ``fn`` (a training step or a model) into one cached ``jax.jit`` program.

    Usable as ``step = funcgrad.compile(step)`` or as ``@funcgrad.compile(fullgraph=True)``; on a
    Module, compiles its forward (inference: outputs are returned without a graph).
    """
    if fn is None:
        return lambda f: compile(f, fullgraph=fullgraph, donate=donate)
    if isinstance(fn, Module):
        return OptimizedModule(fn, fullgraph=fullgraph, donate=donate)
    if not callable(fn):
        raise TypeError(f"funcgrad.compile expects a function or a Module, got {type(fn).__name__}")
    return CompiledFunction(fn, fullgraph=fullgraph, donate=donate)




class _Impure(Exception):
    """The module's forward writes state (running statistics) or draws random numbers."""


class OptimizedModule(Module):
    """What ``compile(module)`` returns, as torch's: a Module wrapping ``_orig_mod`` (same parameters,
    buffers, ``state_dict`` keys with torch's ``_orig_mod.`` prefix, ``train()``/``eval()``, hooks).

    Its forward runs as one compiled program when no graph is needed (``no_grad``, inference, or no
    parameter requiring grad). When the output must be differentiable, the whole forward is one op
    (a pure function of the parameters, buffers and tensor arguments, traced from the module's code)
    whose node is ``CompiledFunctionBackward`` as torch's, and whose backward is ``jax.vjp`` of that
    function, compiled. A forward that writes state (batch-norm statistics in training), draws random
    numbers or returns something other than one tensor runs the module eagerly on the lazy tape.
    """

    def __init__(self, mod, *, fullgraph=False, donate=False):
        super().__init__()
        self._orig_mod = mod

        def forward(*args, **kwargs):
            return mod(*args, **kwargs)

        forward.__name__ = type(mod).__name__ + ".forward"
        object.__setattr__(self, "_compiled_forward", CompiledFunction(forward, fullgraph=fullgraph, donate=donate))
        object.__setattr__(self, "_graph_op", None)
        object.__setattr__(self, "_graph_calls", {})
        object.__setattr__(self, "_graph_off", False)

    def forward(self, *args, **kwargs):
        needs_graph = grad_mode.is_grad_enabled() and (
            any(p.requires_grad for p in self._orig_mod.parameters())
            or any(isinstance(a, Tensor) and a.requires_grad for a in jax.tree_util.tree_leaves(
                (args, kwargs), is_leaf=lambda t: isinstance(t, Tensor))))
        if needs_graph:
            if not self._graph_off:
                try:
                    out = self._graph_forward(args, kwargs)
                except _Impure:
                    object.__setattr__(self, "_graph_off", True)
                    out = None
                if out is not None:
                    return out
            return self._orig_mod(*args, **kwargs)
        return self._compiled_forward(*args, **kwargs)

    def _graph_forward(self, args, kwargs):
        """The forward as one differentiable op; None where the call cannot be one (unhashable args)."""
        mod = self._orig_mod
        state = list({id(t._st): t for t in list(mod.parameters()) + list(mod.buffers())}.values())
        if any(t._view is not None for t in state):
            return None
        leaves, treedef = jax.tree_util.tree_flatten((args, kwargs), is_leaf=lambda x: isinstance(x, Tensor))
        tpos = tuple(i for i, x in enumerate(leaves) if isinstance(x, Tensor))
        statics = tuple(None if i in tpos else x for i, x in enumerate(leaves))
        guard = (treedef, statics, tpos, tuple(m.training for m in mod.modules()), tuple(id(t) for t in state),
                 tuple(str(leaves[i].device) for i in tpos))
        try:
            call = self._graph_calls.get(guard)
        except TypeError:
            return None
        if call is None:
            call = len(self._graph_calls)
            self._graph_calls[guard] = call
            self._graph_calls[call] = (treedef, statics, tpos, state, [leaves[i].device for i in tpos])
        if self._graph_op is None:
            object.__setattr__(self, "_graph_op", OpDef("compiled_forward", self._pure, "CompiledFunctionBackward",
                                                        None, False, False, False))
        return dispatch(self._graph_op, state + [leaves[i] for i in tpos], (("call", call),))

    def _pure(self, *arrays, call):
        """The module's forward as a JAX function of (state arrays..., tensor argument arrays...)."""
        treedef, statics, tpos, state, devices = self._graph_calls[call]
        saved = [(t._st.value, t._st.version) for t in state]
        gen = creation.default_generator()
        draws, count = gen._draws, gen._count
        was = _lazy._state.tracing
        _lazy._state.tracing = True
        try:
            with _lazy.isolated(), grad_mode.no_grad():
                for t, a in zip(state, arrays):
                    t._st.value = _lazy.wrap(a)
                leaves = list(statics)
                for i, a, dev in zip(tpos, arrays[len(state):], devices):
                    leaves[i] = Tensor._make(a, dev)
                a, k = jax.tree_util.tree_unflatten(treedef, leaves)
                out = self._orig_mod(*a, **k)
                if not isinstance(out, Tensor) or gen._draws != draws or any(
                        t._st.version != v for t, (_, v) in zip(state, saved)):
                    raise _Impure
                return out._array()
        finally:
            _lazy._state.tracing = was
            for t, (v, ver) in zip(state, saved):
                t._st.value, t._st.version = v, ver
            gen._draws, gen._count = draws, count

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["_orig_mod"], name)

    def __repr__(self):
        return "OptimizedModule(\n  (_orig_mod): " + repr(self._orig_mod).replace("\n", "\n  ") + "\n)"
