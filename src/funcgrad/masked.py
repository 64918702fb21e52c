"""``torch.masked``: reductions and normalizations that ignore masked-out elements (``mask=``);
filled from the op registry (ops declared with ``namespace="masked"``, in ``_ops/masked.py``)."""
