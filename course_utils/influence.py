"""Influence functions (Koh & Liang 2017, "Understanding Black-box Predictions via Influence Functions").

The sign convention — stated here once and used everywhere in the course
------------------------------------------------------------------------
Training objective R(θ) = (1/n) Σᵢ L(zᵢ, θ) + (l2/2)‖θ‖², minimiser θ̂, H = ∇²R(θ̂) (+ damping·I).

    I_up,params(z)         = −H⁻¹ ∇θL(z, θ̂)                      change of θ̂ per unit up-weighting of z
    I_up,loss(z, z_test)   = −∇θL(z_test, θ̂)ᵀ H⁻¹ ∇θL(z, θ̂)       change of the test loss per unit up-weighting
    I_pert,loss(z, z_test) = −∇θL(z_test, θ̂)ᵀ H⁻¹ ∇x∇θL(z, θ̂)     how the test loss moves with the training input x

I_up,loss > 0: giving z more weight raises the test loss, so z is HARMFUL to that prediction.
I_up,loss < 0: z is HELPFUL. Removing z is up-weighting it by ε = −1/n, so the predicted change of the test loss
when z is left out is −(1/n)·I_up,loss(z, z_test). ``leave_one_out`` retrains with exactly the objective for which
that prediction is first-order exact: (1/n)·Σ_{j≠i} L(z_j, θ) + (l2/2)‖θ‖².

``loss_fn(params, x, y)`` is the loss of ONE example, without the L2 term (that is ``l2``). ``train = (X, Y)`` with
a leading axis of n examples. ``solver`` is "exact" (explicit Hessian, for p up to a few thousand), "cg"
(conjugate gradient on Hessian-vector products) or "lissa" (the Neumann series; needs ``scale`` and ``depth``,
optionally ``repeats``, ``batch_size`` for minibatch HVPs, and ``seed``). Every solver checks for negative curvature
and says which damping removes it (``check=False`` skips the check). Everything needs float64.
"""
import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from . import curvature, training
from ._checks import not_positive_definite, require_float64, require_x64
from .curvature import _check_solution, _lambda_min, lissa

__all__ = [
    "influence_up_loss", "influence_up_params", "influence_pert_loss", "self_influence", "leave_one_out",
    "per_example_grads", "inverse_hvp",
]


class _Problem(NamedTuple):
    w: jax.Array          # flat parameters θ̂
    unravel: Callable
    loss: Callable        # loss(w, x, y) on flat parameters
    X: Any
    Y: Any
    l2: float

    def risk(self, w):
        return training.empirical_risk(self.loss, w, self.X, self.Y, self.l2)

    def grads(self, X, Y):
        """Per-example gradients ∇θL(z, θ̂), shape (len(X), p)."""
        return jax.vmap(jax.grad(self.loss), (None, 0, 0))(self.w, X, Y)


def _problem(loss_fn, params, train, l2, where):
    require_x64(where)
    X, Y = train
    require_float64(params, "params", where)
    require_float64(X, "train X", where)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"{where}: train X has {X.shape[0]} examples but train Y has {Y.shape[0]}.")
    w, unravel = ravel_pytree(params)
    return _Problem(w, unravel, lambda w, x, y: loss_fn(unravel(w), x, y), jnp.asarray(X), jnp.asarray(Y), l2)


def _test_batch(train, test, where):
    """(X_test, Y_test, single): accept one example (x, y) or a batch, and check the feature shape."""
    X, (x, y) = train[0], test
    require_float64(x, "test x", where)
    if x.shape == X.shape[1:]:
        return x[None], jnp.asarray(y)[None], True
    if x.shape[1:] == X.shape[1:]:
        if len(x) != len(y):
            raise ValueError(f"{where}: test x has {len(x)} examples but test y has {len(y)}.")
        return x, y, False
    raise ValueError(f"{where}: test x has shape {x.shape}; expected one example of shape {X.shape[1:]} "
                     f"(like a row of train X) or a batch of shape (m, {', '.join(map(str, X.shape[1:]))}).")


_OPTIONS = {"exact": set(), "cg": {"tol", "maxiter", "check"},
            "lissa": {"scale", "depth", "repeats", "batch_size", "seed", "check"}}


