"""More public-style PyTorch programs exercising ``torch.nn`` breadth (a DCGAN with spectral norm, a VAE with
weight norm, a CIFAR ResNet with conv-BN fusion and hooks, a ViT on ``nn.TransformerEncoder`` with full backward
hooks, a word-level LSTM language model with ``proj_size`` and tied weights, a GRU seq2seq with attention, packed
sequences and old-style weight norm). Each runs unchanged under real torch and under ``python -m funcgrad`` from the
same initial weights (written by a first torch run, then loaded by both); every printed line agrees: text exactly,
numbers to float32 precision."""
import re

import numpy as np
import pytest

from test_programs import run

NUM = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?|-?\d+")


def assert_same_output(t_out, f_out, rtol=1e-4, atol=2e-5):
    t_lines = [ln for ln in t_out.splitlines() if ln.strip()]
    f_lines = [ln for ln in f_out.splitlines() if ln.strip()]
    assert len(t_lines) == len(f_lines), (t_out, f_out)
    for lt, lf in zip(t_lines, f_lines):
        assert NUM.sub("#", lt) == NUM.sub("#", lf), (lt, lf)
        a = [float(v) for v in NUM.findall(lt)]
        b = [float(v) for v in NUM.findall(lf)]
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=f"torch: {lt}\nfuncgrad: {lf}")


@pytest.mark.parametrize("script,args", [
    ("dcgan.py", []),
    ("vae.py", []),
    ("resnet_cifar.py", []),
    ("vit.py", []),
    ("word_lm.py", ["--tied"]),
    ("seq2seq_attn.py", []),
])
def test_nn_program(tmp_path, script, args):
    init = ["--init", str(tmp_path / "init.pt")]
    for d in ("w", "t", "f"):
        (tmp_path / d).mkdir()
    run("torch", script, args + init, tmp_path / "w")  # writes the initial weights
    t_out = run("torch", script, args + init, tmp_path / "t")
    f_out = run("funcgrad", script, args + init, tmp_path / "f")
    assert_same_output(t_out, f_out)
