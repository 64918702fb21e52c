"""torch's autocast policy: per-device tables of which ops run in lower precision, which in float32,
which in the widest input type, and the thread-local state the registry's dispatch reads.

The tables are torch 2.13's (``aten/src/ATen/autocast_mode.cpp``/``.h``), keyed by torch's op
names plus the names funcgrad's registry entries carry where they differ (``convolution_nd`` is
torch's ``_convolution``, ``matmul_nd`` one of ``matmul``'s kernels). The registry applies them in
one place (``registry.dispatch`` for registered ops, ``registry.autocast_op`` for composite entry
points such as ``linear`` or ``cross_entropy``); with autocast off that costs one attribute read.
"""
from __future__ import annotations

import threading

from . import _dtypes

__all__ = ["LOWER", "FP32", "FP32_SET_OPT_DTYPE", "PROMOTE", "BANNED", "POLICIES", "state", "DEFAULT_DTYPE"]

LOWER, FP32, FP32_SET_OPT_DTYPE, PROMOTE, BANNED = ("lower_precision_fp", "fp32", "fp32_set_opt_dtype", "promote",
                                                   "banned")

DEFAULT_DTYPE = {"cpu": _dtypes.bfloat16, "cuda": _dtypes.float16, "xpu": _dtypes.float16, "mps": _dtypes.float16,
                 "hpu": _dtypes.bfloat16, "xla": _dtypes.bfloat16, "ipu": _dtypes.float16,
                 "privateuseone": _dtypes.float16}

# funcgrad registry names standing for a torch op of the tables below
_ALIASES = {"convolution_nd": "_convolution", "matmul_nd": "matmul"}


def _table(**lists):
    t = {}
    for policy, names in lists.items():
        for n in names.split():
            t[n] = {"lower": LOWER, "fp32": FP32, "fp32_opt": FP32_SET_OPT_DTYPE, "promote": PROMOTE,
                    "banned": BANNED}[policy]
    for ours, theirs in _ALIASES.items():
        if theirs in t:
            t[ours] = t[theirs]
    return t


_CPU = _table(
    lower="""conv1d conv2d conv3d bmm mm linalg_vecdot vecdot baddbmm addmm _addmm_activation addbmm linear
             _convolution matmul conv_tbc mkldnn_rnn_layer conv_transpose1d conv_transpose2d conv_transpose3d prelu
             scaled_dot_product_attention _native_multi_head_attention""",
    fp32="""avg_pool3d binary_cross_entropy grid_sampler polar prod quantile nanquantile stft cdist grid_sampler_2d
            _grid_sampler_2d_cpu_fallback grid_sampler_3d trace view_as_complex cholesky cholesky_inverse
            cholesky_solve inverse lu_solve orgqr ormqr pinverse max_pool3d max_unpool2d max_unpool3d
            adaptive_avg_pool3d reflection_pad1d reflection_pad2d replication_pad1d replication_pad2d
            replication_pad3d mse_loss cosine_embedding_loss nll_loss nll_loss2d hinge_embedding_loss
            poisson_nll_loss smooth_l1_loss cross_entropy_loss l1_loss huber_loss margin_ranking_loss
            soft_margin_loss triplet_margin_loss multi_margin_loss ctc_loss kl_div multilabel_margin_loss
            binary_cross_entropy_with_logits fft_fft fft_ifft fft_fft2 fft_ifft2 fft_fftn fft_ifftn fft_rfft fft_irfft
            fft_rfft2 fft_irfft2 fft_rfftn fft_irfftn fft_hfft fft_ihfft linalg_cond linalg_matrix_rank linalg_solve
            linalg_cholesky linalg_svdvals linalg_eigvals linalg_eigvalsh linalg_inv linalg_householder_product
            linalg_tensorinv linalg_tensorsolve fake_quantize_per_tensor_affine geqrf _lu_with_info qr svd
            triangular_solve fractional_max_pool2d fractional_max_pool3d adaptive_max_pool3d
            multilabel_margin_loss_forward linalg_qr linalg_cholesky_ex linalg_svd linalg_eig linalg_eigh
            linalg_lstsq linalg_inv_ex""",
    promote="stack cat index_copy",
)
# composites torch's CPU kernels decompose into bmm/mm (so they run in the lower type there too)
_CPU.update({n: LOWER for n in ("einsum", "tensordot", "chain_matmul", "linalg_multi_dot", "multi_dot")})
# funcgrad's recurrent layer op: an LSTM layer is torch's mkldnn_rnn_layer on CPU (lower precision); RNN/GRU
# layers have no CPU autocast kernel. A callable entry picks the policy from the op's static params.
_CPU["_rnn_layer"] = lambda params: LOWER if dict(params).get("mode") == "LSTM" else None

