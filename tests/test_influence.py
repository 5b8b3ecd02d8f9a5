"""influence.py against closed forms, finite perturbations and leave-one-out retraining (float64)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from course_utils import NotPositiveDefiniteError, curvature as C, data as D, influence as I, models as M, training as T

L2 = 0.01
loss_fn = M.example_loss(M.linear_apply, M.logistic_loss)


@pytest.fixture(scope="module")
def logreg():
    """Binary (1 vs 7) L2-regularised logistic regression on 8×8 digits, trained by Newton to ‖∇R‖ ≤ 1e-12."""
    ds = D.binary_subset(D.load_digits(), (1, 7))
    X, Y = ds.x_train[:120], ds.y_train[:120]
    fit = T.train_newton(loss_fn, M.linear_init(64), (X, Y), l2=L2, tol=1e-12)
    assert fit.grad_norm <= 1e-12
    return fit.params, (X, Y), (ds.x_test[:5], ds.y_test[:5])


def closed_form(params, train, test):
    """Numpy: θ = [b, w] (ravel order), x̃ = [1, x]; ∇L = −y σ(−y θᵀx̃) x̃; H = mean σ(t)σ(−t) x̃x̃ᵀ + l2·I."""
    sig = lambda t: 1 / (1 + np.exp(-t))
    theta = np.asarray(ravel_pytree(params)[0])
    aug = lambda X: np.hstack([np.ones((len(X), 1)), X])
    Xa, Y = aug(train[0]), train[1]
    t = Xa @ theta
    H = (Xa * (sig(t) * sig(-t))[:, None]).T @ Xa / len(Y) + L2 * np.eye(len(theta))
    grads = lambda Xa, Y: -(Y * sig(-Y * (Xa @ theta)))[:, None] * Xa
    G, G_test = grads(Xa, Y), grads(aug(test[0]), test[1])
    return H, G, G_test


@pytest.mark.parametrize(
    "solver, rtol",
    [(I.Exact(), 1e-9), (I.CG(tol=1e-12), 1e-8), (I.LiSSA(scale=1.0, depth=3000), 1e-3)],
    ids=["exact", "cg", "lissa"],
)
@pytest.mark.slow
def test_influence_up_loss_matches_closed_form(logreg, solver, rtol):
    params, train, test = logreg
    H, G, G_test = closed_form(params, train, test)
    expected = -G_test @ np.linalg.solve(H, G.T)
    got = I.influence_up_loss(loss_fn, params, train, test, l2=L2, solver=solver)
    assert got.shape == (5, 120)
    assert np.linalg.norm(got - expected) <= rtol * np.linalg.norm(expected)
    one = I.influence_up_loss(loss_fn, params, train, (test[0][0], test[1][0]), l2=L2, solver=solver)
    assert one.shape == (120,) and np.allclose(one, got[0], rtol=1e-6, atol=1e-10)


@pytest.mark.slow
def test_stochastic_lissa_is_close(logreg):
    params, train, test = logreg
    H, G, G_test = closed_form(params, train, (test[0][:1], test[1][:1]))
    expected = -G_test[0] @ np.linalg.solve(H, G.T)
    got = I.influence_up_loss(loss_fn, params, train, (test[0][0], test[1][0]), l2=L2,
                              solver=I.LiSSA(scale=2.0, depth=1500, repeats=8, minibatch=30), key=jax.random.key(1))
    assert np.corrcoef(got, expected)[0, 1] > 0.99


def test_influence_up_params_and_self_influence_match_closed_form(logreg):
    params, train, _ = logreg
    H, G, _ = closed_form(params, train, train)
    up_params = I.influence_up_params(loss_fn, params, train, l2=L2)
    flat = jax.vmap(lambda p: ravel_pytree(p)[0])(up_params)
    assert flat.shape == (120, 65)
    assert np.allclose(flat, -np.linalg.solve(H, G.T).T, rtol=1e-9, atol=1e-12)
    expected_self = -np.einsum("ip,ip->i", G, np.linalg.solve(H, G.T).T)
    for solver in (I.Exact(), I.CG()):
        assert np.allclose(I.self_influence(loss_fn, params, train, l2=L2, solver=solver), expected_self, rtol=1e-7)
    assert np.all(expected_self < 0)


def test_influence_pert_loss_predicts_retraining_after_moving_a_training_input(logreg):
    """Move training input xᵢ by δ·u, retrain: the test loss changes by (1/n)·I_pert,loss(zᵢ)·δu + O(δ²)."""
    params, (X, Y), test = logreg
    x_t, y_t = test[0][0], test[1][0]
    pert = I.influence_pert_loss(loss_fn, params, (X, Y), (x_t, y_t), l2=L2, solver=I.Exact())
    assert pert.shape == (120, 64)
    i = int(np.argmax(np.linalg.norm(pert, axis=1)))
    u = pert[i] / np.linalg.norm(pert[i])
    for delta in (1e-2, 1e-3):
        X_moved = X.copy()
        X_moved[i] += delta * u
        refit = T.train_newton(loss_fn, params, (X_moved, Y), l2=L2, tol=1e-13)
        actual = loss_fn(refit.params, x_t, y_t) - loss_fn(params, x_t, y_t)
        predicted = pert[i] @ (delta * u) / 120
        assert abs(actual - predicted) <= 20 * delta * abs(predicted)


@pytest.mark.slow
def test_leave_one_out_matches_a_sequential_loop_and_deletion(logreg):
    params, (X, Y), _ = logreg
    n, idx = len(Y), np.array([0, 5, 17, 64])
    stacked, gnorms = I.leave_one_out(loss_fn, params, (X, Y), idx, l2=L2, tol=1e-12)
    assert np.all(gnorms <= 1e-12)
    for row, i in enumerate(idx):
        w = np.ones(n)
        w[i] = 0.0
        one = T.train_newton(loss_fn, params, (X, Y), l2=L2, weights=w, tol=1e-12).params
        got = jax.tree_util.tree_map(lambda a: a[row], stacked)
        assert np.allclose(ravel_pytree(got)[0], ravel_pytree(one)[0], rtol=0, atol=1e-8)
        # weight 0 is removal: deleting the row and rescaling l2 by n/(n−1) has the same minimiser
        keep = np.arange(n) != i
        deleted = T.train_newton(loss_fn, params, (X[keep], Y[keep]), l2=L2 * n / (n - 1), tol=1e-12).params
        assert np.allclose(ravel_pytree(got)[0], ravel_pytree(deleted)[0], rtol=0, atol=1e-8)


@pytest.mark.slow
def test_influence_predicts_leave_one_out_on_digits():
    """Koh & Liang Fig 2 (left), binary 1 vs 7: Pearson R ≥ 0.99 over the 40 most influential points."""
    ds = D.binary_subset(D.load_digits(), (1, 7))
    train = (ds.x_train, ds.y_train)
    fit = T.train_newton(loss_fn, M.linear_init(64), train, l2=L2, tol=1e-12)
    test_losses = jax.vmap(loss_fn, (None, 0, 0))(fit.params, ds.x_test, ds.y_test)
    t = int(np.argmax(test_losses))
    z_test = (ds.x_test[t], ds.y_test[t])
    scores = I.influence_up_loss(loss_fn, fit.params, train, z_test, l2=L2, solver=I.CG())
    top = np.argsort(-np.abs(scores))[:40]
    retrained, _ = I.leave_one_out(loss_fn, fit.params, train, top, l2=L2, tol=1e-12)
    actual = jax.vmap(loss_fn, (0, None, None))(retrained, *z_test) - loss_fn(fit.params, *z_test)
    predicted = -scores[top] / len(ds.y_train)
    assert np.corrcoef(actual, predicted)[0, 1] >= 0.99
    slope = (actual @ predicted) / (predicted @ predicted)  # first order: the points lie near the diagonal
    assert 0.8 < slope < 1.3


@pytest.fixture(scope="module")
def mlp():
    """A small tanh MLP (non-convex), a little trained: its Hessian has negative eigenvalues."""
    ds = D.load_digits(n_train=100)
    params = M.mlp_init(jax.random.key(0), [64, 6, 10])
    f = M.example_loss(M.mlp_apply, M.cross_entropy)
    fit = T.train_lbfgs(f, params, (ds.x_train, ds.y_train), l2=1e-4, max_steps=30)
    return f, fit.params, (ds.x_train, ds.y_train), (ds.x_test[0], ds.y_test[0])


def test_hessian_in_example_blocks_is_jax_hessian_of_the_objective(logreg, mlp):
    """influence.hessian sums per-block Hessians (blocks padded with weight-0 examples): the same matrix as
    jax.hessian of R for a non-convex MLP (100 points: blocks of 7, 10 and all) and the closed form for logistic
    regression."""
    f, params, train, _ = mlp
    R, w, _ = T.flat_risk(f, params, train, l2=1e-4)
    expected = np.asarray(jax.hessian(R)(w))
    for block, columns in ((7, 5), (10, 16), (1000, 64)):
        H = np.asarray(I.hessian(f, params, train, l2=1e-4, examples_per_block=block, columns_per_batch=columns))
        np.testing.assert_allclose(H, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    assert np.linalg.eigvalsh(expected)[0] < 0                       # a non-convex case, not only a PSD one
    lparams, ltrain, ltest = logreg
    np.testing.assert_allclose(I.hessian(loss_fn, lparams, ltrain, l2=L2, examples_per_block=13),
                               closed_form(lparams, ltrain, ltest)[0], rtol=1e-10, atol=1e-13)


def test_hessian_is_exact_whatever_order_the_model_reads_its_leaves(monkeypatch):
    """influence.hessian takes each leaf group's columns against that group and the leaves read after it, and mirrors
    the rest: the matrix must not depend on that order. The read order is found (a CNN with a hidden layer: tree
    order conv1, conv2, dense, hidden; read order conv1, conv2, hidden, dense; the same order inside a jitted loss);
    then that CNN, an MLP with 12 leaves (cut into 8 groups) listed output layer first, and a model with a scalar, an
    unread and an empty leaf, each against jax.hessian of R under the found order and its reverse."""
    ds = D.load_mnist_subset(side=8)
    train = (jnp.asarray(ds.x_train[:30]), jnp.asarray(ds.y_train[:30]))
    cnn = M.cnn_init(jax.random.key(1), 8, channels=(2, 3), hidden=4)
    f = M.example_loss(M.cnn_apply, M.cross_entropy)
    names = [jax.tree_util.keystr(k) for k, _ in jax.tree_util.tree_flatten_with_path(cnn)[0]]
    leaves, treedef = jax.tree_util.tree_flatten(cnn)
    read = [[names[j] for j in I._read_order(lambda ls: g(treedef.unflatten(ls), *train), leaves)]
            for g in (jax.vmap(f, (None, 0, 0)), jax.jit(jax.vmap(f, (None, 0, 0))))]
    assert read[0] == read[1] and read[0][4:] == ["['hidden']['w']", "['hidden']['b']", "['dense']['w']",
                                                  "['dense']['b']"]
    mlp = M.mlp_init(jax.random.key(2), [64, 3, 3, 3, 3, 3, 10])
    reversed_mlp = lambda p, x, y: M.example_loss(M.mlp_apply, M.cross_entropy)(p[::-1], x, y)
    odd = {"scale": jnp.asarray(0.7), "unused": jnp.ones(3), "empty": jnp.zeros((0, 2)), "w": mlp[0]["w"][:, :10]}
    odd_loss = lambda p, x, y: M.cross_entropy(p["scale"] * jnp.tanh(x @ p["w"]), y)
    found = I._read_order
    orders = [None, lambda fn, ls: found(fn, ls)[::-1]]
    for loss, params in ((f, cnn), (reversed_mlp, mlp[::-1]), (odd_loss, odd)):
        R, w, _ = T.flat_risk(loss, params, train, l2=1e-3)
        expected = np.asarray(jax.jit(jax.hessian(R))(w))
        for order in orders:
            monkeypatch.setattr(I, "_read_order", found if order is None else order)
            I._hessian.clear_cache()
            H = np.asarray(I.hessian(loss, params, train, l2=1e-3, examples_per_block=7, columns_per_batch=5))
            np.testing.assert_allclose(H, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    monkeypatch.setattr(I, "_read_order", found)
    I._hessian.clear_cache()


@pytest.mark.parametrize("case, error, message", [
    ("float32 params", TypeError, "`params` has dtype float32"),
    ("nan training input", ValueError, "`train X` contains 1 NaN"),
    ("empty training set", ValueError, "training set is empty"),
    ("negative l2", ValueError, "l2 must be a finite number ≥ 0"),
    ("examples_per_block 0", ValueError, "examples_per_block must be a whole number > 0"),
    ("examples_per_block 2.5", ValueError, "examples_per_block must be a whole number > 0"),
    ("columns_per_batch -1", ValueError, "columns_per_batch must be a whole number > 0"),
    ("inside jit", TypeError, "check=False"),
    ("from_hessian: H of the wrong shape", ValueError, r"H has shape \(64, 64\); expected \(65, 65\)"),
    ("from_hessian: float32 H", TypeError, "`H` has dtype float32"),
    ("from_hessian: nan in H", ValueError, "`H` contains 1 NaN"),
    ("from_hessian: negative damping", ValueError, "damping must be a finite number ≥ 0"),
    ("from_hessian: nan training input", ValueError, "`train X` contains 1 NaN"),
    ("from_factor: not a Cholesky factor", ValueError, "lower Cholesky factor"),
    ("from_factor: H, not its factor", ValueError, "lower triangular"),
    ("from_factor: the upper factor", ValueError, "lower triangular"),
    ("integer parameter", TypeError, "has dtype int"),
])
def test_hessian_and_factorization_constructors_check_their_input(logreg, case, error, message):
    params, (X, Y), _ = logreg
    H = np.asarray(I.hessian(loss_fn, params, (X, Y), l2=L2))
    train, kwargs = (X, Y), dict(l2=L2)
    if case == "float32 params":
        params = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float32), params)
    elif case == "integer parameter":
        params = {**params, "step": np.asarray(3)}
    elif case.endswith("nan training input"):
        train = (nan_at(X, (7, 2)), Y)
    elif case == "empty training set":
        train = (X[:0], Y[:0])
    elif case == "negative l2":
        kwargs["l2"] = -0.1
    elif case.startswith(("examples", "columns")):
        name, value = case.split()
        kwargs[name] = float(value) if "." in value else int(value)
    elif case == "inside jit":
        with pytest.raises(error, match=message):
            jax.jit(lambda p: I.hessian(loss_fn, p, train, l2=L2))(params)
        return
    elif case == "from_hessian: H of the wrong shape":
        H = H[1:, 1:]
    elif case == "from_hessian: float32 H":
        H = H.astype(np.float32)
    elif case == "from_hessian: nan in H":
        H = nan_at(H, (3, 4))
    elif case == "from_hessian: negative damping":
        kwargs["damping"] = -1e-3
    with pytest.raises(error, match=message):
        if case.startswith("from_factor"):
            L = {"from_factor: not a Cholesky factor": -np.linalg.cholesky(H), "from_factor: H, not its factor": H,
                 "from_factor: the upper factor": np.linalg.cholesky(H).T}[case]
            I.Factorization.from_factor(loss_fn, params, train, L, **kwargs)
        elif case.startswith("from_hessian"):
            I.Factorization.from_hessian(loss_fn, params, train, H, **kwargs)
        else:
            I.hessian(loss_fn, params, train, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("solver", [I.Exact(), I.CG(), I.LiSSA(scale=10.0, depth=100)], ids=["exact", "cg", "lissa"])
def test_negative_curvature_without_damping_is_an_error_naming_damping(mlp, solver):
    f, params, train, test = mlp
    with pytest.raises(NotPositiveDefiniteError, match=r"try damping=\d"):
        I.influence_up_loss(f, params, train, test, l2=1e-4, solver=solver)


@pytest.mark.slow
def test_damping_fixes_the_nonconvex_case_and_solvers_agree(mlp):
    f, params, train, test = mlp
    exact = I.influence_up_loss(f, params, train, test, l2=1e-4, solver=I.Exact(), damping=0.1)
    cg = I.influence_up_loss(f, params, train, test, l2=1e-4, solver=I.CG(), damping=0.1)
    assert np.allclose(cg, exact, rtol=1e-6, atol=1e-9)


@pytest.mark.slow
def test_preconditioned_leave_one_out_on_a_cnn_matches_plain_retraining_and_influence(mlp):
    """Warm-started LOO of a small CNN: L-BFGS preconditioned by the factored Hessian reaches the same retrained
    model as plain L-BFGS, and the exact influence predicts the retrained test-loss changes (R ≥ 0.98)."""
    ds = D.load_digits(n_train=300)
    f = M.example_loss(M.cnn_apply, M.cross_entropy)
    train = (ds.x_train, ds.y_train)
    fit = T.train_lbfgs(f, M.cnn_init(jax.random.key(1), 8, channels=(4, 4)), train, l2=0.01, tol=1e-10)
    z_test = (ds.x_test[0], ds.y_test[0])
    scores = I.influence_up_loss(f, fit.params, train, z_test, l2=0.01, solver=I.Exact())
    idx = np.argsort(-np.abs(scores))[:12]
    pre, g_pre = I.leave_one_out(f, fit.params, train, idx, l2=0.01, method="lbfgs", factor=True, tol=1e-10)
    plain, g_plain = I.leave_one_out(f, fit.params, train, idx[:1], l2=0.01, method="lbfgs", tol=1e-10)
    w, unravel = ravel_pytree(fit.params)
    H = jax.jit(lambda w: C.hessian_matrix(lambda v: T.empirical_risk(f, unravel(v), train, l2=0.01), w))(w)
    given, _ = I.leave_one_out(f, fit.params, train, idx[:3], l2=0.01, method="lbfgs", factor=np.linalg.cholesky(H),
                               tol=1e-10)
    assert np.allclose(
        ravel_pytree(given)[0], ravel_pytree(jax.tree_util.tree_map(lambda a: a[:3], pre))[0], atol=1e-10
    )
    with pytest.raises(ValueError, match="Cholesky factor"):
        I.leave_one_out(f, fit.params, train, idx[:3], l2=0.01, method="lbfgs", factor=np.eye(3))
    assert np.all(g_pre <= 1e-10) and np.all(g_plain <= 1e-10)
    test_loss = lambda stacked: jax.vmap(f, (0, None, None))(stacked, *z_test)
    # (compare losses, not θ: a network can have flat directions along which θ moves and the function does not)
    assert np.isclose(test_loss(pre)[0], test_loss(plain)[0], rtol=0, atol=1e-7)
    actual = test_loss(pre) - f(fit.params, *z_test)
    assert np.corrcoef(actual, -scores[idx] / len(train[1]))[0, 1] >= 0.98
    f_mlp, params, mlp_train, _ = mlp  # an unconverged non-convex model: H has negative eigenvalues
    with pytest.raises(NotPositiveDefiniteError, match="try damping"):
        I.leave_one_out(f_mlp, params, mlp_train, [0], l2=1e-4, method="lbfgs", factor=True)
    with pytest.raises(ValueError, match="method='lbfgs'"):
        I.leave_one_out(f_mlp, params, mlp_train, [0], l2=1e-4, factor=True)


def test_clear_errors_for_misuse(logreg, float32_jax):
    params, (X, Y), test = logreg
    with pytest.raises(ValueError, match=r"test x has shape \(63,\)"):
        I.influence_up_loss(loss_fn, params, (X, Y), (test[0][0][:63], test[1][0]), l2=L2)
    with pytest.raises(TypeError, match="`params` has dtype float32"):
        I.influence_up_loss(loss_fn, jax.tree_util.tree_map(lambda a: np.asarray(a, np.float32), params),
                            (X, Y), test, l2=L2)
    with pytest.raises(TypeError, match="`train X` has dtype float32"):
        I.influence_up_loss(loss_fn, params, (np.asarray(X, np.float32), Y), test, l2=L2)
    with pytest.raises(ValueError, match="train Y has 119"):
        I.influence_up_loss(loss_fn, params, (X, Y[:119]), test, l2=L2)
    with pytest.raises(TypeError, match=r"solver must be Exact\(\), CG"):
        I.influence_up_loss(loss_fn, params, (X, Y), test, l2=L2, solver="cg")
    with pytest.raises(ValueError, match="test y has 4"):
        I.influence_up_loss(loss_fn, params, (X, Y), (test[0], test[1][:4]), l2=L2)
    with float32_jax():
        with pytest.raises(TypeError, match="jax_enable_x64"):
            I.influence_up_loss(loss_fn, params, (X, Y), test, l2=L2)


def nan_at(a, index):
    a = np.array(a, dtype=np.float64)
    a[index] = np.nan
    return a


@pytest.mark.parametrize("case, error, message", [
    ("nan test input", ValueError, "`test x` contains 1 NaN"),
    ("inf parameter", ValueError, "`params` contains 1 NaN or infinite"),
    ("nan training input", ValueError, "`train X` contains 1 NaN"),
    ("empty training set", ValueError, "training set is empty"),
    ("negative l2", ValueError, "l2 must be a finite number ≥ 0"),
    ("negative damping", ValueError, "damping must be a finite number ≥ 0"),
    ("lissa depth 0", ValueError, "LiSSA depth must be a whole number > 0"),
    ("lissa scale 0", ValueError, "LiSSA scale must be a finite number > 0"),
    ("lissa repeats without minibatch", ValueError, "set minibatch="),
    ("stochastic lissa without key", ValueError, "pass key="),
    ("cg maxiter 0", ValueError, "CG maxiter must be a whole number > 0"),
])
def test_bad_input_gets_a_clear_error_not_a_silent_answer(logreg, case, error, message):
    params, (X, Y), test = logreg
    kwargs = dict(l2=L2, solver=I.CG())
    train, one = (X, Y), (test[0][0], test[1][0])
    if case == "nan test input":
        one = (nan_at(one[0], 3), one[1])
    elif case == "inf parameter":
        params = {**params, "w": np.where(np.arange(64) == 5, np.inf, params["w"])}
    elif case == "nan training input":
        train = (nan_at(X, (7, 2)), Y)
    elif case == "empty training set":
        train = (X[:0], Y[:0])
    elif case == "negative l2":
        kwargs["l2"] = -0.1
    elif case == "negative damping":
        kwargs["damping"] = -1e-3
    elif case == "lissa depth 0":
        kwargs["solver"] = I.LiSSA(scale=1.0, depth=0)
    elif case == "lissa scale 0":
        kwargs["solver"] = I.LiSSA(scale=0.0, depth=10)
    elif case == "lissa repeats without minibatch":
        kwargs["solver"] = I.LiSSA(scale=1.0, depth=10, repeats=4)
    elif case == "stochastic lissa without key":
        kwargs["solver"] = I.LiSSA(scale=1.0, depth=10, minibatch=8)
    elif case == "cg maxiter 0":
        kwargs["solver"] = I.CG(maxiter=0)
    with pytest.raises(error, match=message):
        I.influence_up_loss(loss_fn, params, train, one, **kwargs)


@pytest.mark.parametrize("indices, message", [([3, 120], r"indices must lie in 0..119"), ([-1], r"lie in 0..119"),
                                              ([2, 2], "repeats"), ([], "non-empty"), ([0.5], "integers")])
def test_leave_one_out_refuses_indices_jax_would_clamp(logreg, indices, message):
    params, train, _ = logreg
    with pytest.raises(ValueError, match=message):
        I.leave_one_out(loss_fn, params, train, np.asarray(indices), l2=L2)


@pytest.mark.slow
def test_checks_are_a_separate_step_and_everything_traces_without_them(logreg):
    params, train, test = logreg
    expected = I.influence_up_loss(loss_fn, params, train, test, l2=L2, solver=I.CG(tol=1e-12))
    for solver in (I.Exact(), I.CG(tol=1e-12)):
        jitted = jax.jit(lambda p, xt: I.influence_up_loss(loss_fn, p, train, (xt, test[1]), l2=L2, solver=solver,
                                                            check=False))
        assert np.allclose(jitted(params, test[0]), expected, rtol=1e-7, atol=1e-10)
    per_point = jax.vmap(lambda x, y: I.influence_up_loss(loss_fn, params, train, (x, y), l2=L2, check=False))
    assert np.allclose(per_point(*test), expected, rtol=1e-7, atol=1e-10)
    with pytest.raises(TypeError, match="check=False"):
        jax.jit(lambda p: I.influence_up_loss(loss_fn, p, train, test, l2=L2))(params)


def test_exact_solver_factors_each_model_once_and_answers_new_test_points_from_it(logreg):
    params, train, test = logreg
    H, G, G_test = closed_form(params, train, test)
    first = I.influence_up_loss(loss_fn, params, train, (test[0][:2], test[1][:2]), l2=L2, solver=I.Exact())
    cached = I._FACTORS[loss_fn]
    second = I.influence_up_loss(loss_fn, params, train, (test[0][2:], test[1][2:]), l2=L2, solver=I.Exact())
    assert I._FACTORS[loss_fn] is cached                       # no new Hessian for new test points
    expected = -G_test @ np.linalg.solve(H, G.T)
    assert np.allclose(np.vstack([first, second]), expected, rtol=1e-9)
    moved = jax.tree_util.tree_map(lambda a: a + 1e-3, params)  # another model: a new factor
    I.influence_up_loss(loss_fn, moved, train, test, l2=L2, solver=I.Exact())
    assert I._FACTORS[loss_fn] is not cached


def test_factorization_answers_every_query_like_the_functions(logreg):
    params, train, test = logreg
    H, G, G_test = closed_form(params, train, test)
    fac = I.factorize(loss_fn, params, train, l2=L2, damping=0.1)
    Hd = H + 0.1 * np.eye(len(H))
    assert np.allclose(fac.up_loss(test), -G_test @ np.linalg.solve(Hd, G.T), rtol=1e-9)
    assert np.allclose(fac.self_influence(), -np.einsum("ip,ip->i", G, np.linalg.solve(Hd, G.T).T), rtol=1e-9)
    flat = jax.vmap(lambda p: ravel_pytree(p)[0])(fac.up_params())
    assert np.allclose(flat, -np.linalg.solve(Hd, G.T).T, rtol=1e-9)
    # factor once: the training gradients and their solves are kept, so a query is the test gradients times S
    assert np.allclose(fac.grads, G, rtol=1e-12) and np.allclose(fac.solved, np.linalg.solve(Hd, G.T), rtol=1e-9)
    from_H = I.Factorization.from_hessian(loss_fn, params, train, jnp.asarray(H), l2=L2, damping=0.1)
    assert np.allclose(from_H.solved, fac.solved, rtol=1e-9) and np.allclose(from_H.up_loss(test), fac.up_loss(test))
    one = fac.up_loss((test[0][0], test[1][0]))
    assert one.shape == (len(G),) and np.allclose(one, -G_test[0] @ np.linalg.solve(Hd, G.T), rtol=1e-9)
