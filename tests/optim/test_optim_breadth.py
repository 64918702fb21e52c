"""Every optimizer in torch.optim (the option combinations that change the arithmetic) for 10 steps and
every scheduler for 30 steps, under torch and funcgrad from the same start; torch-written optimizer
state loaded and continued; hooks, repr, swa_utils, LBFGS strong Wolfe. (Longer trajectories of the
older optimizers: test_optimizers_vs_torch.py.)"""
import os
import io
import sys

import numpy as np
import pytest
import torch

import funcgrad

OPTS = {
    "SGD": dict(lr=0.1),
    "SGD/momentum,dampening,wd": dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.05),
    "SGD/nesterov,maximize": dict(lr=0.05, momentum=0.8, nesterov=True, maximize=True),
    "SGD/fused": dict(lr=0.1, momentum=0.5, fused=True),
    "Adam": dict(lr=0.02),
    "Adam/amsgrad,wd,maximize": dict(lr=0.02, amsgrad=True, weight_decay=0.1, maximize=True),
    "Adam/decoupled_weight_decay": dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True),
    "Adam/foreach": dict(lr=0.02, foreach=True),
    "AdamW": dict(lr=0.02),
    "AdamW/amsgrad,maximize": dict(lr=0.02, amsgrad=True, maximize=True, betas=(0.8, 0.95)),
    "RMSprop": dict(lr=0.01),
    "RMSprop/centered,momentum,wd,maximize": dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1,
                                                  maximize=True),
    "Adagrad": dict(lr=0.1),
    "Adagrad/lr_decay,wd,init,maximize": dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2,
                                              maximize=True),
    "Adadelta": dict(lr=1.0),
    "Adadelta/wd,maximize": dict(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True),
    "Adamax": dict(lr=0.02),
    "Adamax/wd,maximize": dict(lr=0.02, weight_decay=0.1, maximize=True),
    "NAdam": dict(lr=0.02),
    "NAdam/wd,momentum_decay,maximize": dict(lr=0.02, weight_decay=0.1, momentum_decay=0.01, maximize=True),
    "NAdam/decoupled_weight_decay": dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True),
    "RAdam": dict(lr=0.02),
    "RAdam/wd,maximize": dict(lr=0.02, weight_decay=0.1, maximize=True),
    "RAdam/decoupled_weight_decay": dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True),
    "ASGD": dict(lr=0.05),
    "ASGD/t0,lambd,wd,maximize": dict(lr=0.05, t0=3, lambd=1e-2, alpha=0.6, weight_decay=0.05, maximize=True),
    "Rprop": dict(lr=0.01),
    "Rprop/etas,step_sizes,maximize": dict(lr=0.01, etas=(0.4, 1.5), step_sizes=(1e-4, 0.05), maximize=True),
    "Adafactor": dict(lr=0.05),
    "Adafactor/wd,d,eps,maximize": dict(lr=0.05, weight_decay=0.1, d=2.0, eps=(1e-20, 1e-2), beta2_decay=-0.5,
                                        maximize=True),
    "Muon": dict(lr=0.02),
    "Muon/no nesterov,match_rms_adamw": dict(lr=0.02, nesterov=False, adjust_lr_fn="match_rms_adamw",
                                             weight_decay=0.01),
}
LOOSE = {"Muon": 3e-3}  # a bfloat16 Newton-Schulz: one rounding flip moves an entry by 2^-8 of a step


def _problem(L):
    rng = np.random.default_rng(0)
    w = L.tensor(rng.standard_normal((5, 3)).astype(np.float32), requires_grad=True)
    b = L.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
    x = L.tensor(rng.standard_normal((8, 5)).astype(np.float32))
    y = L.tensor(rng.standard_normal((8, 3)).astype(np.float32))
    return w, b, x, y


def _make(L, name, params):
    cls = name.split("/")[0]
    if cls == "Muon":
        params = [p for p in params if p.dim() == 2]
    return getattr(L.optim, cls)(params, **OPTS[name])


def _train(opt, w, b, x, y, steps):
    for _ in range(steps):
        opt.zero_grad()
        ((x @ w + b).tanh() - y).pow(2).mean().backward()
        opt.step()


