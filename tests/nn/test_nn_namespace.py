"""torch.nn's namespace against funcgrad's: the public names a program reaches for exist (what is left out is
listed with the reason), lazy modules, nn.parallel, nn.attention, nn.grad and the torch.nn.modules.* paths."""
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import funcgrad

warnings.filterwarnings("ignore", category=FutureWarning)

# torch names funcgrad leaves out on purpose
NOT_PROVIDED = {
    "nn": {"intrinsic", "qat", "quantizable", "quantized",  # quantization
           "CrossMapLRN2d",  # rarely used, not built yet
           "LinearCrossEntropyOptions", "common_types", "factory_kwargs"},  # typing helpers
    "nn.functional": {"BroadcastingList1", "BroadcastingList2", "BroadcastingList3", "Callable", "DType",
                      "GRID_SAMPLE_INTERPOLATION_MODES", "GRID_SAMPLE_PADDING_MODES", "Optional", "ScalingType",
                      "SwizzleType", "TYPE_CHECKING", "Tensor", "assert_int_or_pair", "boolean_dispatch",
                      "dataclasses", "handle_torch_function", "has_torch_function", "has_torch_function_unary",
                      "has_torch_function_variadic", "importlib", "math", "reproducibility_notes",
                      "sparse_support_notes", "tf32_notes", "torch",  # typing/imports/docs, not API
                      "conv_tbc", "grouped_mm", "scaled_grouped_mm", "scaled_mm"},  # cuDNN/CUDA-only kernels
    "nn.utils": {"clip_grad", "convert_parameters", "init", "memory_format"},
    # (the files torch's functions live in; the functions themselves are provided)
    "nn.Module": {"compile", "ipu", "mtia", "xpu"},  # compile: use funcgrad.compile(module); no such devices
}


@pytest.mark.parametrize("path", ["nn", "nn.functional", "nn.utils", "nn.Module", "nn.init", "nn.utils.rnn",
                                  "nn.utils.parametrize", "nn.utils.parametrizations"])
def test_public_names(path):
    t, f = torch, funcgrad
    for part in path.split("."):
        t, f = getattr(t, part), getattr(f, part)
    typing = {"Any", "Callable", "Iterable", "NamedTuple", "Self", "TypeVar", "Literal", "ParamSpec", "Tensor",
              "torch", "warnings", "Module", "Sequence", "Enum", "auto", "F", "Optional", "Union"}
    missing = {n for n in dir(t) if not n.startswith("_") and not hasattr(f, n)}
    missing -= NOT_PROVIDED.get(path, set()) | typing
    if path == "nn.utils.rnn":
        missing -= {"PackedSequence_", "bind", "copy_method_params", "invert_permutation"}
    if path == "nn.utils.parametrize":
        missing -= {"OpaqueBase", "get_swap_module_params_on_conversion", "is_opaque_reference_type",
                    "is_traceable_wrapper_subclass"}
    assert not missing, sorted(missing)


def test_lazy_modules_against_torch():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
    got = {}
    for L in (torch, funcgrad):
        torch.manual_seed(0)
        m = L.nn.Sequential(L.nn.LazyConv2d(4, 3), L.nn.LazyBatchNorm2d(), L.nn.ReLU(), L.nn.LazyConvTranspose2d(2, 2),
                            L.nn.Flatten(), L.nn.LazyLinear(3))
        before = (repr(m), list(m.state_dict().keys()), repr(m[5].weight), type(m[5].weight).__name__)
        fresh = L.nn.Sequential(L.nn.LazyConv2d(4, 3), L.nn.LazyBatchNorm2d(), L.nn.ReLU(),
                                L.nn.LazyConvTranspose2d(2, 2), L.nn.Flatten(), L.nn.LazyLinear(3))
        m(L.tensor(x))
        if L is funcgrad:
            m.load_state_dict({k: funcgrad.tensor(v.numpy()) for k, v in tsd.items()})
            fresh.load_state_dict({k: funcgrad.tensor(v.numpy()) for k, v in tsd.items()})
        else:
            tsd = {k: v.detach().clone() for k, v in m.state_dict().items()}
            fresh.load_state_dict(tsd)
        y = m(L.tensor(x))
        after = (repr(m), [tuple(p.shape) for p in m.parameters()], type(m[5]).__name__, type(fresh[5]).__name__,
                 [tuple(p.shape) for p in fresh.parameters()])
        got[L.__name__] = (before, after, y.detach().numpy(), fresh(L.tensor(x)).detach().numpy())
    assert got["torch"][:2] == got["funcgrad"][:2]
    np.testing.assert_allclose(got["funcgrad"][2], got["torch"][2], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got["funcgrad"][3], got["torch"][3], rtol=1e-4, atol=1e-5)
    for L in (torch, funcgrad):
        assert repr(L.nn.UninitializedBuffer()) == "<UninitializedBuffer>"
        i = L.nn.LazyInstanceNorm1d()
        i(L.ones(2, 3, 4))
        assert repr(i) == "InstanceNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"


