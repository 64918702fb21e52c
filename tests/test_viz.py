"""funcgrad.viz.make_dot on the seeds' graphs."""
import funcgrad as fg


def test_seed_000_graph():
    x1 = fg.tensor(1.0, requires_grad=True)
    a = fg.tensor(2.0, requires_grad=True)
    x2 = fg.tensor(3.0, requires_grad=True)
    z = (x1 + a * x2) ** 2
    dot = fg.viz.make_dot(z, params={"x1": x1, "a": a, "x2": x2})
    src = dot.source
    for label in ("PowBackward0", "AddBackward0", "MulBackward0", "x1\n()", "x2\n()", "a\n()"):
        assert label in src, label
    assert src.count("lightblue") == 3 and src.count("lightgrey") == 3
    assert src.count("->") == 6  # 3 leaves + Mul->Add + Add->Pow + Pow->output


def test_mlp_graph_with_parameter_names_and_saved():
    model = fg.nn.Sequential(fg.nn.Linear(3, 4), fg.nn.ReLU(), fg.nn.Linear(4, 1))
    y = model(fg.ones(2, 3)).sum()
    src = fg.viz.make_dot(y, params=dict(model.named_parameters()), show_saved=True).source
    for label in ("AddmmBackward0", "ReluBackward0", "TBackward0", "SumBackward0", "0.weight", "2.bias",
                  "saved result"):
        assert label in src, label
