"""``torch.special``: filled from the op registry (ops declared with ``namespace="special"``)."""
