"""``python -m funcgrad script.py [args...]`` (or ``-m module [args...]``): run an unmodified PyTorch
program with ``torch`` resolving to funcgrad. ``sys.argv`` and ``__main__`` are as under
``python script.py``."""
from __future__ import annotations

import os
import runpy
import sys

USAGE = "usage: python -m funcgrad script.py [args...]\n       python -m funcgrad -m module [args...]"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr if not argv else sys.stdout)
        return 2 if not argv else 0
    from funcgrad._install import install

    install()
    if argv[0] == "-m":
        if len(argv) < 2:
            print("Argument expected for the -m option\n" + USAGE, file=sys.stderr)
            return 2
        sys.argv = [argv[1]] + argv[2:]
        sys.path.insert(0, os.getcwd())
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        return 0
    path = argv[0]
    sys.argv = argv
    sys.path[0] = os.path.dirname(os.path.abspath(path))
    runpy.run_path(path, run_name="__main__")
    return 0


def _run():
    """Run ``main``; an uncaught exception prints its traceback from the script's frames down, as
    ``python script.py`` would (without this module's and runpy's frames)."""
    try:
        return main()
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as e:  # noqa: BLE001 - reported like the interpreter does
        tb = e.__traceback__
        here = {os.path.abspath(__file__), getattr(runpy, "__file__", None), "<frozen runpy>"}
        while tb is not None and tb.tb_frame.f_code.co_filename in here:
            tb = tb.tb_next
        sys.excepthook(type(e), e.with_traceback(tb), tb)
        return 1


if __name__ == "__main__":
    sys.exit(_run())
