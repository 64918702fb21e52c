"""torch.save / torch.load in torch's zip format, both directions against real torch 2.13, plus pickle and
deepcopy of tensors, modules and optimizers."""
import collections
import copy
import io
import os
import pathlib
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import funcgrad as fg

SRC = os.path.dirname(os.path.dirname(os.path.abspath(fg.__file__)))


class Custom:
    def __init__(self, v=1):
        self.v = v


def to_np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def fg_save(obj):
    b = io.BytesIO()
    fg.save(obj, b)
    b.seek(0)
    return b


def torch_save(obj):
    b = io.BytesIO()
    torch.save(obj, b)
    b.seek(0)
    return b


DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
          "complex64"]


@pytest.mark.parametrize("dt", DTYPES)
def test_dtypes_both_directions(dt):
    a = np.arange(-3, 9).reshape(3, 4) % 5
    t = torch.tensor(a).to(getattr(torch, dt))
    r = fg.load(torch_save(t))
    assert r.dtype is getattr(fg, dt) and r.shape == fg.Size([3, 4])
    want = t.to(torch.complex128 if dt == "complex64" else torch.float64).numpy()
    np.testing.assert_array_equal(to_np(r).astype(want.dtype), want)
    back = torch.load(fg_save(r), weights_only=True)
    assert back.dtype == t.dtype and torch.equal(back, t)


def test_torch_checkpoint_to_funcgrad():
    torch.manual_seed(0)
    x = torch.arange(12.).reshape(3, 4)
    lin = torch.nn.Linear(4, 2)
    opt = torch.optim.Adam(lin.parameters(), lr=0.01)
    lin(x).sum().backward()
    opt.step()
    ck = {"x": x, "xt": x.t(), "row": x[1], "col": x[:, 2], "model": lin.state_dict(), "opt": opt.state_dict(),
          "p": torch.nn.Parameter(torch.ones(2)), "frozen": torch.nn.Parameter(torch.zeros(1), requires_grad=False),
          "rg": torch.ones(2, requires_grad=True), "dtype": torch.float16, "dev": torch.device("cpu"),
          "size": torch.Size([2, 3]), "nested": [(1, 2.5, "s", None, True), {"k": {3, 4}}, b"by", 1 + 2j],
          "od": collections.OrderedDict(a=1)}
    r = fg.load(torch_save(ck))
    for k in ("x", "xt", "row", "col"):
        np.testing.assert_array_equal(to_np(r[k]), ck[k].numpy())
    assert isinstance(r["model"], collections.OrderedDict) and list(r["model"]) == ["weight", "bias"]
    np.testing.assert_array_equal(to_np(r["model"]["weight"]), lin.weight.detach().numpy())
    assert isinstance(r["p"], fg.nn.Parameter) and r["p"].requires_grad
    assert isinstance(r["frozen"], fg.nn.Parameter) and not r["frozen"].requires_grad
    assert r["rg"].requires_grad and r["rg"].is_leaf
    assert r["dtype"] is fg.float16 and r["dev"] == fg.device("cpu") and r["size"] == fg.Size([2, 3])
    assert isinstance(r["size"], fg.Size)
    assert r["nested"] == ck["nested"] and r["od"] == ck["od"]
    st = r["opt"]["state"][0]
    assert st["step"].dtype is fg.float32 and float(st["step"]) == 1.0
    np.testing.assert_allclose(to_np(st["exp_avg"]), opt.state[lin.weight]["exp_avg"].numpy())
    assert r["opt"]["param_groups"][0]["lr"] == 0.01
    # views of one storage share it again
    r["x"][1, 2] = 100.0
    assert float(r["xt"][2, 1]) == 100.0 and float(r["row"][2]) == 100.0 and float(r["col"][1]) == 100.0


