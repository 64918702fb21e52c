"""``funcgrad.optim``: torch's optimizers, each update an optax transformation run by one jitted program."""
from . import lr_scheduler, transforms
from .optimizer import Optimizer
from .optimizers import SGD, Adagrad, Adam, AdamW, RMSprop

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler", "transforms"]
