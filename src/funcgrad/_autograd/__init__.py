"""The autograd floor, below ``Tensor``: grad modes, anomaly mode, forward-AD state and graph nodes.

Nothing here imports ``Tensor``, the ops or the autograd API; ``funcgrad.autograd`` publishes these
modules under their torch names (``torch.autograd.grad_mode``, ``.graph``, ``.anomaly_mode``).
"""


def _publish(mod, public):
    """Give ``mod``'s classes and functions the public module name ``public`` (what reprs and pickles
    print, as before the move), e.g. ``<class 'torch.autograd.graph.Node'>``."""
    for v in vars(mod).values():
        if (isinstance(v, type) or callable(v) and hasattr(v, "__code__")) and getattr(v, "__module__", None) == mod.__name__:
            v.__module__ = public
