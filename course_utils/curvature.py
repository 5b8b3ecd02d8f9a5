"""Curvature: Hessian-vector products, explicit Hessians, eigenvalues, and solving with the Hessian.

Every function takes parameters as a JAX pytree (a dict of arrays, a list of layers, ...). Explicit matrices use
the order of ``jax.flatten_util.ravel_pytree``. The solvers take a *matvec* ``v -> A v`` rather than a matrix,
so the same code works for an explicit matrix, a Hessian-vector product or a Gauss-Newton product.

The notebooks show how each of these is derived; this module is the reference the exercises are checked against.
"""
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ._validate import (NotPositiveDefiniteError, not_positive_definite, require_finite, require_float64,
                        require_nonnegative, require_positive, require_same_structure, require_x64)

__all__ = [
    "hvp", "hessian_matrix", "gnvp", "gauss_newton_matrix", "top_eigenvalue", "smallest_eigenvalue", "lanczos",
    "lanczos_tridiagonal", "lanczos_eigenpairs", "ritz_values", "hutchinson_trace", "slq_tridiagonal",
    "gauss_quadrature", "slq_density", "spectral_density", "eigh_solve", "cg_solve", "check_cg_problem", "lissa",
    "NotPositiveDefiniteError",
]


# --- products with the Hessian -------------------------------------------------------------------------------


def hvp(f, params, v):
    """∇²f(params) · v by forward-over-reverse differentiation (a jvp of the gradient).

    Costs a small constant times one gradient, and never forms the Hessian. ``v`` and the result are shaped
    like ``params``.
    """
    require_same_structure(params, v, "params", "v", "hvp")
    return jax.jvp(jax.grad(f), (params,), (v,))[1]


def hessian_matrix(f, params, *, columns_per_batch=64):
    """The explicit (p, p) Hessian of scalar ``f`` at ``params``, in ``ravel_pytree`` order. Memory grows as p².

    Built column by column as p Hessian-vector products with the unit vectors, ``columns_per_batch`` at a time
    (the same numbers as ``jax.hessian``, with less memory and usually less time for networks). Traceable: wrap
    the call in ``jax.jit`` to compile it.
    """
    flat, unravel = ravel_pytree(params)
    column = lambda e: jax.jvp(jax.grad(lambda w: f(unravel(w))), (flat,), (e,))[1]
    return jax.lax.map(column, jnp.eye(flat.size, dtype=flat.dtype), batch_size=min(columns_per_batch, flat.size))


def gnvp(model_fn, out_loss, params, v):
    """Gauss-Newton product G·v = Jᵀ H_out J v.

    ``model_fn(params)`` returns the network outputs (for the whole batch); ``out_loss(outputs)`` is the scalar
    loss as a function of those outputs; J is the Jacobian of the outputs and H_out the Hessian of the loss with
    respect to the outputs. G is positive semi-definite whenever ``out_loss`` is convex (squared error,
    cross-entropy), even where the full Hessian is not.
    """
    require_same_structure(params, v, "params", "v", "gnvp")
    outputs, Jv = jax.jvp(model_fn, (params,), (v,))
    HJv = hvp(out_loss, outputs, Jv)
    _, vjp = jax.vjp(model_fn, params)
    return vjp(HJv)[0]


def gauss_newton_matrix(model_fn, out_loss, params, *, columns_per_batch=64):
    """The explicit (p, p) Gauss-Newton matrix G = Jᵀ H_out J at ``params`` (arguments as for ``gnvp``), in
    ``ravel_pytree`` order: p Gauss-Newton products with the unit vectors, ``columns_per_batch`` at a time. Memory
    grows as p²; positive semi-definite whenever ``out_loss`` is convex in the outputs."""
    flat, unravel = ravel_pytree(params)
    column = lambda e: ravel_pytree(gnvp(model_fn, out_loss, params, unravel(e)))[0]
    return jax.lax.map(column, jnp.eye(flat.size, dtype=flat.dtype), batch_size=min(columns_per_batch, flat.size))


# --- eigenvalues by power iteration --------------------------------------------------------------------------


