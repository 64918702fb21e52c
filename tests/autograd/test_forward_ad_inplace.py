"""Forward-mode AD through in-place ops carries the result's tangent, as torch's."""
import numpy as np
import pytest
import torch
import torch.autograd.forward_ad as tfw

import funcgrad
import funcgrad.autograd.forward_ad as ffw


@pytest.mark.parametrize("op", ["exp_", "mul_", "add_", "cumsum_"])
def test_inplace_tangent_matches_torch(op):
    outs = []
    for lib, fw in ((torch, tfw), (funcgrad, ffw)):
        with fw.dual_level():
            x = fw.make_dual(lib.tensor([0.5, 1.0, -2.0]), lib.tensor([1.0, 2.0, 3.0]))
            y = x.clone()
            if op == "exp_":
                y.exp_()
            elif op == "mul_":
                y.mul_(3)
            elif op == "add_":
                y.add_(x)
            else:
                y.cumsum_(0)
            outs.append(np.asarray(fw.unpack_dual(y).tangent.tolist()))
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-6)
