"""Momentum on a quadratic, one eigendirection at a time: the 2×2 iteration matrix and its spectral radius.

On L(w) = ½(w − w*)ᵀH(w − w*), heavy-ball momentum

    w_{t+1} = w_t − η∇L(w_t) + β(w_t − w_{t−1})

and Nesterov's method (the gradient taken at the look-ahead point w_t + β(w_t − w_{t−1}))

    w_{t+1} = w_t + β(w_t − w_{t−1}) − η∇L(w_t + β(w_t − w_{t−1}))

act on each eigendirection of H independently. For the error coordinate c along an eigenvector with eigenvalue λ,
the state (c_t, c_{t−1}) is multiplied at every step by a 2×2 matrix that depends on ηλ and β only:

    heavy ball  [[1 + β − ηλ, −β], [1, 0]]
    Nesterov    [[(1 + β)(1 − ηλ), −β(1 − ηλ)], [1, 0]]

The matrices are not symmetric (not normal), so the error can grow for a while before it decays; its asymptotic
rate per step is the spectral radius, the larger modulus of the two roots of z² − trace·z + det = 0.
β = 0 is gradient descent: the radius is |1 − ηλ|.

``nqm_floor`` is the stationary excess loss of SGD in the noisy quadratic model (gradient H(w − w*) + ξ with
ξ ~ N(0, σ²H/B)): per eigendirection c ← (1 − ηλ)c − ηξ, so E[c²] = ησ²/(B(2 − ηλ)) and
E[L] − L* = Σ ησ²λ/(2B(2 − ηλ)).
"""
import jax
import jax.numpy as jnp
import numpy as np

from ._validate import require_finite, require_float64, require_nonnegative, require_positive, require_x64

__all__ = ["momentum_matrix", "momentum_rate", "nqm_floor"]


def _check(eta_lam, beta, where):
    require_x64(where)
    if isinstance(eta_lam, jax.core.Tracer) or isinstance(beta, jax.core.Tracer):
        raise TypeError(f"{where} checks its arguments in Python: call it on concrete arrays, outside jit/vmap.")
    require_float64(eta_lam, "eta_lam", where)
    require_finite(eta_lam, "eta_lam", where)
    if not (np.ndim(beta) == 0 and np.isfinite(beta) and 0 <= beta < 1):
        raise ValueError(f"{where}: the momentum beta must be one number in [0, 1); got {beta!r}. "
                         "(beta ≥ 1 never converges: the product of the two roots is beta, or beta·(1 − ηλ).)")
    return jnp.asarray(eta_lam, dtype=jnp.float64), float(beta)


def _trace_det(eta_lam, beta, nesterov):
    if nesterov:
        return (1 + beta) * (1 - eta_lam), beta * (1 - eta_lam)
    return 1 + beta - eta_lam, beta * jnp.ones_like(eta_lam)


def momentum_matrix(eta_lam, beta, nesterov=False):
    """The 2×2 matrix mapping (c_t, c_{t−1}) to (c_{t+1}, c_t) along an eigendirection, for each ηλ.

    ``eta_lam``: the step times the eigenvalue (a number or an array); ``beta`` in [0, 1). Returns an array of
    shape ``eta_lam.shape + (2, 2)``. ``nesterov=True`` gives Nesterov's method, otherwise heavy ball.
    """
    eta_lam, beta = _check(eta_lam, beta, "momentum_matrix")
    trace, det = _trace_det(eta_lam, beta, nesterov)
    top = jnp.stack([trace, -det], axis=-1)
    bottom = jnp.broadcast_to(jnp.array([1.0, 0.0]), top.shape)
    return jnp.stack([top, bottom], axis=-2)


def momentum_rate(eta_lam, beta, nesterov=False):
    """Spectral radius of ``momentum_matrix(eta_lam, beta, nesterov)``: the asymptotic factor per step by which
    the error along that eigendirection shrinks (below 1) or grows (above 1). Computed from the two roots of
    z² − trace·z + det = 0 in closed form (no general eigensolver, so it also runs on a GPU)."""
    eta_lam, beta = _check(eta_lam, beta, "momentum_rate")
    trace, det = _trace_det(eta_lam, beta, nesterov)
    root = jnp.sqrt((trace ** 2 - 4 * det).astype(jnp.complex128))
    return jnp.maximum(jnp.abs(trace + root), jnp.abs(trace - root)) / 2


def nqm_floor(lam, eta, sigma2, batch):
    """Stationary excess loss E[L(w)] − L(w*) = Σᵢ ησ²λᵢ / (2B(2 − ηλᵢ)) of SGD with step ``eta`` and batch size
    ``batch`` in the noisy quadratic model, from the Hessian's eigenvalues ``lam`` (≥ 0) and the per-example noise
    variance ``sigma2``. Needs η·max(λ) < 2 (otherwise the iteration diverges and there is no floor)."""
    where = "nqm_floor"
    require_x64(where)
    require_float64(lam, "lam", where)
    require_finite(lam, "lam", where)
    lam = np.asarray(lam, dtype=np.float64)
    if lam.ndim != 1 or lam.size == 0 or np.any(lam < 0):
        raise ValueError(f"{where}: lam must be a non-empty 1-D array of eigenvalues ≥ 0; got shape {lam.shape}"
                         f"{' with negative entries' if lam.size and np.any(lam < 0) else ''}.")
    require_positive(eta, "eta", where)
    require_nonnegative(sigma2, "sigma2", where)
    require_positive(batch, "batch", where, integer=True)
    if eta * lam.max() >= 2:
        raise ValueError(f"{where}: eta·λmax = {eta * lam.max():.3g} ≥ 2: SGD diverges along the top direction and "
                         f"has no floor. Use eta < 2/λmax = {2 / lam.max():.4g}.")
    return float(np.sum(eta * sigma2 * lam / (2 * batch * (2 - eta * lam))))
