"""``Optimizer``: torch's parameter groups, state and API; the update is an optax transformation
applied to all parameters of a group at once by one cached ``jax.jit`` program."""
from __future__ import annotations

import collections
import copy
import functools
import itertools
import operator
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import _lazy
from .._lazy import Lazy as _Lazy
from .._lazy import wrap
from .._ops.creation import _to_copy
from .._ops.registry import const
from ..autograd import grad_mode
from ..autograd.graph import RemovableHandle
from ..tensor import Tensor

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]

_global_optimizer_pre_hooks = collections.OrderedDict()
_global_optimizer_post_hooks = collections.OrderedDict()


def register_optimizer_step_pre_hook(hook):
    """A hook ``hook(optimizer, args, kwargs) -> None or (args, kwargs)`` run before every optimizer's step."""
    handle = RemovableHandle(_global_optimizer_pre_hooks)
    _global_optimizer_pre_hooks[handle.id] = hook
    return handle


def register_optimizer_step_post_hook(hook):
    """A hook ``hook(optimizer, args, kwargs)`` run after every optimizer's step."""
    handle = RemovableHandle(_global_optimizer_post_hooks)
    _global_optimizer_post_hooks[handle.id] = hook
    return handle


def _hooked(step):
    """torch's ``profile_hook_step``: global and per-optimizer step pre/post hooks around ``step``.
    (No ``__wrapped__``: ``_user_step`` tells funcgrad's own steps from a user's by that attribute.)"""
    def hooked_step(self, *args, **kwargs):
        for pre in itertools.chain(_global_optimizer_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
            result = pre(self, args, kwargs)
            if result is not None:
                if isinstance(result, tuple) and len(result) == 2:
                    args, kwargs = result
                else:
                    raise RuntimeError(f"{step} must return None or a tuple of (new_args, new_kwargs), but got "
                                       f"{result}.")
        out = step(self, *args, **kwargs)
        for post in itertools.chain(self._optimizer_step_post_hooks.values(), _global_optimizer_post_hooks.values()):
            post(self, args, kwargs)
        return out

    hooked_step.__name__, hooked_step.__qualname__, hooked_step.__doc__ = step.__name__, step.__qualname__, step.__doc__
    hooked_step._step_unhooked = step
    hooked_step.hooked = True
    for k in ("_counts_steps",):
        if hasattr(step, k):
            setattr(hooked_step, k, getattr(step, k))
    return hooked_step


def _hook_register(store, hook, prepend):
    handle = RemovableHandle(store)
    store[handle.id] = hook
    if prepend:
        store.move_to_end(handle.id, last=False)
    return handle


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class. Subclasses define ``defaults``, ``_statics(group)`` (hyper-parameters that change
    the program's structure) and ``_transform(hyper, statics)`` (an optax GradientTransformation
    built from traced hyper-parameters)."""

    _hyper = ("lr",)  # numeric hyper-parameters passed to the program (no recompiles when they change)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # a subclass's own step() (torch's tutorials write them) counts steps as torch's wrapper does,
        # so schedulers and funcgrad.compile see that the optimizer stepped
        own = cls.__dict__.get("step")
        if own is not None and not getattr(own, "_counts_steps", False):
            @functools.wraps(own)
            def step(self, *args, _own=own, **kw):
                before = self._step_count
                out = _own(self, *args, **kw)
                if self._step_count == before:
                    self._step_count += 1
                return out

            step._counts_steps = True
            cls.step = step

    @property
    def _user_step(self):
        """True for subclasses whose step() is the user's python (not funcgrad's optax program)."""
        step = type(self).step
        step = getattr(step, "_step_unhooked", step)
        return getattr(step, "__wrapped__", None) is not None and \
            (type(self).__module__.split(".")[0] != "funcgrad")

    def _patch_step_function(self):
        cls = type(self)
        if not getattr(cls.step, "hooked", False):
            cls.step = _hooked(cls.step)

    def __init__(self, params, defaults):
        if defaults.get("differentiable"):
            raise NotImplementedError(f"{type(self).__name__}(differentiable=True): funcgrad's optimizer steps run "
                                      "outside autograd (an optax program), so no graph flows through step()")
        if defaults.get("fused") and defaults.get("foreach"):
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        self.defaults = defaults
        self._optimizer_step_pre_hooks = collections.OrderedDict()
        self._optimizer_step_post_hooks = collections.OrderedDict()
        self._optimizer_state_dict_pre_hooks = collections.OrderedDict()
        self._optimizer_state_dict_post_hooks = collections.OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = collections.OrderedDict()
        self._optimizer_load_state_dict_post_hooks = collections.OrderedDict()
        self._patch_step_function()
        self.state = collections.defaultdict(dict)
        self.param_groups = []
        self._step_count = 0
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, but "
                            "got " + params.type())
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)
        self._opt_state = {}  # id(group) -> optax state (pytree of jax arrays)
        if _lazy.pending() and not _lazy._state.tracing:
            # the parameters' pending initialisation runs now, as a program of its own: left on the
            # tape it would join the first forward, whose program then differs from every later one
            _lazy.flush()

    def __repr__(self):
        s = type(self).__name__ + " ("
        for i, g in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for k in sorted(g):
                if k != "params":
                    s += f"    {k}: {g[k]}\n"
        return s + ")"

    def __getstate__(self):
        # the step plans hold compiled programs: rebuilt after a copy or unpickling
        return {k: v for k, v in self.__dict__.items() if k != "_plans"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks", "_optimizer_state_dict_pre_hooks",
                     "_optimizer_state_dict_post_hooks", "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks"):
            self.__dict__.setdefault(name, collections.OrderedDict())
        self._patch_step_function()

    # -- hooks (torch's API) ----------------------------------------------------------------------------
    def register_step_pre_hook(self, hook):
        """``hook(optimizer, args, kwargs) -> None or (args, kwargs)`` before each ``step``."""
        return _hook_register(self._optimizer_step_pre_hooks, hook, False)

    def register_step_post_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` after each ``step``."""
        return _hook_register(self._optimizer_step_post_hooks, hook, False)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        return _hook_register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        return _hook_register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        return _hook_register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        return _hook_register(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    def add_param_group(self, param_group):
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of "
                            "tensors in sets will change between runs. Please use a list instead.")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is " +
                                _typename(p))
            if not (p.is_leaf or getattr(p, "retains_grad", False)):
                raise ValueError("can't optimize a non-leaf Tensor")
        param_group["params"] = params
        group = param_group  # torch keeps the caller's dict
        for g in self.param_groups:
            if ("param_names" in group) != ("param_names" in g):
                txt = "with names" if "param_names" in group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {txt} to the optimizer")
        for k, v in self.defaults.items():
            if v is required and k not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {k}")
            group.setdefault(k, v)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        if len({id(p) for p in params}) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will cause "
                          "an error; see github.com/pytorch/pytorch/issues/40967 for more information", stacklevel=3)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        """Reset gradients (to None by default, as torch 2.x)."""
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    with grad_mode.no_grad():
                        p.grad.zero_()

    # -- the update ----------------------------------------------------------------------------------
    def _statics(self, group):
        return ()

    def _transform(self, hyper, statics):  # pragma: no cover - abstract
        raise NotImplementedError

    def _pre_update(self, params, hyper, statics):
        return params

    def _state_names(self, opt_state):
        """torch's per-parameter state names and values (for ``optimizer.state`` and state_dict)."""
        return {}

    def step(self, closure=None):
        """Update every parameter that has a gradient (one jitted program per group)."""
        loss = None
        if closure is not None:
            with grad_mode.enable_grad():
                loss = closure()
        # the backward just run left its gradients pending (see autograd.engine): the updates are
        # recorded after it and everything runs as one program when the step ends
        deferred = _lazy.take_deferred()
        try:
            for group in self.param_groups:
                self._step_group(group)
        finally:
            if deferred or _lazy.pending():
                _lazy.flush()
        self._step_count += 1
        return loss

    _capturable_what = "params and state_steps"
    _capturable_devices = ("cuda", "xpu", "hpu", "privateuseone", "xla")

    def _step_group(self, group):
        plans = self.__dict__.get("_plans")
        if plans is None:
            plans = self._plans = {}
        plan = plans.get(id(group))
        if plan is not None and plan.group is group and plan.run(self, group):
            return
        params = [p for p in group["params"] if p.grad is not None]
        if not params:
            return
        if group.get("capturable") and any(p.device.type not in self._capturable_devices for p in params):
            raise AssertionError(f"If capturable=True, {self._capturable_what} must be on supported devices: "
                                 f"{list(self._capturable_devices)}.")
        statics = self._statics(group)
        hyper = {k: _hyper_array(v) for k, v in self._hyper_values(group).items()}
        key = tuple(id(p) for p in params)
        entry = self._opt_state.get(id(group))
        if entry is not None and entry[0] == key and self._edited(entry):
            # the user edited optimizer.state tensors in place: torch's next step reads them
            entry = (key, self._adopt_state(params, entry[1]))
        if entry is None or entry[0] != key:
            tx = self._transform(hyper, statics)
            state = tx.init(tuple(p._array() for p in params))
            entry = (key, self._adopt_state(params, state))
            self._opt_state[id(group)] = entry
        elif jax.tree_util.tree_structure(entry[1]) != _state_def(self, hyper, statics, params):
            # a static hyper-parameter changed (weight decay turned on or off, say): the chain of
            # transformations changed, the torch rule's state (momentum, moments, step) carries over
            fresh = self._transform(hyper, statics).init(tuple(p._array() for p in params))
            entry = (key, _carry_rule_state(entry[1], fresh))
            self._opt_state[id(group)] = entry
        program = _jitted(type(self), statics)
        recorded = _lazy.is_lazy() and not _lazy._state.tracing
        if recorded:
            grads = tuple(p.grad._value() for p in params)
            new_params, new_state = _record_update(program, (tuple(p._value() for p in params), grads, entry[1],
                                                             hyper))
        else:
            new_params, new_state = program(tuple(p._array() for p in params),
                                            tuple(p.grad._array() for p in params), _concrete(entry[1]), hyper)
            new_params = [wrap(v) for v in new_params]
        with grad_mode.no_grad():
            for p, v in zip(params, new_params):
                p._set_value(v)
        # the state tensors are watched for in-place edits (a version bump) before the next step
        watch = self._expose_state(params, new_state)
        entry = self._opt_state[id(group)] = (key, new_state, watch)
        plans.pop(id(group), None)
        if recorded and len(params) == len(group["params"]):
            plan = _StepPlan.make(group, params, program, statics, grads, new_params, new_state, hyper, entry)
            if plan is not None:
                plans[id(group)] = plan

    def _hyper_values(self, group):
        return {k: group[k] for k in self._hyper if k in group}

    def _adopt_state(self, params, state):
        """The initial optax state, taking over per-parameter state loaded by ``load_state_dict``
        (its NamedTuple fields carry torch's state names)."""
        if not any(p in self.state for p in params):
            return state

        def fill(s):
            if hasattr(s, "_fields"):
                vals = {}
                for f in s._fields:
                    cur = getattr(s, f)
                    if f == "step":
                        st = self.state.get(params[0], {})
                        vals[f] = jnp.asarray(_scalar(st["step"]), cur.dtype) if "step" in st else \
                            jnp.asarray(1 if any(p in self.state for p in params) else 0, cur.dtype)
                    elif isinstance(cur, tuple):
                        vals[f] = tuple(self.state[p][f]._array() if isinstance(self.state.get(p, {}).get(f), Tensor)
                                        else c for p, c in zip(params, cur))
                    elif isinstance(self.state.get(params[0], {}).get(f), Tensor):
                        # a per-group scalar (NAdam's mu_product, ASGD's eta and mu): torch keeps one per
                        # parameter, all equal; take the first
                        vals[f] = jnp.asarray(self.state[params[0]][f]._array(), cur.dtype)
                    else:
                        vals[f] = cur
                return type(s)(**vals)
            if isinstance(s, tuple):
                return tuple(fill(x) for x in s)
            return s

        return fill(state)

    def _expose_state(self, params, opt_state):
        """torch's ``optimizer.state[p]`` tensors, updated in place (no copies, no waiting); returns
        each one's (storage, version)."""
        n = len(params)
        per = []
        for name, value in self._state_names(opt_state).items():
            if not isinstance(value, (tuple, list)):
                # a per-group value (the step count): every parameter's tensor shows the same one,
                # cast once per group rather than once per parameter
                value = (_float32_step(value) if name == "step" else value,) * n
            elif name == "step":
                value = tuple(_float32_step(v) for v in value)
            per.append((name, value))
        state = self.state
        for i, p in enumerate(params):
            st = state.get(p)
            if st is None:
                st = state[p] = {}
            for name, value in per:
                v = value[i]
                t = st.get(name)
                if isinstance(t, Tensor) and t._shape == tuple(v.shape):
                    t._st.value = v if type(v) is _Lazy else wrap(v)
                else:
                    st[name] = Tensor._make(v, p.device)
        return self._watch(params)

    def _watch(self, params):
        """Each ``optimizer.state`` tensor of ``params`` as (storage, version): an in-place edit
        before the next step moves a version (``_edited``)."""
        state = self.state
        return [(t._st, t._st.version) for p in params for t in state[p].values() if isinstance(t, Tensor)]

    @staticmethod
    def _edited(entry):
        """Whether a group's ``_opt_state`` entry (ids, optax state, watch) had its state tensors
        edited in place since its step (torch's next step reads them: the state is adopted again)."""
        return len(entry) > 2 and any(st.version != v for st, v in entry[2])

    # -- state_dict ---------------------------------------------------------------------------------
    def state_dict(self):
        for pre in self._optimizer_state_dict_pre_hooks.values():
            pre(self)
        sd = self._state_dict()
        for post in self._optimizer_state_dict_post_hooks.values():
            r = post(self, sd)
            if r is not None:
                sd = r
        return sd

    def _state_dict(self):
        ids = {}
        counter = itertools.count()
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            packed["params"] = [ids.setdefault(id(p), next(counter)) for p in g["params"]]
            groups.append(packed)
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                if p in self.state:
                    # torch's state_dict holds the live state tensors (step() updates them in place)
                    state[ids[id(p)]] = dict(self.state[p])
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        state_dict = state_dict.copy()
        for pre in self._optimizer_load_state_dict_pre_hooks.values():
            r = pre(self, state_dict)
            if r is not None:
                state_dict = r
        self._load_state_dict(state_dict)
        for post in self._optimizer_load_state_dict_post_hooks.values():
            post(self)

    def _load_state_dict(self, state_dict):
        state_dict = copy.deepcopy(state_dict)
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for g, sg in zip(self.param_groups, groups):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                                 "optimizer's group")
        id_map = {i: p for g, sg in zip(self.param_groups, groups) for i, p in zip(sg["params"], g["params"])}
        self.state = collections.defaultdict(dict)
        for i, st in state_dict["state"].items():
            p = id_map[int(i)]
            self.state[p] = {k: _cast_state(p, k, v) for k, v in st.items()}
        for g, sg in zip(self.param_groups, groups):
            for k, v in sg.items():
                if k != "params":
                    g[k] = v
        self._opt_state = {}
        self._loaded = True


