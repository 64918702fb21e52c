"""``funcgrad.optim``: torch's optimizers, each update an optax transformation run by one jitted program."""
from . import lr_scheduler, transforms
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .optimizers import (ASGD, SGD, Adadelta, Adafactor, Adagrad, Adam, Adamax, AdamW, Muon, NAdam, RAdam, RMSprop,
                         Rprop, SparseAdam)
from . import swa_utils  # noqa: E402 - after the optimizers (it imports nn)
from ._stateless import swap_in_optimizer_params_and_state  # noqa: E402

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD",
           "Rprop", "Adafactor", "Muon", "SparseAdam", "LBFGS", "lr_scheduler", "swa_utils", "transforms",
           "swap_in_optimizer_params_and_state"]
