"""Anomaly detection: NaN checks in backward and the forward trace of the failing op."""
from __future__ import annotations

import threading
import traceback
import warnings

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "anomaly_hint"]


class _State(threading.local):
    enabled = False
    check_nan = True


_state = _State()


def is_anomaly_enabled() -> bool:
    return _state.enabled


def is_anomaly_check_nan_enabled() -> bool:
    return _state.check_nan


def anomaly_hint() -> str:
    if _state.enabled:
        return ("Hint: the backtrace further above shows the operation that failed to compute its gradient. "
                "The variable in question was changed in there or anywhere later. Good luck!")
    return ("Hint: enable anomaly detection to find the operation that failed to compute its gradient, "
            "with torch.autograd.set_detect_anomaly(True, check_nan=False).")


class detect_anomaly:
    """Context manager: record forward traces and check backward outputs for NaN."""

    def __init__(self, check_nan=True):
        self.prev = _state.enabled
        self.prev_nan = _state.check_nan
        self.check_nan = check_nan
        warnings.warn(
            "Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
            "enabled for debugging.",
            stacklevel=2,
        )

    def __enter__(self):
        _state.enabled, _state.check_nan = True, self.check_nan

    def __exit__(self, *exc):
        _state.enabled, _state.check_nan = self.prev, self.prev_nan


class set_detect_anomaly:
    """``set_detect_anomaly(mode)``: sets anomaly mode at once; restores it when used with ``with``."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self.prev = _state.enabled
        self.prev_nan = _state.check_nan
        _state.enabled, _state.check_nan = bool(mode), check_nan

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _state.enabled, _state.check_nan = self.prev, self.prev_nan


def capture_trace():
    """The user's stack at the forward op (funcgrad's own frames left out)."""
    import os

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frames = [f for f in traceback.extract_stack() if not os.path.abspath(f.filename).startswith(here)]
    return "".join(traceback.format_list(frames))


def warn_forward_trace(node):
    if node._anomaly_trace:
        warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that caused the error:\n"
                      + node._anomaly_trace, UserWarning, stacklevel=4)