def test_nn_grad_conv():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 4, 7, 7)).astype(np.float32), rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    go = rng.standard_normal((2, 6, 4, 4)).astype(np.float32)
    res = {}
    for L in (torch, funcgrad):
        a = L.nn.grad.conv2d_input(x.shape, L.tensor(w), L.tensor(go), stride=2, padding=1)
        b = L.nn.grad.conv2d_weight(L.tensor(x), w.shape, L.tensor(go), stride=2, padding=1)
        c = L.nn.grad.conv1d_weight(L.tensor(x[:, :, 0]), (6, 2, 3), L.tensor(go[:, :, 0]), stride=2, padding=1,
                                    groups=2)
        res[L.__name__] = [t.numpy() for t in (a, b, c)]
    for a, b in zip(res["torch"], res["funcgrad"]):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4)


def test_torch_paths_under_install(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(
        "import torch\n"
        "import torch.nn.modules.module as mm\n"
        "from torch.nn.modules.utils import _pair, _triple\n"
        "from torch.nn.modules.batchnorm import _BatchNorm\n"
        "from torch.nn.modules.conv import _ConvNd\n"
        "from torch.nn.attention import SDPBackend, sdpa_kernel\n"
        "from torch.nn.parallel import DataParallel\n"
        "print(_pair(3), _triple((1, 2, 3)), isinstance(torch.nn.BatchNorm2d(2), _BatchNorm),\n"
        "      isinstance(torch.nn.Conv2d(1, 1, 1), _ConvNd))\n"
        "h = mm.register_module_forward_hook(lambda m, i, o: print('global', type(m).__name__))\n"
        "torch.nn.Linear(1, 1)(torch.ones(1, 1)); h.remove(); torch.nn.Linear(1, 1)(torch.ones(1, 1))\n"
        "with sdpa_kernel([SDPBackend.MATH, SDPBackend.FLASH_ATTENTION]):\n"
        "    q = torch.ones(1, 2, 3, 4)\n"
        "    print(torch.nn.functional.scaled_dot_product_attention(q, q, q).shape)\n"
        "dp = DataParallel(torch.nn.Linear(2, 2))\n"
        "print(list(dp.state_dict().keys()), dp(torch.ones(3, 2)).shape)\n"
        "print(dp)\n")
    outs = []
    for cmd in ([sys.executable, str(script)], [sys.executable, "-m", "funcgrad", str(script)]):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout)
    assert outs[0] == outs[1]


def test_adaptive_log_softmax_with_loss():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((10, 16)).astype(np.float32), rng.integers(0, 20, 10)
    res = {}
    for L in (torch, funcgrad):
        torch.manual_seed(0)
        m = L.nn.AdaptiveLogSoftmaxWithLoss(16, 20, [4, 10], div_value=2.0)
        if L is funcgrad:
            m.load_state_dict({k: funcgrad.tensor(v.numpy()) for k, v in sd.items()})
        else:
            sd = {k: v.detach().clone() for k, v in m.state_dict().items()}
        xt = L.tensor(x, requires_grad=True)
        out, loss = m(xt, L.tensor(y))
        loss.backward()
        res[L.__name__] = ([out.detach().numpy(), np.array(loss.item()), xt.grad.numpy(),
                            m.log_prob(L.tensor(x)).detach().numpy(), m.predict(L.tensor(x)).numpy()],
                           repr(m), err_of(lambda: m(L.tensor(x), L.tensor([25] * 10))))
    for a, b in zip(res["torch"][0], res["funcgrad"][0]):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
    assert res["torch"][1:] == res["funcgrad"][1:]


def err_of(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e)
    return None
