"""op_db samples of the nn-funcs family that cannot match torch, and why."""

XFAIL = {
    ("nn.functional.linear_cross_entropy", "chunked"):
        "torch's chunked path is a custom autograd.Function (grad_fn GeneratedBackwardFor_..._chunked_default...); "
        "funcgrad computes the same loss and gradients unchunked (XLA fuses it), with cross_entropy's nodes",
    ("nn.functional.linear_cross_entropy", "chunked_none"):
        "torch's chunked path is a custom autograd.Function (grad_fn GeneratedBackwardFor_..._no_reduction_...); "
        "funcgrad computes the same loss and gradients unchunked",
}