# CUDA (and XPU) share torch's AT_FORALL_* lists
_GPU = _table(
    lower="""_convolution conv1d conv2d conv3d conv_tbc conv_transpose1d conv_transpose2d conv_transpose3d convolution
             cudnn_convolution cudnn_convolution_transpose prelu addmm addmv addr matmul einsum mm mv linalg_vecdot
             vecdot linear addbmm baddbmm bmm chain_matmul linalg_multi_dot _thnn_fused_lstm_cell
             _thnn_fused_gru_cell lstm_cell gru_cell rnn_tanh_cell rnn_relu_cell _scaled_dot_product_flash_attention
             scaled_dot_product_attention""",
    fp32="""acos asin cosh erfinv exp expm1 log log10 log2 log1p reciprocal rsqrt sinh tan pow softplus layer_norm
            native_layer_norm group_norm frobenius_norm nuclear_norm cosine_similarity poisson_nll_loss
            cosine_embedding_loss nll_loss nll_loss2d hinge_embedding_loss kl_div l1_loss smooth_l1_loss huber_loss
            mse_loss margin_ranking_loss multilabel_margin_loss soft_margin_loss triplet_margin_loss multi_margin_loss
            binary_cross_entropy_with_logits dist pdist cdist renorm logsumexp upsample_nearest1d
            _upsample_nearest_exact1d upsample_nearest2d _upsample_nearest_exact2d upsample_nearest3d
            _upsample_nearest_exact3d upsample_linear1d upsample_bilinear2d _upsample_bilinear2d_aa
            upsample_trilinear3d upsample_bicubic2d _upsample_bicubic2d_aa norm""",
    fp32_opt="prod softmax log_softmax cumprod cumsum linalg_vector_norm linalg_matrix_norm sum",
    promote="addcdiv addcmul atan2 bilinear cross dot vdot grid_sampler index_put tensordot scatter_add",
    banned="binary_cross_entropy",
)

POLICIES = {"cpu": _CPU, "cuda": _GPU, "xpu": _GPU}

BANNED_MESSAGE = (
    "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_logits\n"
    "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
    "safe to autocast.")


class _State(threading.local):
    def __init__(self):
        self.enabled = {}                   # device type -> bool
        self.dtype = dict(DEFAULT_DTYPE)    # device type -> lower-precision dtype
        self.cache_enabled = True
        self.nesting = 0
        self.cache = {}                     # id(fp32 leaf) -> (leaf, its lower-precision cast)
        self.policy_device = {}             # device type whose table tensors of this device follow (tests)
        self.live = None                    # {tensor device type: (table, lower dtype)} while casting is on

    def refresh(self):
        """Recompute ``live`` (what dispatch reads) from ``enabled``/``dtype``."""
        live = {}
        for dev, on in self.enabled.items():
            if on and dev in POLICIES:
                live[dev] = (POLICIES[dev], self.dtype[dev])
        for tdev, pdev in self.policy_device.items():
            if self.enabled.get(pdev) and pdev in POLICIES:
                live[tdev] = (POLICIES[pdev], self.dtype[pdev])
        self.live = live or None


state = _State()
