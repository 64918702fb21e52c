"""``torch.special``: Bessel, Airy and orthogonal-polynomial families, the error-function family and
the Hurwitz zeta, each with torch's values (the series, recurrences and rational approximations of
ATen's ``Math.h``, themselves from Cephes) and torch's gradient formulas.

The aliases torch.special shares with top-level ops (``expit``, ``exp2``, ``erf``, ``xlogy``...) are
published by :mod:`.pointwise` into both namespaces."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import jax.scipy.special as jss

from ..tensor import Tensor
from .pointwise import _broadcast_check, _float_input, _floatify, real_sign, torch_grad
from .registry import Const, _promote, defop, public
from .reduction import log_softmax as _lsm, logsumexp as _lse, softmax as _sm

# Coefficients of the rational/Chebyshev approximations (Cephes, as in ATen's Math.h).
_AIRY_AN = (0.346538101525629, 12.007595273964581, 76.27960536152345, 168.08922493463058, 159.75639135016442, 70.53609068404442, 14.026469116338967, 1.0,)
_AIRY_AD = (0.5675945326387702, 14.75625625848472, 84.51389701414746, 177.31808814540045, 164.2346928715297, 71.47784008255756, 14.095913560783403, 1.0,)
_AIRY_AFN = (-0.1316963234183318, -0.6264565444319123, -0.6931580360369335, -0.2797799815451191, -0.04919001326095003, -0.004062659235948854, -0.0001592764962392621, -2.776491081552329e-06, -1.6778769848911465e-08,)
_AIRY_AFD = (13.356042070655324, 32.682503279522464, 26.736704094149957, 9.187074029072596, 1.4752914677166642, 0.11568717379518804, 0.004402916416152112, 7.547203482874142e-05, 4.5185009297058035e-07,)
_AIRY_AGN = (0.01973399320916857, 0.39110302961568827, 1.0657989759959559, 0.9391692298166502, 0.35146565610554764, 0.06338889196289255, 0.005858041130483885, 0.000282851600836737, 6.98793669997261e-06, 8.117892395543892e-08, 3.415517847659236e-10,)
_AIRY_AGD = (9.30892908077442, 19.835292871831214, 15.564662893286462, 5.476860694229755, 0.9542936116189619, 0.08645808263523921, 0.004126565238242226, 0.00010125908511650914, 1.1716673321441352e-06, 4.9183457006293e-09,)
_J0_PP = (0.0007969367292973471, 0.08283523921074408, 1.239533716464143, 5.447250030587687, 8.74716500199817, 5.303240382353949, 1.0,)
_J0_PQ = (0.0009244088105588637, 0.08562884743544745, 1.2535274390105895, 5.470977403304171, 8.761908832370695, 5.306052882353947, 1.0,)
_J0_QP = (-0.011366383889846916, -1.2825271867050931, -19.553954425773597, -93.20601521237683, -177.68116798048806, -147.07750515495118, -51.41053267665993, -6.050143506007285,)
_J0_QQ = (64.3178256118178, 856.4300259769806, 3882.4018360540163, 7240.467741956525, 5930.727011873169, 2062.0933166032783, 242.0057402402914,)
_J0_RP = (-4794432209.782018, 1956174919465.5657, -249248344360967.72, 9708622510473064.0,)
_J0_RQ = (499.563147152651, 173785.4016763747, 48440965.83399621, 11185553704.535683, 2112775201154.892, 310518229857422.56, 3.1812195594320496e+16, 1.7108629408104315e+18,)
_J1_PP = (0.0007621256162081731, 0.07313970569409176, 1.1271960812968493, 5.112079511468076, 8.424045901417724, 5.214515986823615, 1.0,)
_J1_PQ = (0.0005713231280725487, 0.06884559087544954, 1.105142326340617, 5.073863861286015, 8.399855543276042, 5.209828486823619, 1.0,)
_J1_QP = (0.05108625947501766, 4.982138729512334, 75.82382841325453, 366.7796093601508, 710.8563049989261, 597.4896124006136, 211.68875710057213, 25.207020585802372,)
_J1_QQ = (74.23732770356752, 1056.4488603826283, 4986.410583376536, 9562.318924047562, 7997.041604473507, 2826.1927851763908, 336.0936078106983,)
_J1_RP = (-899971225.7055594, 452228297998.19403, -72749424522181.83, 3682957328638529.0,)
_J1_RQ = (620.8364781180543, 256987.25675774884, 83514679.14319493, 22151159547.97925, 4749141220799.914, 784369607876235.9, 8.952223361846274e+16, 5.322786203326801e+18,)
_Y0_PP = (0.0007969367292973471, 0.08283523921074408, 1.239533716464143, 5.447250030587687, 8.74716500199817, 5.303240382353949, 1.0,)
_Y0_PQ = (0.0009244088105588637, 0.08562884743544745, 1.2535274390105895, 5.470977403304171, 8.761908832370695, 5.306052882353947, 1.0,)
_Y0_QP = (-0.011366383889846916, -1.2825271867050931, -19.553954425773597, -93.20601521237683, -177.68116798048806, -147.07750515495118, -51.41053267665993, -6.050143506007285,)
_Y0_QQ = (64.3178256118178, 856.4300259769806, 3882.4018360540163, 7240.467741956525, 5930.727011873169, 2062.0933166032783, 242.0057402402914,)
_Y0_YP = (15592.436785523574, -14663929.59039716, 5435264770.518765, -982136065717.9115, 87590639439536.7, -3466283033847297.0, 4.4273326857256984e+16, -1.8495080043698668e+16,)
_Y0_YQ = (1041.2835366425984, 626107.330137135, 268919633.39381415, 86400248710.3935, 20297961275010.555, 3171577528429750.5, 2.5059625617265306e+17,)
_Y1_PP = (0.0007621256162081731, 0.07313970569409176, 1.1271960812968493, 5.112079511468076, 8.424045901417724, 5.214515986823615, 1.0,)
_Y1_PQ = (0.0005713231280725487, 0.06884559087544954, 1.105142326340617, 5.073863861286015, 8.399855543276042, 5.209828486823619, 1.0,)
_Y1_QP = (0.05108625947501766, 4.982138729512334, 75.82382841325453, 366.7796093601508, 710.8563049989261, 597.4896124006136, 211.68875710057213, 25.207020585802372,)
_Y1_QQ = (74.23732770356752, 1056.4488603826283, 4986.410583376536, 9562.318924047562, 7997.041604473507, 2826.1927851763908, 336.0936078106983,)
_Y1_YP = (1263204747.9017804, -647355876379.1603, 114509511541823.73, -8127702555013251.0, 2.024394757135949e+17, -7.788771962659501e+17,)
_Y1_YQ = (594.3015923461282, 235564.09294306856, 73481194.44597217, 18760131610.870617, 3882312774962.3857, 620557727146953.8, 6.871410873553005e+16, 3.9727060811656064e+18,)
_K0_A = (1.374465435613523e-16, 4.25981614279661e-14, 1.0349695257633842e-11, 1.904516377220209e-09, 2.5347910790261494e-07, 2.286212103119452e-05, 0.001264615411446926, 0.0359799365153615, 0.3442898999246285, -0.5353273932339028,)
_K0_B = (5.300433772686263e-18, -1.6475804301524212e-17, 5.2103915050390274e-17, -1.678231096805412e-16, 5.512055978524319e-16, -1.848593377343779e-15, 6.3400764774050706e-15, -2.2275133269916698e-14, 8.032890775363575e-14, -2.9800969231727303e-13, 1.140340588208475e-12, -4.514597883373944e-12, 1.8559491149547177e-11, -7.957489244477107e-11, 3.577397281400301e-10, -1.69753450938906e-09, 8.574034017414225e-09, -4.660489897687948e-08, 2.766813639445015e-07, -1.8317555227191195e-06, 1.39498137188765e-05, -0.00012849549581627802, 0.0015698838857300533, -0.0314481013119645, 2.4403030820659555,)
_K1_A = (-7.023863479386288e-18, -2.427449850519366e-15, -6.666901694199329e-13, -1.4114883926335278e-10, -2.213387630734726e-08, -2.4334061415659684e-06, -0.0001730288957513052, -0.006975723859639864, -0.12261118082265715, -0.3531559607765449, 1.5253002273389478,)
_K1_B = (-5.756744483665017e-18, 1.7940508731475592e-17, -5.689462558442859e-17, 1.838093544366639e-16, -6.057047248373319e-16, 2.038703165624334e-15, -7.019837090418314e-15, 2.4771544244813043e-14, -8.976705182324994e-14, 3.3484196660784293e-13, -1.2891739609510289e-12, 5.13963967348173e-12, -2.1299678384275683e-11, 9.218315187605006e-11, -4.1903547593418965e-10, 2.015049755197033e-09, -1.0345762465678097e-08, 5.7410841254500495e-08, -3.5019606030878126e-07, 2.406484947837217e-06, -1.936197974166083e-05, 0.00019521551847135162, -0.002857816859622779, 0.10392373657681724, 2.7206261904844427,)

_2_OVER_PI_SQRT = 0.797884560802865355879892119868763737  # sqrt(2 / pi)


def _horner(coeffs, z):
    acc = jnp.zeros_like(z)
    for c in coeffs:
        acc = acc * z + c
    return acc


def _chbevl(coeffs, y):
    """Clenshaw sum as ATen writes it: returns ``0.5 * (b0 - b2)``."""
    p = jnp.zeros_like(y)
    q = jnp.zeros_like(y)
    a = jnp.full_like(y, coeffs[0])
    for c in coeffs[1:]:
        p = q
        q = a
        a = y * q - p + c
    return 0.5 * (a - p)


def _safe(x, bad, fill=1.0):
    return jnp.where(bad, jnp.asarray(fill, x.dtype), x)


# -- Bessel functions of the first and second kind --------------------------------------------------
def _j0(x):
    x = jnp.abs(x)
    z = x * x
    small = jnp.where(x < 1e-5, 1 - z / 4,
                      (z - 5.78318596294678452118e+00) * (z - 3.04712623436620863991e+01)
                      * _horner(_J0_RP, z) / _horner(_J0_RQ, z))
    xs = _safe(x, x <= 5.0, 6.0)
    w = 25.0 / (xs * xs)
    t = xs - 0.785398163397448309615660845819875721
    big = ((_horner(_J0_PP, w) / _horner(_J0_PQ, w) * jnp.cos(t)
            - 5.0 / xs * (_horner(_J0_QP, w) / _horner(_J0_QQ, w)) * jnp.sin(t)) * _2_OVER_PI_SQRT / jnp.sqrt(xs))
    return jnp.where(x <= 5.0, small, big)


def _j1_pos(x):
    z = x * x
    small = (_horner(_J1_RP, z) / _horner(_J1_RQ, z) * x * (z - 1.46819706421238932572e+01)
             * (z - 4.92184563216946036703e+01))
    xs = _safe(x, x <= 5.0, 6.0)
    w = (5.0 / xs) * (5.0 / xs)
    t = xs - 2.356194490192344928846982537459627163
    big = ((_horner(_J1_PP, w) / _horner(_J1_PQ, w) * jnp.cos(t)
            - 5.0 / xs * (_horner(_J1_QP, w) / _horner(_J1_QQ, w)) * jnp.sin(t)) * _2_OVER_PI_SQRT / jnp.sqrt(xs))
    return jnp.where(x <= 5.0, small, big)


def _j1(x):
    v = _j1_pos(jnp.abs(x))
    return jnp.where(x < 0, -v, v)


def _y0(x):
    xp = _safe(x, x <= 0, 1.0)
    z = xp * xp
    small = _horner(_Y0_YP, z) / _horner(_Y0_YQ, z) + 0.636619772367581343075535053490057448 * jnp.log(xp) * _j0(xp)
    xs = _safe(x, x <= 5.0, 6.0)
    w = 25.0 / (xs * xs)
    t = xs - 0.785398163397448309615660845819875721
    big = ((_horner(_Y0_PP, w) / _horner(_Y0_PQ, w) * jnp.sin(t)
            + 5.0 / xs * (_horner(_Y0_QP, w) / _horner(_Y0_QQ, w)) * jnp.cos(t)) * _2_OVER_PI_SQRT / jnp.sqrt(xs))
    out = jnp.where(x <= 5.0, small, big)
    return jnp.where(x == 0, -jnp.inf, jnp.where(x < 0, jnp.nan, out))


def _y1(x):
    xp = _safe(x, x <= 0, 1.0)
    z = xp * xp
    small = xp * (_horner(_Y1_YP, z) / _horner(_Y1_YQ, z)) + 0.636619772367581343075535053490057448 * (
        _j1(xp) * jnp.log(xp) - 1.0 / xp)
    xs = _safe(x, x <= 5.0, 6.0)
    w = (5.0 / xs) * (5.0 / xs)
    t = xs - 2.356194490192344928846982537459627163
    big = ((_horner(_Y1_PP, w) / _horner(_Y1_PQ, w) * jnp.sin(t)
            + 5.0 / xs * (_horner(_Y1_QP, w) / _horner(_Y1_QQ, w)) * jnp.cos(t)) * _2_OVER_PI_SQRT / jnp.sqrt(xs))
    out = jnp.where(x <= 5.0, small, big)
    return jnp.where(x == 0, -jnp.inf, jnp.where(x < 0, jnp.nan, out))


def _k_parts(x, A, B):
    xs = _safe(x, x <= 0, 1.0)
    small = _chbevl(A, xs * xs - 2.0)
    xb = _safe(xs, xs <= 2.0, 3.0)
    big = _chbevl(B, 8.0 / xb - 2.0) / jnp.sqrt(xb)
    return xs, small, xb, big


def _k0(x, scaled=False):
    xs, small, xb, big = _k_parts(x, _K0_A, _K0_B)
    small = small - jnp.log(0.5 * xs) * jss.i0(xs)
    out = jnp.where(xs <= 2.0, small * (jnp.exp(xs) if scaled else 1.0), big * (1.0 if scaled else jnp.exp(-xb)))
    return jnp.where(x == 0, jnp.inf, jnp.where(x < 0, jnp.nan, out))


def _k1(x, scaled=False):
    xs, small, xb, big = _k_parts(x, _K1_A, _K1_B)
    small = jnp.log(0.5 * xs) * jss.i1(xs) + small / xs
    out = jnp.where(xs <= 2.0, small * (jnp.exp(xs) if scaled else 1.0), big * (1.0 if scaled else jnp.exp(-xb)))
    return jnp.where(x == 0, jnp.inf, jnp.where(x < 0, jnp.nan, out))


def _airy_ai(x):
    eps = jnp.finfo(x.dtype).eps
    # x < -2.09: the oscillating asymptotic form
    xn = _safe(x, x >= -2.09, -3.0)
    zeta_n = -2.0 * xn * jnp.sqrt(-xn) / 3.0
    z = 1.0 / zeta_n
    zz = z * z
    t = zeta_n + 0.25 * math.pi
    neg = 5.64189583547756286948e-01 / jnp.sqrt(jnp.sqrt(-xn)) * (
        jnp.sin(t) * (1.0 + zz * _horner(_AIRY_AFN, zz) / _horner(_AIRY_AFD, zz))
        - jnp.cos(t) * (z * _horner(_AIRY_AGN, zz) / _horner(_AIRY_AGD, zz)))
    # x >= 2.09: the decaying asymptotic form
    xp = _safe(x, x < 2.09, 3.0)
    zeta_p = 2.0 * xp * jnp.sqrt(xp) / 3.0
    pos = 5.64189583547756286948e-01 * (_horner(_AIRY_AN, 1.0 / zeta_p) / _horner(_AIRY_AD, 1.0 / zeta_p)) / (
        2.0 * jnp.sqrt(jnp.sqrt(xp)) * jnp.exp(zeta_p))
    # |x| small: the power series, to machine precision
    xm = jnp.clip(x, -2.09, 2.09)
    zc = xm * xm * xm

    def cond(s):
        return jnp.any(s[6])

    def body(s):
        f, g, k, m, n, _, active = s
        m2 = m * zc
        k2 = k + 1
        m2 = m2 / k2
        n2 = n * zc
        k2 = k2 + 1
        n2 = n2 / k2
        m2 = m2 / k2
        f2 = f + m2
        k2 = k2 + 1
        n2 = n2 / k2
        g2 = g + n2
        upd = active
        f, g, k, m, n = (jnp.where(upd, a, b) for a, b in ((f2, f), (g2, g), (k2, k), (m2, m), (n2, n)))
        t = jnp.abs(m / f)
        return f, g, k, m, n, t, active & (t > eps)

    one = jnp.ones_like(xm)
    f, g, *_ = jax.lax.while_loop(cond, body, (one, xm, one, one, xm, one, jnp.ones(xm.shape, bool)))
    series = 0.355028053887817239260 * f - 0.258819403792806798405 * g
    out = jnp.where(x < -2.09, neg, jnp.where(x >= 2.09, pos, series))
    out = jnp.where(x > 103.892, 0.0, out)
    return jnp.where(jnp.isinf(x), jnp.nan, out)


def _spherical_j0(x):
    z = x * x
    small = 1.0 + z * (-1.0 / 6.0 + z * (1.0 / 120.0 + z * (-1.0 / 5040.0 + z * (1.0 / 362880.0 + z * (
        -1.0 / 39916800.0 + z * (1.0 / 6227020800.0))))))
    xs = _safe(x, jnp.abs(x) < 0.5, 1.0)
    out = jnp.where(jnp.abs(x) < 0.5, small, jnp.sin(xs) / xs)
    return jnp.where(jnp.isinf(x), 0.0, out)


def _unary_special(name, fwd):
    """A torch.special function of one tensor with no derivative (torch's outputs do not require grad)."""

    def binder(input):
        return (_float_input(input),), ()

    binder.__name__ = name
    binder.__doc__ = f"``torch.special.{name}``."
    return defop(lambda x: fwd(x).astype(x.dtype), node="", nondiff_out=True, method=False,
                 namespace="special")(binder)


airy_ai = _unary_special("airy_ai", _airy_ai)
bessel_j0 = _unary_special("bessel_j0", _j0)
bessel_j1 = _unary_special("bessel_j1", _j1)
bessel_y0 = _unary_special("bessel_y0", _y0)
bessel_y1 = _unary_special("bessel_y1", _y1)
modified_bessel_i0 = _unary_special("modified_bessel_i0", jss.i0)
modified_bessel_i1 = _unary_special("modified_bessel_i1", jss.i1)
modified_bessel_k0 = _unary_special("modified_bessel_k0", _k0)
modified_bessel_k1 = _unary_special("modified_bessel_k1", _k1)
scaled_modified_bessel_k0 = _unary_special("scaled_modified_bessel_k0", lambda x: _k0(x, True))
scaled_modified_bessel_k1 = _unary_special("scaled_modified_bessel_k1", lambda x: _k1(x, True))
spherical_bessel_j0 = _unary_special("spherical_bessel_j0", _spherical_j0)


# -- orthogonal polynomials (three-term recurrences, run up to the largest n) ----------------------
def _recurrence(x, n, p0, p1, step, k0, stop):
    """``p0, p1`` are the first two terms; ``step(k, x, p, q)`` the next; iterate k from ``k0`` while
    ``k < stop(n)``; returns the last term per element."""
    last = stop(n)

    def cond(s):
        k, _, _ = s
        return k < jnp.max(last, initial=k0)

    def body(s):
        k, p, q = s
        r = step(k.astype(x.dtype), x, p, q)
        act = k < last
        return k + 1, jnp.where(act, q, p), jnp.where(act, r, q)

    _, _, q = jax.lax.while_loop(cond, body, (jnp.asarray(k0, jnp.int64), p0, p1))
    return q


def _poly_n(n):
    return jnp.where(jnp.isfinite(n), n, -1).astype(jnp.int64) if jnp.issubdtype(n.dtype, jnp.floating) else \
        n.astype(jnp.int64)


def _cheb_common(x, n, first, kind):
    x, n = jnp.broadcast_arrays(x, n)
    n = _poly_n(n)
    one = jnp.ones_like(x)
    q1 = first(x)
    rec = _recurrence(x, n, one, q1, lambda k, x, p, q: (x + x) * q - p, 2, lambda n: n + 1)
    out = jnp.where(n == 0, one, jnp.where(n == 1, q1, rec))
    nf = n.astype(x.dtype)
    ax = jnp.abs(x)
    even = n % 2 == 0
    th = jnp.arccos(jnp.clip(x, -1, 1))
    if kind == "t":
        edge = jnp.where((x > 0) | even, 1.0, -1.0)
        big = (n > 6) & (ax < 1)
        trig = jnp.cos(nf * th)
    elif kind == "u":
        edge = jnp.where((x > 0) | even, nf + 1, -(nf + 1))
        big = (n > 8) & (ax < 1)
        s = jnp.sin(th)
        trig = jnp.where(s != 0, jnp.sin((nf + 1) * th) / _safe(s, s == 0),
                         (nf + 1) * jnp.cos((nf + 1) * th) / _safe(x, x == 0))
    elif kind == "v":
        edge = jnp.where(x > 0, 1.0, jnp.where(even, nf + nf + 1, -(nf + nf + 1)))
        big = (n > 8) & (ax < 1)
        c = jnp.cos(th / 2)
        trig = jnp.where(jnp.sin(th / 2) != 1, jnp.cos((nf + 0.5) * th) / _safe(c, c == 0),
                         jnp.where(even, nf + nf + 1, -(nf + nf + 1)))
    else:
        edge = jnp.where(x > 0, nf + nf + 1, jnp.where(even, 1.0, -1.0))
        big = (n > 8) & (ax < 1)
        s = jnp.sin(th / 2)
        trig = jnp.where(jnp.cos(th / 2) != 1, jnp.sin((nf + 0.5) * th) / _safe(s, s == 0),
                         jnp.where(x > 0, nf + nf + 1, jnp.where(even, 1.0, -1.0)))
    out = jnp.where(big, trig, out)
    out = jnp.where(ax == 1, edge, out)
    return jnp.where(n < 0, 0.0, out).astype(x.dtype)


def _cheb_t(x, n):
    return _cheb_common(x, n, lambda x: x, "t")


def _cheb_u(x, n):
    return _cheb_common(x, n, lambda x: x + x, "u")


def _cheb_v(x, n):
    return _cheb_common(x, n, lambda x: x + x - 1, "v")


def _cheb_w(x, n):
    return _cheb_common(x, n, lambda x: x + x + 1, "w")


def _hermite_h(x, n):
    x, n = jnp.broadcast_arrays(x, n)
    n = _poly_n(n)
    one = jnp.ones_like(x)
    # k runs 2, 4, ..., < 2n; written with j = k / 2 from 1 while j < n
    rec = _recurrence(x, n, one, x + x, lambda j, x, p, q: (x + x) * q - (j + j) * p, 1, lambda n: n)
    limit = 128 if x.dtype == jnp.float32 else 512
    out = jnp.where(n == 0, one, jnp.where(n == 1, x + x, rec))
    out = jnp.where(n > limit, jnp.nan, out)
    return jnp.where(n < 0, 0.0, out).astype(x.dtype)


def _hermite_he(x, n):
    x, n = jnp.broadcast_arrays(x, n)
    n = _poly_n(n)
    one = jnp.ones_like(x)
    rec = _recurrence(x, n, one, x, lambda k, x, p, q: x * q - k * p, 1, lambda n: n)
    limit = 128 if x.dtype == jnp.float32 else 512
    out = jnp.where(n == 0, one, jnp.where(n == 1, x, rec))
    out = jnp.where(n > limit, jnp.nan, out)
    return jnp.where(n < 0, 0.0, out).astype(x.dtype)


def _laguerre_l(x, n):
    x, n = jnp.broadcast_arrays(x, n)
    n = _poly_n(n)
    one = jnp.ones_like(x)
    rec = _recurrence(x, n, one, 1 - x, lambda k, x, p, q: (((k + k) + (1 - x)) * q - k * p) / (k + 1), 1,
                      lambda n: n)
    out = jnp.where(n == 0, one, jnp.where(n == 1, 1 - x, rec))
    out = jnp.where(x == 0, one, out)
    return jnp.where(n < 0, 0.0, out).astype(x.dtype)


def _legendre_p(x, n):
    x, n = jnp.broadcast_arrays(x, n)
    n = _poly_n(n)
    one = jnp.ones_like(x)
    rec = _recurrence(x, n, one, x, lambda k, x, p, q: ((k + k + 1) * x * q - k * p) / (k + 1), 1, lambda n: n)
    out = jnp.where(n == 0, one, jnp.where(n == 1, x, rec))
    out = jnp.where(jnp.abs(x) == 1, jnp.where((x > 0) | (n % 2 == 0), 1.0, -1.0), out)
    return jnp.where(n < 0, 0.0, out).astype(x.dtype)


def _shifted(f):
    return lambda x, n: f(x + x - 1, n)


def _poly_op(name, fwd):
    def binder(input, n):
        if not isinstance(input, Tensor) and not isinstance(n, Tensor):
            raise TypeError(f"special_{name}() received an invalid combination of arguments")
        _broadcast_check(input, n)
        x, m = _floatify(input, n)
        if isinstance(x, Tensor) and isinstance(m, Tensor) and m._dtype is not x._dtype:
            dt = _promote([x, m], True)
            x, m = x.to(dt), m.to(dt)
        if not isinstance(x, Tensor):
            x = Const(x)
        if not isinstance(m, Tensor):
            m = Const(m)
        return (x, m), ()

    binder.__name__ = name
    binder.__doc__ = f"``torch.special.{name}(input, n)``."

    def forward(x, n):
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(n.dtype)
        return fwd(x, n)

    return defop(forward, node="", nondiff_out=True, method=False, namespace="special")(binder)


chebyshev_polynomial_t = _poly_op("chebyshev_polynomial_t", _cheb_t)
chebyshev_polynomial_u = _poly_op("chebyshev_polynomial_u", _cheb_u)
chebyshev_polynomial_v = _poly_op("chebyshev_polynomial_v", _cheb_v)
chebyshev_polynomial_w = _poly_op("chebyshev_polynomial_w", _cheb_w)
shifted_chebyshev_polynomial_t = _poly_op("shifted_chebyshev_polynomial_t", _shifted(_cheb_t))
shifted_chebyshev_polynomial_u = _poly_op("shifted_chebyshev_polynomial_u", _shifted(_cheb_u))
shifted_chebyshev_polynomial_v = _poly_op("shifted_chebyshev_polynomial_v", _shifted(_cheb_v))
shifted_chebyshev_polynomial_w = _poly_op("shifted_chebyshev_polynomial_w", _shifted(_cheb_w))
hermite_polynomial_h = _poly_op("hermite_polynomial_h", _hermite_h)
hermite_polynomial_he = _poly_op("hermite_polynomial_he", _hermite_he)
laguerre_polynomial_l = _poly_op("laguerre_polynomial_l", _laguerre_l)
legendre_polynomial_p = _poly_op("legendre_polynomial_p", _legendre_p)


# -- differentiable special functions ------------------------------------------------------------------
def _special_unary(name, fwd, node, deriv, namespace="special"):
    def binder(input):
        return (_float_input(input),), ()

    binder.__name__ = name
    binder.__doc__ = f"``torch.special.{name}``."
    return defop(torch_grad(fwd, deriv), node=node, saves={0: (0,)}, method=False, namespace=namespace)(binder)


def _entr_fwd(x):
    safe = jnp.where(x > 0, x, 1)
    return jnp.where(jnp.isnan(x), x, jnp.where(x > 0, -x * jnp.log(safe), jnp.where(x == 0, 0.0, -jnp.inf)))


def _ndtri_grad(o, x):
    # torch: sqrt(2 pi) * exp(ndtri(x)^2 / 2)
    return math.sqrt(2 * math.pi) * jnp.exp(0.5 * o * o)


def _log_ndtr_grad(o, x):
    return jnp.exp(-0.5 * x * x - o) / math.sqrt(2 * math.pi)


def _erfcx_grad(o, x):
    return 2 * x * o - 2 / math.sqrt(math.pi)


i0e = _special_unary("i0e", jss.i0e, "SpecialI0EBackward0", lambda o, x: jss.i1e(x) - real_sign(x) * o)
i1 = _special_unary("i1", jss.i1, "SpecialI1Backward0",
                    lambda o, x: jnp.where(x == 0, 0.5, jss.i0(x) - o / jnp.where(x == 0, 1, x)))
i1e = _special_unary("i1e", jss.i1e, "SpecialI1EBackward0",
                     lambda o, x: jnp.where(x == 0, 0.5, jss.i0e(x) - o * (real_sign(x) + 1 / jnp.where(x == 0, 1, x))))
def _ndtr_fwd(x):
    # torch's composite: (1 + erf(x / sqrt(2))) * 0.5
    return (1 + jss.erf(x * math.sqrt(0.5))) * 0.5


def _log_ndtr_fwd(x):
    t = x * math.sqrt(0.5)
    tl = jnp.where(x < -1.0, t, -1.0)
    return jnp.where(x < -1.0, jnp.log(jss.erfcx(-tl) / 2) - tl * tl, jnp.log1p(-jss.erfc(t) / 2))


ndtr = _special_unary("ndtr", _ndtr_fwd, "MulBackward1",
                      lambda o, x: jnp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi))
