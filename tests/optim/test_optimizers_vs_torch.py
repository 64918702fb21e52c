"""Optimizer trajectories and schedulers against torch: 100 steps from the same start."""
import numpy as np
import pytest
import torch

import funcgrad

OPTS = {
    "sgd": lambda L, p: L.optim.SGD(p, lr=0.1),
    "sgd_momentum_dampening_wd": lambda L, p: L.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "sgd_nesterov": lambda L, p: L.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "sgd_maximize": lambda L, p: L.optim.SGD(p, lr=0.01, momentum=0.5, maximize=True),
    "adam": lambda L, p: L.optim.Adam(p, lr=0.01),
    "adam_amsgrad_wd": lambda L, p: L.optim.Adam(p, lr=0.01, amsgrad=True, weight_decay=0.1),
    "adam_betas": lambda L, p: L.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6),
    "adamw": lambda L, p: L.optim.AdamW(p, lr=0.01),
    "adamw_amsgrad": lambda L, p: L.optim.AdamW(p, lr=0.01, weight_decay=0.1, amsgrad=True),
    "rmsprop": lambda L, p: L.optim.RMSprop(p, lr=0.01),
    "rmsprop_centered_momentum_wd": lambda L, p: L.optim.RMSprop(p, lr=0.01, centered=True, momentum=0.9,
                                                                 weight_decay=0.01),
    "adagrad": lambda L, p: L.optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.01,
                                            initial_accumulator_value=0.1),
    "adadelta": lambda L, p: L.optim.Adadelta(p),
    "adadelta_wd_maximize": lambda L, p: L.optim.Adadelta(p, lr=0.5, rho=0.8, weight_decay=0.01, maximize=True),
    "adamax": lambda L, p: L.optim.Adamax(p, lr=0.01),
    "adamax_wd": lambda L, p: L.optim.Adamax(p, lr=0.02, betas=(0.8, 0.99), weight_decay=0.05),
    "nadam": lambda L, p: L.optim.NAdam(p, lr=0.01),
    "nadam_wd": lambda L, p: L.optim.NAdam(p, lr=0.01, weight_decay=0.05, momentum_decay=0.01),
    "nadam_decoupled": lambda L, p: L.optim.NAdam(p, lr=0.01, weight_decay=0.05, decoupled_weight_decay=True),
    "radam": lambda L, p: L.optim.RAdam(p, lr=0.01),
    "radam_wd_decoupled": lambda L, p: L.optim.RAdam(p, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    "radam_wd": lambda L, p: L.optim.RAdam(p, lr=0.01, weight_decay=0.1),
    "asgd": lambda L, p: L.optim.ASGD(p, lr=0.05),
    "asgd_t0_wd": lambda L, p: L.optim.ASGD(p, lr=0.05, t0=10, lambd=1e-3, weight_decay=0.01),
    "rprop": lambda L, p: L.optim.Rprop(p, lr=0.01),
    "rprop_maximize": lambda L, p: L.optim.Rprop(p, lr=0.001, etas=(0.4, 1.5), step_sizes=(1e-4, 0.01), maximize=True),
}

