"""Exercise checks accept right answers and reject plausible wrong ones with a specific hint."""
import jax
import jax.numpy as jnp
import pytest
from jax.flatten_util import ravel_pytree

from course_utils import checks, curvature


def test_check_hvp_accepts_correct_answers(capsys):
    checks.check_hvp(curvature.hvp)
    reverse_over_reverse = lambda f, p, v: jax.grad(
        lambda q: jnp.vdot(ravel_pytree(jax.grad(f)(q))[0], ravel_pytree(v)[0]))(p)
    checks.check_hvp(reverse_over_reverse)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda f, p, v: jax.tree_util.tree_map(lambda a: 2 * a, curvature.hvp(f, p, v)), "2 × the right one"),
    (lambda f, p, v: jax.grad(f)(p), "returned the gradient"),
    (lambda f, p, v: ravel_pytree(curvature.hvp(f, p, v))[0], "shaped like params"),
    (lambda f, p, v: jax.tree_util.tree_map(lambda a: a + 0.01, curvature.hvp(f, p, v)), "values differ"),
])
def test_check_hvp_rejects_plausible_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_hvp(wrong)


def per_example(loss, params, X, Y):
    return jax.vmap(lambda g: ravel_pytree(g)[0])(jax.vmap(jax.grad(loss), (None, 0, 0))(params, X, Y))


def test_check_grad_norms_accepts_a_correct_answer(capsys):
    checks.check_grad_norms(lambda loss, p, X, Y: jnp.linalg.norm(per_example(loss, p, X, Y), axis=1))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda loss, p, X, Y: jnp.sum(per_example(loss, p, X, Y) ** 2, axis=1), "squared norms"),
    (lambda loss, p, X, Y: jnp.full(len(X), jnp.linalg.norm(per_example(loss, p, X, Y).mean(0))), "mean"),
    (lambda loss, p, X, Y: jnp.linalg.norm(jax.vmap(jax.grad(loss), (None, 0, 0))(p, X, Y)["w"], axis=1), "bias"),
    (lambda loss, p, X, Y: jnp.linalg.norm(per_example(loss, p, X, Y), axis=0), "shape"),
])
def test_check_grad_norms_rejects_plausible_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_grad_norms(wrong)
