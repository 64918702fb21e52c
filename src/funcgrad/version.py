"""``torch.version``: funcgrad's version; no CUDA/HIP toolkit of its own (JAX brings its own)."""
__version__ = "0.1.0"
cuda = None
hip = None
git_version = "funcgrad"
debug = False
