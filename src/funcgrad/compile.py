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

import functools
import sys
import traceback
import types
import warnings

import jax
import numpy as np

from . import _lazy
from ._ops import creation
from ._ops.registry import const as creation_const
from ._ops.registry import OpDef, dispatch
from .autograd import grad_mode
from .nn.module import Module
from .optim.optimizer import Optimizer
from .tensor import Tensor

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
        """What can grow behind the discovered state's back: optimizer state created lazily."""
        return tuple((len(o.state), sum(len(v) for v in o.state.values() if isinstance(v, dict)))
                     for o in self.optimizers if o._user_step)

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
            "rng": np.asarray(self.gen._count, np.uint32),
        }
        return vals

    @staticmethod
    def _opt_read(opt):
        hyper_keys = _traced_hyper(opt)
        return {"state": {i: _concrete(opt._opt_state[id(g)][1]) for i, g in enumerate(opt.param_groups)
                          if id(g) in opt._opt_state},
                "hyper": [{k: (_f64(g[k]) if k != "betas" else tuple(_f64(b) for b in g[k]))
                           for k in hyper_keys if k in g} for g in opt.param_groups]}

    def snapshot(self):
        return ([(x._st.value, x._st.version, x._grad, x.__dict__.get("_vcache")) for x in self.tensors],
                [(dict(o._opt_state), collections.defaultdict(dict, {p: dict(s) for p, s in o.state.items()}),
                  [{k: g[k] for k in _traced_hyper(o) if k in g} for g in o.param_groups], o._step_count)
                 for o in self.optimizers],
                self.gen._count)

    def restore(self, snap):
        ts, os_, count = snap
        for x, (value, version, grad, vcache) in zip(self.tensors, ts):
            x._st.value, x._st.version, x._grad = value, version, grad
            if vcache is not None:
                x._vcache = vcache
        for o, (opt_state, state, hyper, step_count) in zip(self.optimizers, os_):
            o._opt_state, o.state, o._step_count = opt_state, state, step_count
            for g, h in zip(o.param_groups, hyper):
                g.update(h)
        self.gen._count = count

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

    def collect(self):
        """The current values (after the step), in ``read``'s layout."""
        # tensors the step did not write come back as None: no output buffer, no copy
        new_t = [_lazy.value_of(x._st.value) for x in self.tensors]
        out = {
            "t": [None if n is old else n for n, old in zip(new_t, self._installed)],
            "g": [None if x._grad is None else x._grad._array() for x in self.tensors],
            "o": [self._opt_read_traced(o) for o in self.optimizers],
            "rng": self.gen._count,
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
        for x, v, g, dv in zip(self.tensors, vals["t"], vals["g"], plan["versions"]):
            if v is not None:
                x._st.value = _lazy.wrap(v)
            if dv:
                x._st.version += dv
            if v is not None and x._view is not None:
                x._vcache = (x._st.version, x._st.value)
            if g is None:
                x._grad = None
            elif x._grad is not None and x._grad._shape == tuple(g.shape):
                x._grad._st.value = _lazy.wrap(g)
            else:
                x._grad = Tensor._make(g, x.device)
        for o, ov in zip(self.optimizers, vals["o"]):
            for i, g in enumerate(o.param_groups):
                if i in ov["state"]:
                    params = [p for p in g["params"] if p.grad is not None] or g["params"]
                    o._opt_state[id(g)] = (tuple(id(p) for p in params), ov["state"][i])
                    o._expose_state(params, ov["state"][i])
                for k, v in ov["hyper"][i].items():
                    if (id(o), i, k) in plan["hyper_changed"]:
                        g[k] = tuple(float(b) for b in v) if k == "betas" else float(v)
            o._step_count += plan["opt_steps"]
        self.gen._count += plan["draws"]


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


def _discover(fn, args, kwargs):
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
    """Identities of what the function reaches directly (closure, named globals, default arguments,
    a partial's arguments, non-tensor arguments)."""
    return _roots_fn(fn)(args, kwargs)


def _roots_fn(fn):
    """``_roots`` for one function, with what cannot change (a partial's arguments, a bound method's
    object, the code's global names) looked up once: a compiled call only reads the live parts."""
    fixed = []
    while isinstance(fn, functools.partial):
        fixed.extend(id(a) for a in fn.args)
        fixed.extend(id(a) for a in fn.keywords.values())
        fn = fn.func
    f = fn.__func__ if isinstance(fn, types.MethodType) else fn
    fixed.append(id(getattr(fn, "__self__", None)))
    code = getattr(f, "__code__", None)
    names = code.co_names if code is not None else ()
    gget = f.__globals__.get if code is not None else None

    def roots(args, kwargs):
        ids = list(fixed)
        d = getattr(f, "__defaults__", None)
        if d:
            ids.extend([id(a) for a in d])
        kd = getattr(f, "__kwdefaults__", None)
        if kd:
            ids.extend([id(a) for a in kd.values()])
        for cell in getattr(f, "__closure__", None) or ():
            try:
                ids.append(id(cell.cell_contents))
            except ValueError:
                pass
        if names:
            ids.extend([id(gget(n)) for n in names])
        for a in args:
            if type(a) is not Tensor and not isinstance(a, Tensor):
                ids.append(id(a))
        if kwargs:
            ids.extend(id(a) for a in kwargs.values() if not isinstance(a, Tensor))
        return tuple(ids)

    return roots


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


class CompiledFunction:
    """A compiled step: ``__call__`` runs the cached program for the current guards."""

    def __init__(self, fn, *, fullgraph=False, donate=False):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.fullgraph = fullgraph
        self.donate = donate
        self._cache = {}
        self._eager = False
        self._discovered = None
        self._roots = None
        self.stats = {"traces": 0, "calls": 0, "eager_calls": 0}

    def _state(self, args, kwargs):
        """The discovered state, reused while the objects the function reaches are the same."""
        if self._roots is None:
            self._roots = _roots_fn(self.fn)
        roots = self._roots(args, kwargs)
        cached = self._discovered
        if cached is not None and cached[0] == roots and cached[1].fingerprint() == cached[1]._fp:
            return cached[1]
        state = _discover(self.fn, args, kwargs)
        state._fp = state.fingerprint()
        self._discovered = (roots, state)
        return state

    def _give_up(self, why):
        if self.fullgraph:
            raise GraphBreak(f"funcgrad.compile(fullgraph=True): {getattr(self.fn, '__name__', self.fn)}: {why}")
        warnings.warn(f"funcgrad.compile: {getattr(self.fn, '__name__', self.fn)} {why}; it runs eagerly from now on.",
                      UserWarning, stacklevel=4)
        self._eager = True

    def cache_info(self):
        """Programs built (one per distinct guard set) and how calls were served."""
        return dict(self.stats, programs=len(self._cache))

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self.__call__, obj)

    def __call__(self, *args, **kwargs):
        if self._eager:
            self.stats["eager_calls"] += 1
            return self.fn(*args, **kwargs)
        _lazy.flush()
        state = self._state(args, kwargs)
        key = (_arg_spec(args, kwargs), state.signature(), grad_mode.is_grad_enabled())
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
        program, plan = entry
        out, new_state = program(arg_arrays, state.read())
        state.write_back(new_state, plan)
        if isinstance(out, jax.Array):
            return Tensor._make(out)
        return jax.tree_util.tree_map(lambda a: Tensor._make(a) if isinstance(a, jax.Array) else a, out)

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
                out_arrays = jax.tree_util.tree_map(lambda t: t._array() if isinstance(t, Tensor) else t, out,
                                                    is_leaf=lambda t: isinstance(t, Tensor))
                new = state.collect()
                _lazy.flush()
                # tensors the step created and stored where the next call will read them (an optimizer's
                # lazily made state, a python attribute): not part of this program's state, so running it
                # again would start them afresh. Such a call runs eagerly and the next one is traced anew.
                known = {id(x._st) for x in state.tensors}
                after = _discover(fn, a, k)
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

        donate = (1,) if self.donate else ()
        # under an initialized process group (funcgrad.distributed), the step runs as every rank's own
        # program with the rank axis bound, so its collectives (DDP's gradient all-reduce) are compiled in
        program = jax.jit(pure, donate_argnums=donate) if _spmd_program is None else _spmd_program(pure)
        self.stats["traces"] += 1
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Some donated buffers were not usable")
                # trace exactly once, ahead of time: the user's code runs against live python state, so
                # a second trace by jit's call path could see different state (and prune other inputs)
                compiled = program.lower(arg_arrays, state.read()).compile()
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
        if plan.get("escaped"):
            return "retry"
        return compiled, plan


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