SCHEDS = {
    "step": lambda L, o: L.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5),
    "exponential": lambda L, o: L.optim.lr_scheduler.ExponentialLR(o, gamma=0.97),
    "cosine": lambda L, o: L.optim.lr_scheduler.CosineAnnealingLR(o, T_max=30, eta_min=1e-4),
    "lambda": lambda L, o: L.optim.lr_scheduler.LambdaLR(o, lambda e: 1.0 / (1 + e)),
    "onecycle": lambda L, o: L.optim.lr_scheduler.OneCycleLR(o, max_lr=0.05, total_steps=100),
    "multiplicative": lambda L, o: L.optim.lr_scheduler.MultiplicativeLR(o, lambda e: 0.97),
    "constant": lambda L, o: L.optim.lr_scheduler.ConstantLR(o, factor=0.5, total_iters=10),
    "polynomial": lambda L, o: L.optim.lr_scheduler.PolynomialLR(o, total_iters=40, power=2.0),
    "warm_restarts": lambda L, o: L.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=7, T_mult=2, eta_min=1e-3),
    "cyclic_triangular2": lambda L, o: L.optim.lr_scheduler.CyclicLR(o, 0.01, 0.1, step_size_up=5, step_size_down=8,
                                                                     mode="triangular2"),
    "cyclic_exp_range": lambda L, o: L.optim.lr_scheduler.CyclicLR(o, 0.01, 0.1, step_size_up=6, mode="exp_range",
                                                                   gamma=0.98),
    "sequential": lambda L, o: L.optim.lr_scheduler.SequentialLR(
        o, [L.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=5),
            L.optim.lr_scheduler.CosineAnnealingLR(o, T_max=40)], milestones=[5]),
    "chained": lambda L, o: L.optim.lr_scheduler.ChainedScheduler(
        [L.optim.lr_scheduler.ConstantLR(o, factor=0.5, total_iters=4), L.optim.lr_scheduler.ExponentialLR(o, 0.95)]),
}


def trajectory(lib, make_opt, steps=100, make_sched=None):
    rng = np.random.default_rng(0)
    w = lib.tensor(rng.standard_normal((5, 3)).astype(np.float32), requires_grad=True)
    b = lib.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
    x = lib.tensor(rng.standard_normal((8, 5)).astype(np.float32))
    y = lib.tensor(rng.standard_normal((8, 3)).astype(np.float32))
    opt = make_opt(lib, [w, b])
    sched = make_sched(lib, opt) if make_sched else None
    lrs = []
    for _ in range(steps):
        opt.zero_grad()
        loss = ((x @ w + b).tanh() - y).pow(2).mean()
        loss.backward()
        opt.step()
        if sched:
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
    return w.detach().numpy(), b.detach().numpy(), lrs, opt


@pytest.mark.parametrize("name", sorted(OPTS))
def test_trajectory_matches_torch(name):
    rw, rb, _, ropt = trajectory(torch, OPTS[name])
    gw, gb, _, gopt = trajectory(funcgrad, OPTS[name])
    np.testing.assert_allclose(gw, rw, rtol=1e-5, atol=5e-6)
    np.testing.assert_allclose(gb, rb, rtol=1e-5, atol=5e-6)
    # the per-parameter state torch exposes is there, with the same values
    rs = ropt.state[ropt.param_groups[0]["params"][0]]
    gs = gopt.state[gopt.param_groups[0]["params"][0]]
    assert sorted(rs) == sorted(gs)
    for k in rs:
        if rs[k] is None:
            assert gs[k] is None
        else:
            np.testing.assert_allclose(np.asarray(gs[k].tolist()), np.asarray(rs[k].tolist()), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(SCHEDS))
def test_scheduler_matches_torch(name):
    opt = OPTS["sgd_momentum_dampening_wd"]
    rw, _, rl, _ = trajectory(torch, opt, make_sched=SCHEDS[name])
    gw, _, gl, _ = trajectory(funcgrad, opt, make_sched=SCHEDS[name])
    assert gl == rl  # same python floats, step by step
    np.testing.assert_allclose(gw, rw, rtol=1e-5, atol=5e-6)


def test_onecycle_cycles_adam_beta1_without_recompiling():
    before = None
    w, b, lrs, opt = trajectory(funcgrad, OPTS["adam"], steps=20,
                                make_sched=lambda L, o: L.optim.lr_scheduler.OneCycleLR(o, max_lr=0.05, total_steps=20))
    rw, rb, rlrs, ropt = trajectory(torch, OPTS["adam"], steps=20,
                                    make_sched=lambda L, o: L.optim.lr_scheduler.OneCycleLR(o, max_lr=0.05,
                                                                                             total_steps=20))
    assert opt.param_groups[0]["betas"] == ropt.param_groups[0]["betas"]
    np.testing.assert_allclose(w, rw, rtol=1e-5, atol=5e-6)
    from funcgrad.optim.optimizer import _jitted

    assert before is None and _jitted.cache_info().currsize >= 1


