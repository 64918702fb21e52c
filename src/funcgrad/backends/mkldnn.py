"""``torch.backends.mkldnn``: accepted flags (XLA picks CPU kernels itself)."""
enabled = True
deterministic = False


def is_available():
    return False
