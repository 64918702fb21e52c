"""``python -m funcgrad script.py`` and ``funcgrad.install()``: ``torch`` resolves to funcgrad, real torch
is never loaded (it is installed in this environment), ``sys.argv`` / ``__main__`` as ``python script.py``."""
import os
import subprocess
import sys
import textwrap

import pytest

import funcgrad

SRC = os.path.dirname(os.path.dirname(os.path.abspath(funcgrad.__file__)))


def run_script(tmp_path, body, *args, name="script.py"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "funcgrad", str(p), *args], capture_output=True, text=True,
                          env=env, timeout=300, cwd=str(tmp_path))


def test_script_sees_funcgrad_as_torch(tmp_path):
    r = run_script(tmp_path, """
        import sys
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        import torch.optim as optim
        from torch import nn as nn2, optim as optim2
        from torch.utils.data import DataLoader, TensorDataset
        from torch.optim.lr_scheduler import StepLR
        import funcgrad
        assert sys.modules["torch"] is funcgrad
        assert torch is funcgrad and nn is funcgrad.nn and nn2 is nn and optim2 is optim is funcgrad.optim
        assert F is funcgrad.nn.functional
        assert DataLoader is funcgrad.utils.data.DataLoader
        assert "torch._C" not in sys.modules and not any(
            getattr(m, "__file__", "") and "site-packages/torch/" in m.__file__ for m in list(sys.modules.values()))
        print("name", __name__, "argv", sys.argv[1:], "path0", sys.path[0] == __file__.rsplit("/", 1)[0])
        x = torch.ones(2, requires_grad=True)
        (x * 3).sum().backward()
        print(x.grad)
    """, "--epochs", "3", "pos")
    assert r.returncode == 0, r.stderr
    assert "name __main__ argv ['--epochs', '3', 'pos'] path0 True" in r.stdout
    assert "tensor([3., 3.])" in r.stdout


def test_missing_torch_submodule_is_named(tmp_path):
    r = run_script(tmp_path, """
        import sys
        try:
            import torch.distributed.pipelining
        except ModuleNotFoundError as e:
            print("MNF", e.name, str(e))
        assert "torch._C" not in sys.modules
        try:
            from torch.ao.quantization import QuantStub
        except ImportError as e:
            print("IE", type(e).__name__)
    """)
    assert r.returncode == 0, r.stderr
    assert "MNF torch.distributed.pipelining" in r.stdout and \
        "funcgrad does not implement the torch API 'torch.distributed.pipelining" in r.stdout
    assert "IE ModuleNotFoundError" in r.stdout


def test_script_error_exit_code_and_main_guard(tmp_path):
    r = run_script(tmp_path, """
        import torch
        def main():
            raise ValueError("boom")
        if __name__ == "__main__":
            main()
    """)
    assert r.returncode == 1
    assert "ValueError: boom" in r.stderr
    assert "runpy" not in r.stderr and "__main__.py" not in r.stderr  # as `python script.py` prints it
    assert r.stderr.startswith("Traceback (most recent call last):")


def test_run_module_and_env_modules(tmp_path):
    (tmp_path / "prog_mod.py").write_text(textwrap.dedent("""
        import sys
        import torch
        import torch.multiprocessing as mp
        import torch.version
        from torch.utils.data._utils.collate import default_collate
        from torch.utils.data.dataloader import DataLoader
        from torch.utils.data.distributed import DistributedSampler
        import torch.backends.cudnn as cudnn
        import torch.cuda.amp
        from torch.amp import GradScaler
        print("mod", __name__, sys.argv, torch.version.cuda, torch.cuda.is_available() in (True, False))
    """))
    env = dict(os.environ, PYTHONPATH=SRC)
    r = subprocess.run([sys.executable, "-m", "funcgrad", "-m", "prog_mod", "x"], capture_output=True, text=True,
                       env=env, timeout=300, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "mod __main__" in r.stdout and "'x'" in r.stdout and "None True" in r.stdout


def test_pickle_class_defined_in_script(tmp_path):
    r = run_script(tmp_path, """
        import io, pickle
        import torch
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(2, 1)
        n = pickle.loads(pickle.dumps(Net()))
        print(type(n).__name__, type(n.fc).__module__)
    """)
    assert r.returncode == 0, r.stderr
    assert "Net funcgrad.nn" in r.stdout


def test_install_uninstall_in_process():
    import torch as real_torch  # the oracle, in this process

    assert real_torch is not funcgrad
    funcgrad.install()
    try:
        import torch
        import torch.nn.functional as F
        from torch.utils import data

        assert torch is funcgrad and sys.modules["torch"] is funcgrad
        assert F is funcgrad.nn.functional and data is funcgrad.utils.data
        with pytest.raises(ModuleNotFoundError, match="funcgrad does not implement the torch API 'torch.distributions'"):
            import torch.distributions  # noqa: F401
        funcgrad.install()  # idempotent
    finally:
        funcgrad.uninstall()
    import torch

    assert torch is real_torch and sys.modules["torch.nn.functional"] is real_torch.nn.functional
    assert not any(f is getattr(funcgrad, "_install")._finder for f in sys.meta_path)


def test_usage_without_arguments():
    env = dict(os.environ, PYTHONPATH=SRC)
    r = subprocess.run([sys.executable, "-m", "funcgrad"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and "usage: python -m funcgrad script.py" in r.stderr
