"""Lazy recording of JAX work, flushed as one cached ``jax.jit`` program.

Every funcgrad op (forward or backward) appends an entry to the *tape*: a primitive, its static
parameters and where its arguments come from (an earlier entry of the tape, or a concrete
``jax.Array`` fed to the program). The op returns a :class:`Lazy` placeholder of known shape
and dtype (from a cached ``jax.eval_shape``, so shape errors still surface at the op that
caused them). Nothing runs until a value is observed (``print``, ``.item()``, ``.numpy()``,
``bool()``, the end of ``backward()``...). Then :func:`flush` runs the tape, in one of two tiers:

- **op by op**, each entry through a small jitted kernel cached by (primitive, parameters, input
  shapes and dtypes) and shared by every tape; entries whose values nobody needs are skipped;
- **fused**: the whole tape as one jitted program, keyed by its structure (entries, input shapes
  and dtypes, which entries are still referenced) and cached. Its lifted ints are passed packed in
  one int64 array and the zeros standing for dropped values are built inside it (``_layout``): a
  jitted call pays for every argument, a host scalar most.

A structure seen before runs its fused program. A new structure is fused too (the first steps of
a training loop, whose structure will recur), unless structures keep changing (``CHURN`` of the
last flushes were new ones) while their kernels do not (at most a quarter never seen): that is a
shape-varying loop, whose kernels recur while the whole tape never does, and it runs op by op.
A structure that has run op by op ``HOT`` times is then fused, as tracing JITs compile a hot loop.
A tape with one live entry always runs as its kernel.

- **in segments**: a churning structure whose tail recurs (a training step on batches built from
  variable-length slices: the slicing and padding differ every step, the model's forward,
  backward and update after the padded batch do not) runs that tail as one cached program keyed by
  its own structure, with the values it reads from before the cut as inputs, and the entries
  before the cut by connected components (a slice and its pad: one cached program per length,
  the start an input), see ``_cuts``.
- **folded**: before any of these, a constant pad of a slice (``F.pad(seq[i:i + L], ...)`` to a
  fixed size) is rewritten as one fixed-shape masked window with the start and the length as inputs,
  and slices no entry reads leave the structure (computed only if observed: carried over onto the
  next tape once), see ``_fold``: a loop over variable-length slices padded to one size has one
  structure, one program, whatever the lengths.
So a fixed-shape loop compiles once, and a shape-polymorphic loop compiles one kernel (or
component) per new op shape and its fixed part once, never one program per step. A step whose
model shapes change (a batch padded to its longest sample) is fused at each new shape (its kernels
are new there: one compile, not one per op) and compiles one program per shape it meets;
``RecompileWarning`` says so once past ``FAMILY_WARN`` shapes of one structure. Both tiers give the same numbers: edges where XLA's
algebraic simplifier would rewrite across two ops (``log(exp(x)) -> x``, ``exp(a)*exp(b) ->
exp(a+b)``, ``sqrt(x*x) -> |x|``) carry an optimisation barrier in fused programs. Every pending
value still referenced from outside the tape is returned, so no work is ever recomputed; values
nobody holds are never materialised.
"""
from __future__ import annotations

import collections
import contextlib
import ctypes
import itertools
import operator
import sys
import threading
import weakref

import jax
import numpy as np

__all__ = ["Prim", "Lazy", "record", "flush", "materialize", "value_of", "set_lazy", "is_lazy", "cache_info", "stats"]

_getrefcount = sys.getrefcount

# A tape longer than this is flushed where it stands: it bounds compile time and memory of
# programs that are never observed (long loops with no print/item/backward).
MAX_TAPE = 2000


class Prim:
    """A JAX primitive of funcgrad: ``impl(params, *arrays) -> array``. Identity-hashed.

    ``lift``, when set, maps ``params`` to ``(prim, params, ints)`` or None: the same computation by
    another primitive that takes the python ints (a slice's start, say) as trailing array arguments,
    so kernels and fused programs do not depend on their values.

    ``shape``, when set, is ``shape(params, avals) -> (shape, numpy dtype)`` (``avals``: the arguments'
    (shape, dtype) pairs): the output's shape and dtype without tracing ``impl`` (``jax.eval_shape``
    costs milliseconds; an op met at many shapes, a pad to a batch's longest sample, pays it for each)."""

    __slots__ = ("name", "impl", "lift", "shape", "__weakref__")

    def __init__(self, name, impl, lift=None, shape=None):
        self.name = name
        self.impl = impl
        self.lift = lift
        self.shape = shape

    def __repr__(self):
        return f"Prim({self.name})"


class Lazy:
    """A pending value: entry ``idx`` of tape generation ``gen``; ``value`` once computed."""

    __slots__ = ("shape", "dtype", "value", "gen", "idx")

    def __init__(self, shape, dtype, gen, idx):
        self.shape = shape
        self.dtype = dtype
        self.value = None
        self.gen = gen
        self.idx = idx


class _Tape:
    __slots__ = ("gen", "nodes", "entries", "inputs", "in_pos", "fold", "carried")

    def __init__(self, gen):
        self.gen = gen
        self.nodes = []  # Lazy placeholders, one per entry
        self.entries = []  # (prim, params, arg codes): code >= 0 is an entry, < 0 an input
        self.inputs = []  # concrete arrays fed to the program
        self.in_pos = {}  # id(array) -> input index
        self.fold = False  # holds entries _fold may rewrite (a slice: see note_slices)
        self.carried = 0  # leading entries carried over from the previous flush (see _fold)


class _State(threading.local):
    lazy = True
    tracing = False  # inside funcgrad.compile's trace
    observing = False  # flushing to read values (``value_of``, ``materialize``): nothing deferred


def _observe():
    """``flush()`` for values about to be read: every held value is returned (see ``_deferrable``)."""
    st = _state
    st.observing = True
    try:
        flush()
    finally:
        st.observing = False


_state = _State()
_gens = itertools.count(1)
_failed: dict = {}  # generation of a tape whose flush raised -> the exception  # tape generations: never reused, so a stale placeholder is always detected
_tape = _Tape(0)
# One tape for the process; recording and flushing hold this lock, the flush until every value
# of the tape it ran is filled in, so a thread never sees a value of a tape another thread is
# still running (threads training separate models interleave their ops on the tape).
_lock = threading.RLock()


def set_lazy(flag: bool) -> None:
    """Turn lazy recording on (default) or off for this thread; off runs every op at once."""
    _state.lazy = bool(flag)


def is_lazy() -> bool:
    return _state.lazy


