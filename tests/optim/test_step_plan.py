"""The optimizer's replayed step (a plan per param group, see ``optim.optimizer._StepPlan``) against
torch: every edit between steps that the plan must notice gives torch's parameters and state."""
import numpy as np
import pytest
import torch

import funcgrad


def _leaves(lib, seed=0):
    """The three parameters (requiring grad) and the input of ``_loss``, in ``lib``, from ``seed``."""
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(3).astype(np.float32),
          rng.standard_normal((2, 3)).astype(np.float32)]
    xs = rng.standard_normal((5, 4)).astype(np.float32)
    return [lib.tensor(w, requires_grad=True) for w in ws], lib.tensor(xs)


def _loss(lib, ps, x):
    h = lib.tanh(x @ ps[0].T + ps[1])
    return (h @ ps[2].T).pow(2).mean()


def _run(lib, make_opt, edits, steps=6, seed=0):
    ps, x = _leaves(lib, seed)
    opt = make_opt(lib, ps)
    out = []
    for i in range(steps):
        opt.zero_grad()
        _loss(lib, ps, x).backward()
        if i in edits:
            edits[i](lib, opt, ps)
        opt.step()
        out.append([p.detach().numpy().copy() for p in ps])
        out.append({k: v.detach().numpy().copy() if hasattr(v, "detach") else v
                    for st in opt.state.values() for k, v in st.items()})
    return out


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if isinstance(x, dict):
            assert sorted(x) == sorted(y)
            for k in x:
                np.testing.assert_allclose(np.asarray(x[k], np.float64), np.asarray(y[k], np.float64), rtol=1e-5,
                                           atol=1e-6)
        else:
            for u, v in zip(x, y):
                np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)


def _sgd(lib, ps, **kw):
    return lib.optim.SGD(ps, lr=0.1, **kw)


def _set_lr(lib, opt, ps):
    opt.param_groups[0]["lr"] = 0.01


def _set_momentum(lib, opt, ps):
    opt.param_groups[0]["momentum"] = 0.9


def _grad_none(lib, opt, ps):
    ps[1].grad = None


def _grad_replaced(lib, opt, ps):
    ps[0].grad = lib.ones_like(ps[0]) * 0.5


def _grad_edited(lib, opt, ps):
    with lib.no_grad():
        ps[2].grad.mul_(3.0)


def _param_edited(lib, opt, ps):
    with lib.no_grad():
        ps[0].add_(1.0)


def _drop_param(lib, opt, ps):
    opt.param_groups[0]["params"].pop()


def _new_key(lib, opt, ps):
    opt.param_groups[0]["initial_lr"] = 0.1


def _state_edit(lib, opt, ps):
    with lib.no_grad():
        for st in opt.state.values():
            st["momentum_buffer"].mul_(0.5)


def _state_step_edit(lib, opt, ps):
    with lib.no_grad():
        for st in opt.state.values():
            st["exp_avg"].zero_()


EDITS = {
    "lr": (_sgd, {2: _set_lr}),
    "momentum": (lambda lib, ps: _sgd(lib, ps, momentum=0.5), {3: _set_momentum}),
    "grad_none": (_sgd, {2: _grad_none, 4: _grad_none}),
    "grad_replaced": (_sgd, {3: _grad_replaced}),
    "grad_edited": (_sgd, {3: _grad_edited}),
    "param_edited": (_sgd, {3: _param_edited}),
    "drop_param": (_sgd, {3: _drop_param}),
    "new_key": (_sgd, {2: _new_key}),
    "state_edit": (lambda lib, ps: _sgd(lib, ps, momentum=0.9), {3: _state_edit}),
    "adam_lr": (lambda lib, ps: lib.optim.Adam(ps, lr=0.05), {3: _set_lr}),
    "adam_state": (lambda lib, ps: lib.optim.Adam(ps, lr=0.05), {3: _state_step_edit}),
    "adamw_betas": (lambda lib, ps: lib.optim.AdamW(ps, lr=0.05),
                    {3: lambda lib, opt, ps: opt.param_groups[0].__setitem__("betas", (0.5, 0.9))}),
}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_edit_between_steps(name):
    make, edits = EDITS[name]
    _same(_run(funcgrad, make, edits), _run(torch, make, edits))


