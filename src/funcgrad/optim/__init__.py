"""``funcgrad.optim``: optimizers over optax."""