def _flat_operator(matvec, unravel, damping=0.0):
    """Turn a matvec on pytrees into one on flat vectors, with `damping`·I added."""
    return lambda v: ravel_pytree(matvec(unravel(v)))[0] + damping * v


def _power_iteration(A, v0, iters):
    """Eigenvalue of largest magnitude of the symmetric operator A (flat vectors), as a Rayleigh quotient."""
    def step(_, v):
        w = A(v)
        return w / jnp.linalg.norm(w)

    v = jax.lax.fori_loop(0, iters, step, v0 / jnp.linalg.norm(v0))
    return jnp.vdot(v, A(v))


def _start(key, flat):
    """A random unit-variance start vector (the default key is fixed, so results are reproducible)."""
    return jax.random.normal(jax.random.key(0) if key is None else key, flat.shape, flat.dtype)


def top_eigenvalue(matvec, like, *, iters=100, key=None):
    """Eigenvalue of largest magnitude of a symmetric operator (usually λmax of a Hessian), by ``iters`` steps of
    power iteration from a random start (drawn with ``key``); returns the Rayleigh quotient as a JAX scalar.

    ``like`` is any pytree shaped like the operator's input (e.g. the parameters). Traceable: it can run inside
    ``jit`` or ``vmap`` (say, over the keys that pick a minibatch inside ``matvec``).
    """
    flat, unravel = ravel_pytree(like)
    return _power_iteration(_flat_operator(matvec, unravel), _start(key, flat), iters)


def smallest_eigenvalue(matvec, like, *, iters=60, key=None):
    """λmin of a symmetric operator, estimated by ``iters`` Lanczos steps: the smallest Ritz value, which is never
    below λmin (so a negative value proves negative curvature) and converges to it from above. Used to diagnose
    negative curvature and suggest a damping."""
    return lanczos(matvec, like, iters=iters, key=key)[0]


def _lambda_min(A, v0, iters=60):
    """λmin of a symmetric flat operator by Lanczos (for the solvers' checks): the smallest Ritz value."""
    return float(ritz_values(*_lanczos_flat(A, v0, min(iters, v0.size)))[0])


def lanczos_tridiagonal(matvec, like, *, iters=60, key=None):
    """``iters`` Lanczos steps on symmetric A: the diagonal α and off-diagonal β of T = VᵀAV (tridiagonal).

    V is an orthonormal basis of the Krylov space {v, Av, A²v, ...} from a random start v (drawn with ``key``),
    kept in full (memory iters × p) and reorthogonalised at every step. The leading k × k block of T is what k
    steps would give.
    """
    flat, unravel = ravel_pytree(like)
    return _lanczos_flat(_flat_operator(matvec, unravel), _start(key, flat), min(iters, flat.size))


def _lanczos_flat(A, v0, iters):
    """α, β of ``_lanczos_basis`` (the basis itself dropped)."""
    _, alpha, beta = _lanczos_basis(A, v0, iters)
    return alpha, beta


def _lanczos_basis(A, v0, iters):
    """(V, α, β): Lanczos with full reorthogonalisation, V the (iters, p) orthonormal basis. When the Krylov space
    closes (the new vector vanishes: an invariant subspace was found, e.g. at once for a multiple of the identity), it
    restarts from a fresh random vector orthogonal to the basis, with β = 0 there: T is then block diagonal and every
    Ritz value is still an eigenvalue estimate of A (without the restart, the empty steps would add spurious zero Ritz
    values)."""
    V = jnp.zeros((iters + 1, v0.size), v0.dtype).at[0].set(v0 / jnp.linalg.norm(v0))
    orthogonalise = lambda V, w: (lambda w: w - V.T @ (V @ w))(w - V.T @ (V @ w))   # twice, for stability

    def step(j, state):
        V, alpha, beta = state
        Av = A(V[j])
        alpha = alpha.at[j].set(Av @ V[j])
        w = orthogonalise(V, Av)
        norm = jnp.linalg.norm(w)
        closed = norm <= 1e-10 * jnp.maximum(jnp.linalg.norm(Av), 1e-300)
        fresh = orthogonalise(V, jax.random.normal(jax.random.fold_in(jax.random.key(7), j), w.shape, w.dtype))
        nxt = jnp.where(closed, fresh / jnp.linalg.norm(fresh), w / jnp.where(norm > 0, norm, 1.0))
        return V.at[j + 1].set(nxt), alpha, beta.at[j].set(jnp.where(closed, 0.0, norm))

    zeros = jnp.zeros(iters, v0.dtype)
    V, alpha, beta = jax.lax.fori_loop(0, iters, step, (V, zeros, zeros))
    return V[:iters], alpha, beta[:-1]


