"""estimators.py against exact answers on small float64 problems: K-FAC/EK-FAC against the exact Gauss-Newton blocks,
Arnoldi against the exact inverse, TracIn/TRAK against closed forms, LDS against scipy and a known answer."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from scipy.stats import spearmanr

from course_utils import curvature as C, data as D, estimators as E, influence as I, models as M, training as T

L2 = 0.01
logistic = M.example_loss(M.linear_apply, M.logistic_loss)


@functools.partial(jax.jit, static_argnums=(0, 1))
def gauss_newton(apply_fn, out_loss, params, X, Y):
    """The exact GN matrix of the mean loss (curvature.gauss_newton_matrix), ravel order."""
    mean_loss = lambda out: jnp.mean(jax.vmap(out_loss)(out, Y))
    return C.gauss_newton_matrix(lambda p: apply_fn(p, X), mean_loss, params)


def slices(params):
    """Each layer's slice of the flat parameters, from ravel_pytree itself (a leaf's position in the flat vector)."""
    flat, unravel = ravel_pytree(params)
    index = unravel(jnp.arange(flat.size, dtype=flat.dtype))
    out = []
    for layer in M.layers(index):
        ids = np.sort(np.concatenate([np.ravel(layer["b"]), np.ravel(layer["w"])]).astype(int))
        assert np.all(np.diff(ids) == 1)                        # a layer is a contiguous slice, b before w
        assert np.array_equal(ids[:np.size(layer["b"])], np.ravel(layer["b"]).astype(int))
        out.append(slice(ids[0], ids[-1] + 1))
    return out


@pytest.fixture(scope="module")
def logreg():
    """1-vs-7 logistic regression on the 16 most variable pixels (p = 17), 120 points, Newton to ‖∇R‖ ≤ 1e-12."""
    ds = D.binary_subset(D.load_digits(), (1, 7))
    cols = np.argsort(-ds.x_train[:120].std(0))[:16]
    X, Y = jnp.asarray(ds.x_train[:120][:, cols]), jnp.asarray(ds.y_train[:120])
    test = (jnp.asarray(ds.x_test[:4][:, cols]), jnp.asarray(ds.y_test[:4]))
    fit = T.train_newton(logistic, M.linear_init(16), (X, Y), l2=L2, tol=1e-12)
    assert fit.grad_norm <= 1e-12
    return fit.params, (X, Y), test


CHUNK = 7   # 24 = 3·7 + 3 examples: the chunked sums pad the last chunk


@pytest.fixture(scope="module")
def mlp():
    """A 5-4-3 tanh MLP with softmax cross-entropy on 24 random points (not trained: K-FAC needs no minimum)."""
    X = jax.random.normal(jax.random.key(0), (24, 5))
    Y = jax.random.randint(jax.random.key(1), (24,), 0, 3)
    return M.mlp_init(jax.random.key(2), [5, 4, 3]), (X, Y)


@pytest.fixture(scope="module")
def cnn():
    """A CNN with a hidden layer on 8×8 inputs (ravel order conv1, conv2, dense, hidden — not the forward order)."""
    X = jax.random.uniform(jax.random.key(3), (12, 64))
    Y = jax.random.randint(jax.random.key(4), (12,), 0, 10)
    return M.cnn_init(jax.random.key(0), 8, channels=(2, 2), hidden=5), (X, Y)


def fits(apply_fn, params, data, **options):
    return [build(apply_fn, M.cross_entropy, params, data, chunk=CHUNK, **options) for build in (E.kfac, E.ekfac)]


# --- models: taps and the hidden layer ----------------------------------------------------------------------------


def test_cnn_keeps_994_parameters_and_the_hidden_layer_gives_over_50k():
    count = lambda tree: sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(tree))
    small = jax.eval_shape(lambda k: M.cnn_init(k, 8, channels=(8, 8)), jax.random.key(0))
    assert count(small) == 994 and set(small) == {"conv1", "conv2", "dense"}
    big = jax.eval_shape(lambda k: M.cnn_init(k, 28, channels=(4, 8), hidden=128), jax.random.key(0))
    assert count(big) == 51_930 >= 50_000 and count(big["hidden"]) == 50_304
    with pytest.raises(ValueError, match="hidden must be None or a positive"):
        M.cnn_init(jax.random.key(0), 8, hidden=0)


def test_cnn_taps_reproduce_the_forward_pass():
    params = M.cnn_init(jax.random.key(0), 8, channels=(2, 3), hidden=6)
    plain = M.cnn_init(jax.random.key(0), 8, channels=(2, 3))
    x = jax.random.uniform(jax.random.key(1), (64,))

    @jax.jit
    def run(params, plain, x):
        out, acts, pre = M.cnn_taps(params, x)
        shifted = M.cnn_taps(params, x, jax.tree_util.tree_map(lambda s: s + 0.1, pre))[2]
        return out, acts, pre, shifted, M.cnn_apply(params, x[None])[0], M.cnn_taps(plain, x)[0], M.cnn_apply(plain, x)
    out, acts, pre, shifted, expected, plain_taps, plain_apply = run(params, plain, x)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    np.testing.assert_allclose(plain_taps, plain_apply, rtol=1e-12)
    for layer, a, s in zip(M.layers(params), jax.tree_util.tree_leaves(acts), jax.tree_util.tree_leaves(pre)):
        np.testing.assert_array_equal(a[:, 0], 1.0)                        # the bias input comes first
        W = jnp.concatenate([layer["b"][None], layer["w"].reshape(-1, layer["b"].size)])   # [b; w] = ravel order
        np.testing.assert_allclose(a @ W, s, rtol=1e-10, atol=1e-12)       # s = ã W̃ at every location
    np.testing.assert_allclose(shifted["conv1"], 2 * pre["conv1"] + 0.1, rtol=1e-12)   # eps is added to s
    # the blocks K-FAC builds from the taps, in tree order, are the layers' consecutive slices of ravel_pytree
    sizes = [a.shape[1] * s.shape[1] for a, s in zip(jax.tree_util.tree_leaves(acts), jax.tree_util.tree_leaves(pre))]
    assert [s.stop - s.start for s in slices(params)] == sizes and list(acts) == ["conv1", "conv2", "dense", "hidden"]


def test_model_taps_finds_each_models_taps_and_rejects_others():
    assert M.model_taps(M.cnn_apply) is M.cnn_taps and M.model_taps(M.mlp_taps) is M.mlp_taps
    with pytest.raises(ValueError, match="no layer taps"):
        M.model_taps(M.cnn_features)


# --- K-FAC and EK-FAC ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["mlp", pytest.param("cnn", marks=pytest.mark.slow)])
def test_with_one_example_each_dense_blocks_kfac_equals_its_exact_gauss_newton_block(model, request):
    """One example (repeated, so the means are that example's): A ⊗ G is exactly its GN block for a dense layer
    (T = 1), and EK-FAC equals it too. The CNN's ravel order is conv1, conv2, dense, hidden — not the forward order —
    so this also checks that every block sits where ravel_pytree puts its parameters."""
    apply_fn, dense = (M.mlp_apply, [0, 1]) if model == "mlp" else (M.cnn_apply, [2, 3])
    params, (X, Y) = request.getfixturevalue(model)
    X, Y = jnp.repeat(X[:1], len(X), axis=0), jnp.repeat(Y[:1], len(Y))
    GN = np.asarray(gauss_newton(apply_fn, M.cross_entropy, params, X, Y))
    for k, s in enumerate(slices(params)):
        if k in dense:
            for est in fits(apply_fn, params, (X, Y)):
                np.testing.assert_allclose(est.block(k), GN[s, s], atol=1e-12 * np.abs(GN[s, s]).max())


@pytest.mark.parametrize("model", ["mlp", pytest.param("cnn", marks=pytest.mark.slow)])
def test_ekfac_is_never_further_from_the_gauss_newton_block_than_kfac(model, request):
    apply_fn = M.mlp_apply if model == "mlp" else M.cnn_apply
    params, data = request.getfixturevalue(model)
    GN = np.asarray(gauss_newton(apply_fn, M.cross_entropy, params, *data))
    K, EK = fits(apply_fn, params, data)
    for k, s in enumerate(slices(params)):
        err_k, err_ek = np.linalg.norm(K.block(k) - GN[s, s]), np.linalg.norm(EK.block(k) - GN[s, s])
        assert err_ek <= err_k * (1 + 1e-10) + 1e-14
        assert err_k > 1e-6                              # a real approximation here, not exact by accident
        # EK-FAC's Λ* is exactly the diagonal of the GN block in the Kronecker eigenbasis
        QA, QG, S = EK.factors[k]
        Q = np.kron(QA, QG)
        np.testing.assert_allclose(np.diag(Q.T @ GN[s, s] @ Q), S.ravel(), atol=1e-12 * np.abs(S).max())


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_gauss_newton_matrix_from_per_example_jacobians_is_the_whole_batch_one(model, request):
    """estimators.gauss_newton_matrix (per-example Jacobians, chunked with padding: 24 and 12 examples in chunks of
    7 and 5) against curvature.gauss_newton_matrix (p GN products with the whole batch); also PSD and symmetric."""
    apply_fn = M.mlp_apply if model == "mlp" else M.cnn_apply
    params, data = request.getfixturevalue(model)
    reference = np.asarray(gauss_newton(apply_fn, M.cross_entropy, params, *data))
    for chunk in (CHUNK, 5, 10_000):
        G = np.asarray(E.gauss_newton_matrix(apply_fn, M.cross_entropy, params, data, chunk=chunk))
        np.testing.assert_allclose(G, reference, rtol=0, atol=1e-13 * np.abs(reference).max())
    assert np.array_equal(G, G.T) or np.allclose(G, G.T, rtol=0, atol=1e-15)
    assert np.linalg.eigvalsh(G).min() > -1e-12 * np.abs(G).max()
    # squared error has ∇²ℓ = 2I per output: G = (2/n) Σ JᵢᵀJᵢ
    sq = lambda out, y: jnp.sum((out - jax.nn.one_hot(y, out.shape[-1])) ** 2)
    G_sq = np.asarray(E.gauss_newton_matrix(apply_fn, sq, params, data, chunk=CHUNK))
    np.testing.assert_allclose(G_sq, np.asarray(gauss_newton(apply_fn, sq, params, *data)), rtol=0,
                               atol=1e-13 * np.abs(G_sq).max())


def test_gauss_newton_matrix_rejects_bad_inputs(mlp, float32_jax):
    params, (X, Y) = mlp
    with pytest.raises(ValueError, match="chunk must be a whole number"):
        E.gauss_newton_matrix(M.mlp_apply, M.cross_entropy, params, (X, Y), chunk=0)
    with pytest.raises(ValueError, match="NaN"):
        E.gauss_newton_matrix(M.mlp_apply, M.cross_entropy, params, (X.at[0, 0].set(np.nan), Y))
    f32 = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float32), params)
    with pytest.raises(TypeError, match="float64"):
        E.gauss_newton_matrix(M.mlp_apply, M.cross_entropy, f32, (X, Y))
    with pytest.raises(ValueError, match="empty|no training"):
        E.gauss_newton_matrix(M.mlp_apply, M.cross_entropy, params, (X[:0], Y[:0]))


@pytest.mark.parametrize("build", [E.kfac, E.ekfac], ids=["kfac", "ekfac"])
def test_kfac_solves_and_scores_match_the_dense_damped_approximation(mlp, build):
    params, (X, Y) = mlp
    est = build(M.mlp_apply, M.cross_entropy, params, (X, Y), l2=L2, damping=0.1, chunk=CHUNK)
    p = ravel_pytree(params)[0].size
    dense = est.matrix() + (L2 + 0.1) * np.eye(p)
    B = jax.random.normal(jax.random.key(5), (3, p))
    np.testing.assert_allclose(est.solve(B), np.linalg.solve(dense, B.T).T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(est.solve(B[0]), est.solve(B)[0], rtol=1e-12)
    G = np.asarray(I.flat_grads(est.loss_fn, params, (X, Y)))
    expected = -G[:4] @ np.linalg.solve(dense, G.T)
    np.testing.assert_allclose(est.up_loss((X[:4], Y[:4])), expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(est.up_loss((X[0], Y[0])), expected[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(est.self_influence(), -np.sum(G * np.linalg.solve(dense, G.T).T, 1), rtol=1e-9)
    assert est.cost.example_passes == 24 * 3 * (1 if build is E.kfac else 2) and est.cost.bytes > 0


# --- Arnoldi ----------------------------------------------------------------------------------------------------


def test_arnoldi_with_every_eigenpair_is_exact_influence(logreg):
    params, train, test = logreg
    exact = I.influence_up_loss(logistic, params, train, test, l2=L2, damping=1e-3, solver=I.Exact())
    A = E.arnoldi(logistic, params, train, 17, l2=L2, damping=1e-3)
    np.testing.assert_allclose(A.up_loss(test), exact, rtol=1e-9, atol=1e-12 * np.abs(exact).max())
    np.testing.assert_allclose(A.self_influence(), np.diag(A.up_loss(train)), rtol=1e-10)
    np.testing.assert_allclose(A.self_influence(),
                               I.self_influence(logistic, params, train, l2=L2, damping=1e-3), rtol=1e-9)
    assert A.cost.hvps == 17 and A.cost.example_passes == 17 * 120


def test_low_rank_inverse_error_falls_with_k_on_a_random_spd_matrix():
    p = 30
    Q = np.linalg.qr(np.asarray(jax.random.normal(jax.random.key(0), (p, p))))[0]
    lam = np.geomspace(100.0, 0.1, p)
    H = (Q * lam) @ Q.T
    b = np.asarray(jax.random.normal(jax.random.key(1), (p,)))
    x = np.linalg.solve(H, b)
    vals, vecs = jax.jit(lambda: E.top_eigenpairs(lambda v: H @ v, jnp.zeros(p), p, iters=p))()
    np.testing.assert_allclose(vals, lam, rtol=1e-9)                # descending, exact with iters = p
    errors = [np.linalg.norm(vecs[:k].T @ ((vecs[:k] @ b) / vals[:k]) - x) / np.linalg.norm(x)
              for k in (1, 3, 10, 20, 30)]                          # the top-k pairs of one run
    assert all(a > b for a, b in zip(errors, errors[1:])) and errors[-1] < 1e-10


def test_top_eigenpairs_by_value_or_by_magnitude():
    H = jnp.diag(jnp.array([5.0, -8.0, 1.0, 0.5]))
    top = jax.jit(lambda by: E.top_eigenpairs(lambda v: H @ v, jnp.zeros(4), 2, iters=4, by=by)[0], static_argnums=0)
    np.testing.assert_allclose(top("value"), [5.0, 1.0], rtol=1e-10)
    np.testing.assert_allclose(top("magnitude"), [-8.0, 5.0], rtol=1e-10)


# --- TracIn and the gradient dot product --------------------------------------------------------------------------


def test_tracin_with_one_checkpoint_is_minus_the_gradient_dot_product(logreg):
    params, train, test = logreg
    G, Gt = np.asarray(I.flat_grads(logistic, params, train)), np.asarray(I.flat_grads(logistic, params, test))
    for est in (E.tracin(logistic, [params], [1.0], train), E.grad_dot(logistic, params, train)):
        np.testing.assert_allclose(est.up_loss(test), -Gt @ G.T, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(est.self_influence(), -np.sum(G * G, 1), rtol=1e-10)
    # several checkpoints: the η-weighted sum of each one's dot products
    thetas = [params, jax.tree_util.tree_map(lambda a: 0.5 * a, params)]
    two = E.tracin(logistic, thetas, [0.3, 2.0], train)
    dots = [-np.asarray(I.flat_grads(logistic, q, test)) @ np.asarray(I.flat_grads(logistic, q, train)).T
            for q in thetas]
    np.testing.assert_allclose(two.up_loss(test), 0.3 * dots[0] + 2.0 * dots[1], rtol=1e-10)


def test_train_checkpoints_is_gradient_descent_saved_every_few_steps(logreg):
    _, train, _ = logreg
    start = M.linear_init(16)
    ckpts, eta = E.train_checkpoints(logistic, start, train, learning_rate=0.5, steps=6, every=3, l2=L2)
    grad = jax.grad(lambda p: T.empirical_risk(logistic, p, train, l2=L2))
    p = start
    for step in range(6):
        p = jax.tree_util.tree_map(lambda a, g: a - 0.5 * g, p, grad(p))
        if step == 2:
            np.testing.assert_allclose(ckpts["w"][0], p["w"], rtol=1e-10)
    np.testing.assert_allclose(ckpts["w"][1], p["w"], rtol=1e-10)
    np.testing.assert_allclose(eta, [1.5, 1.5])
    mini, _ = E.train_checkpoints(logistic, start, train, learning_rate=0.01, steps=4, every=2, optimizer="adam",
                                  batch_size=10, key=jax.random.key(0))
    assert mini["w"].shape == (2, 16) and np.all(np.isfinite(mini["w"]))


# --- TRAK ------------------------------------------------------------------------------------------------------


def trak_closed_form(Phi, phi_test, p, damping=0.0):
    return phi_test @ np.linalg.solve(Phi.T @ Phi + damping * np.eye(Phi.shape[1]), Phi.T) * (1 - p)


def test_trak_without_projection_is_the_closed_form_on_logistic_regression(logreg):
    params, (X, Y), test = logreg
    w = np.asarray(ravel_pytree(params)[0])
    aug = lambda X, Y: np.hstack([np.ones((len(X), 1)), np.asarray(X)]) * np.asarray(Y)[:, None]  # ∇f = y·[1, x]
    Phi, phi_t = aug(X, Y), aug(*test)
    p, p_t = 1 / (1 + np.exp(-Phi @ w)), 1 / (1 + np.exp(-phi_t @ w))
    tau = trak_closed_form(Phi, phi_t, p)
    est = E.trak(M.linear_apply, params, (X, Y))
    np.testing.assert_allclose(est.scores(test), tau, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(est.up_loss(test), -120 * (1 - p_t)[:, None] * tau, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(est.self_influence(), np.diag(est.up_loss((X, Y))), rtol=1e-9)
    np.testing.assert_allclose(est.self_scores(), np.diag(est.scores((X, Y))), rtol=1e-9)
    # a square Gaussian projection changes nothing (φᵀ(ΦᵀΦ)⁻¹φ is invariant under an invertible P)
    projected = E.trak(M.linear_apply, params, (X, Y), k=17, key=jax.random.key(0))
    np.testing.assert_allclose(projected.scores(test), tau, rtol=1e-6, atol=1e-12)


@pytest.mark.slow
def test_trak_on_softmax_regression_and_its_ensemble_average():
    digits = D.load_digits()
    cols = np.argsort(-digits.x_train[:80].std(0))[:4]
    X, Y = jnp.asarray(digits.x_train[:80][:, cols]), jnp.asarray(digits.y_train[:80])
    models_ = [{"w": jax.random.normal(jax.random.key(s), (4, 10)), "b": jnp.zeros(10)} for s in (0, 1)]
    est = E.trak(M.linear_apply, models_, (X, Y), damping=1e-3)
    taus, probs = [], []
    for params in models_:
        unravel = ravel_pytree(params)[1]
        f = lambda w, x, y: E.margin(M.linear_apply(unravel(w), x), y)
        Phi = np.asarray(jax.vmap(jax.grad(f), (None, 0, 0))(ravel_pytree(params)[0], X, Y))
        p = np.asarray(jax.nn.softmax(M.linear_apply(params, X))[np.arange(80), Y])
        np.testing.assert_allclose(np.asarray(jax.vmap(f, (None, 0, 0))(ravel_pytree(params)[0], X, Y)),
                                   np.log(p / (1 - p)), rtol=1e-9)                       # margin = log p/(1−p)
        taus.append(trak_closed_form(Phi, Phi[:3], np.zeros(80), damping=1e-3))
        probs.append(p)
    expected = np.mean(taus, axis=0) * (1 - np.mean(probs, axis=0))   # the two averages taken separately
    np.testing.assert_allclose(est.scores((X[:3], Y[:3])), expected, rtol=1e-8)
    with pytest.raises(ValueError, match="singular"):
        E.trak(M.linear_apply, models_[0], (X, Y))                    # softmax margins: ΦᵀΦ singular with P = I


# --- every estimator: self-influence is the diagonal of up_loss ----------------------------------------------------


def test_each_estimators_self_influence_is_its_own_diagonal(mlp):
    params, (X, Y) = mlp
    K, EK = fits(M.mlp_apply, params, (X, Y), l2=L2)
    loss = K.loss_fn                                        # the same function: compiled code is shared
    for est in (K, EK,
                E.arnoldi(loss, params, (X, Y), 5, l2=L2, damping=1.0),
                E.grad_dot(loss, params, (X, Y))):
        diag = np.diag(est.up_loss((X, Y)))
        np.testing.assert_allclose(est.self_influence(), diag, rtol=1e-9, atol=1e-14)
        assert np.all(diag <= 0)


# --- LDS and weighted retraining ----------------------------------------------------------------------------------


def test_lds_is_near_one_where_first_order_is_nearly_exact_and_near_zero_for_random_scores(logreg):
    params, train, test = logreg
    scores = I.influence_up_loss(logistic, params, train, test, l2=L2, solver=I.Exact())
    masks = E.random_subsets(jax.random.key(0), 120, 40, 0.9)
    assert masks.shape == (40, 120) and np.all(masks.sum(1) == 108)
    fits, norms = I.retrain(logistic, params, train, masks, l2=L2, tol=1e-10)
    assert float(norms.max()) <= 1e-10
    outputs = jax.vmap(lambda p: jax.vmap(logistic, (None, 0, 0))(p, *test))(fits)          # (M, m) test losses
    good = E.lds(scores, masks, outputs)
    assert good.mean > 0.95 and good.per_test.shape == (4,)
    expected = [spearmanr(outputs[:, t], masks @ scores[t]).statistic for t in range(4)]
    np.testing.assert_allclose(good.per_test, expected, rtol=1e-12)
    noise = E.lds(jax.random.normal(jax.random.key(1), (4, 120)), masks, outputs)
    assert abs(noise.mean) < 0.3
    assert E.lds(scores[0], masks, outputs[:, 0]).per_test.shape == (1,)


def test_retrain_with_weights_generalises_leave_one_out(logreg):
    params, (X, Y), _ = logreg
    loo, loo_norms = I.leave_one_out(logistic, params, (X, Y), [3, 7], l2=L2, tol=1e-11)
    weights = np.ones((2, 120))
    weights[0, 3] = weights[1, 7] = 0
    fits, _ = I.retrain(logistic, params, (X, Y), weights, l2=L2, tol=1e-11)
    np.testing.assert_allclose(fits["w"], loo["w"], rtol=1e-9)
    one, norm = I.retrain(logistic, params, (X, Y), weights[0], l2=L2, tol=1e-11)
    assert one["w"].shape == (16,) and float(norm) <= 1e-11
    direct = T.train_newton(logistic, params, (X, Y), l2=L2, weights=jnp.asarray(weights[0]), tol=1e-11).params
    np.testing.assert_allclose(one["w"], direct["w"], rtol=1e-8)


# --- error paths ---------------------------------------------------------------------------------------------------


def test_builders_reject_bad_inputs_with_a_message(logreg, mlp):
    params, train, test = logreg
    mparams, mtrain = mlp
    f32 = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float32), mparams)
    with pytest.raises(TypeError, match="float64"):
        E.kfac(M.mlp_apply, M.cross_entropy, f32, mtrain)
    with pytest.raises(ValueError, match="damping must be a finite number ≥ 0"):
        E.ekfac(M.mlp_apply, M.cross_entropy, mparams, mtrain, damping=-1.0)
    singular = fits(M.mlp_apply, mparams, (mtrain[0].at[:, 0].set(0.0), mtrain[1]))[0]   # an input never varies
    with pytest.raises(ValueError, match="l2 \\+ damping > 0"):
        singular.up_loss((mtrain[0][:2], mtrain[1][:2]))
    with pytest.raises(ValueError, match="chunk must be a whole number"):
        E.kfac(M.mlp_apply, M.cross_entropy, mparams, mtrain, chunk=0)
    bad = (train[0].at[0, 0].set(np.nan), train[1])
    with pytest.raises(ValueError, match="NaN"):
        E.arnoldi(logistic, params, bad, 3)
    for k in (0, 18, 2.0, None):
        with pytest.raises(ValueError, match="k must be a whole number in 1..p = 17"):
            E.arnoldi(logistic, params, train, k)
    with pytest.raises(ValueError, match="iters must be"):
        E.arnoldi(logistic, params, train, 5, iters=3)
    with pytest.raises(ValueError, match="by must be"):
        E.arnoldi(logistic, params, train, 5, by="largest")
    with pytest.raises(TypeError, match="typed JAX key"):
        E.arnoldi(logistic, params, train, 5, key=np.array([0, 1], np.uint32))
    with pytest.raises(ValueError, match="test x has shape"):
        E.grad_dot(logistic, params, train).up_loss((np.zeros(5), 1.0))


def test_arnoldi_refuses_negative_curvature_it_would_invert(mlp):
    params, data = mlp                                      # untrained: H is indefinite
    loss = fits(M.mlp_apply, params, data)[0].loss_fn
    with pytest.raises(ValueError, match=r"≤ 0 .* damping > 0.33"):      # λ = −0.326 is among the top 5 by |λ|
        E.arnoldi(loss, params, data, 5, by="magnitude", damping=0.1)


def test_tracin_trak_and_lds_reject_bad_inputs(logreg):
    params, train, _ = logreg
    with pytest.raises(ValueError, match="checkpoints is empty"):
        E.tracin(logistic, [], [], train)
    with pytest.raises(ValueError, match="one step size per checkpoint"):
        E.tracin(logistic, [params, params], [1.0], train)
    with pytest.raises(ValueError, match="step size must be a finite number > 0"):
        E.tracin(logistic, [params], [0.0], train)
    with pytest.raises(ValueError, match="would save no checkpoint"):
        E.train_checkpoints(logistic, params, train, learning_rate=0.1, steps=2, every=3)
    with pytest.raises(ValueError, match="pass key"):
        E.train_checkpoints(logistic, params, train, learning_rate=0.1, steps=4, every=2, batch_size=5)
    with pytest.raises(ValueError, match="optimizer must be"):
        E.train_checkpoints(logistic, params, train, learning_rate=0.1, steps=4, every=2, optimizer="rmsprop")
    X, Y = train
    with pytest.raises(ValueError, match="choose k ≤ 10"):
        E.trak(M.linear_apply, params, (X[:10], Y[:10]))
    with pytest.raises(ValueError, match="needs key"):
        E.trak(M.linear_apply, params, train, k=5)
    with pytest.raises(ValueError, match="k must be a whole number"):
        E.trak(M.linear_apply, params, train, k=0, key=jax.random.key(0))
    with pytest.raises(ValueError, match="empty list"):
        E.trak(M.linear_apply, [], train)
    with pytest.raises(ValueError, match="fraction must lie in"):
        E.random_subsets(jax.random.key(0), 10, 5, 1.0)
    with pytest.raises(TypeError, match="typed JAX key"):
        E.random_subsets(0, 10, 5, 0.5)
    masks = E.random_subsets(jax.random.key(0), 6, 4, 0.5)
    with pytest.raises(ValueError, match="outputs must have shape"):
        E.lds(np.zeros((2, 6)), masks, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="same n"):
        E.lds(np.zeros((2, 5)), masks, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="boolean masks"):
        E.lds(np.zeros((2, 6)), masks * 2, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="weights must have shape"):
        I.retrain(logistic, params, train, np.ones(5), l2=L2)


def test_builders_need_float64_jax(logreg, float32_jax):
    params, train, _ = logreg
    with float32_jax():
        with pytest.raises(TypeError, match="float64"):
            E.grad_dot(logistic, params, train)