ndtri = _special_unary("ndtri", jss.ndtri, "SpecialNdtriBackward0", _ndtri_grad)
log_ndtr = _special_unary("log_ndtr", _log_ndtr_fwd, "SpecialLogNdtrBackward0", _log_ndtr_grad)
erfcx = _special_unary("erfcx", jss.erfcx, "SpecialErfcxBackward0", _erfcx_grad)
entr = _special_unary("entr", _entr_fwd, "SpecialEntrBackward0", lambda o, x: -(1 + jnp.log(x)))


# -- Hurwitz zeta (Cephes' Euler-Maclaurin summation, as ATen) ------------------------------------------
_ZETA_A = (12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9, 7.47242496e10,
           -2.950130727918164224e12, 1.1646782814350067249e14, -4.5979787224074726105e15,
           1.8152105401943546773e17, -7.1661652561756670113e18)


def zeta_impl(x, q):
    """Hurwitz zeta(x, q) computed in float64 like ATen's CPU kernel (which accumulates in double)."""
    dt = jnp.result_type(x, q)
    x, q = jnp.broadcast_arrays(jnp.asarray(x, jnp.float64), jnp.asarray(q, jnp.float64))
    machep = 1.11022302462515654042e-16
    s = jnp.power(q, -x)

    def cond(st):
        return jnp.any(st[4])

    def body(st):
        i, a, b, s, act = st
        i2, a2 = i + 1, a + 1.0
        b2 = jnp.power(a2, -x)
        s2 = s + b2
        i, a, b, s = (jnp.where(act, u, v) for u, v in ((i2, i), (a2, a), (b2, b), (s2, s)))
        conv = jnp.abs(b / s) < machep
        return i, a, b, s, act & ~conv & ((i < 9) | (a <= 9.0))

    zero = jnp.zeros_like(x)
    i, a, b, s1, _ = jax.lax.while_loop(cond, body, (zero, q, zero, s, jnp.ones(x.shape, bool)))
    conv_early = jnp.abs(b / s1) < machep
    w = a
    s2 = s1 + b * w / (x - 1.0) - 0.5 * b
    aa = jnp.ones_like(x)
    k = jnp.zeros_like(x)
    done = jnp.zeros(x.shape, bool)
    bb = b
    for c in _ZETA_A:
        aa = aa * (x + k)
        bb = bb / w
        t = aa * bb / c
        s2 = jnp.where(done, s2, s2 + t)
        done = done | (jnp.abs(t / s2) < machep)
        k = k + 1.0
        aa = aa * (x + k)
        bb = bb / w
        k = k + 1.0
    out = jnp.where(conv_early, s1, s2)
    big_q = (1 / (x - 1) + 1 / (2 * q)) * jnp.power(q, 1 - x)
    out = jnp.where(q > 1e8, big_q, out)
    out = jnp.where((q <= 0) & (x != jnp.floor(x)) & (q != jnp.floor(q)), jnp.nan, out)
    out = jnp.where((q <= 0) & (q == jnp.floor(q)), jnp.inf, out)
    out = jnp.where(x < 1, jnp.nan, out)
    out = jnp.where(x == 1, jnp.inf, out)
    return out.astype(dt)


@defop(lambda x, q: zeta_impl(x, q), node="SpecialZetaBackward0", nondiff_out=True, promote=True, method=False,
       namespace="special")
def zeta(input, other):
    """The Hurwitz zeta function ``sum_k (k + other) ** -input``. torch implements no derivative."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("special_zeta() received an invalid combination of arguments")
    _broadcast_check(input, other)
    return _floatify(input, other), ()


# -- aliases of reductions / nn functions that torch.special re-exports --------------------------------
@public(namespace="special")
def softmax(input, dim, *, dtype=None):
    """``torch.special.softmax`` (= ``torch.softmax``)."""
    return _sm(input, dim, dtype=dtype)


@public(namespace="special")
def log_softmax(input, dim, *, dtype=None):
    """``torch.special.log_softmax`` (= ``torch.log_softmax``)."""
    return _lsm(input, dim, dtype=dtype)


@public(namespace="special")
def logsumexp(input, dim, keepdim=False):
    """``torch.special.logsumexp`` (= ``torch.logsumexp``)."""
    return _lse(input, dim, keepdim)

