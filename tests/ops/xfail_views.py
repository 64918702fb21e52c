"""Known differences of the views/indexing/shape/creation/random family (see tests/ops/test_views.py).

``XFAIL = {"opname": "reason", ("opname", "variant"): "reason"}``; merged by ``opdb_util``."""

XFAIL: dict = {
    ("as_strided", "partial_views"): "the input is a leaf view into a larger storage (the harness rebuilds it as a view "
                                     "of the same storage, so values match); funcgrad records as_strided on the "
                                     "storage's base, so no gradient reaches the view itself (torch's does)",
    "as_strided_scatter": "torch's input gradient keeps grad only inside the scattered slot (as_strided_scatter_backward "
                          "assumes a contiguous geometry); funcgrad gives the mathematical gradient (zero there)",
}

XFAIL_ERRORS: dict = {
}
