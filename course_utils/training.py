"""Full-batch training to a stated gradient-norm tolerance.

The objective everywhere in the course is

    R(θ) = (1/n) Σᵢ wᵢ · loss_fn(θ, xᵢ, yᵢ) + (l2/2) ‖θ‖²,      wᵢ = 1 unless ``weights`` says otherwise,

with the L2 penalty over every leaf of the parameters, and the data always passed as ``train = (X, Y)`` (a leading
axis of n examples). Weights let the same code retrain without a point (wᵢ = 0, leave-one-out) or with a point
up-weighted, and are what ``vmap`` maps over to retrain many models at once. Both trainers are compiled loops
(``lax.while_loop``), compiled once per loss function, deterministic, and return a ``Fit``. Their arguments are
checked in Python first (finite float64 data, tolerances in range) unless they are called inside ``jit``/``vmap``,
where the checks are skipped.
"""
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
import optax.tree_utils as otu
from jax.flatten_util import ravel_pytree

from ._validate import require_finite, require_float64, require_nonnegative, require_positive, require_training_set

__all__ = ["Fit", "empirical_risk", "flat_risk", "train_newton", "train_lbfgs", "lbfgs_minimize", "grad_norm"]


class Fit(NamedTuple):
    params: Any
    grad_norm: jax.Array  # ‖∇R‖ at the returned parameters
    steps: jax.Array


def empirical_risk(loss_fn, params, train, *, l2=0.0, weights=None):
    """R(θ) above: weighted mean of per-example losses plus (l2/2)‖θ‖²."""
    X, Y = train
    losses = jax.vmap(loss_fn, in_axes=(None, 0, 0))(params, X, Y)
    weights = jnp.ones_like(losses) if weights is None else weights
    sq_norm = sum(jnp.sum(leaf**2) for leaf in jax.tree_util.tree_leaves(params))
    return jnp.sum(weights * losses) / losses.shape[0] + 0.5 * l2 * sq_norm


def flat_risk(loss_fn, params, train, *, l2=0.0, weights=None):
    """(R, w, unravel): the objective as a function of ONE flat vector, the flat parameters, and the map back.

    Explicit Hessians, Hessian-vector products and eigenvalues are easiest to state on a flat vector:
    ``curvature.hessian_matrix(R, w)`` is then a (p, p) matrix in ``ravel_pytree`` order.
    """
    w, unravel = ravel_pytree(params)
    return (lambda v: empirical_risk(loss_fn, unravel(v), train, l2=l2, weights=weights)), w, unravel


def _traced(*trees):
    return any(isinstance(leaf, jax.core.Tracer) for tree in trees for leaf in jax.tree_util.tree_leaves(tree))


def _check(where, params, train, l2, tol, max_steps, weights=None):
    """The trainers' argument checks (skipped under a JAX transformation, where values are not known yet)."""
    if _traced(params, train, l2, weights):
        return
    require_training_set(train, where)
    require_float64(params, "params", where)
    require_finite(params, "params", where)
    require_nonnegative(l2, "l2", where)
    require_nonnegative(tol, "tol", where)
    require_positive(max_steps, "max_steps", where, integer=True)
    if weights is not None:
        require_finite(weights, "weights", where)


def train_newton(loss_fn, params, train, *, l2=0.0, weights=None, tol=1e-10, max_steps=100):
    """Newton's method (directions by conjugate gradient on HVPs) with a backtracking line search, for convex models.

    Stops when ‖∇R‖ ≤ tol or after max_steps; a converged run typically needs 5–15 steps.
    """
    _check("train_newton", params, train, l2, tol, max_steps, weights)
    return _newton(loss_fn, params, train, l2, weights, tol, max_steps)