def test_funcgrad_checkpoint_to_torch_weights_only():
    x = fg.arange(12.).reshape(3, 4)
    lin = fg.nn.Linear(4, 2)
    ck = {"x": x, "xt": x.t(), "row": x[1], "col": x[:, 2], "model": lin.state_dict(),
          "p": fg.nn.Parameter(fg.ones(2)), "dtype": fg.bfloat16, "dev": fg.device("cpu"), "size": fg.Size([2]),
          "nested": [(1, 2.5, "s", None, True), {"k": {3, 4}}], "od": collections.OrderedDict(a=1)}
    r = torch.load(fg_save(ck), weights_only=True)
    for k in ("x", "xt", "row", "col"):
        np.testing.assert_array_equal(r[k].numpy(), to_np(ck[k]))
    assert r["xt"].stride() == (1, 4) and r["col"].storage_offset() == 2 and r["col"].stride() == (4,)
    assert r["x"].untyped_storage().data_ptr() == r["xt"].untyped_storage().data_ptr()
    assert isinstance(r["model"], collections.OrderedDict)
    np.testing.assert_array_equal(r["model"]["weight"].numpy(), to_np(lin.weight))
    assert isinstance(r["p"], torch.nn.Parameter) and r["p"].requires_grad
    assert r["dtype"] is torch.bfloat16 and r["dev"] == torch.device("cpu") and r["size"] == torch.Size([2])
    assert r["nested"] == ck["nested"] and r["od"] == ck["od"]


def test_optimizer_state_dict_round_trip_steps_like_torch(tmp_path):
    torch.manual_seed(0)
    tl = torch.nn.Linear(3, 2)
    topt = torch.optim.Adam(tl.parameters(), lr=0.1)
    x = torch.randn(5, 3)
    for _ in range(2):
        topt.zero_grad()
        tl(x).pow(2).sum().backward()
        topt.step()
    torch.save({"model": tl.state_dict(), "opt": topt.state_dict()}, tmp_path / "ck.pt")
    ck = fg.load(tmp_path / "ck.pt")
    fl = fg.nn.Linear(3, 2)
    fl.load_state_dict(ck["model"])
    fopt = fg.optim.Adam(fl.parameters(), lr=0.1)
    fopt.load_state_dict(ck["opt"])
    fx = fg.tensor(x.numpy())
    for _ in range(2):
        topt.zero_grad()
        tl(x).pow(2).sum().backward()
        topt.step()
        fopt.zero_grad()
        fl(fx).pow(2).sum().backward()
        fopt.step()
    np.testing.assert_allclose(to_np(fl.weight), tl.weight.detach().numpy(), rtol=1e-5, atol=1e-6)
    # and back: funcgrad's optimizer state loads into torch
    fg.save({"opt": fopt.state_dict()}, tmp_path / "back.pt")
    topt2 = torch.optim.Adam(tl.parameters(), lr=0.1)
    topt2.load_state_dict(torch.load(tmp_path / "back.pt", weights_only=True)["opt"])
    assert float(topt2.state_dict()["state"][0]["step"]) == 4.0


def test_paths_and_file_objects(tmp_path):
    t = fg.tensor([1.0, 2.0])
    fg.save(t, str(tmp_path / "a.pt"))
    fg.save(t, tmp_path / "b.pt")
    with open(tmp_path / "c.pt", "wb") as f:
        fg.save(t, f)
    for name in "abc":
        assert torch.equal(torch.load(tmp_path / f"{name}.pt"), torch.tensor([1.0, 2.0]))
        with open(tmp_path / f"{name}.pt", "rb") as f:
            assert fg.load(f).tolist() == [1.0, 2.0]
        assert fg.load(pathlib.Path(tmp_path / f"{name}.pt")).tolist() == [1.0, 2.0]
    import zipfile

    names = zipfile.ZipFile(tmp_path / "a.pt").namelist()
    assert names[0] == "a/data.pkl" and "a/data/0" in names and "a/version" in names and "a/byteorder" in names
    assert "a/.data/serialization_id" in names


def _torch_error(obj, **kw):
    with pytest.raises(pickle.UnpicklingError) as e:
        torch.load(torch_save(obj), **kw)
    return str(e.value)


@pytest.mark.parametrize("obj", [Custom(3), np.float64(1.5), np.int64(2), np.array([1, 2]), slice(1, 2)],
                         ids=["class", "np_float", "np_int", "ndarray", "slice"])
def test_weights_only_refuses_like_torch(obj):
    expected = _torch_error(obj)
    with pytest.raises(pickle.UnpicklingError) as e:
        fg.load(torch_save(obj))
    assert str(e.value) == expected
    assert "Weights only load failed" in expected
    r = fg.load(torch_save(obj), weights_only=False)
    if isinstance(obj, Custom):
        assert isinstance(r, Custom) and r.v == 3
    else:
        assert np.all(r == obj) if not isinstance(obj, slice) else r == obj


