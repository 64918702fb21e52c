"""``torch.backends``: flags scripts set (``cudnn.benchmark``, ``cuda.matmul.allow_tf32``, ...).

They are accepted and read back; ``cuda.matmul.allow_tf32`` and ``cudnn.allow_tf32`` map onto
JAX's default matmul precision (what torch means by them on GPUs), the others have no XLA meaning."""
from . import cpu, cuda, cudnn, mkldnn, mps, openmp  # noqa: F401

__all__ = ["cpu", "cuda", "cudnn", "mkldnn", "mps", "openmp"]