def ritz_values(alpha, beta):
    """Eigenvalues (ascending) of the tridiagonal matrix with diagonal α and off-diagonal β."""
    return jnp.linalg.eigvalsh(jnp.diag(alpha) + jnp.diag(beta, 1) + jnp.diag(beta, -1))


def lanczos_eigenpairs(matvec, like, *, iters=60, key=None):
    """(Ritz values ascending, Ritz vectors as the rows of an (iters, p) array) after ``iters`` Lanczos steps with
    full reorthogonalisation on a symmetric operator; vectors are flat, in ``ravel_pytree`` order of ``like``.

    The extreme pairs converge first; with iters = p they are the exact eigenpairs (to rounding). Memory iters × p.
    Traceable (wrap it in ``jax.jit``)."""
    flat, unravel = ravel_pytree(like)
    V, alpha, beta = _lanczos_basis(_flat_operator(matvec, unravel), _start(key, flat), min(iters, flat.size))
    theta, S = jnp.linalg.eigh(jnp.diag(alpha) + jnp.diag(beta, 1) + jnp.diag(beta, -1))
    return theta, S.T @ V


def lanczos(matvec, like, *, iters=60, key=None):
    """Ritz values (ascending) after ``iters`` Lanczos steps: the extreme ones converge to the extreme
    eigenvalues of A (top and bottom) long before iters reaches p."""
    return ritz_values(*lanczos_tridiagonal(matvec, like, iters=iters, key=key))


# --- traces and spectral densities from products: Hutchinson and stochastic Lanczos quadrature ----------------


def _check_randomised(where, matvec, like, key, **counts):
    """The checks shared by the randomised estimators, before anything is computed: float64 (and finite, when
    concrete) ``like``, a matvec that maps it to something shaped like it (by ``jax.eval_shape``, no product
    computed), counts that are whole numbers ≥ 1, and a typed key."""
    require_x64(where)
    require_float64(like, "like", where)
    if not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(like)):
        require_finite(like, "like", where)
    for name, value in counts.items():
        require_positive(value, name, where, integer=True)
    if key is not None and not (isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)):
        raise TypeError(f"{where}: key must be a typed JAX key, e.g. key=jax.random.key(0); got {type(key).__name__}"
                        f"{' (a raw uint32 PRNGKey: use jax.random.key)' if hasattr(key, 'dtype') else ''}.")
    out = jax.eval_shape(matvec, like)
    shapes = lambda tree: [tuple(leaf.shape) for leaf in jax.tree_util.tree_leaves(tree)]
    if jax.tree_util.tree_structure(out) != jax.tree_util.tree_structure(like) or shapes(out) != shapes(like):
        raise ValueError(f"{where}: matvec(v) must be shaped like `like` (a square operator); it maps leaves of shapes "
                         f"{shapes(like)} to {shapes(out)}.")


def _rademacher(key, count, flat):
    """``count`` random ±1 vectors shaped like ``flat`` (the default key is fixed, so results are reproducible)."""
    return jax.random.rademacher(jax.random.key(0) if key is None else key, (count, flat.size), flat.dtype)


def hutchinson_trace(matvec, like, *, probes=100, key=None, samples=False, batch_size=64):
    """Hutchinson's estimate of tr(A) for a symmetric operator A: the mean of zᵀAz over ``probes`` Rademacher
    vectors z (entries ±1, drawn with ``key``), one product each.

    Unbiased, since E[zzᵀ] = I; for ±1 entries one probe has variance Var(zᵀAz) = 2(‖A‖_F² − Σᵢ Aᵢᵢ²), so the
    error shrinks as 1/√probes, and a diagonal A gives its trace exactly. ``like`` is a pytree shaped like the
    operator's input. With ``samples=True`` it returns the ``probes`` values zᵀAz instead of their mean (their
    running mean is the estimate for every smaller number of probes). Products run ``batch_size`` at a time.
    """
    _check_randomised("hutchinson_trace", matvec, like, key, probes=probes, batch_size=batch_size)
    flat, unravel = ravel_pytree(like)
    A = _flat_operator(matvec, unravel)
    quad = jax.lax.map(lambda z: z @ A(z), _rademacher(key, probes, flat), batch_size=min(batch_size, probes))
    return quad if samples else jnp.mean(quad)


