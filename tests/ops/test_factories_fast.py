"""The direct routes of building a batch (``tensor`` of a flat list, ``arange(n)``, ``x[i:j]``,
``x[None, :]``-style unsqueezes, ``F.pad`` with a tuple, ``stack`` of equal tensors) against torch:
values, dtypes, grad_fn names, views and version counters, errors; each expression runs several
times, so the remembered routes (not only the first, general call) are what is compared."""
from __future__ import annotations

import warnings

import pytest
import torch

from difftest import assert_same

CELLS = {
    "tensor_flat": [
        "for d in ([1, 2, 3], [1.5, -2.25], [0.1, 0.2, 0.3], [True, False], [1, 2.5], [2**62, -2**63], [7],"
        " [float('nan'), 1.0], [1e300, -1e300, 1.0], [float('inf')], [1.0, float('nan'), 1e39]):\n"
        "    for _ in range(2):\n"
        "        t = torch.tensor(d)\n"
        "        print(t, t.dtype, t.shape, t.requires_grad, t.is_leaf, t.grad_fn, t.device)",
        "torch.tensor([2**63])",
        "torch.tensor([1, 'a'])",
        "torch.tensor([])",
        "t = torch.tensor([1.0, 2.0]); t.add_(1); u = torch.tensor([1.0, 2.0]); print(t, u, t._version)",
        "print(torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1, 2], dtype=torch.float64),"
        " torch.tensor([1.5, 2.5], dtype=torch.int32))",
        "torch.set_default_dtype(torch.float64)\n"
        "t = torch.tensor([0.1, 1e300]); print(t, t.dtype)\n"
        "torch.set_default_dtype(torch.float32)",
        "with torch.inference_mode():\n    t = torch.tensor([1, 2])\nprint(t.is_inference())",
        "with torch.no_grad():\n    print(torch.tensor([1.0]).requires_grad)",
    ],
    "arange": [
        "for n in (0, 1, 5, 5, 60, 60):\n    a = torch.arange(n); print(a, a.dtype, a.shape)",
        "a = torch.arange(4); a.add_(10); b = torch.arange(4); a[0] = 7; print(a, b, torch.arange(4))",
        "print(torch.arange(5.0), torch.arange(5, dtype=torch.float32), torch.arange(True))",
        "torch.arange(-1)",
    ],
    "slices": [
        "x = torch.randn(7, 3, requires_grad=True)\n"
        "for _ in range(2):\n"
        "    for a, b in ((2, 5), (0, 3), (5, 2), (-3, None), (None, None), (10, 20), (0, 7), (3, 3)):\n"
        "        y = x[a:b]\n"
        "        print(y.shape, y.grad_fn, y._base is x, y.is_contiguous(), y.storage_offset(), y._version)\n"
        "y = x[1:4]; (y * torch.arange(3.0)[:, None]).sum().backward(); print(x.grad)",
        "x = torch.randn(7, 3, requires_grad=True)\nx[::2]",
        "x = torch.randn(7, 3, requires_grad=True)\nx[::-1]",
        "x = torch.randn(7, 3, requires_grad=True)\nx[1:2:0]",
        "x = torch.zeros(6, 2)\nfor _ in range(2):\n    y = x[1:3]; y.add_(1); print(x, x._version, y._version)",
        "x = torch.zeros(6, 2)\nv = x[2:]\nfor _ in range(2):\n    w = v[1:3]; w.mul_(2).add_(1); print(x, v, w._base is x)",
        "x = torch.randn(5, 2, requires_grad=True).clone()\n"
        "for _ in range(2):\n    y = x[1:3]\n    print(y.grad_fn, y.grad_fn.next_functions)",
        "x = torch.tensor(3.0)\nx[1:2]",
        "x = torch.randn(4, requires_grad=True)\nwith torch.no_grad():\n    y = x[1:3]\nprint(y.grad_fn)",
    ],
    "unsqueezes": [
        "x = torch.randn(3, requires_grad=True); m = torch.randn(2, 3)\n"
        "for _ in range(2):\n"
        "    for y in (x[None, :], x[:, None], m[:, :, None], m[None, :], m[:, None], x[None], m[None, None, :],"
        " m[:, None, :, None], m[None, :, :]):\n"
        "        print(y.shape, y.grad_fn, y._base is x or y._base is m, y.stride())\n"
        "(x[None, :] * torch.arange(3.0)).sum().backward(); print(x.grad)",
        "x = torch.tensor(2.0)\nx[None, :]",
        "x = torch.randn(3)\nx[:, :, None]",
        "x = torch.randn(3)\nx[:, None, :]",
        "x = torch.zeros(3)\nfor _ in range(2):\n    y = x[:, None]; y.add_(1); print(x, x._version)",
        "print(torch.arange(60)[None, :] < torch.tensor([5, 60, 33])[:, None])",
    ],
    "pad": [
        "F = torch.nn.functional\n"
        "x = torch.randn(7, 3, requires_grad=True)\n"
        "for _ in range(3):\n"
        "    for p in ((0, 0, 0, 4), (1, 2), (0, 0, 2, 1), (0, 0, -2, 1), (1, 1, 1, 1), (0, 0, 0, 0)):\n"
        "        y = F.pad(x, p)\n"
        "        print(y.shape, y.grad_fn, y._base is None, y.is_leaf)\n"
        "y = F.pad(x[2:5], (0, 0, 0, 4)); (y * torch.arange(7.0)[:, None]).sum().backward(); print(x.grad)",
        "F = torch.nn.functional\nx = torch.arange(6).reshape(3, 2)\n"
        "for _ in range(2):\n    print(F.pad(x, (1, 1)), F.pad(x > 2, (0, 1)), F.pad(x, (1, 0), value=9), F.pad(x.double(), (1, 0), value=-0.0))",
        "F = torch.nn.functional\nF.pad(torch.randn(3, 2), (1, 2, 3))",
        "F = torch.nn.functional\nF.pad(torch.randn(3), (1, 2, 3, 4))",
        "F = torch.nn.functional\nF.pad(torch.randn(3, 2), (0, 0, -4, 0))",
        "F = torch.nn.functional\nx = torch.randn(4, 2)\n"
        "for _ in range(2):\n    y = F.pad(x, (0, 0, 0, 2)); x.add_(1); print(y._version, x._version)",
        "F = torch.nn.functional\nx = torch.randn(4, 2, requires_grad=True)\n"
        "with torch.no_grad():\n    print(F.pad(x, (0, 0, 1, 1)).requires_grad)",
    ],
    "stack": [
        "a = torch.randn(3, requires_grad=True); b = torch.randn(3)\n"
        "for _ in range(2):\n"
        "    for d in (0, 1, -1, -2):\n"
        "        y = torch.stack([a, b, a], d); print(y.shape, y.grad_fn, y.requires_grad)\n"
        "torch.stack([a, b]).pow(2).sum().backward(); print(a.grad)",
        "x = torch.randn(4, 2)\nfor _ in range(2):\n"
        "    print(torch.stack([x[1:3], x[0:2]]), torch.stack((x, x)).shape, torch.stack([x.double(), x]).dtype,"
        " torch.stack([x > 0, x < 0]).dtype, torch.stack([x]).shape)",
        "torch.stack([torch.ones(2), torch.ones(3)])",
        "torch.stack([torch.ones(2), torch.ones(2)], 3)",
        "torch.stack(torch.ones(2))",
        "torch.stack([torch.ones(2), 1])",
        "torch.stack([])",
        "x = torch.ones(2)\nwith torch.no_grad():\n    print(torch.stack([x.requires_grad_(), x]).requires_grad)",
    ],
}


@pytest.mark.parametrize("name", sorted(CELLS))
def test_fast_routes_match_torch(name):
    assert_same(CELLS[name])


def test_fast_routes_under_forward_ad():
    torch.autograd.forward_ad.dual_level  # torch's first use warns (torch.jit.script's deprecation)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.autograd.forward_ad.dual_level():
            torch.autograd.forward_ad.make_dual(torch.zeros(1), torch.zeros(1))
    assert_same([
        "fwAD = torch.autograd.forward_ad\nF = torch.nn.functional\n"
        "p = torch.randn(5, 2); t = torch.randn(5, 2)\n"
        "with fwAD.dual_level():\n"
        "    d = fwAD.make_dual(p, t)\n"
        "    for _ in range(2):\n"
        "        y = torch.stack([F.pad(d[1:3], (0, 0, 0, 2)), d[None, 0:4][0]])\n"
        "        print(fwAD.unpack_dual(y).tangent)",
    ])
