"""curvature.py against exact answers on small random float64 problems."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from jax.flatten_util import ravel_pytree

from course_utils import NotPositiveDefiniteError, curvature as C, models as M


def spd_matrix(rng, p, cond):
    """Random symmetric positive-definite matrix with eigenvalues log-spaced in [1/cond, 1]."""
    Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    return (Q * np.logspace(-np.log10(cond), 0, p)) @ Q.T


def mlp_problem(seed, sizes, n=12):
    key = jax.random.key(seed)
    params = M.mlp_init(key, sizes)
    X = jax.random.normal(jax.random.fold_in(key, 1), (n, sizes[0]))
    Y = jax.random.normal(jax.random.fold_in(key, 2), (n, sizes[-1]))
    return mse, params, X, Y


def mse(p, X, Y):
    return jnp.mean(jax.vmap(lambda x, y: M.squared_error(M.mlp_apply(p, x), y))(X, Y))


@jax.jit
def hvp_and_explicit(params, v, X, Y):
    """hvp against jax.hessian (jacfwd of jacrev: a different route than hvp's jvp of grad), and hessian_matrix
    (built from hvp-like columns) against the same."""
    f = lambda p: mse(p, X, Y)
    flat, unravel = ravel_pytree(params)
    H = jax.hessian(lambda w: f(unravel(w)))(flat)
    return ravel_pytree(C.hvp(f, params, v))[0], H @ ravel_pytree(v)[0], C.hessian_matrix(f, params), H


# Shapes come from a short list (each new shape costs a compilation); values are fresh for every example.
@pytest.mark.slow
@given(seed=st.integers(0, 10_000), sizes=st.sampled_from([[1, 1, 1], [3, 5, 2], [4, 6, 3, 1]]))
def test_hvp_matches_explicit_hessian(seed, sizes):
    _, params, X, Y = mlp_problem(seed, sizes)
    v = jax.tree_util.tree_map(lambda a: jax.random.normal(jax.random.key(seed + 7), a.shape), params)
    got, exact, H_columns, H = hvp_and_explicit(params, v, X, Y)
    assert jnp.linalg.norm(got - exact) <= 1e-10 * jnp.linalg.norm(exact) + 1e-14
    assert jnp.allclose(H_columns, H, rtol=1e-10, atol=1e-13)


def test_hessian_matrix_of_a_quadratic_is_its_matrix():
    A = spd_matrix(np.random.default_rng(0), 5, 10.0)
    params = {"a": jnp.arange(2.0), "b": jnp.arange(3.0)}  # ravel order: a then b
    f = lambda p: 0.5 * ravel_pytree(p)[0] @ A @ ravel_pytree(p)[0]
    H = C.hessian_matrix(f, params)
    assert np.allclose(H, A, atol=1e-13) and np.allclose(H, H.T)


def test_hvp_rejects_mismatched_v():
    _, params, X, Y = mlp_problem(0, [2, 3, 1])
    f = lambda p: mse(p, X, Y)
    bad = jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape + (1,)), params)
    with pytest.raises(ValueError, match="`v` has a leaf of shape"):
        C.hvp(f, params, bad)


def test_gauss_newton_product_matches_explicit_and_is_psd():
    _, params, X, Y = mlp_problem(3, [3, 5, 2], n=6)
    model_fn = lambda p: M.mlp_apply(p, X)
    out_loss = lambda out: jnp.mean(jax.vmap(M.squared_error)(out, Y))
    flat, unravel = ravel_pytree(params)
    J = jax.jit(jax.jacobian(lambda w: model_fn(unravel(w)).ravel()))(flat)           # (n·k, p)
    H_out = jax.hessian(lambda o: out_loss(o.reshape(Y.shape)))(model_fn(params).ravel())
    G = J.T @ H_out @ J
    V = jnp.eye(flat.size)
    G_cols = jax.jit(jax.vmap(lambda v: ravel_pytree(C.gnvp(model_fn, out_loss, params, unravel(v)))[0]))(V)
    assert np.allclose(G_cols, G, atol=1e-12)
    assert np.allclose(C.gauss_newton_matrix(model_fn, out_loss, params, columns_per_batch=4), G, atol=1e-12)
    assert np.linalg.eigvalsh(G).min() > -1e-12
    # while the full Hessian of the same loss is indefinite
    full = jax.jit(lambda p: C.hessian_matrix(lambda q: out_loss(model_fn(q)), p))(params)
    assert np.linalg.eigvalsh(full).min() < -1e-6


@settings(max_examples=10)
@given(seed=st.integers(0, 10_000), p=st.sampled_from([2, 7, 30]), log_cond=st.floats(0, 5),
       damping=st.sampled_from([0.0, 0.1]))
@pytest.mark.slow
def test_cg_solve_matches_numpy(seed, p, log_cond, damping):
    rng = np.random.default_rng(seed)
    A = spd_matrix(rng, p, 10**log_cond)
    b = rng.standard_normal(p)
    x = C.cg_solve(lambda v: A @ v, jnp.asarray(b), damping=damping, tol=1e-12, maxiter=10 * p)
    exact = np.linalg.solve(A + damping * np.eye(p), b)
    assert np.linalg.norm(x - exact) <= 1e-8 * np.linalg.norm(exact)


def test_cg_solve_on_pytrees():
    A = spd_matrix(np.random.default_rng(1), 5, 100.0)
    _, unravel = ravel_pytree({"w": jnp.zeros(3), "b": jnp.zeros(2)})
    b = unravel(jnp.arange(1.0, 6.0))
    x = C.cg_solve(lambda v: unravel(A @ ravel_pytree(v)[0]), b)
    assert set(x) == {"w", "b"} and x["w"].shape == (3,)
    assert np.allclose(ravel_pytree(x)[0], np.linalg.solve(A, np.arange(1.0, 6.0)), rtol=1e-8)


def test_cg_solve_refuses_negative_curvature_and_names_damping():
    A = np.diag([3.0, 1.0, -0.5])
    b = jnp.array([1.0, 1.0, 1.0])
    with pytest.raises(NotPositiveDefiniteError, match="damping"):
        C.cg_solve(lambda v: A @ v, b)
    x = C.cg_solve(lambda v: A @ v, b, damping=1.0)
    assert np.allclose(x, np.linalg.solve(A + np.eye(3), b))


@pytest.mark.slow
def test_cg_solve_warns_when_it_stops_early():
    A = spd_matrix(np.random.default_rng(2), 40, 1e6)
    with pytest.warns(RuntimeWarning, match="maxiter"):
        C.cg_solve(lambda v: A @ v, jnp.ones(40), maxiter=3)


@pytest.mark.slow
def test_eigenvalues_by_power_iteration():
    rng = np.random.default_rng(4)
    Q, _ = np.linalg.qr(rng.standard_normal((20, 20)))
    eig = np.linspace(-0.3, 2.0, 20)
    eig[-2] = 1.0  # a spectral gap so power iteration converges in a few hundred steps
    A = (Q * eig) @ Q.T
    like = jnp.zeros(20)
    assert abs(C.top_eigenvalue(lambda v: A @ v, like) - 2.0) < 1e-6
    assert abs(C.smallest_eigenvalue(lambda v: A @ v, like, iters=20) - (-0.3)) < 1e-8   # Lanczos: exact at p steps
    assert C.smallest_eigenvalue(lambda v: A @ v, like, iters=8) >= -0.3 - 1e-12            # never below λmin


@pytest.mark.slow
@settings(max_examples=10)
@given(seed=st.integers(0, 2**31 - 1))
def test_lanczos_finds_extreme_eigenvalues_of_indefinite_matrices(seed):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((200, 200)))
    eig = np.sort(np.r_[rng.uniform(-0.05, 0.05, 190), -0.5, rng.uniform(1.0, 10.0, 9)])  # outliers + a bulk
    A = jnp.asarray((Q * eig) @ Q.T)
    ritz = np.asarray(C.lanczos(lambda v: A @ v, jnp.zeros(200), iters=60, key=jax.random.key(seed % 7)))
    assert ritz.shape == (60,) and np.all(np.diff(ritz) >= 0)
    np.testing.assert_allclose(ritz[-9:], eig[-9:], rtol=1e-8)          # the 9 outliers
    np.testing.assert_allclose(ritz[0], eig[0], rtol=1e-8)              # the negative one
    assert ritz[0] >= eig[0] - 1e-10 and ritz[-1] <= eig[-1] + 1e-10    # Ritz values interlace


def test_lanczos_on_pytrees_with_iters_capped_at_p():
    params = {"a": jnp.arange(3.0), "b": jnp.ones(2)}
    D = jnp.array([1.0, 2.0, 3.0, 4.0, 5.0])
    matvec = lambda v: jax.tree_util.tree_map(lambda x, d: x * d, v, {"a": D[:3], "b": D[3:]})
    np.testing.assert_allclose(C.lanczos(matvec, params, iters=50), D, rtol=1e-10)


def lissa_problem(seed=0, p=8):
    rng = np.random.default_rng(seed)
    A = spd_matrix(rng, p, 20.0)  # eigenvalues in [0.05, 1]
    return A, jnp.asarray(rng.standard_normal(p))


def test_lissa_matches_exact_solve_with_adequate_depth():
    A, b = lissa_problem()
    for damping in (0.0, 0.05):
        exact = np.linalg.solve(A + damping * np.eye(len(b)), b)
        est = C.lissa(lambda v: A @ v, b, damping=damping, scale=1.0, depth=1000)
        assert np.linalg.norm(est - exact) <= 1e-3 * np.linalg.norm(exact)


def test_lissa_scale_just_above_half_lambda_max_converges_and_just_below_raises():
    A, b = lissa_problem()
    lam_max = np.linalg.eigvalsh(A).max()
    exact = np.linalg.solve(A, b)
    est = C.lissa(lambda v: A @ v, b, scale=0.52 * lam_max, depth=1000)
    assert np.linalg.norm(est - exact) <= 1e-3 * np.linalg.norm(exact)
    with pytest.raises(ValueError, match=r"scale=.* at or below λmax") as err:
        C.lissa(lambda v: A @ v, b, scale=0.48 * lam_max, depth=1000)
    assert f"{lam_max / 2:.4g}" in str(err.value)  # it says which scale would converge
    # without the up-front check, the series really does blow up
    blown = C.lissa(lambda v: A @ v, b, scale=0.48 * lam_max, depth=1000, check=False)
    assert np.linalg.norm(blown) > 1e6 * np.linalg.norm(exact)


def test_lissa_on_indefinite_system_names_damping():
    A = np.diag([1.0, 0.5, -0.2])
    with pytest.raises(NotPositiveDefiniteError, match="damping"):
        C.lissa(lambda v: A @ v, jnp.ones(3), scale=1.0, depth=500)


@pytest.mark.slow
def test_stochastic_lissa_averages_repeats():
    """Minibatch HVPs: A = mean of 10 PSD parts; each step uses one random part. Repeats reduce the error."""
    rng = np.random.default_rng(5)
    parts = np.stack([np.outer(u, u) for u in rng.standard_normal((10, 6))]) / 3 + 0.3 * np.eye(6)
    A = parts.mean(0)
    b = jnp.asarray(rng.standard_normal(6))
    exact = np.linalg.solve(A, b)
    matvec = lambda v, key: jnp.asarray(parts)[jax.random.randint(key, (), 0, 10)] @ v
    scale = 1.5 * np.linalg.eigvalsh(parts).max()
    err = lambda r: np.linalg.norm(C.lissa(matvec, b, scale=scale, depth=400, repeats=r, key=jax.random.key(0)) - exact)
    assert err(64) < 0.3 * np.linalg.norm(exact)
    assert err(64) < err(1)
    with pytest.raises(ValueError, match="key"):
        C.lissa(lambda v: A @ v, b, scale=scale, depth=10, repeats=4)


@pytest.mark.slow
def test_stochastic_lissa_checks_the_scale_against_minibatch_hessians_not_the_full_one():
    """Ten parts, three of them much sharper than their mean: a scale above the full λmax/2 but below the sharp
    parts' diverges, and the check says so (it samples minibatch Hessians, not the full one)."""
    rng = np.random.default_rng(6)
    parts = np.stack([0.2 * np.eye(6)] * 7 + [np.diag([12.0, 1, 1, 1, 1, 1])] * 3)
    b = jnp.asarray(rng.standard_normal(6))
    full_max, sharp_max = np.linalg.eigvalsh(parts.mean(0)).max(), np.linalg.eigvalsh(parts).max()
    scale = 0.5 * (full_max / 2 + sharp_max / 2)          # safe for the full Hessian, not for the sharp part
    assert full_max / 2 < scale < sharp_max / 2
    matvec = lambda v, key: jnp.asarray(parts)[jax.random.randint(key, (), 0, 10)] @ v
    with pytest.raises(ValueError, match=r"minibatch Hessians") as err:
        C.lissa(matvec, b, scale=scale, depth=300, key=jax.random.key(0))
    assert f"{sharp_max / 2:.4g}" in str(err.value)       # it names the scale the sharp part needs
    blown = C.lissa(matvec, b, scale=scale, depth=300, key=jax.random.key(0), check=False)
    assert np.linalg.norm(blown) > 1e3 * np.linalg.norm(np.linalg.solve(parts.mean(0), b))
    ok = C.lissa(matvec, b, scale=sharp_max, depth=300, key=jax.random.key(0), repeats=4)
    assert np.all(np.isfinite(np.asarray(ok)))


def test_solvers_refuse_float32(float32_jax):
    A = np.eye(3)
    with pytest.raises(TypeError, match="float64"):
        C.cg_solve(lambda v: A @ v, np.ones(3, np.float32))
    with pytest.raises(TypeError, match="float64"):
        C.lissa(lambda v: A @ v, np.ones(3, np.float32), scale=1.0, depth=10)
    with float32_jax():
        with pytest.raises(TypeError, match="jax_enable_x64"):
            C.cg_solve(lambda v: A @ v, jnp.ones(3))


def test_lanczos_leading_block_is_what_fewer_steps_give():
    rng = np.random.default_rng(11)
    A = jnp.asarray(spd_matrix(rng, 30, 100.0))
    alpha, beta = C.lanczos_tridiagonal(lambda v: A @ v, jnp.zeros(30), iters=20)
    np.testing.assert_allclose(C.ritz_values(alpha[:8], beta[:7]), C.lanczos(lambda v: A @ v, jnp.zeros(30), iters=8),
                               rtol=1e-10)


def test_cg_refuses_a_non_symmetric_operator_instead_of_returning_garbage():
    rng = np.random.default_rng(9)
    A = spd_matrix(rng, 12, 10.0) + 0.3 * np.triu(rng.standard_normal((12, 12)), 1)
    with pytest.raises(ValueError, match="not symmetric"):
        C.cg_solve(lambda v: A @ v, jnp.ones(12))


@pytest.mark.parametrize("kwargs, message", [
    ({"scale": 1.0, "depth": 0}, "depth must be a whole number > 0"),
    ({"scale": 1.0, "depth": 2.5}, "depth must be a whole number > 0"),
    ({"scale": -1.0, "depth": 10}, "scale must be a finite number > 0"),
    ({"scale": 1.0, "depth": 10, "damping": -0.1}, "damping must be a finite number ≥ 0"),
])
def test_lissa_hyperparameters_outside_their_domain_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        C.lissa(lambda v: v, jnp.ones(3), **kwargs)


def test_solvers_with_checks_refuse_to_run_inside_jit_and_trace_without_them():
    A = spd_matrix(np.random.default_rng(2), 6, 10.0)
    b = jnp.ones(6)
    with pytest.raises(TypeError, match="check=False"):
        jax.jit(lambda b: C.cg_solve(lambda v: A @ v, b))(b)
    x = jax.jit(lambda b: C.cg_solve(lambda v: A @ v, b, check=False))(b)
    assert np.allclose(A @ x, b, atol=1e-8)
    with pytest.raises(ValueError, match="NaN"):
        C.cg_solve(lambda v: A @ v, b.at[2].set(jnp.nan))


@pytest.mark.slow
def test_lanczos_restarts_when_the_krylov_space_closes_instead_of_inventing_zero_eigenvalues():
    """A multiple of the identity (the Hessian of an L2 term alone) closes the Krylov space after one step."""
    for diag in (0.01 * np.ones(30), np.r_[np.full(15, 0.5), np.full(15, 2.0)]):
        ritz = np.asarray(C.lanczos(lambda v: diag * v, jnp.zeros(30), iters=10))
        assert np.all(ritz >= diag.min() - 1e-12)
        assert np.isclose(ritz[0], diag.min()) and np.isclose(ritz[-1], diag.max())
    assert float(C.smallest_eigenvalue(lambda v: 0.01 * v, jnp.zeros(785), iters=60)) > 0.0099   # H = λI


# --- Hutchinson's trace and stochastic Lanczos quadrature ----------------------------------------------------


def symmetric_with_spectrum(rng, eig):
    Q, _ = np.linalg.qr(rng.standard_normal((len(eig), len(eig))))
    return Q, (Q * eig) @ Q.T


def test_hutchinson_is_unbiased_over_all_sign_vectors_with_the_stated_variance():
    """Exact ground truth: over all 2ⁿ vectors of ±1 entries, zᵀAz has mean tr(A) and variance 2(‖A‖_F² − Σ Aᵢᵢ²);
    the library's probes are such vectors, drawn uniformly."""
    import itertools

    rng = np.random.default_rng(20)
    n = 8
    B = rng.standard_normal((n, n))
    A = (B + B.T) / 2
    Z = np.array(list(itertools.product([-1.0, 1.0], repeat=n)))
    quad = np.einsum("ki,ij,kj->k", Z, A, Z)
    np.testing.assert_allclose(quad.mean(), np.trace(A), rtol=1e-13)
    np.testing.assert_allclose(quad.var(), 2 * (np.sum(A ** 2) - np.sum(np.diag(A) ** 2)), rtol=1e-12)
    samples = np.asarray(C.hutchinson_trace(lambda v: A @ v, jnp.zeros(n), probes=4000, key=jax.random.key(3),
                                            samples=True))
    nearest = np.argmin(np.abs(samples[:, None] - quad[None]), 1)
    assert np.all(np.abs(samples - quad[nearest]) < 1e-12)                  # each one is zᵀAz for a ±1 vector z
    assert len(np.unique(np.round(samples, 9))) == len(np.unique(np.round(quad, 9)))   # and all of them occur
    assert abs(samples.mean() - np.trace(A)) < 5 * np.sqrt(quad.var() / samples.size)
    mean = C.hutchinson_trace(lambda v: A @ v, jnp.zeros(n), probes=4000, key=jax.random.key(3), batch_size=7)
    np.testing.assert_allclose(mean, samples.mean(), rtol=1e-12)           # batching changes nothing


def test_hutchinson_is_exact_for_a_diagonal_operator_on_pytrees():
    params = {"a": jnp.arange(3.0), "b": jnp.ones(2)}
    D = {"a": jnp.array([1.0, 2.0, 3.0]), "b": jnp.array([4.0, 5.0])}
    matvec = lambda v: jax.tree_util.tree_map(lambda x, d: x * d, v, D)
    assert float(C.hutchinson_trace(matvec, params, probes=1, key=jax.random.key(1))) == pytest.approx(15.0, rel=1e-14)


def test_slq_with_as_many_steps_as_dimensions_is_exact():
    """m = p: the nodes are the eigenvalues and p·Σ τ f(θ) = zᵀf(A)z for every f (Hutchinson on f(A), same key)."""
    p, starts = 12, 5
    eig = np.sort(np.random.default_rng(21).uniform(-1.0, 3.0, p))
    Q, A = symmetric_with_spectrum(np.random.default_rng(22), eig)
    nodes, weights = C.slq_density(lambda v: A @ v, jnp.zeros(p), iters=p, starts=starts, key=jax.random.key(4))
    assert nodes.shape == weights.shape == (starts, p)
    np.testing.assert_allclose(nodes, np.broadcast_to(eig, (starts, p)), atol=1e-10)
    assert np.all(weights >= 0)
    np.testing.assert_allclose(weights.sum(1), 1.0, rtol=1e-12)
    for f in (np.exp, np.abs, lambda x: np.sin(3 * x)):
        fA = (Q * f(eig)) @ Q.T
        slq = p * np.mean(np.sum(weights * f(np.asarray(nodes)), 1))
        hutch = C.hutchinson_trace(lambda v: fA @ v, jnp.zeros(p), probes=starts, key=jax.random.key(4))
        np.testing.assert_allclose(slq, hutch, rtol=1e-9)


def test_slq_is_exact_for_polynomials_of_degree_below_2m_only():
    p, m, starts = 40, 4, 3
    B = np.random.default_rng(23).standard_normal((p, p))
    A = (B + B.T) / (2 * np.sqrt(p))
    nodes, weights = map(np.asarray, C.slq_density(lambda v: A @ v, jnp.zeros(p), iters=m, starts=starts,
                                                   key=jax.random.key(5)))
    slq = lambda k: p * np.mean(np.sum(weights * nodes ** k, 1))
    hutch = lambda k: float(C.hutchinson_trace(lambda v: np.linalg.matrix_power(A, k) @ v, jnp.zeros(p),
                                               probes=starts, key=jax.random.key(5)))
    for k in range(2 * m):
        np.testing.assert_allclose(slq(k), hutch(k), rtol=1e-8)
    assert abs(slq(2 * m) - hutch(2 * m)) > 1e-6 * abs(hutch(2 * m))         # degree 2m: no longer exact


@pytest.mark.slow
def test_slq_leading_blocks_and_a_krylov_space_that_closes():
    rng = np.random.default_rng(24)
    A = jnp.asarray(spd_matrix(rng, 30, 100.0))
    a20, b20 = C.slq_tridiagonal(lambda v: A @ v, jnp.zeros(30), iters=20, starts=3, key=jax.random.key(6))
    a8, b8 = C.slq_tridiagonal(lambda v: A @ v, jnp.zeros(30), iters=8, starts=3, key=jax.random.key(6))
    np.testing.assert_allclose(a20[:, :8], a8, rtol=1e-12)
    np.testing.assert_allclose(b20[:, :7], b8, rtol=1e-12)
    # two distinct eigenvalues: the Krylov space closes after 2 steps; the restarted steps get zero weight, and a ±1
    # start puts exactly half its weight on each eigenvalue
    diag = jnp.asarray(np.r_[np.full(15, 0.5), np.full(15, 2.0)])
    nodes, weights = C.slq_density(lambda v: diag * v, jnp.zeros(30), iters=6, starts=4, key=jax.random.key(7))
    assert np.all((np.abs(nodes - 0.5) < 1e-10) | (np.abs(nodes - 2.0) < 1e-10))
    np.testing.assert_allclose(np.sum(np.where(nodes < 1, weights, 0), 1), 0.5, rtol=1e-12)
    np.testing.assert_allclose(np.sum(weights, 1), 1.0, rtol=1e-12)


def test_spectral_density_integrates_to_one():
    grid = np.linspace(-5.0, 6.0, 4401)                                     # step 0.0025: 0 and 1 on the grid
    d = np.asarray(C.spectral_density(np.array([0.0, 1.0]), np.array([0.25, 0.75]), grid, sigma=0.1))
    np.testing.assert_allclose(np.sum(d) * (grid[1] - grid[0]), 1.0, rtol=1e-10)
    np.testing.assert_allclose(d.max(), 0.75 / (0.1 * np.sqrt(2 * np.pi)), rtol=1e-6)
    np.testing.assert_allclose(grid[np.argmax(d)], 1.0, atol=grid[1] - grid[0])
    # unnormalised weights (e.g. each SLQ start's rule summing to 1) are normalised
    np.testing.assert_allclose(C.spectral_density(np.array([0.0, 1.0]), np.array([1.0, 3.0]), grid, sigma=0.1), d,
                               rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("call, error, message", [
    (lambda A: C.hutchinson_trace(A, jnp.zeros(4), probes=0), ValueError, "probes must be a whole number > 0"),
    (lambda A: C.hutchinson_trace(A, jnp.zeros(4), probes=2.5), ValueError, "probes must be a whole number > 0"),
    (lambda A: C.slq_tridiagonal(A, jnp.zeros(4), iters=0), ValueError, "iters must be a whole number > 0"),
    (lambda A: C.slq_density(A, jnp.zeros(4), starts=-1), ValueError, "starts must be a whole number > 0"),
    (lambda A: C.hutchinson_trace(A, jnp.zeros(4, jnp.float32)), TypeError, "float64"),
    (lambda A: C.slq_density(A, jnp.zeros(4).at[1].set(jnp.nan)), ValueError, "NaN"),
    (lambda A: C.hutchinson_trace(A, jnp.zeros(4), key=jax.random.key_data(jax.random.key(0))), TypeError,
     "typed JAX key"),
    (lambda A: C.hutchinson_trace(lambda v: v[:3], jnp.zeros(4)), ValueError, "shaped like"),
    (lambda A: C.gauss_quadrature(jnp.ones(4), jnp.ones(4)), ValueError, r"alpha \(\.\.\., m\) and beta"),
    (lambda A: C.spectral_density(jnp.ones(3), jnp.ones(2), jnp.zeros(5), sigma=0.1), ValueError, "same size"),
    (lambda A: C.spectral_density(jnp.ones(3), jnp.ones(3), jnp.zeros(5), sigma=0.0), ValueError, "sigma"),
    (lambda A: C.spectral_density(jnp.ones(2), jnp.array([1.0, -1.0]), jnp.zeros(5), sigma=0.1), ValueError, "≥ 0"),
])
def test_randomised_estimators_refuse_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call(lambda v: 2.0 * v)


def test_randomised_estimators_refuse_float32_jax(float32_jax):
    with float32_jax():
        with pytest.raises(TypeError, match="jax_enable_x64"):
            C.hutchinson_trace(lambda v: v, jnp.zeros(3))