def slq_tridiagonal(matvec, like, *, iters=30, starts=10, key=None):
    """``iters`` Lanczos steps (``lanczos_tridiagonal``'s, with full reorthogonalisation) from each of ``starts``
    Rademacher vectors drawn with ``key`` (the probes ``hutchinson_trace`` draws with the same key): the diagonals
    α (starts, iters) and off-diagonals β (starts, iters − 1). The leading k-step blocks are what k steps give.
    Memory: one iters × p basis per start, the starts run side by side (``jax.vmap``)."""
    _check_randomised("slq_tridiagonal", matvec, like, key, iters=iters, starts=starts)
    flat, unravel = ravel_pytree(like)
    A = _flat_operator(matvec, unravel)
    return jax.vmap(lambda z: _lanczos_flat(A, z, min(iters, flat.size)))(_rademacher(key, starts, flat))


def gauss_quadrature(alpha, beta):
    """The Gauss quadrature rule of Lanczos tridiagonals T (diagonal ``alpha`` (..., m), off-diagonal ``beta``
    (..., m − 1)): nodes θ_k, the eigenvalues of T (Ritz values, ascending), and weights τ_k, the squared first
    components of T's eigenvectors (≥ 0, summing to 1 over k).

    For Lanczos run on A from v, Σ_k τ_k f(θ_k) approximates vᵀf(A)v / ‖v‖², and equals it (in exact arithmetic)
    whenever f is a polynomial of degree below 2m; when m reaches p, the nodes are A's eigenvalues and the rule is
    exact for every f.
    """
    alpha, beta = jnp.asarray(alpha), jnp.asarray(beta)
    if alpha.ndim == 0 or beta.shape != alpha.shape[:-1] + (alpha.shape[-1] - 1,):
        raise ValueError(f"gauss_quadrature: alpha (..., m) and beta (..., m − 1) from Lanczos; got shapes "
                         f"{alpha.shape} and {beta.shape}.")
    return _gauss_quadrature(alpha, beta)


@jax.jit
def _gauss_quadrature(alpha, beta):
    m = alpha.shape[-1]
    upper = jnp.concatenate([beta, jnp.zeros_like(alpha[..., :1])], -1)[..., :, None] * jnp.eye(m, k=1)
    nodes, vectors = jnp.linalg.eigh(alpha[..., :, None] * jnp.eye(m) + upper + jnp.swapaxes(upper, -1, -2))
    return nodes, vectors[..., 0, :] ** 2


def slq_density(matvec, like, *, iters=30, starts=10, key=None):
    """Stochastic Lanczos quadrature (SLQ): the eigenvalue distribution of a symmetric p × p operator A as nodes and
    weights, each of shape (starts, iters): ``gauss_quadrature`` of ``slq_tridiagonal``.

    Each start's rule has weights summing to 1; averaged over the starts they estimate the spectral measure
    (1/p) Σᵢ δ(t − λᵢ): tr f(A) ≈ p · mean over starts of Σ_k τ_k f(θ_k) (for f(λ) = λ this is exactly
    ``hutchinson_trace`` with the same key and ``probes=starts``), and ``spectral_density`` smooths it into a density.
    The m steps set the resolution (the extreme eigenvalues converge first); the starts, the sampling noise.
    """
    return gauss_quadrature(*slq_tridiagonal(matvec, like, iters=iters, starts=starts, key=key))


