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
    msg = U.verdict(U.check_opinfo(op))
    if msg:
        pytest.fail(msg, pytrace=False)


@pytest.mark.parametrize("op", _params(U.XFAIL_ERRORS, errors=True))
def test_opdb_errors(op):
    """torch's own error_inputs (those without ``out=``): funcgrad raises torch's exception class
    (or NotImplementedError). Known differences: ``XFAIL_ERRORS`` in ``tests/ops/xfail_*.py``."""
    results = U.check_errors(op)
    if not results:  # e.g. median: every error input of torch's uses out=, which is not modelled
        pytest.skip("no torch error_inputs without out=")
    msg = U.verdict(results, errors=True)
    if msg:
        pytest.fail(msg, pytrace=False)
