"""torch's OpInfo database against funcgrad: one test per OpInfo (name.variant) funcgrad implements.

Each test runs a capped set of torch's own sample inputs (``opdb_util.CAPS``: 3 float32 samples
with gradients, 2 int64 samples; ``FUNCGRAD_LONG=1`` runs every sample and more dtypes) through
torch and funcgrad and compares outputs, errors, grads, forward-mode AD, ``grad_fn`` names, and
the method and in-place variants. OpInfos funcgrad lacks are not collected (``tools/opdb_coverage.py``
reports them as missing). Known differences live in ``tests/ops/xfail_*.py`` (strict: an op that
starts passing must leave its xfail file).
"""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import opdb_util as U  # noqa: E402


def _params():
    out = []
    for op in U.OP_DB:
        if U.resolve(op) is None:
            continue
        reason = U.xfail_reason(op)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(op, id=U.op_id(op), marks=marks))
    return out


@pytest.mark.parametrize("op", _params())
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