_shape_cache: dict = {}
_program_cache: "collections.OrderedDict" = collections.OrderedDict()
# Compiled programs kept: XLA executables hold memory and memory maps; a process that keeps
# meeting new graph structures (a fuzzer, an interactive session) must not grow without bound.
MAX_PROGRAMS = 512
# Per-op kernels: (prim, params, input avals) -> jitted function; shared by every tape.
_kernels: dict = {}
# An XLA kernel holds about 1.6 MiB (its executable and JAX's caches of it): past this many, the
# oldest quarter (by first compile) is dropped, and compiled again if met again.
MAX_KERNELS = 1024
# Kernel keys met in earlier tapes (fused or not): a new tape made mostly of these runs op by op.
_seen: dict = {}
# Structure key -> how many times it ran op by op; at HOT it is fused.
_heat: dict = {}
HOT = 2
# Whether each of the last flushes met a new structure; CHURN of them (or more) means structures
# keep changing, and a new structure made of known kernels then runs op by op.
_recent = collections.deque([False] * 8, maxlen=8)
CHURN = 3
# Tests force a tier: "fused" or "ops" (None: decide as above).
_tier = None
_stats = {"programs": 0, "segments": 0, "kernels": 0, "flushes": 0, "fused_runs": 0, "op_runs": 0, "split_runs": 0,
          "eval_shape": 0,
          "xla_compiles": 0, "compile_seconds": 0.0}


