"""Finite-difference gradient checks: not built yet, see issue 4."""
from __future__ import annotations

__all__ = ["gradcheck", "gradgradcheck"]


def gradcheck(*args, **kwargs):
    raise NotImplementedError("funcgrad.autograd.gradcheck is not implemented yet")


def gradgradcheck(*args, **kwargs):
    raise NotImplementedError("funcgrad.autograd.gradgradcheck is not implemented yet")
