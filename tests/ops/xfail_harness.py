"""Known differences found by the op_db harness itself (not owned by an op family).

``XFAIL = {
    ("nn.functional.batch_norm", "without_cudnn"): "a cuDNN variant: torch yields no CPU sample for it","opname": "reason", ("opname", "variant"): "reason"}``; ``opdb_util`` merges every
``tests/ops/xfail_*.py``. An entry makes ``test_opdb`` expect a failure (strict: a fixed op fails
the test until its entry is removed). Each op family keeps its own file (``xfail_<family>.py``).
"""

XFAIL: dict = {
    ("nn.functional.batch_norm", "without_cudnn"): "a cuDNN variant: torch yields no CPU sample for it",
}