def test_add_safe_globals_and_context():
    b = torch_save({"c": Custom(5)})
    with fg.serialization.safe_globals([Custom]):
        assert fg.load(b)["c"].v == 5
    b.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        fg.load(b)
    b.seek(0)
    fg.serialization.add_safe_globals([Custom])
    try:
        assert fg.load(b)["c"].v == 5
        assert Custom in fg.serialization.get_safe_globals()
    finally:
        fg.serialization.clear_safe_globals()


def test_map_location_forms():
    t = torch.arange(3.)
    for ml in ("cpu", fg.device("cpu"), {"cpu": "cpu"}, lambda storage, loc: storage,
               lambda storage, loc: storage.cpu()):
        r = fg.load(torch_save(t), map_location=ml)
        assert r.device == fg.device("cpu") and r.tolist() == [0.0, 1.0, 2.0]


def test_cuda_checkpoint_without_gpu_needs_map_location(tmp_path):
    if fg.cuda.is_available():
        pytest.skip("a GPU is present")
    # a checkpoint whose storages are tagged 'cuda:0', as one written on a GPU is
    from funcgrad import serialization as s

    old = s._location
    s._location = lambda dev: "cuda:0"
    try:
        b = io.BytesIO()
        fg.save(fg.ones(2), b)
    finally:
        s._location = old
    b.seek(0)
    with pytest.raises(RuntimeError, match="Attempting to deserialize object on a CUDA device"):
        fg.load(b)
    b.seek(0)
    assert fg.load(b, map_location="cpu").tolist() == [1.0, 1.0]
    b.seek(0)
    assert torch.load(b, map_location="cpu").tolist() == [1.0, 1.0]


def test_load_with_torch_blocked(tmp_path):
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 2)
    x = torch.arange(6.).reshape(2, 3)
    torch.save({"sd": lin.state_dict(), "x": x, "xt": x.t()}, tmp_path / "ck.pt")
    np.save(tmp_path / "w.npy", lin.weight.detach().numpy())
    code = textwrap.dedent(f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked in this test")
        sys.meta_path.insert(0, Block())
        import numpy as np
        import funcgrad
        ck = funcgrad.load({str(tmp_path / "ck.pt")!r})
        assert np.array_equal(ck["sd"]["weight"].numpy(), np.load({str(tmp_path / "w.npy")!r}))
        ck["x"][0, 1] = 7.0
        assert float(ck["xt"][1, 0]) == 7.0
        assert not any(k == "torch" or k.startswith("torch.") for k in sys.modules)
        print("OK")
    """)
    env = dict(os.environ, PYTHONPATH=SRC)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout


def test_pickle_and_deepcopy_tensors_modules_optimizers():
    x = fg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    y = copy.deepcopy(x)
    assert y.requires_grad and y.grad.tolist() == [2.0, 4.0] and y is not x
    z = pickle.loads(pickle.dumps(x))
    assert z.requires_grad and z.tolist() == [1.0, 2.0]
    m = fg.nn.Sequential(fg.nn.Linear(2, 3), fg.nn.ReLU(), fg.nn.Linear(3, 1))
    opt = fg.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    m(fg.ones(4, 2)).sum().backward()
    opt.step()
    m2 = copy.deepcopy(m)
    m3 = pickle.loads(pickle.dumps(m))
    for a, b, c in zip(m.parameters(), m2.parameters(), m3.parameters()):
        assert isinstance(b, fg.nn.Parameter) and isinstance(c, fg.nn.Parameter)
        np.testing.assert_array_equal(to_np(a), to_np(b))
        np.testing.assert_array_equal(to_np(a), to_np(c))
    m2[0].weight.data.fill_(0.0)
    assert float(m[0].weight.abs().sum()) > 0
    opt2 = copy.deepcopy(opt)
    sd, sd2 = opt.state_dict(), opt2.state_dict()
    np.testing.assert_array_equal(to_np(sd["state"][0]["momentum_buffer"]), to_np(sd2["state"][0]["momentum_buffer"]))
    opt3 = pickle.loads(pickle.dumps(opt))
    assert opt3.state_dict()["param_groups"][0]["lr"] == 0.1


def test_whole_module_save_load(tmp_path):
    m = fg.nn.Linear(2, 2)
    fg.save(m, tmp_path / "m.pt")
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        fg.load(tmp_path / "m.pt")
    m2 = fg.load(tmp_path / "m.pt", weights_only=False)
    assert isinstance(m2, fg.nn.Linear)
    np.testing.assert_array_equal(to_np(m2.weight), to_np(m.weight))