def spectral_density(nodes, weights, grid, *, sigma):
    """Σ wᵢ N(t; θᵢ, σ²) / Σ wᵢ at every t in ``grid`` (a NumPy array): a Gaussian-smoothed density of the nodes θ
    (any shape; e.g. ``slq_density``'s, averaged over its starts, or exact eigenvalues with equal weights).
    Integrates to 1. Computed in NumPy: a plot's post-processing, with no compilation for each new shape."""
    nodes, weights = np.ravel(np.asarray(nodes, np.float64)), np.ravel(np.asarray(weights, np.float64))
    if nodes.shape != weights.shape:
        raise ValueError(f"spectral_density: nodes and weights must have the same size; got {nodes.size} and "
                         f"{weights.size}.")
    require_positive(sigma, "sigma", "spectral_density")
    if not (np.all(weights >= 0) and weights.sum() > 0):
        raise ValueError("spectral_density: weights must be ≥ 0 with a positive sum (quadrature weights).")
    z = (np.asarray(grid, np.float64)[..., None] - nodes) / sigma
    return np.exp(-0.5 * z ** 2) @ weights / (weights.sum() * sigma * np.sqrt(2 * np.pi))


# --- solving (A + damping·I) x = b ---------------------------------------------------------------------------


def eigh_solve(evals, evecs, b, *, damping=0.0):
    """(A + damping·I)⁻¹ b from an eigendecomposition A = V diag(evals) Vᵀ (``jnp.linalg.eigh``): rotate into the
    eigenbasis, divide by λᵢ + damping, rotate back. One decomposition serves every damping and every right-hand
    side; ``b`` is a vector (p,) or a matrix (p, m) of right-hand sides."""
    if evecs.ndim != 2 or evecs.shape[0] != evecs.shape[1] or evals.shape != evecs.shape[:1]:
        raise ValueError(f"eigh_solve: evals (p,) and evecs (p, p) from jnp.linalg.eigh; got shapes {evals.shape} and "
                         f"{evecs.shape}.")
    if b.shape[0] != evals.shape[0]:
        raise ValueError(f"eigh_solve: b has {b.shape[0]} rows; the matrix is {evals.shape[0]} × {evals.shape[0]}.")
    shifted = evals + damping
    scale = shifted if b.ndim == 1 else shifted[:, None]
    return evecs @ ((evecs.T @ b) / scale)



def _require_concrete(where, *trees):
    """The checks look at values; inside jit/vmap there are none yet."""
    if any(isinstance(leaf, jax.core.Tracer) for tree in trees for leaf in jax.tree_util.tree_leaves(tree)):
        raise TypeError(f"{where} was called inside jax.jit/vmap with check=True; its checks need concrete values. "
                        "Pass check=False inside a transformation (and check outside it).")


def _symmetry_gap(A, like):
    """|uᵀAv − vᵀAu| relative to the sizes involved, for two random u, v: zero (to rounding) iff A is symmetric on
    them. Two products: a cheap test before CG, which assumes symmetry and returns garbage without it."""
    u, v = jax.random.normal(jax.random.key(1), (2,) + like.shape, like.dtype)
    Au, Av = A(u), A(v)
    scale = jnp.linalg.norm(u) * jnp.linalg.norm(Av) + jnp.linalg.norm(v) * jnp.linalg.norm(Au)
    return float(jnp.abs(u @ Av - v @ Au) / jnp.where(scale > 0, scale, 1.0))


def check_cg_problem(matvec, b, *, damping=0.0, tol=1e-10, maxiter=None, where="cg_solve"):
    """The checks ``cg_solve`` runs before solving (a separate step, so a caller inside ``jit`` can run them once,
    outside): float64 and finite b, damping ≥ 0, tol ≥ 0, maxiter ≥ 1, and a symmetric operator."""
    _require_concrete(where, b, damping)
    require_x64(where)
    require_float64(b, "b", where)
    require_finite(b, "b", where)
    require_nonnegative(damping, "damping", where)
    require_nonnegative(tol, "tol", where)
    if maxiter is not None:
        require_positive(maxiter, "maxiter", where, integer=True)
    b_flat, unravel = ravel_pytree(b)
    gap = _symmetry_gap(_flat_operator(matvec, unravel, damping), b_flat)
    if not gap <= 1e-8:
        raise ValueError(f"{where}: the operator is not symmetric (uᵀAv − vᵀAu is {gap:.1e} of their size for random "
                         "u, v), and conjugate gradient needs a symmetric positive-definite A. Check the matvec; for a "
                         "non-symmetric system use jax.scipy.sparse.linalg.gmres.")


