"""The shared body of torch.nn's small layers that store their constructor arguments and call one
functional (``PixelShuffle``, ``LeakyReLU``, ``Softplus``, ...): each class keeps its own ``__init__``
(torch's signature and attribute names), and takes ``forward`` and ``extra_repr`` from ``calls``."""
from __future__ import annotations


def calls(fn, *attrs, fmt=None):
    """``(forward, extra_repr)``: ``forward(input)`` is ``fn(input, *attrs)`` with the module's
    attributes ``attrs`` in that order; ``extra_repr`` is ``fmt.format`` over those attributes (default
    ``a=..., b=...``), where ``{_inplace}`` is ``, inplace=True`` when the module's ``inplace`` is set."""
    if fmt is None:
        fmt = ", ".join(f"{a}={{{a}}}" for a in attrs)

    def forward(self, input):
        return fn(input, *(getattr(self, a) for a in attrs))

    def extra_repr(self):
        suffix = ", inplace=True" if getattr(self, "inplace", False) else ""
        return fmt.format(_inplace=suffix, **{a: getattr(self, a) for a in attrs})

    return forward, extra_repr