def _typename(v):
    if isinstance(v, Tensor):
        return v.type()
    m = type(v).__module__
    return type(v).__qualname__ if m in ("builtins", None) else f"{m}.{type(v).__qualname__}"


def _cast_state(p, key, v):
    """torch's load policy: state tensors take the parameter's device, and (except ``step``) its
    floating dtype."""
    if isinstance(v, Tensor):
        if key == "step":
            return v.to(p.device)
        return v.to(device=p.device, dtype=p.dtype) if p.is_floating_point() else v.to(p.device)
    if isinstance(v, dict):
        return {k: _cast_state(p, k, x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_cast_state(p, None, x) for x in v)
    return v


def _float32_step(step):
    """torch keeps ``step`` as a float32 tensor; ours is float64 in the optax state: cast lazily."""
    return _lazy.record(_to_copy.op.prim, (("dtype", np.dtype(np.float32)),), [step], (), np.dtype(np.float32))


def _hyper_array(v):
    """A hyper-parameter as a float64 program input (a traced value inside funcgrad.compile); python
    numbers become cached device scalars, so an unchanged learning rate costs no transfer per step."""
    v = _scalar(v)
    if isinstance(v, jax.Array):
        return v.astype(jnp.float64)
    return const(float(v), np.dtype(np.float64))


def _scalar(v):
    if isinstance(v, Tensor):
        return v.item()
    if isinstance(v, (tuple, list)):
        raise TypeError("tuple hyper-parameters are split by the optimizer before this point")
    return v


def _concrete(tree):
    """A pytree whose leaves may be pending Lazy values, with every leaf computed."""
    return jax.tree_util.tree_map(lambda v: _lazy.value_of(v) if type(v) is _Lazy else v, tree)


_state_defs: dict = {}


def _state_def(opt, hyper, statics, params):
    """The tree structure of ``opt``'s optax state for ``statics`` and these parameters."""
    key = (type(opt), statics, tuple([(p._shape, p._dtype) for p in params]))
    d = _state_defs.get(key)
    if d is None:
        tx = opt._transform(hyper, statics)
        shapes = jax.eval_shape(tx.init, tuple(jax.ShapeDtypeStruct(p._shape, p._dtype.np) for p in params))
        if len(_state_defs) > 1024:
            _state_defs.clear()
        d = _state_defs[key] = jax.tree_util.tree_structure(shapes)
    return d


def _rule_state(s):
    """The torch rule's state: the last link of an ``optax.chain`` state, or the state itself."""
    return s[-1] if isinstance(s, tuple) and not hasattr(s, "_fields") else s


def _carry_rule_state(old, fresh):
    """``fresh`` (a new chain's initial state) holding ``old``'s rule state where the rule is the same."""
    o, f = _rule_state(old), _rule_state(fresh)
    if type(o) is not type(f) or jax.tree_util.tree_structure(o) != jax.tree_util.tree_structure(f):
        return fresh
    return o if f is fresh else fresh[:-1] + (o,)


_FROZEN = (int, float, bool, str, type(None))


def _frozen(v):
    """Whether a param group value cannot change without being replaced (checked by identity)."""
    return type(v) in _FROZEN or (type(v) is tuple and all(_frozen(x) for x in v))


_is = operator.is_
_is_not = operator.is_not
_aval_of = operator.attrgetter("shape", "dtype")


class _StepPlan:
    """One param group's update as it was last recorded, replayed while nothing it was built from
    changed: the group's values (each the same object: a new learning rate, an added key or a
    param list edited in place is a change), every parameter with a gradient, the parameters' and
    gradients' shapes and dtypes, and the group's optax state entry (the one the last step left,
    with no ``optimizer.state`` tensor edited in place since). Anything else takes the full step,
    which builds a new plan."""

    __slots__ = ("group", "vals", "keys", "statics", "params", "key", "avals", "entry", "state_leaves",
                 "hyper_leaves", "uparams", "out_avals", "out_def", "sources", "live", "views")

    @classmethod
    def make(cls, group, params, program, statics, grads, new_params, new_state, hyper, entry):
        vals = tuple(group.values())
        if not all(_frozen(v) for k, v in group.items() if k != "params"):
            return None  # a tensor (or list) hyper-parameter can change in place
        values = list(new_params) + list(grads)
        if any(type(v) is not _Lazy for v in values):
            return None
        args = (tuple(new_params), grads, new_state, hyper)
        flat, treedef = jax.tree_util.tree_flatten(args)
        n = len(params)
        state_leaves = jax.tree_util.tree_leaves(new_state)
        k = 2 * n + len(state_leaves)
        if len(flat) < k or not all(map(_is, flat[:k], values + state_leaves)):
            return None
        plan = cls()
        plan.group = group
        plan.vals = vals
        plan.keys = tuple(group)
        plan.statics = statics
        plan.params = tuple(params)
        plan.key = entry[0]
        plan.avals = [(v.shape, v.dtype) for v in values]
        plan.entry = entry
        plan.state_leaves = state_leaves
        plan.hyper_leaves = flat[k:]
        plan.uparams, plan.out_avals, plan.out_def, plan.sources, plan.live = _update_layout(program, flat, treedef)
        plan.views = any(p._view is not None for p in params)
        return plan

    def _refresh(self, opt, group, vals):
        """Take new hyper-parameter values (a scheduler's learning rate) where the group keeps its
        keys and its program (the statics); False where the full step must run."""
        if len(vals) != len(self.vals) or tuple(group) != self.keys or group.get("capturable"):
            return False
        if not all(_frozen(v) for k, v in group.items() if k != "params"):
            return False
        if opt._statics(group) != self.statics:
            return False
        leaves = jax.tree_util.tree_leaves({k: _hyper_array(v) for k, v in opt._hyper_values(group).items()})
        if len(leaves) != len(self.hyper_leaves):
            return False
        self.hyper_leaves = leaves
        self.vals = vals
        return True

    def run(self, opt, group):
        """Record this step's update as the full step would; False (nothing done) where the plan no
        longer holds."""
        vals = tuple(group.values())
        if len(vals) != len(self.vals) or not all(map(_is, vals, self.vals)):
            if not self._refresh(opt, group, vals):
                return False
        plist = group["params"]
        params = self.params
        if len(plist) != len(params) or not all(map(_is, plist, params)):
            return False
        entry = opt._opt_state.get(id(group))
        if entry is not self.entry or (entry[2] and Optimizer._edited(entry)):
            return False
        state = _lazy._state
        if state.tracing or not state.lazy:
            return False
        # ``p._grad``: what ``p.grad`` returns (it warns only for a non-leaf's missing grad: the full step's)
        grads = [p._grad for p in params]
        if not all(map(_is_not, grads, itertools.repeat(None))):
            return False
        grads = [g._value() for g in grads]  # in the full step's order: the gradients, then the parameters
        values = [p._value() for p in params]
        values += grads
        if not all(map(_is, map(type, values), itertools.repeat(_Lazy))) or \
                list(map(_aval_of, values)) != self.avals:
            return False
        values += self.state_leaves
        values += self.hyper_leaves
        live = self.live
        leaves = _lazy.record_tuple(_UPDATE, self.uparams, values if live is None else [values[j] for j in live],
                                    self.out_avals)
        if self.sources is not None:
            leaves = [values[j] if j >= 0 else leaves[-1 - j] for j in self.sources]
        new_params, new_state = jax.tree_util.tree_unflatten(self.out_def, leaves)
        if self.views:
            with grad_mode.no_grad():
                for p, v in zip(params, new_params):
                    p._set_value(v)
        else:
            for p, v in zip(params, new_params):
                p._set_value(v)
        watch = opt._expose_state(params, new_state)
        entry = opt._opt_state[id(group)] = (self.key, new_state, watch)
        self.entry = entry
        self.state_leaves = leaves[len(params):]
        return True


def _update_impl(params, *flat):
    program, treedef, keep, dead = params
    if dead:  # inputs the update does not read: not program inputs, zeros here (compiled away)
        flat = list(flat)
        for j, shape, dtype in dead:
            flat.insert(j, jnp.zeros(shape, dtype))
    leaves = jax.tree_util.tree_leaves(program(*jax.tree_util.tree_unflatten(treedef, flat)))
    return tuple([leaves[i] for i in keep])


_UPDATE = _lazy.Prim("optimizer_update", _update_impl)
_out_avals: dict = {}


def _record_update(program, args):
    """Record ``program(*args)`` (one optimizer update) on the lazy tape: one entry computing all
    outputs and one entry per output, so it fuses with the pending backward into one program."""
    flat, treedef = jax.tree_util.tree_flatten(args)
    layout = _update_layout(program, flat, treedef)
    return jax.tree_util.tree_unflatten(layout[2], _record_layout(layout, flat))


def _record_layout(layout, flat):
    """The update's output leaves: one entry computing those the program computes, one pick of it
    for each; an output that is an input passed through unchanged (SGD's momentum buffers without
    momentum) is that input's value, neither computed nor returned by the program."""
    params, avals, _, sources, live = layout
    picks = _lazy.record_tuple(_UPDATE, params, flat if live is None else [flat[j] for j in live], avals)
    if sources is None:
        return picks
    return [flat[j] if j >= 0 else picks[-1 - j] for j in sources]


def _update_layout(program, flat, treedef):
    """For ``program`` on the flattened arguments ``flat`` (of tree ``treedef``): the update entry's
    params, the (shape, dtype) of the outputs it computes, the tree of all outputs, where each
    output comes from (None: the entry's outputs in order; else per output ``j >= 0``, input ``j``
    passed through, or ``j < 0``, the entry's output ``-1 - j``) and the inputs it reads (None: all)."""
    key = (program, treedef, tuple([(tuple(v.shape), np.dtype(v.dtype)) for v in flat]))
    out = _out_avals.get(key)
    if out is None:
        out = _layout(program, treedef, key[2])
        if len(_out_avals) > 1024:
            _out_avals.clear()
        _out_avals[key] = out
    return out


def _layout(program, treedef, avals):
    through = []

    def probe(*xs):
        res = program.__wrapped__(*jax.tree_util.tree_unflatten(treedef, xs))
        at = {id(x): j for j, x in enumerate(xs)}
        through.extend(at.get(id(o)) for o in jax.tree_util.tree_leaves(res))
        return res

    closed, shapes = jax.make_jaxpr(probe, return_shape=True)(*[jax.ShapeDtypeStruct(s, d) for s, d in avals])
    leaves, out_def = jax.tree_util.tree_flatten(shapes)
    keep = tuple([i for i, j in enumerate(through) if j is None])
    sources, k = [], 0
    for j in through:
        if j is None:
            j, k = -1 - k, k + 1
        sources.append(j)
    jaxpr = closed.jaxpr
    used = set()
    for v in [v for e in jaxpr.eqns for v in e.invars] + [jaxpr.outvars[i] for i in keep]:
        if not hasattr(v, "val"):  # a variable, not a literal
            used.add(v)
    dead = tuple([(j, s, d) for j, (v, (s, d)) in enumerate(zip(jaxpr.invars, avals)) if v not in used])
    live = None if not dead else tuple([j for j, v in enumerate(jaxpr.invars) if v in used])
    return ((program, treedef, keep, dead), [(tuple(leaves[i].shape), np.dtype(leaves[i].dtype)) for i in keep],
            out_def, None if len(keep) == len(leaves) else sources, live)


@functools.lru_cache(maxsize=None)
def _jitted(cls, statics):
    opt = cls.__new__(cls)

    def update(params, grads, state, hyper):
        params = opt._pre_update(params, hyper, statics)
        tx = opt._transform(hyper, statics)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return jax.jit(update)
