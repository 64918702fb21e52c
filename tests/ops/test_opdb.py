"""torch's OpInfo database against funcgrad: one test per OpInfo (name.variant) funcgrad implements.

Each test runs a capped set of torch's own sample inputs (``opdb_util.CAPS``: 3 float32 samples
with gradients, 2 int64 samples; ``FUNCGRAD_LONG=1`` runs every sample and more dtypes) through
torch and funcgrad and compares outputs, errors, grads, forward-mode AD, ``grad_fn`` names, and
the method and in-place variants; ``test_opdb_errors`` runs torch's ``error_inputs``. OpInfos funcgrad lacks are not collected (``tools/opdb_coverage.py``
reports them as missing). Known differences live in ``tests/ops/xfail_*.py`` (strict: an op that
starts passing must leave its xfail file).
"""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import opdb_util as U  # noqa: E402


def _params(table, errors=False):
    out = []
    for op in U.OP_DB:
        if U.resolve(op) is None or (errors and op.error_inputs_func is None):
            continue
        reason = U.xfail_reason(op, table)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(op, id=U.op_id(op), marks=marks))
    return out


@pytest.mark.parametrize("op", _params(U.XFAIL))
def test_opdb(op):
    results = U.check_opinfo(op)
    usable = [r for r in results if r.forward != "skip"]
    if not usable:
        reasons = sorted({r.message for r in results})[:3]
        pytest.fail(f"{U.op_id(op)} resolves in funcgrad but has no usable torch sample: {reasons}")
    bad = [r for r in results if not r.ok]
    if bad:
        lines = [r.line() for r in bad[:8]]
        more = f"\n... and {len(bad) - 8} more" if len(bad) > 8 else ""
        pytest.fail(f"{len(bad)}/{len(results)} checks differ from torch:\n" + "\n".join(lines) + more,
                    pytrace=False)


@pytest.mark.parametrize("op", _params(U.XFAIL_ERRORS, errors=True))
def test_opdb_errors(op):
    """torch's own error_inputs (those without ``out=``): funcgrad raises torch's exception class
    (or NotImplementedError). Known differences: ``XFAIL_ERRORS`` in ``tests/ops/xfail_*.py``."""
    bad = [r for r in U.check_errors(op) if not r.ok]
    if bad:
        pytest.fail(f"{len(bad)} error inputs differ from torch:\n" + "\n".join(r.line() for r in bad[:8]),
                    pytrace=False)
