"""``torch.fft``: filled from the op registry (ops declared with ``namespace="fft"``)."""