def _malloc_trim():
    """glibc's ``malloc_trim`` (None elsewhere: macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


_trim = _malloc_trim()
# XLA's compiler frees its working memory when a compile ends, but glibc keeps the freed pages
# mapped (hundreds of MiB for a training step's program): after this many seconds of compiling they
# are handed back to the system, so the next compile (and the process's peak RSS) starts lower.
# A trim (milliseconds, and pages faulted in again by the next compile) follows a big compile
# (TRIM_BIG seconds or more: a fused step) or this many seconds of small ones: a shape-varying loop
# compiling many small kernels trims rarely. None turns it off.
TRIM_AFTER = 2.0
TRIM_BIG = 0.5
_untrimmed = [0.0]


def _on_compile(event, duration, **kwargs):
    if event == "/jax/core/compile/backend_compile_duration":
        _stats["xla_compiles"] += 1
        _stats["compile_seconds"] += duration
        _untrimmed[0] += duration
        if _trim is not None and TRIM_AFTER is not None and (_untrimmed[0] >= TRIM_AFTER or duration >= TRIM_BIG):
            _untrimmed[0] = 0.0
            _trim(0)


jax.monitoring.register_event_duration_secs_listener(_on_compile)


def stats():
    """Counters of the lazy executor: ``programs`` (fused programs compiled), ``kernels`` (per-op
    kernels compiled), ``flushes``, ``fused_runs``/``op_runs`` (flushes run by each tier),
    ``xla_compiles`` and ``compile_seconds`` (every XLA compile of the process, funcgrad.compile
    and optimizer programs included), ``pending`` (entries on the tape now)."""
    return dict(_stats, cached_programs=len(_program_cache), cached_kernels=len(_kernels),
                pending=len(_tape.entries))


cache_info = stats


def _aval(x):
    if type(x) is Lazy:
        v = x.value
        if v is None:
            return x.shape, x.dtype
        x = v
    return x.shape, x.dtype


def infer(prim, params, args):
    """(shape, numpy dtype) of ``prim(params, *args)``; cached by shapes and dtypes."""
    key = [prim, params]
    for a in args:
        s, d = _aval(a)
        key.append(s)
        key.append(d)
    return _infer_key(tuple(key), prim, params, args)


def _infer_key(key, prim, params, args):
    try:
        return _shape_cache[key]
    except KeyError:
        pass
    if len(_shape_cache) > 100_000:
        _shape_cache.clear()
    avals = [_aval(a) for a in args]
    if prim.shape is not None:
        res = prim.shape(params, avals)
    else:
        _stats["eval_shape"] += 1
        out = jax.eval_shape(lambda *xs: prim.impl(params, *xs), *[jax.ShapeDtypeStruct(s, d) for s, d in avals])
        res = (tuple(out.shape), np.dtype(out.dtype))
    _shape_cache[key] = res
    return res


def _int_arg(v):
    """A python int as an int64 numpy scalar (a lifted parameter): a jitted call takes it directly,
    much cheaper than placing it on the device first. A new object each time: the tape dedupes its
    inputs by identity, and two equal ints sharing one input would change the tape's structure
    (its input slots) with their values."""
    a = np.array(v, np.int64)
    a.flags.writeable = False
    return a


def record(prim, params, args, shape=None, dtype=None):
    """Append ``prim(params, *args)`` to the tape; returns its Lazy (or the array when not lazy).

    The output's shape and dtype come from a cache keyed by (prim, params, input shapes and
    dtypes): after warm-up no ``jax.eval_shape`` runs, and a recorded op costs one tape entry
    and one Lazy."""
    lift = prim.lift
    if lift is not None:
        lifted = lift(params)
        if lifted is not None:
            prim, params, ints = lifted
            args = list(args) + [_int_arg(v) for v in ints]
    with _lock:
        tape = _tape
        gen = tape.gen
        codes = []
        in_pos = tape.in_pos
        for a in args:
            if type(a) is Lazy:
                v = a.value
                if v is None:
                    if a.gen == gen:
                        codes.append(a.idx)
                        continue
                    if a.gen == THUNK:
                        return _record_thunked(prim, params, args, shape, dtype)
                    _lost(a)
                a = v
            j = in_pos.get(id(a))
            if j is None:
                j = in_pos[id(a)] = len(tape.inputs)
                tape.inputs.append(a)
            codes.append(-1 - j)
        if shape is None:
            key = [prim, params]
            for a in args:
                key.append(a.shape)
                key.append(a.dtype)
            key = tuple(key)
            sd = _shape_cache.get(key)
            if sd is None:
                sd = _infer_key(key, prim, params, args)
            shape, dtype = sd
        nodes = tape.nodes
        n = len(nodes)
        node = _new(Lazy)  # Lazy(shape, dtype, gen, n) without the __init__ frame
        node.shape = shape
        node.dtype = dtype
        node.value = None
        node.gen = gen
        node.idx = n
        nodes.append(node)
        tape.entries.append((prim, params, tuple(codes)))
    if n + 1 >= MAX_TAPE or not _state.lazy:
        flush()
        return node.value
    return node


_new = object.__new__


# A slice of a concrete array (``seq[i:i + L]``: see ``views.direct``) does not go on the tape when it
# is made. Its Lazy is a *thunk*: gen ``THUNK``, idx its (prim, params, args), args concrete arrays.
# It is computed by its kernel when observed, put on the tape by the first entry that reads it, or
# folded into that entry: a constant pad of it is recorded as the pad's fold rule gives (``_folds``:
# a fixed-shape window of the array, the start and length as inputs). So the slices a
# variable-length batch is built from never enter the tape's structure, and nothing is carried over.
THUNK = -2


def thunk(prim, params, args, shape, dtype):
    """A Lazy of ``prim(params, *args)`` (``args`` concrete arrays) kept off the tape (see ``THUNK``)."""
    node = _new(Lazy)
    node.shape = shape
    node.dtype = dtype
    node.value = None
    node.gen = THUNK
    node.idx = (prim, params, tuple(args))
    return node


def _force(node):
    """A thunk's value, computed now by its kernel (at trace time inside a trace); the node becomes
    a computed Lazy."""
    with _lock:
        if node.value is None:
            prim, params, args = node.idx
            if prim is SUBTAPE:
                params[2].mark_read()
            if _state.tracing:
                with jax.ensure_compile_time_eval():
                    v = prim.impl(params, *args)
            else:
                v = _run_kernel(prim, params, list(args))
            node.value = v
            node.gen = node.idx = -1
        return node.value


def _record_thunked(prim, params, args, shape, dtype):
    """``record`` of an entry that reads a thunk: folded (a constant pad of a slice), or the thunks
    it reads go on the tape (computed first inside a trace: a traced tape's values are tracers)."""
    with _lock:
        if shape is None:
            shape, dtype = infer(prim, params, args)
        rule = _folds.get(prim)
        if rule is not None and len(args) == 1 and not _state.tracing and args[0].idx[0] is not SUBTAPE:
            tprim, tparams, targs = args[0].idx
            r = _fold_rule(rule, prim, params, tprim, tparams)
            if r is not None:
                nprim, nparams, ints = r
                tape = _tape
                inputs = tape.inputs
                codes = _input_codes(tape, targs)
                for a in ints:  # a slot each (shared int64 scalars: see ``_fold_cache``)
                    codes.append(-1 - len(inputs))
                    inputs.append(a)
                nodes = tape.nodes
                node = Lazy(shape, dtype, tape.gen, len(nodes))
                nodes.append(node)
                tape.entries.append((nprim, nparams, tuple(codes)))
                if len(nodes) >= MAX_TAPE or not _state.lazy:
                    flush()
                    return node.value
                return node
        for a in args:
            if type(a) is Lazy and a.value is None and a.gen == THUNK:
                if _state.tracing or a.idx[0] is SUBTAPE:
                    # a deferred value: computed by its kernel (on the tape, it would change the structure
                    # of the program that reads it, a new compile)
                    _force(a)
                else:
                    prim_a, params_a, args_a = a.idx
                    _put(a, prim_a, params_a, args_a, _tape)
        return record(prim, params, args, shape, dtype)


def _pick_impl(params, tup):
    return tup[params]


PICK = Prim("getitem", _pick_impl)  # one value out of a tuple entry (``record_tuple``)


def record_tuple(prim, params, args, avals):
    """Record ``prim(params, *args)``, whose value is a tuple of arrays with ``avals`` ((shape,
    dtype) each), as one entry computing the tuple and one ``PICK`` entry per array; returns the
    picks. All land on one tape (another thread may flush in between otherwise)."""
    with _lock:
        if len(_tape.entries) + len(avals) + 2 >= MAX_TAPE:
            flush()
        tup = record(prim, params, args, (), None)
        tape = _tape
        if type(tup) is not Lazy or tup.gen != tape.gen or not _state.lazy:
            return [record(PICK, k, [tup], s, d) for k, (s, d) in enumerate(avals)]
        # the picks appended as ``record`` would (the tuple is pending on this tape; no flush is due)
        gen = tape.gen
        nodes = tape.nodes
        append = tape.entries.append
        codes = (tup.idx,)
        n = len(nodes)
        picks = []
        for k, (s, d) in enumerate(avals):
            node = _new(Lazy)
            node.shape = s
            node.dtype = d
            node.value = None
            node.gen = gen
            node.idx = n + k
            picks.append(node)
            append((PICK, k, codes))
        nodes += picks
        return picks


def wrap(array):
    """A computed Lazy holding ``array`` (Tensors keep their values wrapped: cheap shape lookups)."""
    node = Lazy(tuple(array.shape), np.dtype(array.dtype), -1, -1)
    node.value = array
    return node


def concrete(array):
    """``array`` as numpy, or None while it is a JAX tracer (inside funcgrad.compile/func transforms):
    value checks that need the data (index bounds, target ranges) are skipped there."""
    if isinstance(array, jax.core.Tracer):
        return None
    return np.asarray(array)


def value_of(x):
    """The concrete array of an array or Lazy, flushing if needed."""
    if type(x) is Lazy:
        v = x.value
        if v is None:
            if x.gen == THUNK:
                return _force(x)
            _observe()
            v = x.value
            if v is None:
                if x.gen == THUNK:
                    return _force(x)
                _lost(x)
        return v
    return x


def materialize(targets):
    """Compute everything pending (the targets included); returns the targets' arrays."""
    if any(type(t) is Lazy and t.value is None for t in targets):
        for t in targets:
            if type(t) is Lazy and t.value is None and t.gen == THUNK:
                _force(t)
        _observe()
        for t in targets:
            if type(t) is Lazy and t.value is None:
                if t.gen == THUNK:
                    _force(t)
                else:
                    _lost(t)
    return [t.value if type(t) is Lazy else t for t in targets]


def discard():
    """Drop everything pending (used when a traced call is abandoned: its entries hold tracers);
    entries carried over from the last flush (concrete, held by the user) are kept."""
    global _tape, _deferred
    with _lock:
        _deferred = False
        old = _tape
        _tape = _Tape(next(_gens))
        for i in range(old.carried):
            prim, params, codes = old.entries[i]
            _carry(old.nodes[i], prim, params, [old.inputs[-1 - c] for c in codes])


@contextlib.contextmanager
def isolated():
    """Record onto a private tape for the duration (a function traced while another tape is being
    recorded: funcgrad.compile(model)'s forward traced as one op); the outer tape is put back after,
    and whatever the block left pending is dropped."""
    global _tape
    with _lock:
        saved = _tape
        _tape = _Tape(next(_gens))
        try:
            yield
        finally:
            _tape = saved


def _refcounts(nodes):
    return [_getrefcount(n) for n in nodes]


# References a node held only by a list passed to _refcounts has there; more means the node is
# also held from outside the tape (a live Tensor, a saved value, a view cache...).
_BASE_REFS = _refcounts([object()])[0]


# A backward pass that ended with its gradients pending: the next op recorded with grad mode on
# (the next forward) flushes them first, so a program never spans two training steps; work under
# no_grad in between (clip_grad_norm_, a hand-written update) and an optimizer step (which takes
# the flag, ``take_deferred``, and flushes after recording its update) join the backward's program.
_deferred = False


def defer():
    """Leave the tape pending (the end of a backward): flushed by the next op, observation or step."""
    global _deferred
    with _lock:
        _deferred = bool(_tape.entries)


def take_deferred():
    """True (and clears the flag) when a backward's gradients are still pending on the tape."""
    global _deferred
    with _lock:
        d, _deferred = _deferred, False
        return d


def pending():
    """Whether work is pending (entries carried over from the last flush do not count)."""
    return len(_tape.entries) > _tape.carried


def flush():
    """Run the tape (op by op or fused, see the module docstring) and fill in the values still referenced."""
    global _tape, _deferred
    with _lock:
        _deferred = False
        tape = _tape
        if not tape.entries:
            return
        _tape = _Tape(next(_gens))
        try:
            _run(tape)
        except BaseException as e:
            # interrupted (a signal, KeyboardInterrupt) or failed: the values it was computing are
            # lost; using one later names this failure (rather than an internal error or a wrong value)
            if len(_failed) > 64:
                _failed.clear()
            _failed[tape.gen] = e
            raise


def _lost(x):
    e = _failed.get(x.gen)
    if e is not None:
        raise RuntimeError(f"funcgrad: this value was lost: the flush computing it failed ({type(e).__name__}: "
                           f"{e}); compute it again") from e
    raise RuntimeError("funcgrad internal error: a pending value outlived its tape")


def _run(tape):
    nodes = tape.nodes
    counts = _refcounts(nodes)
    base = _BASE_REFS
    outs = tuple([i for i, c in enumerate(counts) if c > base])
    inputs = tape.inputs
    if not outs:
        return
    _stats["flushes"] += 1
    entries = tape.entries
    if _state.tracing or any(issubclass(t, _Tracer) for t in set(map(type, inputs))):
        # inside a trace (funcgrad.compile, a user's jax.jit): inline, nothing is compiled here
        if tape.carried:
            outs = _carried_now(tape, outs)
        results = _program(entries, outs, barriers=False)(*inputs)
    else:
        if tape.fold:
            outs = _fold(tape, outs)
            if not outs:
                return
        layout, args = _layout(inputs)
        hit = _hot_get(entries, layout, outs, nodes)
        if hit is None:
            key = (tuple(entries), layout, outs, True)  # (True: not a segment's key, see _run_split)
            hit = _program_cache.get(key)
            if hit is not None:
                _program_cache.move_to_end(key)
                _hot_put(key, hit, nodes)
        if hit is not None:
            _recent.append(False)
            _stats["fused_runs"] += 1
            fn, kept, deferred = hit.fn, hit.kept, hit.deferred
            if deferred and (hit.read or _state.observing):
                fn = _full_program(hit, entries, outs, layout)
                deferred = None
            results = fn(*args)
            if deferred:
                _defer(nodes, inputs, deferred)
                outs = kept
        else:
            outs, results = _run_new(key, nodes, entries, inputs, outs, args)
    for i, r in zip(outs, results):
        nodes[i].value = r


_Tracer = jax.core.Tracer
_second = operator.itemgetter(1)
# The structures last run by their cached fused programs, newest first, each as (primitives, parameters,
# parameters' hashes, argument codes: tuples with an item per entry; layout, returned entries, program, hash of
# the nodes' shapes or None): a tape is checked against these before its structure key is built and looked up in
# ``_program_cache`` (hashing and comparing the whole key, nested tuples, costs more than these flat list
# comparisons). As exact as the dict: primitives by identity, codes, layout and returned entries by equality
# (ints, shapes, dtypes and markers), parameters by identity or else equal with equal hashes, as a dict compares
# keys. Past the newest, a structure whose nodes' shapes differ from the tape's is skipped unchecked (equal
# structures have equal shapes): a loop over batches of many lengths switches between many structures that
# differ by their shapes, and each costs one int comparison.
_hot: list = []
HOT_STRUCTURES = 64
_node_shape = operator.attrgetter("shape")


def _shapes_hash(nodes):
    return hash(tuple(map(_node_shape, nodes)))


def _hot_get(entries, layout, outs, nodes=None):
    """The (program, ...) of a structure in ``_hot`` equal to this one (moved to the front), or None.
    ``nodes``: the tape's nodes (their shapes rule out the structures past the newest at once)."""
    n = len(entries)
    cols = None
    sh = None
    for k, h in enumerate(_hot):
        if k == 1 and nodes is not None:
            sh = _shapes_hash(nodes)
        if sh is not None and h[7] is not None and h[7] != sh:
            continue
        if h[4] != layout or h[5] != outs or len(h[0]) != n:
            continue
        if cols is None:
            cols = tuple(zip(*entries))  # primitives, parameters, codes
        if cols[0] != h[0] or cols[2] != h[3]:
            continue
        params = cols[1]
        old = h[1]
        if not all(map(operator.is_, params, old)):
            hashes = h[2]
            for j in itertools.compress(range(n), map(operator.is_not, params, old)):
                p = params[j]
                if hash(p) != hashes[j] or p != old[j]:
                    break
            else:
                break
            continue
        break
    else:
        return None
    if k:
        del _hot[k]
        _hot.insert(0, h)
    return h[6]


def _hot_put(key, hit, nodes=None):
    prims, params, codes = zip(*key[0])
    _hot.insert(0, (prims, params, tuple(map(hash, params)), codes, key[1], key[2], hit,
                    None if nodes is None else _shapes_hash(nodes)))
    del _hot[HOT_STRUCTURES:]


def _layout(inputs):
    """The fused program's view of the tape's inputs: (layout, call arguments). ``layout`` has one
    item per input: ``_INT`` for a lifted int (an int64 numpy scalar: they are passed packed, as one
    int64 array, the first argument, which the program indexes: a jitted call pays for each host
    scalar it is given), the marker of a placed zeros (``note_zeros``: built inside the program, not
    passed), else the input's (shape, dtype) (passed as is). Part of the structure key, so a cached
    program is only ever called with the layout it was built for."""
    layout = []
    args = []
    ints = []
    zeros = _zero_ids
    for a in inputs:
        if type(a) is np.ndarray:
            if a.dtype is _I64 and not a.shape:
                layout.append(_INT)
                ints.append(a)
                continue
        else:
            z = zeros.get(id(a))
            if z is not None:
                layout.append(z[1])
                continue
        layout.append((a.shape, a.dtype))
        args.append(a)
    if ints:
        args.insert(0, np.fromiter(ints, _I64, len(ints)))
    return tuple(layout), args


_I64 = np.dtype(np.int64)
_INT = "int64"  # a lifted int in a layout (any other input is a (shape, dtype) pair or a zeros marker)
# id(array) -> (weak reference, layout marker): the zeros ``undrop`` places for dropped values (vjp
# placeholders whose data no formula reads); an entry leaves when its array dies, before its id
# can be another object's.
_zero_ids: dict = {}


def note_zeros(array):
    """``array`` (a concrete array of zeros, never changed) is built inside fused programs as a
    constant rather than passed as an input."""
    k = id(array)
    _zero_ids[k] = (weakref.ref(array, lambda _, k=k: _zero_ids.pop(k, None)),
                    ("zeros", tuple(array.shape), np.dtype(array.dtype)))


def _run_new(key, nodes, entries, inputs, outs, args):
    """A structure without a fused program: run it op by op, fuse it, or split it into segments
    (see the module docstring). ``key`` is the tape's structure key, ``args`` its fused program's
    arguments (see ``_layout``)."""
    heat = _heat.get(key, 0) + 1
    churn = sum(_recent)
    if _cuts and _tier is None and heat < HOT and churn >= CHURN:
        results = _run_split(nodes, entries, inputs, outs, False)
        if results is not None:
            _recent.append(True)
            _remember_heat(key, heat)
            return outs, results
    n = len(entries)
    need = [False] * n
    for i in outs:
        need[i] = True
    keys = [None] * n
    live = 0
    novel = 0
    kernels = _kernels
    seen = _seen
    for i in range(n - 1, -1, -1):
        if not need[i]:
            continue
        prim, params, codes = entries[i]
        avals = []
        for c in codes:
            if c >= 0:
                need[c] = True
                nd = nodes[c]
                avals.append((nd.shape, nd.dtype))
            else:
                a = inputs[-1 - c]
                avals.append((a.shape, a.dtype))
        k = keys[i] = (prim, params, tuple(avals))
        live += 1
        if k not in kernels and k not in seen:
            novel += 1
    if live > 1:
        _recent.append(True)
    if _tier is not None:
        fuse = _tier == "fused" and live > 1
    else:
        fuse = live > 1 and (heat >= HOT or churn < CHURN or 4 * novel > live)
    if fuse:
        _heat.pop(key, None)
        _count_family(entries, outs)
        _prev_put(entries, nodes, inputs, outs)
        _mark_seen(keys)
        # (a structure first met by a flush that reads values defers nothing)
        kept, deferred = (outs, ()) if _state.observing else _deferrable(entries, outs, nodes, inputs)
        fn = _compile(key, entries, kept, "programs", key[1])
        hit = _program_cache[key] = _Fused(fn, kept, ())
        _stats["fused_runs"] += 1
        results = fn(*args)
        if deferred:
            hit.deferred = deferred = tuple([(i, (sub, out, _Owner(hit)), ext) for i, (sub, out), ext in deferred])
            _defer(nodes, inputs, deferred)
        return kept, results
    if live > 1:
        _remember_heat(key, heat)
        if _tier is None:
            results = _run_split(nodes, entries, inputs, outs, True)
            _prev_put(entries, nodes, inputs, outs)
            if results is not None:
                return outs, results
    _stats["op_runs"] += 1
    return outs, _run_ops(entries, keys, inputs, outs)


# Held values of a fused program that are functions of its inputs alone (no entry of theirs reads a value
# computed from anything else: a batch stacked from a dataset's rows, a mask built from lengths) and that
# other entries of the program read are not returned by it: returned, such a value is computed twice by
# XLA (into the output and once more fused into its reader, together with everything it reads: a stacked
# batch's windows), and each output costs the call. The Lazy becomes a thunk (``THUNK``) of those entries
# on the same input arrays (immutable), computed by their kernel if it is ever read, or folded into the
# tape that reads it. Not in a flush that observes values (``value_of``, ``materialize``): what is read then
# is returned, by the structure's program returning all (``_observed_program``). Entries of a deferred value
# (``SUBTAPE``) or picks of a tuple (a joint vjp, an optimizer update) make a value not deferred: a deferred
# value read by the next step's program is not deferred again inside a new one.
SUB_MAX = 12  # entries at most in a deferred value's sub-tape (computing it again when read stays cheap)


def _deferrable(entries, outs, nodes, inputs):
    """(returned entries, deferred ones as (entry, sub-tape params, input codes)) for a fused program."""
    n = len(entries)
    pure = [False] * n
    read = [False] * n
    for i, (prim, _, codes) in enumerate(entries):
        p = prim is not SUBTAPE and prim is not PICK
        for c in codes:
            if c >= 0:
                read[c] = True
                if not pure[c]:
                    p = False
        pure[i] = p
    kept = []
    deferred = []
    for i in outs:
        if not (pure[i] and read[i]) or entries[i][0] is _VOID:
            kept.append(i)
            continue
        idx = []
        stack = [i]
        seen = {i}
        while stack and len(idx) <= SUB_MAX:
            j = stack.pop()
            idx.append(j)
            for c in entries[j][2]:
                if c >= 0 and c not in seen:
                    seen.add(c)
                    stack.append(c)
        if stack or len(idx) > SUB_MAX:
            kept.append(i)
            continue
        idx.sort()
        _, sub, ext = _part(entries, idx, inputs, nodes, ())  # reads only tape inputs from outside
        deferred.append((i, [tuple(sub), len(sub) - 1], tuple(ext)))
    if not deferred or not kept:
        return outs, ()
    return tuple(kept), deferred


class _Fused:
    """A whole tape's cached program: ``fn`` returns the entries ``kept``; ``deferred`` (entry, sub-tape
    params, input codes) become thunks; ``read`` once one of those was read (the structure's values are
    used: from then on ``full``, the program returning them all, runs)."""

    __slots__ = ("fn", "kept", "deferred", "read", "full", "__weakref__")

    def __init__(self, fn, kept, deferred):
        self.fn = fn
        self.kept = kept
        self.deferred = deferred
        self.read = False
        self.full = None


def _full_program(hit, entries, outs, layout):
    """``hit``'s structure's program returning every held value (a flush that reads values, or a
    structure whose deferred values were read)."""
    if hit.full is None:
        hit.full = jax.jit(_program(entries, outs, layout=layout))
        _stats["programs"] += 1
    return hit.full


def _defer(nodes, inputs, deferred):
    for i, params, ext in deferred:
        node = nodes[i]
        node.gen = THUNK
        node.idx = (SUBTAPE, params, tuple([inputs[-1 - c] for c in ext]))


class _Owner:
    """A deferred value's link to its structure's ``_Fused`` (weak: kernels keyed by it outlive it); equal
    and hashed as one key of the kernel cache whatever the structure (its entries are the key)."""

    __slots__ = ("ref",)

    def __init__(self, fused):
        self.ref = weakref.ref(fused)

    def __eq__(self, other):
        return type(other) is _Owner

    def __hash__(self):
        return 0

    def mark_read(self):
        f = self.ref()
        if f is not None:
            f.read = True


def _subtape_impl(params, *xs):
    entries, out, _ = params
    return _program(entries, (out,))(*xs)[0]


SUBTAPE = Prim("subtape", _subtape_impl)  # entries of a tape as one primitive (a deferred value, see ``_defer``)


def _run_ops(entries, keys, inputs, outs, vals=None):
    """Entries ``i`` with ``keys[i]`` set, each through its kernel; a value is dropped after its
    last use unless it is returned. ``vals`` holds the values of entries computed before (codes
    into it are read there)."""
    n = len(entries)
    last = [-1] * n
    for i in range(n):
        if keys[i] is not None:
            for c in entries[i][2]:
                if c >= 0:
                    last[c] = i
    for i in outs:
        last[i] = n
    if vals is None:
        vals = [None] * n
    kernels = _kernels
    for i in range(n):
        k = keys[i]
        if k is None:
            continue
        prim, params, codes = entries[i]
        fn = kernels.get(k)
        if fn is None:
            fn = _kernel(k)
        vals[i] = fn(*[vals[c] if c >= 0 else inputs[-1 - c] for c in codes])
        for c in codes:
            if c >= 0 and last[c] == i and keys[c] is not None:
                vals[c] = None
    return [vals[i] for i in outs]


class RecompileWarning(UserWarning):
    """A step's structure keeps meeting new shapes: each one compiles a program of its own."""


# Programs compiled per shape-free structure (primitives, argument codes, returned entries): a loop over
# batches of many lengths compiles one per length, and past FAMILY_WARN of them it is told so, once.
_families: dict = {}
FAMILY_WARN = 64


def _count_family(entries, outs):
    fam = (tuple(map(_first, entries)), tuple(map(_codes, entries)), outs)
    n = _families.get(fam, 0) + 1
    if len(_families) > 10_000:
        _families.clear()
    _families[fam] = n
    if n == FAMILY_WARN:
        import warnings
        warnings.warn(f"funcgrad: one step structure ({len(entries)} ops) has met {n} different shapes (or "
                      "parameters: a python number an op bakes in), and each new one compiles a program of its own "
                      "(about as long as many steps). Pad batches to a few fixed lengths (buckets) so that shapes "
                      "recur; every shape met before runs its cached program.", RecompileWarning, stacklevel=4)


def _remember_heat(key, heat):
    if len(_heat) > 10_000:
        _heat.clear()
    _heat[key] = heat


def _mark_seen(keys):
    if len(_seen) > 200_000:
        _seen.clear()
    for k in keys:
        if k is not None:
            _seen[k] = True


def _compile(key, entries, outs, counter, layout=None):
    fn = _program_cache[key] = jax.jit(_program(entries, outs, layout=layout))
    _stats[counter] += 1
    if len(_program_cache) > MAX_PROGRAMS:
        _program_cache.popitem(last=False)
    return fn


# Segments. A churning tape (a new structure each flush) whose tail recurs -- a training step fed
# with batches built from variable-length slices: the slicing and padding change every step, the
# model's forward, backward and update after the padded batch do not -- runs that tail (the
# *suffix*: every entry from a cut on, the values it reads from before the cut as its inputs) as
# one cached program keyed by its own structure, like a whole tape, and the entries before the cut
# (the *prefix*) by connected components: each one (a slice and its pad) a cached program of its
# own once it recurs or when its kernels are new, a single entry its kernel. A suffix is found by
# matching a tape's tail against the previous new structure's (``_prev``); its length is
# remembered (``_cuts``), and later tapes try the remembered lengths first.
_cuts: "collections.deque" = collections.deque(maxlen=4)
_prev = None  # (entries, entry avals, input avals) of the last structure run without its own program
# A suffix shorter than this (entries) is not worth a program of its own.
MIN_SEGMENT = 4
# A new prefix component with at most this many entries is compiled whole when its kernels are new.
SMALL_PART = 8


def _prev_put(entries, nodes, inputs, outs):
    global _prev
    _prev = (entries, [(nd.shape, nd.dtype) for nd in nodes], [(a.shape, a.dtype) for a in inputs], outs)


def _part(entries, idx, inputs, nodes, outs):
    """The entries at ``idx`` (ascending) as a tape of their own: (key, sub-entries, ext) where
    ``ext`` lists the codes (an entry outside ``idx`` or a tape input) its inputs are read from and
    ``outs`` the positions (in ``idx``) it returns."""
    pos = {i: j for j, i in enumerate(idx)}
    slot = {}
    ext = []
    sub = []
    avals = []
    for i in idx:
        prim, params, codes = entries[i]
        new = []
        for c in codes:
            j = pos.get(c) if c >= 0 else None
            new.append(_external(c, slot, ext, avals, nodes, inputs) if j is None else j)
        sub.append((prim, params, tuple(new)))
    return (tuple(sub), tuple(avals), outs), sub, ext


def _external(c, slot, ext, avals, nodes, inputs):
    """The segment's input slot (as a negative code) for value ``c`` from outside it (an earlier
    node or a tape input), added with its shape and dtype on first use."""
    j = slot.get(c)
    if j is None:
        j = slot[c] = len(ext)
        ext.append(c)
        if c >= 0:
            nd = nodes[c]
            avals.append((nd.shape, nd.dtype))
        else:
            a = inputs[-1 - c]
            avals.append((a.shape, a.dtype))
    return -1 - j


def _suffix(entries, cut, inputs, nodes, outs):
    """``_part`` of ``entries[cut:]``: codes rebased by ``cut`` (no position dict needed)."""
    slot = {}
    ext = []
    sub = []
    avals = []
    for prim, params, codes in itertools.islice(entries, cut, None):
        new = []
        for c in codes:
            new.append(c - cut if c >= cut else _external(c, slot, ext, avals, nodes, inputs))
        sub.append((prim, params, tuple(new)))
    souts = tuple([i - cut for i in outs if i >= cut])
    return (tuple(sub), tuple(avals), souts), sub, ext


def _common_tail(entries, nodes, inputs, prev):
    """How many trailing entries of this tape repeat the previous structure's (same primitives,
    parameters and input shapes; the values they read from before the cut only by shape)."""
    pentries, pavals, pin, _ = prev
    n, m = len(entries), len(pentries)
    bound = min(n, m) - 1  # a suffix leaves at least one entry before it
    j = 0
    while j < bound:
        prim, params, codes = entries[n - 1 - j]
        pprim, pparams, pcodes = pentries[m - 1 - j]
        if prim is not pprim or len(codes) != len(pcodes) or params != pparams:
            break
        ok = True
        for c, d in zip(codes, pcodes):
            if c >= 0:
                nd = nodes[c]
                a = (nd.shape, nd.dtype)
            else:
                x = inputs[-1 - c]
                a = (x.shape, x.dtype)
            if a != (pavals[d] if d >= 0 else pin[-1 - d]):
                ok = False
                break
            if c >= 0 and d >= 0 and n - c == m - d:
                continue  # the same entry counted from the end: inside the suffix or before it in both
            # read from before the cut in one of them at least: the cut must come after both
            lim = min(n - c if c >= 0 else n, m - d if d >= 0 else m) - 1
            if lim < bound:
                bound = lim
        if not ok:
            break
        j += 1
    return min(j, bound)


def _run_split(nodes, entries, inputs, outs, discover):
    """Run the tape as a cached suffix program plus its prefix (see ``_cuts``); None when no
    remembered cut fits (and, with ``discover``, when its tail does not repeat the previous
    structure's)."""
    n = len(entries)
    found = None
    for s in _cuts:
        cut = n - s
        if cut <= 0:
            continue
        skey, sub, ext = _suffix(entries, cut, inputs, nodes, outs)
        fn = _program_cache.get(skey)
        if fn is not None:
            _program_cache.move_to_end(skey)
            found = s
            break
    if found is None:
        if not discover or _prev is None:
            return None
        s = _common_tail(entries, nodes, inputs, _prev)
        if s < MIN_SEGMENT:
            return None
        cut = n - s
        skey, sub, ext = _suffix(entries, cut, inputs, nodes, outs)
        pentries, pavals, pin, pouts = _prev
        pn = len(pentries)
        pnodes = [Lazy(sh, dt, 0, 0) for sh, dt in pavals]
        pinputs = [jax.ShapeDtypeStruct(sh, dt) for sh, dt in pin]
        if _suffix(pentries, pn - s, pinputs, pnodes, pouts)[0] != skey:
            return None  # read its inputs in another pattern, or returned other values
        fn = _compile(skey, sub, skey[2], "segments")
        try:
            _cuts.remove(s)
        except ValueError:
            pass
    else:
        _cuts.remove(found)
    _cuts.appendleft(s)
    _stats["split_runs"] += 1
    # the prefix: what the suffix reads and what is returned, by connected components
    need = [False] * cut
    for c in ext:
        if c >= 0:
            need[c] = True
    for i in outs:
        if i < cut:
            need[i] = True
    parent = list(range(cut))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(cut - 1, -1, -1):
        if not need[i]:
            continue
        for c in entries[i][2]:
            if c >= 0:
                need[c] = True
                a, b = root(i), root(c)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups = {}
    for i in range(cut):
        if need[i]:
            groups.setdefault(root(i), []).append(i)
    returned = set(outs)
    returned.update(c for c in ext if c >= 0)
    vals = [None] * cut
    for idx in groups.values():
        _run_part(entries, idx, inputs, nodes, vals, returned)
    results = fn(*[vals[c] if c >= 0 else inputs[-1 - c] for c in ext])
    out = []
    k = 0
    for i in outs:
        if i < cut:
            out.append(vals[i])
        else:
            out.append(results[k])
            k += 1
    return out


def _run_part(entries, idx, inputs, nodes, vals, returned):
    """A connected component of a prefix: its cached program, a new one when it recurs (``HOT``)
    or when it is small and its kernels are new (one compile for a slice and its pad rather than
    two), else its entries op by op (a large new component: a model whose shapes vary, whose
    kernels recur while it does not). Fills ``vals`` at the returned entries."""
    if len(idx) == 1:
        i = idx[0]
        prim, params, codes = entries[i]
        vals[i] = _run_kernel(prim, params, [vals[c] if c >= 0 else inputs[-1 - c] for c in codes])
        return
    pouts = tuple([j for j, i in enumerate(idx) if i in returned])
    pkey, sub, ext = _part(entries, idx, inputs, nodes, pouts)
    fn = _program_cache.get(pkey)
    if fn is None:
        keys = []
        novel = 0
        for prim, params, codes in sub:
            k = (prim, params, tuple([pkey[1][-1 - c] if c < 0 else (nodes[idx[c]].shape, nodes[idx[c]].dtype)
                                      for c in codes]))
            keys.append(k)
            if k not in _kernels:  # a kernel to compile: compile the component instead
                novel += 1
        heat = _heat.get(pkey, 0) + 1
        if heat >= HOT or (len(sub) <= SMALL_PART and 4 * novel > len(sub)):
            _heat.pop(pkey, None)
            _mark_seen(keys)
            fn = _compile(pkey, sub, pouts, "segments")
        else:
            _remember_heat(pkey, heat)
            res = _run_ops(sub, keys, [vals[c] if c >= 0 else inputs[-1 - c] for c in ext], pouts)
            for j, r in zip(pouts, res):
                vals[idx[j]] = r
            return
    else:
        _program_cache.move_to_end(pkey)
    res = fn(*[vals[c] if c >= 0 else inputs[-1 - c] for c in ext])
    for j, r in zip(pouts, res):
        vals[idx[j]] = r


# Folds. A loop that slices a sequence at a varying length and pads the slice to a fixed size
# (``F.pad(seq[i:i + L], ...)``: the batches of a variable-length loop) would give its tape a new
# structure for every length. At the flush, such a pad is rewritten to read the sequence itself,
# with the slice's start and length as inputs (a fixed-shape masked window: ``_folds`` maps the
# pad's primitive to its rule, registered where the op is defined), and a slice that no entry reads
# any more leaves the structure (``_VOID``): it is computed only if its value is observed. Held by
# the user, it is carried over onto the next tape as a pending entry (computed there if read,
# dropped unread), once. So every step of such a loop has one structure: one cached program.
_VOID = Prim("void", lambda params, *xs: None)
_VOID_ENTRY = (_VOID, None, ())
_first = operator.itemgetter(0)
_codes = operator.itemgetter(2)
# pad prim -> rule(params, producer prim, producer params) -> (prim, params, ints) or None; the new
# entry reads the producer's arguments then the ints (fresh inputs)
_folds: dict = {}
_voidable: set = set()  # slice prims: dropped from the structure when no entry reads them


def note_slices():
    """The tape holds a slice: its flush looks for pads of slices and slices nobody reads."""
    _tape.fold = True


def _fold(tape, outs):
    """Rewrite pads of slices and drop (or carry over) slices no entry reads, in place; returns
    the entries to compute and return (``outs`` less the slices carried over)."""
    entries = tape.entries
    inputs = tape.inputs
    folds = _folds
    kind = dict(folds)
    kind.update(dict.fromkeys(_voidable, True))
    # each entry's rule (a pad), True (a slice) or None, and the entries with one: C-level passes,
    # the python loop below only visits slices and pads
    kinds = list(map(kind.get, map(_first, entries)))
    special = list(itertools.compress(range(len(entries)), kinds))
    slices = [i for i in special if kinds[i] is True]
    if not slices:
        return outs
    refs = dict.fromkeys(slices, 0)  # slice entry -> entries reading it
    for c in itertools.chain.from_iterable(map(_codes, entries)):
        if c in refs:
            refs[c] += 1
    sliceset = refs.keys()
    folded = set()
    for i in special:
        rule = kinds[i]
        if rule is True:
            continue
        prim, params, codes = entries[i]
        c = codes[0]
        if c not in sliceset:
            continue
        pprim, pparams, pcodes = entries[c]
        r = _fold_rule(rule, prim, params, pprim, pparams)
        if r is None:
            continue
        nprim, nparams, ints = r
        new = list(pcodes)
        for d in pcodes:
            if d in sliceset:
                refs[d] += 1
        for a in ints:
            new.append(-1 - len(inputs))
            inputs.append(a)
        refs[c] -= 1
        folded.add(c)
        entries[i] = (nprim, nparams, tuple(new))
    dead = [c for c in slices if not refs[c]]
    if not dead:
        return outs
    held = set(outs)
    new_tape = _tape
    carry = []
    nodes = tape.nodes
    ncarried = tape.carried
    for c in dead:
        if c in held:
            prim, params, codes = entries[c]
            if c < ncarried:
                # carried over and still held: its own kernel, out of the structure
                nodes[c].value = _run_kernel(prim, params, [inputs[-1 - d] for d in codes])
            else:
                # carried over: a slice a pad read, of arrays (no pending value), onto an empty next tape
                if c not in folded or len(new_tape.entries) != new_tape.carried or max(codes) >= 0:
                    continue
                _carry(nodes[c], prim, params, [inputs[-1 - d] for d in codes], new_tape)
            carry.append(c)
        entries[c] = _VOID_ENTRY
    if carry:
        carry = set(carry)
        outs = tuple([i for i in outs if i not in carry])
    return outs


def _fold_rule(rule, prim, params, pprim, pparams):
    """``rule(params, pprim, pparams)`` (a pad's of a slice), its ints as shared int64 scalars; cached:
    rules are pure functions of these, one call per pad and slice shape."""
    ck = (prim, params, pprim, pparams)
    r = _fold_cache.get(ck, _fold_cache)
    if r is _fold_cache:
        r = rule(params, pprim, pparams)
        if len(_fold_cache) >= 4096:
            _fold_cache.clear()
        if r is not None:
            r = (r[0], r[1], tuple([_int_const(v) for v in r[2]]))
        _fold_cache[ck] = r
    return r


# (pad prim, pad params, slice prim, slice params) -> the fold rule's result, its ints as int64
# scalars (shared: fold appends them to the inputs without deduplicating, each a slot of its own)
_fold_cache: dict = {}


def _int_const(v):
    """The read-only int64 scalar of ``v`` (one per value: see ``_fold_cache``)."""
    a = _int_consts.get(v)
    if a is None:
        if len(_int_consts) >= 4096:
            _int_consts.clear()
        a = _int_consts[v] = _int_arg(v)
    return a


_int_consts: dict = {}


def _carry(node, prim, params, args, tape=None):
    """Put ``node`` (``prim(params, *args)``, args concrete) on ``tape`` (the current tape) as a pending
    entry carried over (see ``_fold``)."""
    if tape is None:
        tape = _tape
    _put(node, prim, params, args, tape)
    tape.carried += 1


def _input_codes(tape, args):
    """The codes of concrete arrays ``args`` as ``tape``'s inputs (added once each, by identity)."""
    in_pos = tape.in_pos
    inputs = tape.inputs
    codes = []
    for a in args:
        j = in_pos.get(id(a))
        if j is None:
            j = in_pos[id(a)] = len(inputs)
            inputs.append(a)
        codes.append(-1 - j)
    return codes


def _put(node, prim, params, args, tape):
    """Append ``node`` (``prim(params, *args)``, args concrete) to ``tape`` as a pending entry."""
    codes = _input_codes(tape, args)
    node.gen = tape.gen
    nodes = tape.nodes
    node.idx = len(nodes)
    nodes.append(node)
    tape.entries.append((prim, params, tuple(codes)))
    tape.fold = True


def _carried_now(tape, outs):
    """In a traced flush: compute the carried-over entries still held, concretely (their values
    must not be tracers); returns the other ``outs``."""
    k = tape.carried
    if not outs or outs[0] >= k:
        return outs
    with jax.ensure_compile_time_eval():
        for i in outs:
            if i >= k:
                break
            prim, params, codes = tape.entries[i]
            tape.nodes[i].value = prim.impl(params, *[tape.inputs[-1 - c] for c in codes])
    return tuple([i for i in outs if i >= k])


def _run_kernel(prim, params, args):
    """``prim(params, *args)`` through its cached per-op kernel."""
    k = (prim, params, tuple([(a.shape, a.dtype) for a in args]))
    fn = _kernels.get(k)
    if fn is None:
        fn = _kernel(k)
    return fn(*args)


def _kernel(key):
    prim, params = key[0], key[1]
    impl = prim.impl
    if any(d is None for _, d in key[2]):
        # reads a tuple entry (one output of a joint vjp or an optimizer update): picking it out
        # is python indexing, not worth an XLA compile per position
        def fn(*xs):
            return impl(params, *xs)
    else:
        fn = jax.jit(lambda *xs: impl(params, *xs))
        _stats["kernels"] += 1
    if len(_kernels) >= MAX_KERNELS:
        for k in list(itertools.islice(_kernels, max(1, MAX_KERNELS // 4))):
            del _kernels[k]
    _kernels[key] = fn
    return fn


# (producer, consumer) op pairs that XLA's algebraic simplifier rewrites across, changing results at
# the edges (overflow, NaN, sign): log(exp(x)) -> x, exp(a)*exp(b) -> exp(a+b), exp(a)/exp(b) ->
# exp(a-b), pow(exp(a), b) -> exp(a*b), sqrt(x*x) -> |x|, log(sqrt(x)) -> log(x)/2 ... Op by op
# they are separate programs; fused, an optimisation barrier between them keeps them so.
_FOLDS = frozenset({
    ("exp", "log"), ("exp", "mul"), ("exp", "div"), ("exp", "_pow_tensor_tensor"), ("exp", "_pow_tensor_scalar"),
    ("mul", "sqrt"), ("mul", "rsqrt"), ("square", "sqrt"), ("square", "rsqrt"),
    ("_pow_tensor_scalar", "sqrt"), ("_pow_tensor_scalar", "rsqrt"), ("_pow_tensor_scalar", "log"),
    ("_pow_tensor_tensor", "log"), ("_pow_tensor_scalar", "div"), ("_pow_tensor_tensor", "div"),
    ("sqrt", "log"), ("rsqrt", "log"), ("sqrt", "div"), ("rsqrt", "div"), ("sqrt", "mul"), ("rsqrt", "mul"),
    ("reciprocal", "rsqrt"), ("reciprocal", "sqrt"), ("div", "rsqrt"), ("div", "sqrt"),
})


def _program(entries, outs, barriers=True, layout=None):
    """The tape as one function of its inputs (jitted by the caller); with ``layout`` (see
    ``_layout``), of the arguments that layout passes."""
    if layout is not None:
        return _unpacking(_program(entries, outs, barriers), layout)
    entries = list(entries)
    outs = list(outs)
    fences = set()
    if barriers:
        names = [e[0].name for e in entries]
        for i, (prim, _, codes) in enumerate(entries):
            for c in codes:
                if c >= 0 and (names[c], prim.name) in _FOLDS:
                    fences.add((i, c))
    barrier = jax.lax.optimization_barrier

    def program(*inputs):
        vals = []
        for i, (prim, params, codes) in enumerate(entries):
            if fences:
                args = [(barrier(vals[c]) if (i, c) in fences else vals[c]) if c >= 0 else inputs[-1 - c]
                        for c in codes]
            else:
                args = [vals[c] if c >= 0 else inputs[-1 - c] for c in codes]
            vals.append(prim.impl(params, *args))
        return [vals[i] for i in outs]

    return program


def _unpacking(program, layout):
    """``program`` (a function of the tape's inputs) as a function of ``layout``'s arguments: the
    packed ints first (when any), then the inputs passed as they are; zeros built in place."""
    plan = []  # per input: ("a", argument index) / ("i", index in the packed ints) / ("z", shape, dtype)
    k = 1 if _INT in layout else 0
    m = 0
    for item in layout:
        if item == _INT:
            plan.append(("i", m))
            m += 1
        elif item[0] == "zeros":
            plan.append(("z", item[1], item[2]))
        else:
            plan.append(("a", k))
            k += 1
    barrier = jax.lax.optimization_barrier

    def unpacked(*args):
        inputs = []
        for p in plan:
            if p[0] == "a":
                inputs.append(args[p[1]])
            elif p[0] == "i":
                inputs.append(args[0][p[1]])
            else:
                # behind a barrier: XLA must not simplify with its value (x + 0 -> x turns -0.0 into
                # 0.0), as it could not with an input's
                inputs.append(barrier(jax.numpy.zeros(p[1], p[2])))
        return program(*inputs)

    return unpacked
