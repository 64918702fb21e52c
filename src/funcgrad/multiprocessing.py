"""``torch.multiprocessing``: Python's ``multiprocessing`` (funcgrad tensors pickle by value)."""
from multiprocessing import *  # noqa: F401,F403
from multiprocessing import get_all_start_methods, get_context, get_start_method, set_start_method  # noqa: F401


def set_sharing_strategy(new_strategy):
    """Accepted: funcgrad tensors travel between processes by value."""


def get_sharing_strategy():
    return "file_system"


def get_all_sharing_strategies():
    return {"file_system"}
