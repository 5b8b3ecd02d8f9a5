"""models.py and training.py: shapes, losses against their formulas, convergence to the stated tolerance."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course_utils import data as D, models as M, training as T


@pytest.mark.slow
def test_model_shapes_single_and_batched():
    key = jax.random.key(0)
    x = jnp.ones((5, 64))
    cases = [
        (M.linear_init(64), M.linear_apply, ()),
        (M.linear_init(64, 10), M.linear_apply, (10,)),
        (M.mlp_init(key, [64, 7, 3]), M.mlp_apply, (3,)),
        (M.cnn_init(key, 8), M.cnn_apply, (10,)),
    ]
    for params, apply, out in cases:
        assert apply(params, x).shape == (5, *out)
        assert np.allclose(apply(params, x[0]), apply(params, x)[0])
    n_params = lambda p: sum(a.size for a in jax.tree_util.tree_leaves(p))
    assert n_params(M.cnn_init(key, 8)) == 994 and n_params(M.cnn_init(key, 28)) == 4594
    cnn = M.cnn_init(key, 8)
    assert M.cnn_features(cnn, x).shape == (5, 32) and M.cnn_features(cnn, x[0]).shape == (32,)
    assert np.allclose(M.linear_apply(cnn["dense"], M.cnn_features(cnn, x)), M.cnn_apply(cnn, x))


def test_losses_match_their_formulas():
    assert np.isclose(M.logistic_loss(0.3, -1.0), np.log1p(np.exp(0.3)))
    assert np.isclose(M.logistic_loss(800.0, 1.0), 0.0) and np.isfinite(M.logistic_loss(-800.0, 1.0))
    logits = jnp.array([1.0, 2.0, 0.5])
    assert np.isclose(M.cross_entropy(logits, 1), -np.log(np.exp(2.0) / np.exp(logits).sum()))
    assert np.isclose(M.squared_error(jnp.array([1.0, 3.0]), jnp.array([0.0, 1.0])), 2.5)
    hinge = lambda m: max(0.0, 1 - m)
    for margin in (-1.0, 0.5, 0.99, 2.0):
        assert np.isclose(M.smooth_hinge(0)(margin, 1.0), hinge(margin))
        assert abs(M.smooth_hinge(1e-3)(margin, 1.0) - hinge(margin)) < 1e-3


def test_empirical_risk_weights_and_l2():
    loss = M.example_loss(M.linear_apply, M.squared_error)
    X, Y = np.eye(3), np.array([1.0, 2.0, 3.0])
    params = {"w": jnp.zeros(3), "b": jnp.asarray(1.0)}
    assert np.isclose(T.empirical_risk(loss, params, (X, Y)), (0 + 0.5 + 2) / 3)
    assert np.isclose(T.empirical_risk(loss, params, (X, Y), l2=2.0), (0 + 0.5 + 2) / 3 + 1.0)
    assert np.isclose(T.empirical_risk(loss, params, (X, Y), weights=jnp.array([1.0, 1.0, 0.0])), 0.5 / 3)


def test_newton_solves_ridge_regression_exactly():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((30, 4)), rng.standard_normal(30)
    loss = M.example_loss(M.linear_apply, M.squared_error)
    fit = T.train_newton(loss, M.linear_init(4), (X, Y), l2=0.1, tol=1e-12)
    Xa = np.hstack([np.ones((30, 1)), X])  # ravel order: b, w; the bias is penalised too
    theta = np.linalg.solve(Xa.T @ Xa / 30 + 0.1 * np.eye(5), Xa.T @ Y / 30)
    assert fit.grad_norm <= 1e-12 and fit.steps <= 3
    assert np.allclose(np.r_[fit.params["b"], fit.params["w"]], theta, atol=1e-12)


@pytest.mark.slow
def test_softmax_regression_newton_converges():
    ds = D.load_digits(n_train=300)
    loss = M.example_loss(M.linear_apply, M.cross_entropy)
    fit = T.train_newton(loss, M.linear_init(64, 10), (ds.x_train, ds.y_train), l2=0.01)
    assert fit.grad_norm <= 1e-10
    acc = np.mean(np.argmax(M.linear_apply(fit.params, ds.x_test), 1) == ds.y_test)
    assert acc > 0.9


@pytest.mark.slow
def test_lbfgs_trains_the_cnn_to_tolerance_deterministically():
    ds = D.load_digits(n_train=100)
    loss = M.example_loss(M.cnn_apply, M.cross_entropy)
    params = M.cnn_init(jax.random.key(1), 8, channels=(4, 4))
    fits = [T.train_lbfgs(loss, params, (ds.x_train, ds.y_train), l2=0.01, tol=1e-6) for _ in range(2)]
    assert fits[0].grad_norm <= 1e-6
    assert np.isclose(fits[0].grad_norm, T.grad_norm(loss, fits[0].params, (ds.x_train, ds.y_train), l2=0.01))
    assert np.array_equal(fits[0].params["dense"]["w"], fits[1].params["dense"]["w"])
    acc = np.mean(np.argmax(M.cnn_apply(fits[0].params, ds.x_test), 1) == ds.y_test)
    assert acc > 0.7


@pytest.mark.slow
def test_preconditioned_lbfgs_reaches_the_same_minimum_in_far_fewer_steps():
    """With the Cholesky factor of the Hessian at the start, L-BFGS sees an identity-like Hessian. Softmax
    regression without one example: a convex problem, so both runs must land on Newton's unique minimiser."""
    from jax.flatten_util import ravel_pytree
    from course_utils import curvature as C

    ds = D.load_digits(n_train=300)
    loss = M.example_loss(M.linear_apply, M.cross_entropy)
    X, Y = ds.x_train, ds.y_train
    fit = T.train_newton(loss, M.linear_init(64, 10), (X, Y), l2=1e-3, tol=1e-12)
    w, unravel = ravel_pytree(fit.params)
    H = C.hessian_matrix(lambda v: T.empirical_risk(loss, unravel(v), (X, Y), l2=1e-3), w)
    weights = np.ones(len(Y))
    weights[3] = 0.0  # retrain without example 3, from the full-data optimum
    exact = T.train_newton(loss, fit.params, (X, Y), l2=1e-3, weights=weights, tol=1e-12)
    plain = T.train_lbfgs(loss, fit.params, (X, Y), l2=1e-3, weights=weights, tol=1e-10)
    pre = T.train_lbfgs(loss, fit.params, (X, Y), l2=1e-3, weights=weights, tol=1e-10, factor=jnp.linalg.cholesky(H))
    assert pre.grad_norm <= 1e-10 and plain.grad_norm <= 1e-10
    assert np.isclose(pre.grad_norm, T.grad_norm(loss, pre.params, (X, Y), l2=1e-3, weights=weights))
    assert np.allclose(ravel_pytree(pre.params)[0], ravel_pytree(exact.params)[0], atol=1e-7)
    assert pre.steps * 5 < plain.steps


