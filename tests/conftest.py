import os
import shutil
import sys
import tempfile
import warnings

sys.path.insert(0, os.path.dirname(__file__))

# One JAX persistent compilation cache for the whole test run, shared by the xdist workers and every
# subprocess a test starts (``python -m funcgrad``, the notebooks, the distributed launchers inherit the
# environment): the same XLA programs (the op kernels, optimizer updates, the programs' training steps)
# are otherwise compiled again in each process. A fresh directory per run, removed at its end, so no run
# reads what an earlier one wrote; JAX_COMPILATION_CACHE_DIR set by the caller is used as given, and
# FUNCGRAD_TEST_JAX_CACHE=0 turns the cache off.
_CACHE = {"made": None}


def pytest_configure(config):
    if (hasattr(config, "workerinput") or os.environ.get("JAX_COMPILATION_CACHE_DIR")
            or os.environ.get("FUNCGRAD_TEST_JAX_CACHE") == "0"):
        return  # an xdist worker inherits the controller's directory; a caller's own is kept
    _CACHE["made"] = tempfile.mkdtemp(prefix="funcgrad-test-jax-cache-")
    os.environ.update(JAX_COMPILATION_CACHE_DIR=_CACHE["made"], JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                      JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1")
    if "jax" in sys.modules:  # imported before this hook: the environment is read at import only
        import jax

        jax.config.update("jax_compilation_cache_dir", _CACHE["made"])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


# Two processes may compile the same program at once: one can read the entry the other is still writing;
# JAX then warns and compiles it again (the cache is a speed-up only).
warnings.filterwarnings("ignore", message="Error (reading|writing) persistent compilation cache entry")


def pytest_unconfigure(config):
    if _CACHE["made"]:
        shutil.rmtree(_CACHE["made"], ignore_errors=True)
