"""``funcgrad.optim``: torch's optimizers, each update an optax transformation run by one jitted program."""
from . import lr_scheduler, transforms
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .optimizers import (ASGD, SGD, Adadelta, Adafactor, Adagrad, Adam, Adamax, AdamW, Muon, NAdam, RAdam, RMSprop,
                         Rprop, SparseAdam)

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD",
           "Rprop", "Adafactor", "Muon", "SparseAdam", "LBFGS", "lr_scheduler", "transforms"]
