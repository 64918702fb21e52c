"""Shared by the lazy-tape tests: a fixture resetting the tape's churn/segment memory, and an exact
comparison of values that tells -0.0 from 0.0 and NaN from numbers."""
from __future__ import annotations

import collections

import numpy as np
import pytest

from funcgrad import _lazy


@pytest.fixture
def fresh(monkeypatch):
    """The executor as a new process has it: no recent flushes, no segments."""
    monkeypatch.setattr(_lazy, "_recent", collections.deque([False] * 8, maxlen=8))
    monkeypatch.setattr(_lazy, "_cuts", collections.deque(maxlen=4))
    monkeypatch.setattr(_lazy, "_prev", None)


def same(a, b, exact=True):
    """``a`` equals ``b``: dtype, shape, NaN positions and signs; values exactly, or (a sum: its order
    of additions may differ by an ulp) to 1e-5."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    if a.dtype.kind == "f":
        num = ~np.isnan(b)
        np.testing.assert_array_equal(np.signbit(a)[num], np.signbit(b)[num])
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    if exact:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