@pytest.mark.parametrize("change, message", [
    (lambda X, Y, p: ((X.at[3, 1].set(jnp.nan), Y), p), "`train X` contains 1 NaN"),
    (lambda X, Y, p: ((X[:0], Y[:0]), p), "training set is empty"),
    (lambda X, Y, p: ((X, Y[:5]), p), "train Y has 5"),
    (lambda X, Y, p: ((X, Y), {**p, "b": jnp.asarray(jnp.inf)}), "`params` contains 1 NaN or infinite"),
])
def test_trainers_refuse_bad_input(change, message):
    ds = D.load_digits(n_train=20)
    loss = M.example_loss(M.linear_apply, M.cross_entropy)
    train, params = change(jnp.asarray(ds.x_train), jnp.asarray(ds.y_train), M.linear_init(64, 10))
    for trainer in (T.train_newton, T.train_lbfgs):
        with pytest.raises(ValueError, match=message):
            trainer(loss, params, train, l2=0.01)
    with pytest.raises(ValueError, match="l2 must be"):
        T.train_newton(loss, M.linear_init(64, 10), (ds.x_train, ds.y_train), l2=-1.0)


def test_trainers_run_inside_a_transformation_without_their_checks():
    ds = D.load_digits(n_train=40)
    loss = M.example_loss(M.linear_apply, M.cross_entropy)
    fits = jax.vmap(lambda l2: T.train_newton(loss, M.linear_init(64, 10), (ds.x_train, ds.y_train), l2=l2))(
        jnp.array([0.01, 0.1]))
    assert fits.grad_norm.shape == (2,) and np.all(fits.grad_norm <= 1e-10)
