"""``torch.linalg``: filled from the op registry (ops declared with ``namespace="linalg"``)."""
