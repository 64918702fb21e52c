"""``funcgrad.optim``: torch's optimizers, each update an optax transformation run by one jitted program."""
from . import lr_scheduler, transforms
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .optimizers import ASGD, SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, RAdam, RMSprop, Rprop

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD",
           "Rprop", "LBFGS", "lr_scheduler", "transforms"]
