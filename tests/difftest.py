"""Differential testing: the same code under real torch (the oracle) and funcgrad.

``run_cells(cells)`` executes notebook-style cells in order under both libraries and returns,
per cell, what a user sees: stdout, the repr of a trailing expression (as Jupyter shows it),
warnings and the exception (class and message). ``assert_same`` compares the two transcripts:
text must match exactly after object addresses are masked; numbers match to a tolerance
(XLA and torch's kernels may sum in a different order).
"""
from __future__ import annotations

import ast
import contextlib
import io
import math
import re
import warnings

import numpy as np

import funcgrad
import torch

ADDR = re.compile(r"0x[0-9a-fA-F]+")
NUM = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf")


class DataFactory:
    """Same random data for both libraries: randn/rand from one numpy stream."""

    def __init__(self, lib, seed=0):
        self.lib = lib
        self.rng = np.random.default_rng(seed)

    def _shape(self, size):
        if len(size) == 1 and isinstance(size[0], (tuple, list)):
            return tuple(size[0])
        return tuple(size)

    def randn(self, *size, dtype=None, device=None, requires_grad=False):
        a = self.rng.standard_normal(self._shape(size)).astype(np.float32)
        return self.lib.tensor(a, dtype=dtype or self.lib.float32, requires_grad=requires_grad)

    def rand(self, *size, dtype=None, device=None, requires_grad=False):
        a = self.rng.random(self._shape(size)).astype(np.float32)
        return self.lib.tensor(a, dtype=dtype or self.lib.float32, requires_grad=requires_grad)


class LibProxy:
    """The module, with randn/rand drawn from DataFactory so both sides see the same numbers."""

    def __init__(self, lib, seed=0):
        self._lib = lib
        self._data = DataFactory(lib, seed)

    def __getattr__(self, name):
        if name in ("randn", "rand"):
            return getattr(self._data, name)
        return getattr(self._lib, name)


def _prep(code):
    code = code.replace("import torch.optim as optim", "optim = torch.optim")
    code = re.sub(r"^import torch\s*$", "", code, flags=re.M)
    code = re.sub(r"^import numpy as np\s*$", "", code, flags=re.M)
    return code


def run_cells(cells, lib, seed=0):
    ns = {"torch": LibProxy(lib, seed), "np": np}
    out = []
    for cell in cells:
        code = _prep(cell)
        tree = ast.parse(code)
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        buf = io.StringIO()
        rec = {"stdout": "", "value": None, "warnings": [], "error": None}
        with warnings.catch_warnings(record=True) as ws, contextlib.redirect_stdout(buf):
            warnings.simplefilter("always")
            try:
                exec(compile(tree, "<cell>", "exec"), ns)
                if last is not None:
                    v = eval(compile(last, "<cell>", "eval"), ns)
                    rec["value"] = repr(v) if v is not None else None
            except Exception as e:  # noqa: BLE001 - the transcript records it
                rec["error"] = (type(e).__name__, str(e))
        rec["stdout"] = buf.getvalue()
        # a forward trace names different frames under each library: compare its first line only
        rec["warnings"] = [(w.category.__name__,
                            str(w.message).split(" (Triggered internally")[0].split("Traceback of forward call")[0])
                           for w in ws]
        out.append(rec)
    return out, ns


def _split(text):
    text = ADDR.sub("0xADDR", text or "")
    nums = [float(x) for x in NUM.findall(text)]
    return NUM.sub("#", text), nums


def same_text(a, b, rtol=1e-5, atol=1e-6):
    ta, na = _split(a)
    tb, nb = _split(b)
    if ta != tb or len(na) != len(nb):
        return False
    for x, y in zip(na, nb):
        if math.isnan(x) and math.isnan(y):
            continue
        if not math.isclose(x, y, rel_tol=rtol, abs_tol=atol):
            return False
    return True


def assert_same(cells, rtol=1e-5, atol=1e-6, seed=0, error_phrase_only=False):
    """Run ``cells`` under torch and funcgrad; assert both transcripts agree. Returns them."""
    ref, _ = run_cells(cells, torch, seed)
    got, _ = run_cells(cells, funcgrad, seed)
    for i, (r, g) in enumerate(zip(ref, got)):
        where = f"cell {i}:\n{cells[i]}"
        assert same_text(r["stdout"], g["stdout"], rtol, atol), f"{where}\nstdout torch:\n{r['stdout']}\nfuncgrad:\n{g['stdout']}"
        assert same_text(r["value"], g["value"], rtol, atol), f"{where}\nvalue torch:\n{r['value']}\nfuncgrad:\n{g['value']}"
        if r["error"] is None:
            assert g["error"] is None, f"{where}\nfuncgrad raised {g['error']}"
        else:
            assert g["error"] is not None, f"{where}\ntorch raised {r['error']}, funcgrad did not"
            assert g["error"][0] == r["error"][0], f"{where}\n{r['error']} vs {g['error']}"
            assert g["error"][1] == r["error"][1] or (error_phrase_only and r["error"][1][:60] in g["error"][1]), \
                f"{where}\nmessages differ:\n torch:    {r['error'][1]}\n funcgrad: {g['error'][1]}"
        assert r["warnings"] == g["warnings"], f"{where}\nwarnings torch {r['warnings']}\nfuncgrad {g['warnings']}"
    return ref, got
