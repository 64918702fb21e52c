"""Known differences of the reduction/sorting family (``reduction``, ``sorting``, ``masked``) from torch.

``XFAIL = {"opname": "reason", ("opname", "variant"): "reason"}``; merged by ``opdb_util``.
"""

XFAIL = {
    "topk": "indices of tied values: torch's CPU topk orders ties as libstdc++'s nth_element/partial_sort "
            "leave them; funcgrad takes ties in index order (a stable sort). Values and gradients for "
            "untied inputs match.",
}
