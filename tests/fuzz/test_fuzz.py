"""Random programs of registry ops: funcgrad against torch (differential fuzzing), against jax.grad and
against finite differences (property tests).

CI runs 60 examples per property (150 under ``FUNCGRAD_LONG=1``); ``FUNCGRAD_FUZZ_EXAMPLES=10000 pytest tests/fuzz``
is the long mode.
"""
import os

import jax
import jax.numpy as jnp
import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import funcgrad
from programs import apply, programs, run

N = int(os.environ.get("FUNCGRAD_FUZZ_EXAMPLES", "150" if os.environ.get("FUNCGRAD_LONG") else "60"))
SETTINGS = settings(max_examples=N, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(programs())
def test_random_programs_match_torch(program):
    r_out, r_grads, r_ret, r_names = run(torch, program)
    g_out, g_grads, g_ret, g_names = run(funcgrad, program)
    assert g_names == r_names
    for a, b in zip(g_out, r_out):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    for a, b in zip(g_grads + g_ret, r_grads + r_ret):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


UNARY_JAX = {
    "exp": lambda x: jnp.exp(x * 0.3), "tanh": jnp.tanh, "sin": jnp.sin, "sigmoid": jax.nn.sigmoid,
    "softplus": jax.nn.softplus, "square": lambda x: x * x,
    # torch's (and funcgrad's) subgradient of |x| at 0 is 0; jnp.abs's is 1
    "log1p_abs": lambda x: jnp.log1p(x * jnp.sign(x)),
}


@SETTINGS
@given(st.lists(st.sampled_from(sorted(UNARY_JAX)), min_size=1, max_size=5),
       st.lists(st.floats(-1.5, 1.5), min_size=1, max_size=6))
def test_composition_grad_matches_jax_grad(names, values):
    x = np.array(values)

    def f_jax(v):
        for n in names:
            v = UNARY_JAX[n](v) + v * 0.5
        return jnp.sum(v * jnp.arange(1, v.shape[0] + 1))

    t = funcgrad.tensor(x, requires_grad=True)
    v = t
    for n in names:
        v = apply(funcgrad, n, v, v, 0) + v * 0.5
    (v * funcgrad.arange(1, len(values) + 1, dtype=funcgrad.float64)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), np.asarray(jax.grad(f_jax)(jnp.asarray(x))), rtol=1e-10, atol=1e-12)


@settings(max_examples=max(N // 3, 20), deadline=None, suppress_health_check=list(HealthCheck))
@given(programs(max_steps=4))
def test_random_programs_gradcheck(program):
    """Analytical gradients against central finite differences (float64)."""
    (n, m), steps, seed = program
    smooth = [s for s in steps if s[0] not in ("relu", "abs", "clamp", "maximum", "where", "max_dim", "sqrt_abs",
                                               "log1p_abs", "norm", "cat", "getitem", "detach_mul")]
    if not smooth:
        return
    rng = np.random.default_rng(seed)
    a = funcgrad.tensor(rng.uniform(-1, 1, (n, m)), requires_grad=True)
    b = funcgrad.tensor(rng.uniform(-1, 1, (n, m)), requires_grad=True)

    def f(x, y):
        pool = [x, y]
        for name, i, j, k, _ in smooth:
            pool.append(apply(funcgrad, name, pool[i % len(pool)], pool[j % len(pool)], k))
        return sum((t * (idx + 1)).sum() for idx, t in enumerate(pool[2:]))

    assert funcgrad.autograd.gradcheck(f, (a, b), eps=1e-6, atol=1e-5, rtol=1e-4)
