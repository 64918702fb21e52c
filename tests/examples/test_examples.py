"""Every example runs (tiny sizes) and does what it says."""
import importlib.util
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "examples", name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_mlp_three_ways_curves_agree():
    runs = load("mlp_three_ways").main(["--steps", "60"])
    ref = runs["torch eager"][0]
    for name in ("funcgrad eager", "funcgrad compiled", "jax.jit + optax"):
        for t, v in runs[name][0].items():
            assert abs(v - ref[t]) <= 1e-4 * abs(ref[t]) + 1e-6, (name, t, v, ref[t])


def test_custom_function():
    out = load("custom_function").main([])
    assert out.grad_fn.name() == "LinearFunctionBackward"


def test_higher_order():
    gp, losses = load("higher_order").main(["--steps", "40"])
    assert gp.item() < 1.0 and sum(losses[-4:]) < sum(losses[:4])


def test_train_digits_cnn_reaches_95_percent():
    res = load("train_digits").main(["--epochs", "8", "--model", "cnn", "--mode", "both"])
    assert res[("cnn", False)] >= 0.95 and res[("cnn", True)] >= 0.95


def test_accelerator_runs_on_the_best_device():
    first, last, dt = load("accelerator").main(["--steps", "5", "--hidden", "64", "--batch", "32"])
    assert last < first


def test_data_parallel_matches_single_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "data_parallel.py"), "--steps", "10"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "8 devices" in out.stdout and "spec=P()" in out.stdout
    worst = float(out.stdout.strip().splitlines()[-1].split()[-1])
    assert worst < 1e-5