@pytest.mark.parametrize("name", ["sgd_momentum_dampening_wd", "adam_amsgrad_wd", "rmsprop_centered_momentum_wd",
                                  "adagrad"])
def test_state_dict_round_trip_continues_like_torch(name):
    """Train 30 steps, save, load into a fresh optimizer, train 30 more: same as torch doing the same."""
    def run(lib):
        rng = np.random.default_rng(1)
        w = lib.tensor(rng.standard_normal((4, 2)).astype(np.float32), requires_grad=True)
        x = lib.tensor(rng.standard_normal((6, 4)).astype(np.float32))
        opt = OPTS[name](lib, [w])

        def train(o, n):
            for _ in range(n):
                o.zero_grad()
                (x @ w).sin().sum().backward()
                o.step()
        train(opt, 30)
        sd = opt.state_dict()
        opt2 = OPTS[name](lib, [w])
        opt2.load_state_dict(sd)
        train(opt2, 30)
        return w.detach().numpy(), sorted(sd["state"][0])
    rw, rk = run(torch)
    gw, gk = run(funcgrad)
    assert gk == rk
    np.testing.assert_allclose(gw, rw, rtol=1e-5, atol=5e-6)


def test_optimizer_errors_match_torch():
    for lib in (torch, funcgrad):
        with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
            lib.optim.SGD([], lr=0.1)
        with pytest.raises(ValueError, match="Invalid learning rate"):
            lib.optim.Adam([lib.ones(1, requires_grad=True)], lr=-1)
        with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
            lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.1, nesterov=True)
        with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
            lib.optim.SGD([lib.ones(1, requires_grad=True) * 2], lr=0.1)


def test_params_updated_in_place_with_version_bump():
    w = funcgrad.ones(3, requires_grad=True)
    v0 = w._version
    opt = funcgrad.optim.SGD([w], lr=0.5)
    (w * 2).sum().backward()
    same = w
    opt.step()
    assert w is same and w._version == v0 + 1
    assert w.tolist() == [0.0, 0.0, 0.0]


def test_reduce_lr_on_plateau_matches_torch():
    def run(lib):
        w = lib.tensor([1.0], requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.1, momentum=0.9)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=1e-3)
        lrs = []
        for metric in [5, 4, 4, 4, 4, 3.9999, 4, 4, 4, 4, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]:
            sched.step(metric)
            lrs.append((opt.param_groups[0]["lr"], sched.num_bad_epochs, sched.cooldown_counter))
        return lrs
    assert run(funcgrad) == run(torch)


def test_lbfgs_matches_torch():
    """In float64: L-BFGS amplifies float32 summation-order differences (XLA vs torch dot products)."""
    def run(lib):
        rng = np.random.default_rng(3)
        w = lib.tensor(rng.standard_normal((4, 2)).astype(np.float64), requires_grad=True)
        x = lib.tensor(rng.standard_normal((10, 4)).astype(np.float64))
        y = lib.tensor(rng.standard_normal((10, 2)).astype(np.float64))
        opt = lib.optim.LBFGS([w], lr=0.5, max_iter=6, history_size=4)
        losses = []

        def closure():
            opt.zero_grad()
            loss = ((x @ w).tanh() - y).pow(2).mean()
            loss.backward()
            return loss
        for _ in range(4):
            losses.append(float(opt.step(closure)))
        st = opt.state[w]
        return w.detach().numpy(), losses, st["func_evals"], st["n_iter"]
    rw, rl, rf, rn = run(torch)
    gw, gl, gf, gn = run(funcgrad)
    assert (gf, gn) == (rf, rn)
    np.testing.assert_allclose(gl, rl, rtol=1e-9)
    np.testing.assert_allclose(gw, rw, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", ["adadelta", "adamax_wd", "nadam_wd", "radam", "asgd", "rprop"])
def test_new_optimizers_state_dict_round_trip(name):
    test_state_dict_round_trip_continues_like_torch(name)