def _run(L, name, steps=10):
    w, b, x, y = _problem(L)
    opt = _make(L, name, [w, b])
    _train(opt, w, b, x, y, steps)
    return w.detach().numpy(), b.detach().numpy(), opt


def test_table_covers_every_torch_optimizer():
    classes = {n for n in dir(torch.optim) if isinstance(getattr(torch.optim, n), type)
               and issubclass(getattr(torch.optim, n), torch.optim.Optimizer) and n != "Optimizer"}
    assert classes - {n.split("/")[0] for n in OPTS} == {"LBFGS", "SparseAdam"}  # tested below
    for n in classes:
        assert issubclass(getattr(funcgrad.optim, n), funcgrad.optim.Optimizer)


@pytest.mark.parametrize("name", sorted(OPTS))
def test_optimizer_10_steps_matches_torch(name):
    rw, rb, ropt = _run(torch, name)
    gw, gb, gopt = _run(funcgrad, name)
    tol = LOOSE.get(name.split("/")[0], 1e-5)
    np.testing.assert_allclose(gw, rw, rtol=tol, atol=tol)
    np.testing.assert_allclose(gb, rb, rtol=tol, atol=tol)
    assert repr(gopt) == repr(ropt)
    rs = ropt.state[ropt.param_groups[0]["params"][0]]
    gs = gopt.state[gopt.param_groups[0]["params"][0]]
    assert sorted(gs) == sorted(rs)
    for k in rs:
        np.testing.assert_allclose(np.asarray(gs[k].tolist()), np.asarray(rs[k].tolist()), rtol=1e-4,
                                   atol=max(tol, 1e-5), err_msg=k)