def _check_solution(A, B, X, tol, where, damping=0.0):
    """Check solves of A x = b (rows of B, X): raise on negative curvature, warn if not converged.

    Cheap: one product per row. It catches an indefinite A whenever bᵀx ≤ 0 or CG fails to converge; a CG
    that happens to converge on an indefinite system solves it correctly and passes."""
    if not bool(jnp.all(jnp.isfinite(X))):
        raise FloatingPointError(f"{where}: the solution contains NaN or inf; check the matvec and add damping.")
    b_norm = jnp.linalg.norm(B, axis=-1)
    residual = jnp.linalg.norm(jax.vmap(A)(X) - B, axis=-1) / jnp.where(b_norm > 0, b_norm, 1.0)
    # For a positive-definite A, bᵀA⁻¹b > 0: a non-positive value proves negative curvature.
    indefinite = bool(jnp.any((jnp.sum(B * X, axis=-1) <= 0) & (b_norm > 0)))
    if indefinite or float(jnp.max(residual)) > 1e3 * tol:
        lam_min = _lambda_min(A, B[0] + 1e-3)
        if indefinite or lam_min <= 0:
            raise not_positive_definite(where, lam_min, damping)
        warnings.warn(
            f"{where}: CG stopped at relative residual {float(jnp.max(residual)):.2e} > tol={tol:g}. "
            "Raise `maxiter`, or add damping to improve the conditioning.",
            RuntimeWarning, stacklevel=3,
        )


def cg_solve(matvec, b, *, damping=0.0, tol=1e-10, maxiter=None, check=True):
    """Solve (A + damping·I) x = b by conjugate gradient, for symmetric positive-definite A.

    ``matvec(v)`` returns A·v; ``b`` is an array or a pytree (the result has the same shape). The iteration is
    ``jax.scipy.sparse.linalg.cg`` (relative tolerance ``tol``). With ``check=True`` the problem is checked first
    (``check_cg_problem``) and the answer afterwards: a non-positive-definite system raises
    ``NotPositiveDefiniteError`` naming a damping that fixes it, and a solve that stops before ``tol`` warns. With
    ``check=False`` it is a plain traceable function (call it inside ``jit``; ``maxiter`` may then be traced).
    """
    if check:
        check_cg_problem(matvec, b, damping=damping, tol=tol, maxiter=maxiter)
    b_flat, unravel = ravel_pytree(b)
    A = _flat_operator(matvec, unravel, damping)
    x, _ = jax.scipy.sparse.linalg.cg(A, b_flat, tol=tol, atol=0.0, maxiter=maxiter)
    if check:
        _check_solution(A, b_flat[None], x[None], tol, "cg_solve", damping)
    return unravel(x)


def _neumann(A, b, scale, depth, key):
    """depth steps of h ← b + h − A h / scale from h = b (A includes damping); returns h / scale.

    ``depth`` may be a traced integer (a ``fori_loop``), so one compiled function serves every depth."""
    step = lambda j, h: b + h - A(h, None if key is None else jax.random.fold_in(key, j)) / scale
    return jax.lax.fori_loop(0, depth, step, b) / scale


