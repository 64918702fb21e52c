"""op_db samples of the nn-funcs family that cannot match torch, and why."""

XFAIL = {
    ("nn.functional.linear_cross_entropy", "chunked"):
        "torch's chunked path is a custom autograd.Function (grad_fn GeneratedBackwardFor_..._chunked_default...); "
        "funcgrad computes the same loss and gradients unchunked (XLA fuses it), with cross_entropy's nodes",
    ("nn.functional.linear_cross_entropy", "chunked_none"):
        "torch's chunked path is a custom autograd.Function (grad_fn GeneratedBackwardFor_..._no_reduction_...); "
        "funcgrad computes the same loss and gradients unchunked",
    "nn.functional.rrelu": "training=True draws the slopes from funcgrad's random stream, not torch's",
    "nn.functional.dropout": "funcgrad's random stream differs from torch's (p in (0, 1) while training)",
    "nn.functional.dropout2d": "funcgrad's random stream differs from torch's (p in (0, 1) while training)",
    "nn.functional.dropout3d": "funcgrad's random stream differs from torch's (p in (0, 1) while training)",
    "nn.functional.alpha_dropout": "funcgrad's random stream differs from torch's (p in (0, 1) while training)",
    ("nn.functional.feature_alpha_dropout", "with_train"):
        "funcgrad's random stream differs from torch's (p in (0, 1) while training)",
}