def _solve(prob, V, solver, damping, options, where):
    """Rows of (H + damping·I)⁻¹ Vᵀ for V of shape (m, p)."""
    if solver not in _OPTIONS:
        raise ValueError(f"{where}: solver must be 'exact', 'cg' or 'lissa', not {solver!r}.")
    if set(options) - _OPTIONS[solver]:
        raise TypeError(f"{where}: solver={solver!r} takes options {sorted(_OPTIONS[solver]) or 'none'}, "
                        f"not {sorted(set(options) - _OPTIONS[solver])}.")
    if solver == "lissa" and not {"scale", "depth"} <= set(options):
        raise TypeError(f"{where}: solver='lissa' needs scale= (above λmax/2) and depth= (number of steps).")
    if solver == "exact":
        return jax.scipy.linalg.cho_solve((_hessian_factor(prob, damping, where), True), V.T).T
    hvp = lambda v: curvature.hvp(prob.risk, prob.w, v)
    A = lambda v: hvp(v) + damping * v
    if options.get("check", True):  # power iteration bounds λmin from above: a negative estimate is certain
        lam_min = _lambda_min(A, V[0] + 1e-3, iters=100)
        if lam_min <= 0:
            raise not_positive_definite(f"{where} (solver={solver!r})", lam_min, damping)
    if solver == "cg":
        tol, maxiter = options.get("tol", 1e-10), options.get("maxiter")
        X = jax.vmap(lambda b: jax.scipy.sparse.linalg.cg(A, b, tol=tol, atol=0.0, maxiter=maxiter)[0])(V)
        _check_solution(A, V, X, tol, f"{where} (solver='cg')", damping)
        return X
    return _solve_lissa(prob, hvp, V, damping, options)


def _hessian_factor(prob, damping, where):
    """Lower Cholesky factor of H + damping·I (explicit H, jit-compiled); raises, naming a damping, if not PD."""
    H = jax.jit(lambda w: curvature.hessian_matrix(prob.risk, w))(prob.w) + damping * jnp.eye(prob.w.size)
    L = jnp.linalg.cholesky(H)
    if not bool(jnp.all(jnp.isfinite(L))):
        raise not_positive_definite(where, float(jnp.linalg.eigvalsh(H)[0]), damping)
    return L


def _solve_lissa(prob, hvp, V, damping, options):
    """LiSSA for every row of V; the first row is checked for divergence, the rest reuse its verdict."""
    opts = {k: options[k] for k in ("scale", "depth", "repeats") if k in options}
    batch_size = options.get("batch_size")
    if batch_size is None:
        run = lambda b, check: lissa(hvp, b, damping=damping, check=check, **opts)
    else:  # stochastic LiSSA: each step uses the Hessian of a random minibatch of the objective
        def minibatch_hvp(v, key):
            idx = jax.random.randint(key, (batch_size,), 0, prob.X.shape[0])
            sub = prob._replace(X=prob.X[idx], Y=prob.Y[idx])
            return curvature.hvp(sub.risk, prob.w, v)
        key = jax.random.PRNGKey(options.get("seed", 0))
        run = lambda b, check: lissa(minibatch_hvp, b, damping=damping, key=key, check=check, **opts)
    first = run(V[0], True)
    return jnp.concatenate([first[None], jax.vmap(lambda b: run(b, False))(V[1:])])


def per_example_grads(loss_fn, params, X, Y):
    """∇θ loss_fn(params, xᵢ, yᵢ) for every example, stacked like params with a leading axis n (one vmap)."""
    return jax.vmap(jax.grad(loss_fn), in_axes=(None, 0, 0))(params, X, Y)


def inverse_hvp(loss_fn, params, train, v, *, l2=0.0, solver="cg", damping=0.0, **solver_options):
    """(H + damping·I)⁻¹ v for v shaped like params (H the Hessian of the training objective at params)."""
    prob = _problem(loss_fn, params, train, l2, "inverse_hvp")
    v_flat = ravel_pytree(v)[0]
    if v_flat.shape != prob.w.shape:
        raise ValueError(f"inverse_hvp: v has {v_flat.size} entries but params have {prob.w.size}.")
    return prob.unravel(_solve(prob, v_flat[None], solver, damping, solver_options, "inverse_hvp")[0])


def influence_up_loss(loss_fn, params, train, test, *, l2=0.0, solver="cg", damping=0.0, **solver_options):
    """I_up,loss(zᵢ, z_test) for every training point: shape (n,) for one test example, (m, n) for a batch."""
    prob = _problem(loss_fn, params, train, l2, "influence_up_loss")
    Xt, Yt, single = _test_batch(train, test, "influence_up_loss")
    s_test = _solve(prob, prob.grads(Xt, Yt), solver, damping, solver_options, "influence_up_loss")
    scores = -s_test @ prob.grads(prob.X, prob.Y).T
    return scores[0] if single else scores


def influence_up_params(loss_fn, params, train, *, l2=0.0, solver="exact", damping=0.0, **solver_options):
    """I_up,params(zᵢ) = −H⁻¹∇θL(zᵢ) for every training point, stacked like params with leading axis n."""
    prob = _problem(loss_fn, params, train, l2, "influence_up_params")
    S = _solve(prob, prob.grads(prob.X, prob.Y), solver, damping, solver_options, "influence_up_params")
    return jax.vmap(prob.unravel)(-S)


