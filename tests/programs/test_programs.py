"""Three public-style PyTorch programs run unchanged under real torch (``python script.py``) and under
funcgrad (``python -m funcgrad script.py``) from the same initial weights (a state_dict file written by
one side, read by the other); their printed losses agree to float32 precision, and checkpoints written
by torch resume under funcgrad."""
import os
import re
import shutil
import subprocess
import sys

import numpy as np

import funcgrad

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(os.path.abspath(funcgrad.__file__)))
LOSS = re.compile(r"[Ll]oss:? ([-0-9.]+)")


def run(backend, script, args, cwd):
    env = dict(os.environ, PYTHONPATH=SRC, PYTHONWARNINGS="ignore")
    cmd = [sys.executable] + (["-m", "funcgrad"] if backend == "funcgrad" else []) + [os.path.join(HERE, script)]
    r = subprocess.run(cmd + list(args), cwd=str(cwd), env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{backend} {script} failed:\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}"
    return r.stdout


def losses(out):
    return [float(v) for line in out.splitlines() for v in LOSS.findall(line)]


def assert_same_run(t_out, f_out, rtol=2e-5, atol=3e-6):
    lt, lf = losses(t_out), losses(f_out)
    assert len(lt) == len(lf) and len(lt) > 3, (t_out, f_out)
    np.testing.assert_allclose(lf, lt, rtol=rtol, atol=atol)


def test_mnist_cnn(tmp_path):
    opt = ["--optimizer", "adadelta", "--lr", "1.0"] if hasattr(funcgrad.optim, "Adadelta") else \
        ["--optimizer", "adam", "--lr", "0.01"]
    args = opt + ["--dropout", "0", "0", "--epochs", "2", "--train-size", "128", "--log-interval", "1",
                  "--init", str(tmp_path / "init.pt"), "--save-model"]
    (tmp_path / "t").mkdir()
    (tmp_path / "f").mkdir()
    t_out = run("torch", "mnist_cnn.py", args, tmp_path / "t")
    f_out = run("funcgrad", "mnist_cnn.py", args + ["--num-workers", "1"], tmp_path / "f")
    assert_same_run(t_out, f_out)
    assert "Reloaded model:" in f_out and (tmp_path / "f" / "mnist_cnn.pt").exists()
    # funcgrad's saved model loads in torch with weights_only=True and gives the same test loss
    import torch

    sd = torch.load(tmp_path / "f" / "mnist_cnn.pt", weights_only=True)
    sd_t = torch.load(tmp_path / "t" / "mnist_cnn.pt", weights_only=True)
    for k in sd_t:
        np.testing.assert_allclose(sd[k].numpy(), sd_t[k].numpy(), rtol=1e-4, atol=1e-5)


def test_char_mlp_with_checkpoint_resume(tmp_path):
    common = ["--max-steps", "16", "--save-every", "8", "--init", str(tmp_path / "init.pt")]
    t_out = run("torch", "char_mlp.py", common + ["--work-dir", "t"], tmp_path)
    f_out = run("funcgrad", "char_mlp.py", common + ["--work-dir", "f"], tmp_path)
    assert_same_run(t_out, f_out)
    assert t_out.split("sample:")[1] == f_out.split("sample:")[1]
    # funcgrad resumes from torch's checkpoint (model + AdamW state) and continues as torch did
    r_out = run("funcgrad", "char_mlp.py", common + ["--work-dir", "r", "--resume", "t/ckpt_8.pt"], tmp_path)
    assert "resumed from t/ckpt_8.pt at step 8" in r_out
    tail_t = [line for line in t_out.splitlines() if re.match(r"step (9|1[0-6]) \|", line)]
    tail_r = [line for line in r_out.splitlines() if re.match(r"step (9|1[0-6]) \|", line)]
    np.testing.assert_allclose(losses("\n".join(tail_r)), losses("\n".join(tail_t)), rtol=2e-5, atol=3e-6)
    # and torch resumes from funcgrad's checkpoint
    r2 = run("torch", "char_mlp.py", common + ["--work-dir", "r2", "--resume", "f/ckpt_8.pt"], tmp_path)
    tail_r2 = [line for line in r2.splitlines() if re.match(r"step (9|1[0-6]) \|", line)]
    np.testing.assert_allclose(losses("\n".join(tail_r2)), losses("\n".join(tail_t)), rtol=2e-5, atol=3e-6)


def test_nanogpt_train(tmp_path):
    common = ["--max_iters=10", "--eval_interval=5", "--lr_decay_iters=10", "--warmup_iters=3",
              f"--init_weights={tmp_path / 'init.pt'}"]
    t_out = run("torch", "nanogpt_train.py", common + ["--out_dir=t"], tmp_path)
    f_out = run("funcgrad", "nanogpt_train.py", common + ["--out_dir=f"], tmp_path)
    assert_same_run(t_out, f_out)
    assert t_out.split("sample:")[1] == f_out.split("sample:")[1]
    # resume from torch's last checkpoint (nanoGPT's init_from='resume') on both backends
    shutil.copytree(tmp_path / "t", tmp_path / "rt")
    shutil.copytree(tmp_path / "t", tmp_path / "rf")
    more = ["--max_iters=13", "--eval_interval=5", "--lr_decay_iters=10", "--init_from=resume"]
    rt = run("torch", "nanogpt_train.py", more + ["--out_dir=rt"], tmp_path)
    rf = run("funcgrad", "nanogpt_train.py", more + ["--out_dir=rf"], tmp_path)
    assert_same_run(rt, rf)
