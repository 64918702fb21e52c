"""``Size``: a tuple that prints as ``torch.Size([2, 3])``; dim wrapping (the floor every layer uses)."""
from __future__ import annotations


class Size(tuple):
    def __repr__(self):
        return f"torch.Size([{', '.join(str(s) for s in self)}])"

    __str__ = __repr__

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, k):
        r = tuple.__getitem__(self, k)
        return Size(r) if isinstance(k, slice) else r


def _wrap_dim(dim, ndim):
    """``dim`` in ``[0, ndim)`` (a 0-d tensor counts as 1-d), or torch's IndexError."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n