def influence_pert_loss(loss_fn, params, train, test, *, l2=0.0, solver="cg", damping=0.0, **solver_options):
    """I_pert,loss: ∇x of −s_testᵀ∇θL(x, yᵢ) at each training input; shape (n, *x.shape) or (m, n, *x.shape)."""
    prob = _problem(loss_fn, params, train, l2, "influence_pert_loss")
    Xt, Yt, single = _test_batch(train, test, "influence_pert_loss")
    S = _solve(prob, prob.grads(Xt, Yt), solver, damping, solver_options, "influence_pert_loss")
    g_theta = jax.grad(prob.loss)
    pert = lambda s, x, y: jax.grad(lambda x: -s @ g_theta(prob.w, x, y))(x)
    out = jax.vmap(lambda s: jax.vmap(pert, (None, 0, 0))(s, prob.X, prob.Y))(S)
    return out[0] if single else out


def self_influence(loss_fn, params, train, *, l2=0.0, solver="exact", damping=0.0, **solver_options):
    """I_up,loss(zᵢ, zᵢ) = −∇L(zᵢ)ᵀH⁻¹∇L(zᵢ) for every training point (≤ 0 when H is positive definite).

    Large |self-influence|: the model leans on that point to fit it — the first ones to check for a wrong label.
    """
    prob = _problem(loss_fn, params, train, l2, "self_influence")
    G = prob.grads(prob.X, prob.Y)
    return -jnp.sum(G * _solve(prob, G, solver, damping, solver_options, "self_influence"), axis=-1)


def leave_one_out(loss_fn, params, train, indices, *, l2=0.0, method="newton", batch_size=None, precondition=False,
                  damping=0.0, **train_options):
    """Retrain without each listed training point, warm-started from ``params``, in one compiled call.

    Each retrain minimises (1/n)·Σ_{j≠i} L(z_j, θ) + (l2/2)‖θ‖² (n = the full training-set size) with
    ``training.train_newton`` (method="newton", convex models) or ``training.train_lbfgs`` ("lbfgs").
    ``precondition=True`` (with "lbfgs", for networks small enough to form H): factor H(θ̂) + damping·I once and
    run every retrain's L-BFGS in the coordinates where that matrix is the identity (or pass that lower Cholesky
    factor yourself as ``precondition=L`` if you already have it). Removing one of n points
    changes the Hessian by O(1/n), so each retrain then needs ~10 steps instead of thousands.
    All retrains run inside one compiled ``jax.lax.map``, vmapped in groups of ``batch_size`` (default 1). On a
    CPU whole-group vmap is slower: vmapped while-loops advance in lock-step and a vmapped line search runs every
    branch for every model (benchmarks/bench_foundation.py measures it); on a GPU raise ``batch_size``.
    Returns (params stacked with leading axis len(indices), final gradient norms).
    """
    require_x64("leave_one_out")
    require_float64(params, "params", "leave_one_out")
    X, Y = train
    indices = jnp.asarray(indices)
    batch_size = batch_size or 1
    weights = jnp.ones((indices.shape[0], X.shape[0])).at[jnp.arange(indices.shape[0]), indices].set(0.0)
    factor = None
    if precondition is not False and precondition is not None:
        if method != "lbfgs":
            raise ValueError("leave_one_out: precondition works with method='lbfgs' (Newton needs no preconditioner).")
        prob = _problem(loss_fn, params, train, l2, "leave_one_out")
        if precondition is True:
            factor = _hessian_factor(prob, damping, "leave_one_out (precondition=True)")
        else:  # a factor the caller already has (forming H is the expensive part)
            factor = jnp.asarray(precondition)
            if factor.shape != (prob.w.size, prob.w.size):
                raise ValueError(f"leave_one_out: precondition must be True or a ({prob.w.size}, {prob.w.size}) lower "
                                 f"Cholesky factor of H + damping·I; got shape {factor.shape}.")
    fits = _retrain_all(loss_fn, params, X, Y, weights, l2, factor, method, batch_size,
                        tuple(sorted(train_options.items())))
    return fits.params, fits.grad_norm


@functools.partial(jax.jit, static_argnames=("loss_fn", "method", "batch_size", "options"))
def _retrain_all(loss_fn, params, X, Y, weights, l2, factor, method, batch_size, options):
    """Compiled once per (loss_fn, shapes, method, options): calling leave_one_out again reuses it."""
    trainer = {"newton": training.train_newton, "lbfgs": training.train_lbfgs}[method]
    extra = {} if factor is None else {"factor": factor}
    retrain = lambda w: trainer(loss_fn, params, X, Y, l2=l2, weights=w, **dict(options), **extra)
    # batch_size=1 maps without vmap at all, so conditionals in the trainer stay real branches
    return jax.lax.map(retrain, weights, batch_size=None if batch_size == 1 else batch_size)
