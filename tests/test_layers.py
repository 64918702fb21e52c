"""Imports flow downward: every module of ``src/funcgrad`` imports only from its own layer or below.

Each module is parsed with ``ast`` (imports inside functions included, so a "late" import of a
higher layer is caught too). Importing ``a.b.c`` runs the ``__init__`` of ``a`` and ``a.b`` first,
so those packages count as imported as well (``from ..autograd import grad_mode`` imports the
autograd API package, whatever ``grad_mode`` is).
"""
from __future__ import annotations

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "funcgrad"

# Bottom to top; a module belongs to the layer of its longest listed prefix.
LAYERS = [
    ("floor: dtypes, devices, tape, sizes, layouts", ["_dtypes", "_device", "_lazy", "_size", "_layout", "_env",
                                                       "return_types", "version", "_autocast"]),
    ("graph nodes, grad and anomaly modes, forward-AD state", ["_autograd"]),
    ("tensor", ["tensor", "_tensor_str"]),
    ("ops: registry and op families", ["_ops", "_tensor_methods", "fft", "linalg", "special", "masked", "signal"]),
    ("autograd API", ["autograd", "func"]),
    ("nn", ["nn"]),
    ("optim", ["optim"]),
    ("compile", ["compile"]),
    ("distributed (torch.nn.parallel is DDP, built on it)", ["distributed", "nn.parallel"]),
    ("programs and utilities", ["", "__main__", "_install", "accelerator", "amp", "backends", "cpu", "cuda",
                                "multiprocessing", "serialization", "utils", "viz"]),
]

# (importing module, imported module) -> why this upward import remains. Keep it empty where possible.
ALLOWED: dict[tuple[str, str], str] = {}


def _layer(mod: str) -> int:
    best, level = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (mod == p or mod.startswith(p + ".") or p == "") and len(p) > best:
                best, level = len(p), i
    return level


def _modules():
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_pkg)
    return out


MODULES = _modules()


def _resolve(mod, is_pkg, node):
    """The funcgrad modules (relative to the package root) an import statement runs."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names if a.name == "funcgrad" or a.name.startswith("funcgrad.")]
        return [n[len("funcgrad."):] if n != "funcgrad" else "" for n in names]
    if node.level == 0:
        if node.module != "funcgrad" and not (node.module or "").startswith("funcgrad."):
            return []
        base = node.module[len("funcgrad."):] if node.module != "funcgrad" else ""
    else:
        pkg = mod.split(".") if is_pkg else mod.split(".")[:-1]
        pkg = [p for p in pkg if p]
        pkg = pkg[:len(pkg) - (node.level - 1)]
        base = ".".join(pkg + ([node.module] if node.module else []))
    targets = []
    for a in node.names:
        sub = f"{base}.{a.name}" if base else a.name
        targets.append(sub if sub in MODULES else base)  # a submodule, or a name of the package itself
    return targets


def _with_parents(target):
    parts = target.split(".") if target else []
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)] or [""]


def _violations():
    found = []
    for mod, (path, is_pkg) in MODULES.items():
        here = _layer(mod)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _resolve(mod, is_pkg, node):
                for t in _with_parents(target):
                    if t == "" and target != "":  # the root package is always initialised first
                        continue
                    if _layer(t) > here:
                        found.append((mod, t, node.lineno))
    return found


def test_every_module_has_a_layer():
    assert all(_layer(m) is not None for m in MODULES)


def test_imports_flow_downward():
    bad = sorted({f"{m}:{line} imports {t} ({LAYERS[_layer(t)][0]}) from layer '{LAYERS[_layer(m)][0]}'"
                  for m, t, line in _violations() if (m, t) not in ALLOWED})
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_allowlist_is_current():
    seen = {(m, t) for m, t, _ in _violations()}
    stale = [k for k in ALLOWED if k not in seen]
    assert not stale, f"allowed upward imports that no longer exist (remove them): {stale}"


@pytest.mark.parametrize("layer", ["_autograd", "tensor", "_tensor_str", "_ops"])
def test_core_layers_need_no_allowlist(layer):
    """The goal for the tensor/ops/autograd core: no upward import at all."""
    assert not [k for k in ALLOWED if k[0] == layer or k[0].startswith(layer + ".")]
