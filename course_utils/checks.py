"""Exercise checks: each tests a student's function on fresh random problems against the library's reference.

A check prints a short verdict when the answer is right, and raises ``AssertionError`` with a specific hint
(which shape or value is off, and what that usually means) when it is not.
"""
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from . import curvature, influence, models


def _random_mlp_problem(seed):
    """A small MLP with a scalar loss, random parameters and a random direction v (float64)."""
    key = jax.random.PRNGKey(seed)
    sizes = [3, 4, 2]
    params = models.mlp_init(key, sizes)
    X = jax.random.normal(jax.random.fold_in(key, 1), (6, 3))
    Y = jax.random.normal(jax.random.fold_in(key, 2), (6, 2))
    f = lambda p: jnp.mean(jax.vmap(lambda x, y: models.squared_error(models.mlp_apply(p, x), y))(X, Y))
    flat, unravel = ravel_pytree(params)
    v = unravel(jax.random.normal(jax.random.fold_in(key, 3), flat.shape))
    return f, params, v


def _flat_or_hint(result, like, what):
    try:
        flat = ravel_pytree(result)[0]
    except Exception as err:  # not a pytree of arrays
        raise AssertionError(f"{what} should return a pytree shaped like params; got {type(result).__name__}.") from err
    expected = ravel_pytree(like)[0]
    if flat.shape != expected.shape or jax.tree_util.tree_structure(result) != jax.tree_util.tree_structure(like):
        raise AssertionError(f"{what} should return something shaped like params (a {jax.tree_util.tree_structure(like)}"
                             f" with {expected.size} numbers); got {flat.size} numbers in {jax.tree_util.tree_structure(result)}.")
    return flat


def _compare(got, expected, what, hint_if_gradient=None):
    """Raise with a hint if `got` != `expected`; recognise a constant factor and a few classic mistakes."""
    if np.allclose(got, expected, rtol=1e-8, atol=1e-10):
        return
    if hint_if_gradient is not None and np.allclose(got, hint_if_gradient, rtol=1e-8, atol=1e-10):
        raise AssertionError(f"{what}: you returned the gradient ∇f, not the Hessian-vector product. "
                             "Differentiate the gradient again, in the direction v.")
    ratio = float(got @ expected / (expected @ expected))
    if np.allclose(got, ratio * expected, rtol=1e-6, atol=1e-10):
        raise AssertionError(f"{what}: your answer is {ratio:.3g} × the right one — look for a stray constant factor "
                             "(a ½, a 2, or a mean where a sum belongs).")
    raise AssertionError(f"{what}: values differ from the reference (max abs error {np.max(np.abs(got - expected)):.3g}).")


def check_hvp(hvp_fn, n_problems=3):
    """Check ``hvp_fn(f, params, v)`` computes ∇²f(params)·v, on random MLPs."""
    for seed in range(n_problems):
        f, params, v = _random_mlp_problem(1000 + seed)
        got = _flat_or_hint(hvp_fn(f, params, v), params, "hvp_fn(f, params, v)")
        expected = ravel_pytree(curvature.hvp(f, params, v))[0]
        _compare(got, expected, "hvp_fn(f, params, v)", hint_if_gradient=ravel_pytree(jax.grad(f)(params))[0])
    print(f"Correct! Your Hessian-vector product matches the reference on {n_problems} random networks.")


def check_grad_norms(grad_norms_fn, n_problems=3):
    """Check ``grad_norms_fn(loss, params, X, Y)`` returns ‖∇θ loss(params, xᵢ, yᵢ)‖ for every example."""
    loss = models.example_loss(models.linear_apply, models.logistic_loss)
    for seed in range(n_problems):
        key = jax.random.PRNGKey(2000 + seed)
        n, d = 7 + seed, 5
        params = {"w": jax.random.normal(key, (d,)), "b": jnp.asarray(0.3)}
        X = jax.random.normal(jax.random.fold_in(key, 1), (n, d))
        Y = jnp.where(jax.random.bernoulli(jax.random.fold_in(key, 2), 0.5, (n,)), 1.0, -1.0)
        got = np.asarray(grad_norms_fn(loss, params, X, Y))
        G = influence.per_example_grads(loss, params, X, Y)
        flat = jax.vmap(lambda g: ravel_pytree(g)[0])(G)
        expected = np.linalg.norm(flat, axis=1)
        if got.shape != (n,):
            raise AssertionError(f"grad_norms should return one number per example, shape ({n},); got shape {got.shape}.")
        if np.allclose(got, np.linalg.norm(flat.mean(0))):
            raise AssertionError("grad_norms: every entry is the norm of the *mean* gradient; take the gradient of "
                                 "the loss of each example separately (vmap over grad).")
        if np.allclose(got, expected**2):
            raise AssertionError("grad_norms: you returned squared norms; take the square root.")
        if np.allclose(got, np.linalg.norm(G["w"], axis=1)):
            raise AssertionError("grad_norms: you used only the gradient of w; the bias b is a parameter too.")
        _compare(got, expected, "grad_norms")
    print(f"Correct! Per-example gradient norms match the reference on {n_problems} random problems.")
