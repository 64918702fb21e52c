"""Known differences of the linalg/fft family from torch on op_db samples (merged by the op_db harness)."""

XFAIL = {
    "linalg.ldl_factor": "NotImplementedError: LAPACK sytrf's Bunch-Kaufman pivots have no JAX counterpart",
    "linalg.ldl_factor_ex": "NotImplementedError: LAPACK sytrf's Bunch-Kaufman pivots have no JAX counterpart",
    "linalg.ldl_solve": "NotImplementedError: needs ldl_factor's pivots",
    "svd_lowrank": "random projection from funcgrad's generator (torch's stream differs): U, S, V differ unless q >= rank",
    "pca_lowrank": "random projection from funcgrad's generator (torch's stream differs): U, S, V differ unless q >= rank",
    ("stft", ""): "return_complex=False (deprecated in torch) raises NotImplementedError",
    "einsum": "grad_fn is EinsumBackward0 (torch's node depends on its contraction path: ViewBackward0, "
              "PermuteBackward0, ...); values and gradients match",
}