@pytest.mark.parametrize("name", [n for n in sorted(OPTS) if "fused" not in n])
def test_torch_written_state_dict_continues_identically(name):
    """torch trains 5 steps and ``torch.save``s its optimizer state; funcgrad loads that file into its
    optimizer (same weights) and both train 5 more steps."""
    tw, tb, x, y = _problem(torch)
    topt = _make(torch, name, [tw, tb])
    _train(topt, tw, tb, x, y, 5)
    buf = io.BytesIO()
    torch.save(topt.state_dict(), buf)
    gw = funcgrad.tensor(tw.detach().numpy(), requires_grad=True)
    gb = funcgrad.tensor(tb.detach().numpy(), requires_grad=True)
    gopt = _make(funcgrad, name, [gw, gb])
    buf.seek(0)
    gopt.load_state_dict(funcgrad.load(buf))
    _train(topt, tw, tb, x, y, 5)
    _train(gopt, gw, gb, funcgrad.tensor(x.numpy()), funcgrad.tensor(y.numpy()), 5)
    tol = LOOSE.get(name.split("/")[0], 1e-5)
    np.testing.assert_allclose(gw.detach().numpy(), tw.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(gb.detach().numpy(), tb.detach().numpy(), rtol=tol, atol=tol)


def test_sparse_adam_refuses_dense_gradients_like_torch():
    for L in (torch, funcgrad):
        w = L.ones(3, requires_grad=True)
        opt = L.optim.SparseAdam([w], lr=0.1)
        assert repr(opt).startswith("SparseAdam (")
        w.sum().backward()
        with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients, please consider Adam"):
            opt.step()
        with pytest.raises(ValueError, match="Invalid learning rate: 0.0"):
            L.optim.SparseAdam([w], lr=0.0)


def test_new_optimizer_argument_errors_match_torch():
    msgs = {}
    for L in (torch, funcgrad):
        w = L.ones(3, requires_grad=True)
        with pytest.raises(ValueError, match="Muon only supports 2D parameters"):
            L.optim.Muon([w])
        with pytest.raises(ValueError, match="beta2_decay should be <= 0 but is: 0.5"):
            L.optim.Adafactor([w], beta2_decay=0.5)
        with pytest.raises(ValueError, match="Clipping threshold d should be >= 1 but is: 0.5"):
            L.optim.Adafactor([w], d=0.5)
        with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together."):
            L.optim.Adam([w], fused=True, foreach=True)
        for cls in ("Adam", "AdamW", "RMSprop", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop", "Adadelta"):
            o = getattr(L.optim, cls)([w], capturable=True)  # CPU tensors: torch refuses at step()
            w.grad = L.ones(3)
            with pytest.raises(AssertionError) as r:
                o.step()
            msgs.setdefault(L.__name__, {})[cls] = str(r.value)
    assert msgs["funcgrad"] == msgs["torch"]
    with pytest.raises(NotImplementedError, match="differentiable=True"):
        funcgrad.optim.Adam([funcgrad.ones(3, requires_grad=True)], differentiable=True)


def test_hooks_repr_names_and_zero_grad_like_torch():
    def run(L):
        log = []
        mod = sys.modules[L.__name__ + ".optim.optimizer"]
        w = L.nn.Parameter(L.ones(2))
        o = L.optim.Adam([("w", w)], lr=0.1)
        h1 = o.register_step_pre_hook(lambda opt, a, k: log.append(("pre", type(opt).__name__)))
        h2 = o.register_step_post_hook(lambda opt, a, k: log.append("post"))
        g1 = mod.register_optimizer_step_pre_hook(lambda opt, a, k: log.append("gpre"))
        g2 = mod.register_optimizer_step_post_hook(lambda opt, a, k: log.append("gpost"))
        o.register_state_dict_pre_hook(lambda opt: log.append("sdpre"))
        o.register_state_dict_post_hook(lambda opt, sd: sd.update(extra=1))
        o.register_load_state_dict_pre_hook(lambda opt, sd: log.append(("ldpre", sorted(sd))))
        o.register_load_state_dict_post_hook(lambda opt: log.append("ldpost1"))
        o.register_load_state_dict_post_hook(lambda opt: log.append("ldpost0"), prepend=True)
        (w * w).sum().backward()
        o.step()
        h1.remove()
        g1.remove()
        o.step()
        g2.remove()
        h2.remove()
        o.step()
        sd = o.state_dict()
        log += [sorted(sd), sd["param_groups"][0]["param_names"]]
        o.load_state_dict(sd)
        o2 = L.optim.SGD([w], lr=0.1)
        o2.add_param_group({"params": L.nn.Parameter(L.ones(1)), "lr": 0.5, "momentum": 0.9})
        log += [repr(o2), repr(o), len(o2.param_groups)]
        (w * w).sum().backward()
        o2.zero_grad(set_to_none=False)
        log.append(w.grad.tolist())
        o2.zero_grad()
        log.append(w.grad)
        with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
            o2.add_param_group({"params": [w]})
        return log, w.detach().numpy()
    rl, rw = run(torch)
    gl, gw = run(funcgrad)
    assert gl == rl
    np.testing.assert_allclose(gw, rw, rtol=1e-6)


_LONG = bool(os.environ.get("FUNCGRAD_LONG"))  # every combination only in long runs (~45 s each here)


@pytest.mark.parametrize("dtype", ["float64", "float32"] if _LONG else ["float64"])
@pytest.mark.parametrize("kw", [dict(lr=1, max_iter=10), dict(lr=0.8, max_iter=7, history_size=3),
                                dict(lr=1, max_iter=20, max_eval=12)] if _LONG else
                         [dict(lr=0.8, max_iter=7, history_size=3)])
def test_lbfgs_strong_wolfe_iterates_match_torch(kw, dtype):
    def run(lib):
        rng = np.random.default_rng(3)
        w = lib.tensor(rng.standard_normal((4, 2)).astype(dtype), requires_grad=True)
        x = lib.tensor(rng.standard_normal((10, 4)).astype(dtype))
        y = lib.tensor(rng.standard_normal((10, 2)).astype(dtype))
        opt = lib.optim.LBFGS([w], line_search_fn="strong_wolfe", **kw)

        def closure():
            opt.zero_grad()
            loss = ((x @ w).tanh() - y).pow(2).mean() + (w ** 4).sum() * 0.01
            loss.backward()
            return loss
        ws, losses = [], []
        for _ in range(3):
            losses.append(opt.step(closure).item())
            ws.append(w.detach().numpy().copy())
        st = opt.state[w]
        return np.array(ws), np.array(losses), st["func_evals"], st["n_iter"]
    rw, rl, rf, rn = run(torch)
    gw, gl, gf, gn = run(funcgrad)
    tol = 1e-10 if dtype == "float64" else 2e-4
    if dtype == "float64":
        assert (gf, gn) == (rf, rn)
    np.testing.assert_allclose(gl, rl, rtol=tol, atol=tol)
    np.testing.assert_allclose(gw, rw, rtol=tol, atol=tol)


def _sched_table(S):
    return {
        "LambdaLR": lambda o: S.LambdaLR(o, lambda e: 0.9 ** e),
        "MultiplicativeLR": lambda o: S.MultiplicativeLR(o, lambda e: 0.95),
        "StepLR": lambda o: S.StepLR(o, step_size=4, gamma=0.5),
        "MultiStepLR": lambda o: S.MultiStepLR(o, milestones=[3, 8, 8, 20], gamma=0.3),
        "ConstantLR": lambda o: S.ConstantLR(o, factor=0.25, total_iters=6),
        "LinearLR": lambda o: S.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=12),
        "ExponentialLR": lambda o: S.ExponentialLR(o, gamma=0.93),
        "PolynomialLR": lambda o: S.PolynomialLR(o, total_iters=20, power=1.5),
        "CosineAnnealingLR": lambda o: S.CosineAnnealingLR(o, T_max=8, eta_min=0.001),
        "CosineAnnealingWarmRestarts": lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=0.01),
        "CyclicLR": lambda o: S.CyclicLR(o, 0.01, 0.2, step_size_up=4, step_size_down=3),
        "CyclicLR/exp_range": lambda o: S.CyclicLR(o, 0.01, 0.2, step_size_up=3, mode="exp_range", gamma=0.9),
        "OneCycleLR": lambda o: S.OneCycleLR(o, max_lr=0.3, total_steps=31),
        "OneCycleLR/three_phase,linear": lambda o: S.OneCycleLR(o, max_lr=0.3, epochs=4, steps_per_epoch=8,
                                                                three_phase=True, anneal_strategy="linear"),
        "SequentialLR": lambda o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.5, total_iters=3),
                                                     S.ExponentialLR(o, gamma=0.9)], milestones=[5]),
        "ChainedScheduler": lambda o: S.ChainedScheduler([S.StepLR(o, 3, 0.5), S.ExponentialLR(o, 0.97)]),
        "ReduceLROnPlateau": lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.5, patience=1, threshold=0.1,
                                                           threshold_mode="abs", cooldown=2),
        "SWALR": lambda o: sys.modules[S.__name__.rsplit(".", 1)[0] + ".swa_utils"].SWALR(o, swa_lr=0.02,
                                                                                        anneal_epochs=6),
    }


