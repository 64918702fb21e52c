"""op_db samples of the pointwise family that cannot match torch, with the reason."""
XFAIL = {
    "chalf": "complex32 (torch.chalf) has no JAX dtype; funcgrad raises NotImplementedError",
}
