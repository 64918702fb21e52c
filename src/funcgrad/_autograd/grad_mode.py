"""Grad modes: thread-local flags, usable as context managers and decorators (as in torch)."""
from __future__ import annotations

import functools
import inspect
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled"]


class _Mode(threading.local):
    grad = True
    inference = False


_mode = _Mode()


def is_grad_enabled() -> bool:
    return _mode.grad


def is_inference_mode_enabled() -> bool:
    return _mode.inference


class _DecoratorContextManager:
    """A context manager that also decorates functions (and generators) with itself."""

    def __call__(self, fn):
        if inspect.isclass(fn):
            raise TypeError("grad-mode decorators apply to functions, not classes")
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen(*args, **kwargs):
                g = fn(*args, **kwargs)
                with self.clone():
                    resp = g.send(None)
                while True:
                    try:
                        req = yield resp
                    except GeneratorExit:
                        g.close()
                        raise
                    with self.clone():
                        try:
                            resp = g.send(req)
                        except StopIteration as e:
                            return e.value
            return gen

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)
        return wrapper

    def clone(self):
        return self.__class__()


class no_grad(_DecoratorContextManager):
    """Disable gradient recording: ops inside produce tensors with ``requires_grad=False``."""

    def __new__(cls, orig_func=None):  # ``@no_grad`` without parentheses, as torch allows
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)

    def __enter__(self):
        self.prev = _mode.grad
        _mode.grad = False

    def __exit__(self, *exc):
        _mode.grad = self.prev


class enable_grad(_DecoratorContextManager):
    """Enable gradient recording inside a ``no_grad`` block."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)

    def __enter__(self):
        self.prev = _mode.grad
        _mode.grad = True

    def __exit__(self, *exc):
        _mode.grad = self.prev


class set_grad_enabled(_DecoratorContextManager):
    """``set_grad_enabled(mode)``: sets the mode at once; restores it when used with ``with``."""

    def __init__(self, mode: bool):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled(): argument 'enabled' (position 1) must be bool, not {type(mode).__name__}")
        self.prev = _mode.grad
        self.mode = bool(mode)
        _mode.grad = self.mode

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _mode.grad = self.prev

    def clone(self):
        return self.__class__(self.mode)


class inference_mode(_DecoratorContextManager):
    """Like ``no_grad``; tensors made inside are marked as inference tensors."""

    def __init__(self, mode: bool = True):
        self.mode = mode

    def __call__(self, fn=None):
        if fn is None or isinstance(fn, bool):
            return inference_mode(True if fn is None else fn)
        return super().__call__(fn)

    def __enter__(self):
        self.prev = (_mode.grad, _mode.inference)
        if self.mode:
            _mode.grad, _mode.inference = False, True

    def __exit__(self, *exc):
        _mode.grad, _mode.inference = self.prev

    def clone(self):
        return self.__class__(self.mode)