def test_scheduler_table_covers_torch():
    S = torch.optim.lr_scheduler
    names = {n for n in dir(S) if isinstance(getattr(S, n), type) and issubclass(getattr(S, n), S.LRScheduler)}
    assert names - {k.split("/")[0] for k in _sched_table(S)} == {"LRScheduler", "_LRScheduler"}


@pytest.mark.parametrize("name", sorted(_sched_table(torch.optim.lr_scheduler)))
def test_scheduler_30_steps_matches_torch(name):
    import torch.optim.swa_utils  # noqa: F401

    def run(L):
        w = L.tensor([1.0, -2.0], requires_grad=True)
        opt = L.optim.SGD([w], lr=0.1, momentum=0.9)
        sched = _sched_table(L.optim.lr_scheduler)[name](opt)
        lrs, moms = [], []
        metrics = [1, 2, 2, 2.05, 2.2, 2.2, 2.2, 2.2, 2.25, 3] * 3
        for i in range(30):
            opt.zero_grad()
            (w * w).sum().backward()
            opt.step()
            sched.step(metrics[i]) if name == "ReduceLROnPlateau" else sched.step()
            lrs.append(opt.param_groups[0]["lr"])
            moms.append(opt.param_groups[0]["momentum"])
        return lrs, moms, sched.get_last_lr(), w.detach().numpy()
    rl, rm, rlast, rw = run(torch)
    gl, gm, glast, gw = run(funcgrad)
    assert gl == rl
    assert gm == rm
    assert glast == rlast
    np.testing.assert_allclose(gw, rw, rtol=1e-5)


