"""funcgrad.compile's fast path (a call whose state is unchanged since the last one skips reading it)
never serves a stale value: every kind of state change between calls is seen, as eager execution sees it."""
import numpy as np
import pytest

import funcgrad as fg


def build(opt_kind="sgd", dropout=False, seed=0):
    fg.manual_seed(seed)
    layers = [fg.nn.Linear(6, 16), fg.nn.ReLU()]
    if dropout:
        layers.append(fg.nn.Dropout(0.3))
    layers.append(fg.nn.Linear(16, 3))
    model = fg.nn.Sequential(*layers)
    if opt_kind == "sgd":
        opt = fg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    else:
        opt = fg.optim.Adam(model.parameters(), lr=0.01)
    return model, opt


def make_step(model, opt):
    loss_fn = fg.nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def run(mutate, n=12, opt_kind="sgd", dropout=False, at=(4, 8)):
    """Losses, parameters and gradients after ``n`` steps with ``mutate(model, opt, i)`` between calls
    ``i`` in ``at``, eagerly and compiled; asserts they match and returns the compiled step."""
    rng = np.random.default_rng(0)
    x = fg.tensor(rng.standard_normal((8, 6)).astype(np.float32))
    y = fg.tensor(rng.integers(0, 3, 8))
    results = []
    for compiled in (False, True):
        model, opt = build(opt_kind, dropout)
        step = make_step(model, opt)
        if compiled:
            step = fg.compile(step)
        losses = []
        for i in range(n):
            if i in at:
                mutate(model, opt, i)
            losses.append(step(x, y).item())
        results.append((losses, [p.detach().numpy().copy() for p in model.parameters()],
                        [None if p.grad is None else p.grad.numpy().copy() for p in model.parameters()], step))
    (el, ep, eg, _), (cl, cp, cg, cstep) = results
    np.testing.assert_allclose(cl, el, rtol=2e-5, atol=1e-6)
    for a, b in zip(cp, ep):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)
    for a, b in zip(cg, eg):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)
    info = cstep.cache_info()
    assert info["eager_calls"] == 0, info
    return cstep


def test_steady_calls_take_the_fast_path():
    step = run(lambda model, opt, i: None)
    info = step.cache_info()
    assert info["fast_calls"] >= 8 and info["programs"] == 2, info


def test_value_edited_in_place_between_calls():
    def mutate(model, opt, i):
        with fg.no_grad():
            model[0].weight.mul_(0.5)
            model[2].bias.add_(1.0)
    run(mutate)


def test_value_edited_through_data_between_calls():
    def mutate(model, opt, i):
        model[0].bias.data.fill_(0.25)
    run(mutate)


def test_tensor_data_replaced_between_calls():
    def mutate(model, opt, i):
        model[2].weight.data = fg.full((3, 16), 0.01 * i)
    run(mutate)


def test_parameter_replaced_on_the_module_between_calls():
    def mutate(model, opt, i):
        # the optimizer keeps the old parameter (as in torch); the module uses the new one
        model[2].bias = fg.nn.Parameter(fg.full((3,), 0.1 * i))
    run(mutate)


def test_lr_changed_by_a_scheduler_and_by_hand():
    scheds = {}

    def mutate(model, opt, i):
        if i == 4:
            scheds[id(opt)] = fg.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        scheds[id(opt)].step()
        opt.param_groups[0]["momentum"] = 0.5  # a guarded (static) hyper-parameter: retrace
    run(mutate, at=(4, 5, 6, 8))


def test_lr_changed_every_call_by_a_scheduler():
    scheds = {}

    def mutate(model, opt, i):
        if id(opt) not in scheds:
            scheds[id(opt)] = fg.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
        scheds[id(opt)].step()
    step = run(mutate, opt_kind="adam", at=range(1, 12))
    assert step.cache_info()["programs"] == 2


def test_requires_grad_flipped_between_calls():
    def mutate(model, opt, i):
        model[0].weight.requires_grad_(i != 4)
    run(mutate)


def test_eval_and_train_between_calls_with_dropout():
    def mutate(model, opt, i):
        model.eval() if i == 4 else model.train()
    run(mutate, dropout=True)


def test_random_draws_between_calls_with_dropout():
    def mutate(model, opt, i):
        fg.rand(3)  # advances the generator: the compiled step must draw what eager draws
    run(mutate, dropout=True)
    run(lambda model, opt, i: fg.manual_seed(i), dropout=True)


def test_grad_replaced_or_edited_between_calls():
    def mutate(model, opt, i):
        if i == 4:
            model[0].weight.grad = fg.ones(16, 6)
        else:
            model[0].bias.grad.mul_(3.0)
    run(mutate)


def test_eager_optimizer_step_between_calls():
    def mutate(model, opt, i):
        opt.step()  # uses the gradients the last step left
    run(mutate, opt_kind="adam")


def test_param_group_added_between_calls():
    def mutate(model, opt, i):
        if i == 4:
            fg.manual_seed(1)
            extra = fg.nn.Linear(3, 3)
            model.append(extra)
            opt.add_param_group({"params": extra.parameters(), "lr": 0.1})
        else:
            opt.param_groups[1]["lr"] = 0.2
    run(mutate)


def test_submodule_replaced_between_calls():
    def mutate(model, opt, i):
        fg.manual_seed(i)
        model[2] = fg.nn.Linear(16, 3)
    run(mutate)


def test_global_rebound_between_calls():
    g = {"w": fg.ones(3)}
    exec("def f(x):\n    return (x * W).sum()\n", g)
    g["W"] = fg.ones(3)
    f = fg.compile(g["f"])
    x = fg.ones(3)
    assert f(x).item() == 3.0 and f(x).item() == 3.0
    g["W"] = fg.full((3,), 2.0)
    assert f(x).item() == 6.0
    with fg.no_grad():
        g["W"].add_(1)
    assert f(x).item() == 9.0


@pytest.mark.parametrize("change", ["args", "grad_mode"])
def test_guards_still_checked_on_the_fast_path(change):
    w = fg.ones(3, requires_grad=True)

    @fg.compile
    def f(x):
        return (x * w).sum()

    for _ in range(3):
        assert f(fg.ones(3)).item() == 3.0
    if change == "args":
        assert f(fg.ones(4)[:3] * 2).item() == 6.0
        assert f(fg.ones(2, 3)).shape == ()
    else:
        with fg.no_grad():
            assert not f(fg.ones(3)).requires_grad
    assert f(fg.ones(3)).item() == 3.0