def lissa(matvec, b, *, damping=0.0, scale, depth, repeats=1, key=None, check=True):
    """Estimate (A + damping·I)⁻¹ b by LiSSA, the truncated Neumann series

        h₀ = b,   hⱼ = b + hⱼ₋₁ − (A + damping·I) hⱼ₋₁ / scale,   result = h_depth / scale.

    It converges iff every eigenvalue μ of A + damping·I satisfies 0 < μ/scale < 2, i.e. scale > λmax/2 and the
    damped system positive definite; the error shrinks like max|1 − μ/scale|^depth. ``damping`` is in the same
    units as A (Koh & Liang's code uses units of ``scale``: their δ is our damping/scale).

    With ``key``, ``matvec`` is called as ``matvec(v, key)`` with a fresh key every step (minibatch HVPs: the
    stochastic version), and ``repeats`` independent runs are averaged. A step then contracts only if every
    eigenvalue of that minibatch's Hessian + damping lies in (0, 2·scale): the scale must exceed λmax/2 of *every*
    minibatch Hessian the run draws, not only of the full one (a minibatch is sharper), and a minibatch Hessian of a
    network can be indefinite where the full one is not, which no scale fixes (the series may still converge on
    average; nothing guarantees it).

    With ``check=True``, a scale that is too small or a system that is not positive definite raises, with the scale
    or damping that would converge. The scale check estimates λmax by power iteration: of A itself, or, in the
    stochastic version, the largest over ``CHECK_BATCHES`` sampled minibatch Hessians (a lower bound on the largest
    the run will meet, so leave a margin): a necessary condition, not a guarantee. A run that still blows up is
    caught afterwards by its norm.
    """
    if repeats > 1 and key is None:
        raise ValueError("lissa: repeats > 1 averages independent stochastic runs; pass key= (and a matvec(v, key)).")
    b_flat, unravel = ravel_pytree(b)
    call = (lambda v, k: matvec(v, k)) if key is not None else (lambda v, k: matvec(v))
    A = lambda v, k: ravel_pytree(call(unravel(v), k))[0] + damping * v
    if check:
        _require_concrete("lissa", b, damping, scale, depth)
        require_x64("lissa")
        require_float64(b, "b", "lissa")
        require_finite(b, "b", "lissa")
        require_nonnegative(damping, "damping", "lissa")
        require_positive(scale, "scale", "lissa")
        require_positive(depth, "depth", "lissa", integer=True)
        require_positive(repeats, "repeats", "lissa", integer=True)
        lam_max = _largest_curvature(A, b_flat + 1e-3, key)
        if scale <= lam_max / 2:
            raise ValueError(_scale_message(scale, lam_max, key))
    if key is None:
        h = _neumann(A, b_flat, scale, depth, None)
    else:
        h = jnp.mean(jax.vmap(lambda k: _neumann(A, b_flat, scale, depth, k))(jax.random.split(key, repeats)), 0)
    # A convergent series has ‖hⱼ‖ ≤ (j + 1)‖b‖ (every term is a contraction of b): more means it blew up.
    if check and not float(jnp.linalg.norm(h) * scale) <= (depth + 1) * float(jnp.linalg.norm(b_flat)) * (1 + 1e-6):
        lam_min = _lambda_min(lambda v: A(v, key), b_flat + 1e-3)
        if lam_min <= 0:
            raise not_positive_definite("lissa diverged", lam_min, damping)
        raise ValueError(_scale_message(scale, lam_max, key))
    return unravel(h)


CHECK_BATCHES = 64  # minibatch Hessians sampled by lissa's scale check in the stochastic version


def _largest_curvature(A, v0, key, iters=100):
    """λmax of the operator LiSSA will apply, by power iteration. Deterministic: A itself. Stochastic: every step
    applies the Hessian of a fresh minibatch, and the series needs scale > λmax/2 for *each* of them (a minibatch
    Hessian's λmax exceeds the full one's), so take the largest over CHECK_BATCHES sampled minibatches."""
    if key is None:
        return float(_power_iteration(lambda v: A(v, None), v0, iters))
    keys = jax.random.split(jax.random.fold_in(key, 2**31 - 1), CHECK_BATCHES)   # not keys the run itself uses
    return float(jnp.max(jax.vmap(lambda k: _power_iteration(lambda v: A(v, k), v0, iters))(keys)))


def _scale_message(scale, lam_max, key):
    what = ("λmax(A + damping·I)" if key is None else
            f"the largest λmax over {CHECK_BATCHES} sampled minibatch Hessians (+ damping), a lower bound on the "
            "largest the run will draw")
    return (
        f"lissa diverges: scale={scale:g} is at or below {what} / 2 ≈ {lam_max / 2:.4g}, so the Neumann series grows "
        f"geometrically along that direction. Use scale > {lam_max / 2:.4g}"
        + ("; scale ≈ λmax converges fastest for the top of the spectrum." if key is None else
           "; leave a margin (say scale ≥ λmax of the sampled minibatches), since other minibatches can be sharper.")
    )