@partial(jax.jit, static_argnames="loss_fn")  # compiled once per loss function (and shapes)
def _newton(loss_fn, params, train, l2, weights, tol, max_steps):
    R, flat, unravel = flat_risk(loss_fn, params, train, l2=l2, weights=weights)
    grad = jax.grad(R)

    def step(state):
        w, g, k = state
        # Newton direction H⁻¹g by conjugate gradient on Hessian-vector products (no p×p matrix is formed)
        hvp = lambda v: jax.jvp(grad, (w,), (v,))[1]
        direction = jax.scipy.sparse.linalg.cg(hvp, g, tol=1e-12, atol=0.0, maxiter=flat.size)[0]
        # Halve the step until the objective decreases enough (Armijo); a full step is taken near the optimum. Near
        # the optimum the decrease falls below the rounding error of R itself, so allow that much slack (else the
        # search halves t to nothing and Newton stalls a few digits short of the tolerance).
        R_w = R(w)
        slack = 64 * jnp.finfo(flat.dtype).eps * jnp.abs(R_w)
        t = jax.lax.while_loop(
            lambda t: (R(w - t * direction) > R_w - 1e-4 * t * g @ direction + slack) & (t > 1e-10),
            lambda t: t / 2, 1.0)
        w = w - t * direction
        return w, grad(w), k + 1

    w, g, k = jax.lax.while_loop(
        lambda s: (jnp.linalg.norm(s[1]) > tol) & (s[2] < max_steps), step, (flat, grad(flat), 0))
    return Fit(unravel(w), jnp.linalg.norm(g), k)


def train_lbfgs(loss_fn, params, train, *, l2=0.0, weights=None, tol=1e-8, max_steps=5000, factor=None):
    """L-BFGS (optax, with its zoom line search) for non-convex or larger models such as the CNN.

    ``factor``: optional lower-triangular Cholesky factor L of a positive-definite matrix LLᵀ close to the
    Hessian (say, the Hessian at ``params`` when retraining from there without one point); see ``lbfgs_minimize``.
    """
    _check("train_lbfgs", params, train, l2, tol, max_steps, weights)
    return _lbfgs(loss_fn, params, train, l2, weights, tol, max_steps, factor)


@partial(jax.jit, static_argnames="loss_fn")
def _lbfgs(loss_fn, params, train, l2, weights, tol, max_steps, factor):
    R, flat, unravel = flat_risk(loss_fn, params, train, l2=l2, weights=weights)
    w, steps = lbfgs_minimize(R, flat, tol=tol, max_steps=max_steps, factor=factor)
    return Fit(unravel(w), jnp.linalg.norm(jax.grad(R)(w)), steps)


def lbfgs_minimize(objective, w0, *, tol=1e-8, max_steps=5000, factor=None):
    """Minimise ``objective`` over a flat vector from ``w0`` until ‖∇objective‖ ≤ tol; returns (w, steps).

    With ``factor`` = L (lower Cholesky factor of a positive-definite LLᵀ ≈ the Hessian at w0), L-BFGS runs in the
    coordinates u = Lᵀ(w − w0), where the Hessian looks like the identity: a handful of steps instead of thousands
    on an ill-conditioned network. The stopping test is always on ‖∇objective(w)‖ itself. Traceable (call it
    inside ``jit``/``vmap``/``lax.map``).
    """
    if factor is None:
        to_w, u0, true_norm = (lambda u: u), w0, jnp.linalg.norm
    else:  # w = w0 + L⁻ᵀu, so ∇ᵤ = L⁻¹∇w and ‖∇w‖ = ‖L ∇ᵤ‖
        to_w = lambda u: w0 + jax.scipy.linalg.solve_triangular(factor.T, u, lower=False)
        u0, true_norm = jnp.zeros_like(w0), (lambda g: jnp.linalg.norm(factor @ g))
    f = lambda u: objective(to_w(u))
    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(f)

    def step(state):
        u, opt_state = state
        value, g = value_and_grad(u, state=opt_state)
        updates, opt_state = opt.update(g, opt_state, u, value=value, grad=g, value_fn=f)
        return optax.apply_updates(u, updates), opt_state

    def keep_going(state):  # the line search leaves the gradient at the new point in the state
        count, g = otu.tree_get(state[1], "count"), otu.tree_get(state[1], "grad")
        return (count == 0) | ((count < max_steps) & (true_norm(g) > tol))

    u, opt_state = jax.lax.while_loop(keep_going, step, (u0, opt.init(u0)))
    return to_w(u), otu.tree_get(opt_state, "count")


def grad_norm(loss_fn, params, train, *, l2=0.0, weights=None):
    """‖∇R(θ)‖: how far from stationary the parameters are."""
    g = jax.grad(lambda p: empirical_risk(loss_fn, p, train, l2=l2, weights=weights))(params)
    return jnp.linalg.norm(ravel_pytree(g)[0])
