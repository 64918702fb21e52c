"""``python -m funcgrad.distributed.launch``: torch.distributed.launch (deprecated in torch in favour of
``run``). Without ``--use-env`` each worker also gets ``--local-rank=<n>`` as its first argument."""
from __future__ import annotations

import sys

from .run import get_args_parser, run

__all__ = ["main"]


def main(argv=None):
    p = get_args_parser()
    p.add_argument("--use-env", "--use_env", action="store_true")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    args.local_rank_arg = not args.use_env
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