@pytest.mark.parametrize("kind", ["swa", "ema_multi", "ema"])
def test_swa_utils_match_torch(kind):
    def run(L):
        su = sys.modules[L.__name__ + ".optim.swa_utils"]
        rng = np.random.default_rng(0)
        model = L.nn.Sequential(L.nn.Linear(4, 5), L.nn.BatchNorm1d(5), L.nn.Linear(5, 2))
        with L.no_grad():
            for p in model.parameters():
                p.copy_(L.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
        if kind == "swa":
            avg = su.AveragedModel(model)
        elif kind == "ema_multi":
            avg = su.AveragedModel(model, multi_avg_fn=su.get_ema_multi_avg_fn(0.9), use_buffers=True)
        else:
            avg = su.AveragedModel(model, avg_fn=su.get_ema_avg_fn(0.8))
        opt = L.optim.SGD(model.parameters(), lr=0.5)
        sched = su.SWALR(opt, swa_lr=0.05, anneal_epochs=3, anneal_strategy="linear" if kind == "swa" else "cos")
        x = L.tensor(rng.standard_normal((8, 4)).astype(np.float32))
        lrs = []
        for _ in range(6):
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
            avg.update_parameters(model)
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
        su.update_bn([L.tensor(rng.standard_normal((8, 4)).astype(np.float32)) for _ in range(3)], avg)
        out = avg(x).detach().numpy()
        return [t.detach().numpy().astype(np.float64) for t in avg.state_dict().values()], lrs, list(avg.state_dict()), out
    rv, rl, rk, ro = run(torch)
    gv, gl, gk, go = run(funcgrad)
    assert gk == rk and gl == rl
    for a, b in zip(gv, rv):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(go, ro, rtol=1e-4, atol=1e-5)


def test_swap_in_optimizer_params_and_state_matches_torch():
    def run(L):
        rng = np.random.default_rng(0)
        w = L.nn.Parameter(L.tensor(rng.standard_normal((3, 2)).astype(np.float32)))
        b = L.nn.Parameter(L.tensor(rng.standard_normal(2).astype(np.float32)))
        opt = L.optim.Adam([w, b], lr=0.1)

        def step(ws):
            opt.zero_grad()
            (ws[0].sum() ** 2 + ws[1].pow(3).sum()).backward()
            opt.step()
        step([w, b])
        step([w, b])
        sd = opt.state_dict()
        other = {"w": L.nn.Parameter(w.detach().clone() * 2), "b": L.nn.Parameter(b.detach().clone() - 1)}
        sd2 = {"state": {k: {kk: vv.clone() for kk, vv in v.items()} for k, v in sd["state"].items()},
               "param_groups": [dict(sd["param_groups"][0], lr=0.05)]}
        with L.optim.swap_in_optimizer_params_and_state(opt, other, sd2):
            step([other["w"], other["b"]])
            step([other["w"], other["b"]])
            inner_lr = opt.param_groups[0]["lr"]
        step([w, b])
        with pytest.raises(RuntimeError, match="different number of parameter groups"):
            with L.optim.swap_in_optimizer_params_and_state(opt, other, {"state": {}, "param_groups": []}):
                pass
        return ([t.detach().numpy() for t in (w, b, other["w"], other["b"])], inner_lr, opt.param_groups[0]["lr"],
                sd2["state"][0]["exp_avg"].numpy(), float(sd2["state"][0]["step"]))
    r, g = run(torch), run(funcgrad)
    for a, b in zip(g[0], r[0]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert g[1:3] == r[1:3] and g[4] == r[4]
    np.testing.assert_allclose(g[3], r[3], rtol=1e-5, atol=1e-6)