def test_add_param_group_and_scheduler():
    def make(lib, ps):
        opt = lib.optim.SGD(ps[:2], lr=0.1, momentum=0.9)
        opt._sched = lib.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        return opt

    def add(lib, opt, ps):
        opt.add_param_group({"params": [ps[2]], "lr": 0.3})

    def run(lib):
        ps, x = _leaves(lib, 1)
        opt = make(lib, ps)
        out = []
        for i in range(6):
            opt.zero_grad()
            _loss(lib, ps, x).backward()
            if i == 2:
                add(lib, opt, ps)
            opt.step()
            opt._sched.step()
            out.append([p.detach().numpy().copy() for p in ps])
        return out

    _same(run(funcgrad), run(torch))


def test_tensor_lr_edited_in_place():
    def run(lib):
        ps, x = _leaves(lib, 2)
        lr = lib.tensor(0.1)
        opt = lib.optim.Adam(ps, lr=lr)
        out = []
        for i in range(5):
            opt.zero_grad()
            _loss(lib, ps, x).backward()
            opt.step()
            with lib.no_grad():
                lr.mul_(0.5)
            out.append([p.detach().numpy().copy() for p in ps])
        return out

    _same(run(funcgrad), run(torch))


def test_hooks_added_after_warmup():
    def run(lib):
        ps, x = _leaves(lib, 3)
        opt = lib.optim.SGD(ps, lr=0.1)
        seen = []
        out = []
        for i in range(6):
            if i == 3:
                opt.register_step_pre_hook(lambda o, a, k: seen.append("pre"))
                opt.register_step_post_hook(lambda o, a, k: seen.append("post"))
                ps[1].register_post_accumulate_grad_hook(lambda p: seen.append("acc"))
            opt.zero_grad()
            _loss(lib, ps, x).backward()
            opt.step()
            out.append([p.detach().numpy().copy() for p in ps])
        out.append(seen)
        return out

    a, b = run(funcgrad), run(torch)
    assert a[-1] == b[-1]
    _same(a[:-1], b[:-1])


def test_state_dict_roundtrip_after_replayed_steps():
    def run(lib):
        ps, x = _leaves(lib, 4)
        opt = lib.optim.SGD(ps, lr=0.1, momentum=0.9)
        for i in range(4):
            opt.zero_grad()
            _loss(lib, ps, x).backward()
            opt.step()
        sd = opt.state_dict()
        opt2 = lib.optim.SGD(ps, lr=0.1, momentum=0.9)
        opt2.load_state_dict(sd)
        for i in range(3):
            opt2.zero_grad()
            _loss(lib, ps, x).backward()
            opt2.step()
        return [[p.detach().numpy().copy() for p in ps],
                {k: v.detach().numpy().copy() for st in opt2.state_dict()["state"].values() for k, v in st.items()}]

    _same(run(funcgrad), run(torch))


def test_copy_of_optimizer_steps_on_its_own():
    import copy

    ps, x = _leaves(funcgrad, 5)
    opt = funcgrad.optim.SGD(ps, lr=0.1, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        _loss(funcgrad, ps, x).backward()
        opt.step()
    opt2 = copy.deepcopy(opt)
    assert "_plans" not in opt2.__dict__ or not opt2._plans


def test_per_step_scheduler_keeps_the_plan():
    """A scheduler's new learning rate each step is taken by the plan (no full step), with torch's values."""
    from funcgrad.optim import optimizer as O

    hits = []
    run = O._StepPlan.run

    def counted(self, opt, group):
        r = run(self, opt, group)
        hits.append(r)
        return r

    def train(lib):
        ps, x = _leaves(lib, 6)
        opt = lib.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01)
        sched = lib.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.9 ** k)
        out = []
        for i in range(6):
            opt.zero_grad()
            _loss(lib, ps, x).backward()
            opt.step()
            sched.step()
            if i == 3:
                opt.param_groups[0]["weight_decay"] = 0  # a new program: the full step
            out.append([p.detach().numpy().copy() for p in ps])
        return out

    O._StepPlan.run = counted
    try:
        a = train(funcgrad)
    finally:
        O._StepPlan.run = run
    _same(a, train(torch))
    assert hits == [True, True, True, False, True]
