"""Momentum's 2×2 iteration matrices and their spectral radius, against exact answers."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course_utils import dynamics

ETA_LAM = jnp.linspace(-0.5, 4.5, 101)


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("beta", [0.0, 0.3, 0.81, 0.99])
def test_rate_is_the_largest_eigenvalue_modulus_of_the_matrix(beta, nesterov):
    M = np.asarray(dynamics.momentum_matrix(ETA_LAM, beta, nesterov))
    assert M.shape == (101, 2, 2)
    expected = np.abs(np.linalg.eigvals(M)).max(axis=-1)
    # a double root is ill-conditioned for a general eigensolver (error ~ √rounding), not for the closed form
    np.testing.assert_allclose(dynamics.momentum_rate(ETA_LAM, beta, nesterov), expected, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("nesterov", [False, True])
def test_the_matrix_reproduces_the_scalar_recursion(nesterov):
    eta, lam, beta = 0.3, 2.0, 0.6
    w, w_prev, w_star = 1.0, 1.0, 0.25          # one direction: ∇L(w) = λ(w − w*)
    states = [(w - w_star, w_prev - w_star)]
    for _ in range(6):
        look = w + beta * (w - w_prev) if nesterov else w
        w, w_prev = w + beta * (w - w_prev) - eta * lam * (look - w_star), w
        states.append((w - w_star, w_prev - w_star))
    M = np.asarray(dynamics.momentum_matrix(eta * lam, beta, nesterov))
    for t, state in enumerate(states):
        np.testing.assert_allclose(np.linalg.matrix_power(M, t) @ states[0], state, rtol=1e-12, atol=1e-14)


def test_beta_zero_is_gradient_descent():
    np.testing.assert_allclose(dynamics.momentum_rate(ETA_LAM, 0.0), np.abs(1 - ETA_LAM), rtol=1e-14)
    np.testing.assert_allclose(dynamics.momentum_rate(ETA_LAM, 0.0, nesterov=True), np.abs(1 - ETA_LAM), rtol=1e-14)


@pytest.mark.parametrize("kappa", [4.0, 100.0, 1e4])
def test_known_optimal_rates(kappa):
    mu, L = 1.0, kappa
    lam = jnp.geomspace(mu, L, 200)
    # heavy ball, η = 4/(√L + √μ)², β = ((√κ − 1)/(√κ + 1))²: every λ in [μ, L] contracts by exactly √β
    eta, beta = 4 / (np.sqrt(L) + np.sqrt(mu)) ** 2, ((np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)) ** 2
    np.testing.assert_allclose(dynamics.momentum_rate(eta * lam, beta), np.sqrt(beta), rtol=1e-7)
    # Nesterov, η = 1/L, β = (√κ − 1)/(√κ + 1): a double root 1 − 1/√κ at λ = μ, smaller everywhere else
    rates = dynamics.momentum_rate(lam / L, (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1), nesterov=True)
    np.testing.assert_allclose(rates[0], 1 - 1 / np.sqrt(kappa), rtol=1e-7)
    assert np.all(rates[1:] < rates[0])
    np.testing.assert_allclose(rates[-1], 0.0, atol=1e-12)          # ηλ = 1: both roots are 0


def test_divergence_beyond_the_heavy_ball_ceiling():
    """Heavy ball is stable iff 0 < ηλ < 2(1 + β): at ηλ = 2(1 + β) one root is −1."""
    beta = 0.5
    edge = 2 * (1 + beta)
    rates = dynamics.momentum_rate(jnp.array([edge - 1e-3, edge, edge + 1e-3]), beta)
    assert rates[0] < 1 and np.isclose(rates[1], 1.0, rtol=1e-12) and rates[2] > 1


def test_inputs_are_checked():
    with pytest.raises(ValueError, match=r"beta must be one number in \[0, 1\)"):
        dynamics.momentum_rate(ETA_LAM, 1.0)
    with pytest.raises(ValueError, match="beta"):
        dynamics.momentum_matrix(ETA_LAM, -0.1)
    with pytest.raises(ValueError, match="beta"):
        dynamics.momentum_rate(ETA_LAM, jnp.array([0.1, 0.2]))
    with pytest.raises(ValueError, match="NaN"):
        dynamics.momentum_rate(jnp.array([0.1, jnp.nan]), 0.5)
    with pytest.raises(TypeError, match="float64"):
        dynamics.momentum_rate(jnp.array([0.1, 0.2], dtype=jnp.float32), 0.5)
    with pytest.raises(TypeError, match="outside jit"):
        jax.jit(lambda x: dynamics.momentum_rate(x, 0.5))(ETA_LAM)


def test_nqm_floor_is_the_fixed_point_of_the_exact_second_moment_recursion():
    """E[c²] ← (1 − ηλ)² E[c²] + η²σ²λ/B per direction, iterated to its fixed point, then ½ Σ λ E[c²]."""
    lam, eta, sigma2, batch = np.array([0.05, 0.3, 1.0, 2.5]), 0.7, 0.4, 3
    second = np.zeros(4)
    for _ in range(20000):
        second = (1 - eta * lam) ** 2 * second + eta ** 2 * sigma2 * lam / batch
    np.testing.assert_allclose(dynamics.nqm_floor(lam, eta, sigma2, batch), 0.5 * np.sum(lam * second), rtol=1e-12)


def test_nqm_floor_small_step_limit_and_zero_eigenvalues():
    lam = np.array([0.0, 1.0, 3.0])                 # a flat direction gets no noise (its variance is σ²·0/B)
    np.testing.assert_allclose(dynamics.nqm_floor(lam, 1e-8, 2.0, 4) / 1e-8, 2.0 * 4.0 / (4 * 4), rtol=1e-7)
    assert dynamics.nqm_floor(lam, 0.5, 0.0, 1) == 0.0


def test_nqm_floor_checks_its_inputs():
    lam = np.array([0.5, 1.0])
    with pytest.raises(ValueError, match="diverges.*eta < 2/λmax = 2"):
        dynamics.nqm_floor(lam, 2.0, 1.0, 1)
    with pytest.raises(ValueError, match="≥ 0"):
        dynamics.nqm_floor(np.array([-0.1, 1.0]), 0.1, 1.0, 1)
    with pytest.raises(ValueError, match="1-D"):
        dynamics.nqm_floor(np.ones((2, 2)), 0.1, 1.0, 1)
    with pytest.raises(ValueError, match="whole number"):
        dynamics.nqm_floor(lam, 0.1, 1.0, 2.5)
    with pytest.raises(ValueError, match="eta"):
        dynamics.nqm_floor(lam, -0.1, 1.0, 1)
    with pytest.raises(ValueError, match="sigma2"):
        dynamics.nqm_floor(lam, 0.1, -1.0, 1)
    with pytest.raises(ValueError, match="NaN"):
        dynamics.nqm_floor(np.array([np.nan, 1.0]), 0.1, 1.0, 1)
    with pytest.raises(TypeError, match="float64"):
        dynamics.nqm_floor(np.array([0.5, 1.0], dtype=np.float32), 0.1, 1.0, 1)
