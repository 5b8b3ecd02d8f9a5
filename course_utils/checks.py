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


def _random_spd(seed, d=5, kappa=50.0):
    """A random symmetric positive-definite d×d matrix with eigenvalues from 1 to kappa (float64)."""
    Q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return jnp.asarray(Q @ np.diag(np.geomspace(1.0, kappa, d)) @ Q.T)


def check_gd_closed_form(gd_fn, n_problems=3):
    """Check ``gd_fn(H, w0, w_star, eta, t)`` returns the t-th GD iterate on ½(w−w*)ᵀH(w−w*)."""
    for seed in range(n_problems):
        H = _random_spd(3000 + seed)
        rng = np.random.default_rng(seed)
        w0, w_star = jnp.asarray(rng.normal(size=5)), jnp.asarray(rng.normal(size=5))
        eta = 1.5 / float(jnp.linalg.eigvalsh(H)[-1])
        w, iterates = w0, [w0]
        for _ in range(31):
            w = w - eta * H @ (w - w_star)
            iterates.append(w)
        for t in (0, 1, 7, 30):
            got = np.asarray(gd_fn(H, w0, w_star, eta, t))
            if got.shape != (5,):
                raise AssertionError(f"gd_closed_form should return a vector of shape (5,); got shape {got.shape}.")
            if np.allclose(got, iterates[t], rtol=1e-8, atol=1e-10):
                continue
            if np.allclose(got, iterates[t + 1], rtol=1e-8, atol=1e-10):
                raise AssertionError(f"gd_closed_form at t={t} returned w_{t + 1}: an off-by-one in the exponent.")
            if t > 0 and np.allclose(got, iterates[t - 1], rtol=1e-8, atol=1e-10):
                raise AssertionError(f"gd_closed_form at t={t} returned w_{t - 1}: an off-by-one in the exponent.")
            if np.allclose(got, iterates[t] - w_star, rtol=1e-8, atol=1e-10):
                raise AssertionError("gd_closed_form returned the error w_t − w*; add w* back.")
            lam, Q = np.linalg.eigh(np.asarray(H))
            if np.allclose(got, Q.T @ (iterates[t] - w_star), rtol=1e-6, atol=1e-10):
                raise AssertionError("gd_closed_form returned eigenbasis coordinates; rotate back with Q and add w*.")
            raise AssertionError(f"gd_closed_form at t={t} differs from simulated GD "
                                 f"(max abs error {np.max(np.abs(got - np.asarray(iterates[t]))):.3g}).")
    print(f"Correct! Your closed form matches simulated gradient descent on {n_problems} random problems.")


def check_best_step(best_step_fn, n_problems=3):
    """Check ``best_step_fn(H)`` returns (η*, rate): the best fixed GD step and its per-step contraction."""
    for seed, kappa in zip(range(n_problems), (10.0, 50.0, 400.0)):
        H = 3.0 * _random_spd(4000 + seed, kappa=kappa)
        lam = np.linalg.eigvalsh(np.asarray(H))
        result = best_step_fn(H)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise AssertionError("best_step should return a pair (eta, rate).")
        eta, rate = float(result[0]), float(result[1])
        eta_ok, rate_ok = 2 / (lam[0] + lam[-1]), (kappa - 1) / (kappa + 1)
        if np.isclose(eta, 2 / lam[-1]):
            raise AssertionError("η = 2/λmax is the edge of divergence (the top direction has |1 − ηλ| = 1), "
                                 "not the best step: balance the largest and the smallest eigenvalue.")
        if np.isclose(eta, 1 / lam[-1]):
            raise AssertionError("η = 1/λmax kills the top direction in one step but leaves the smallest at rate "
                                 "1 − 1/κ; the best step balances |1 − ηλmin| and |1 − ηλmax|.")
        if not np.isclose(eta, eta_ok, rtol=1e-8):
            raise AssertionError(f"eta is off: got {eta:.6g} for a problem where the best step is {eta_ok:.6g}.")
        worst = max(abs(1 - eta * lam[0]), abs(1 - eta * lam[-1]))
        if not np.isclose(rate, worst, rtol=1e-8):
            raise AssertionError(f"rate should be the per-step contraction max|1 − η*λ| = {worst:.6g} at your η; "
                                 f"got {rate:.6g}.")
        assert np.isclose(rate, rate_ok, rtol=1e-8)
    print(f"Correct! Best step and rate match on {n_problems} problems (κ = 10, 50, 400).")


def _random_logistic_risk(seed, n=30, d=4):
    """A random L2-regularised logistic-regression risk of a flat vector (strictly convex), and a start point."""
    rng = np.random.default_rng(seed)
    X, y = jnp.asarray(rng.normal(size=(n, d))), jnp.asarray(rng.choice([-1.0, 1.0], size=n))
    R = lambda w: jnp.mean(jax.nn.softplus(-y * (X @ w))) + 0.05 * jnp.sum(w ** 2)
    return R, jnp.asarray(rng.normal(size=d))


def check_newton_step(newton_fn, n_problems=3):
    """Check ``newton_fn(R, w)`` returns w − ∇²R(w)⁻¹ ∇R(w) on random logistic-regression problems."""
    for seed in range(n_problems):
        R, w = _random_logistic_risk(5000 + seed)
        g, H = jax.grad(R)(w), jax.hessian(R)(w)
        expected = w - jnp.linalg.solve(H, g)
        got = np.asarray(newton_fn(R, w))
        if got.shape != w.shape:
            raise AssertionError(f"newton_step should return a vector shaped like w {w.shape}; got {got.shape}.")
        if np.allclose(got, expected, rtol=1e-8, atol=1e-10):
            continue
        if np.allclose(got, w + jnp.linalg.solve(H, g), rtol=1e-8, atol=1e-10):
            raise AssertionError("newton_step moved uphill: subtract H⁻¹∇R, don't add it.")
        if np.allclose(got, w - g, rtol=1e-8, atol=1e-10):
            raise AssertionError("newton_step took a gradient step w − ∇R; precondition with the inverse Hessian.")
        if np.allclose(got, w - H @ g, rtol=1e-8, atol=1e-10):
            raise AssertionError("newton_step multiplied by H instead of solving with it: use jnp.linalg.solve(H, g).")
        raise AssertionError(f"newton_step differs from the reference (max abs error {np.max(np.abs(got - expected)):.3g}).")
    print(f"Correct! Your Newton step matches the reference on {n_problems} random problems.")


def check_gauss_newton_matrix(gn_fn, n_problems=3):
    """Check ``gn_fn(J, logits)`` returns (1/n) Σ Jᵢᵀ (diag(pᵢ) − pᵢpᵢᵀ) Jᵢ with pᵢ = softmax(logitsᵢ)."""
    for seed in range(n_problems):
        rng = np.random.default_rng(6000 + seed)
        n, k, p = 6, 4, 5
        J, logits = jnp.asarray(rng.normal(size=(n, k, p))), jnp.asarray(rng.normal(size=(n, k)))
        out_h = jax.vmap(jax.hessian(lambda f: models.cross_entropy(f, 0)))(logits)   # label-independent
        expected = np.asarray(jnp.einsum("nkp,nkl,nlq->pq", J, out_h, J) / n)
        got = np.asarray(gn_fn(J, logits))
        if got.shape != (p, p):
            raise AssertionError(f"gauss_newton_matrix should return a (p, p) = ({p}, {p}) matrix; got {got.shape}.")
        if np.allclose(got, expected, rtol=1e-8, atol=1e-10):
            continue
        if np.allclose(got, n * expected, rtol=1e-8, atol=1e-10):
            raise AssertionError("gauss_newton_matrix is n × too large: average over examples, don't sum.")
        probs = jax.nn.softmax(logits)
        diag_only = np.asarray(jnp.einsum("nkp,nk,nkq->pq", J, probs, J) / n)
        if np.allclose(got, diag_only, rtol=1e-8, atol=1e-10):
            raise AssertionError("gauss_newton_matrix used diag(p) as the output Hessian; it is diag(p) − p pᵀ.")
        if np.allclose(got, np.asarray(jnp.einsum("nkp,nkq->pq", J, J) / n), rtol=1e-8, atol=1e-10):
            raise AssertionError("gauss_newton_matrix returned JᵀJ: that is the Gauss-Newton matrix of squared "
                                 "error, not of softmax cross-entropy; put diag(p) − p pᵀ between the Jacobians.")
        raise AssertionError(f"gauss_newton_matrix differs from the reference "
                             f"(max abs error {np.max(np.abs(got - expected)):.3g}).")
    print(f"Correct! Your Gauss-Newton matrix matches the reference on {n_problems} random problems.")


def check_gnvp_squared_error(gnvp_fn, n_problems=3):
    """Check ``gnvp_fn(model_fn, params, v)`` returns G·v = (1/n) Jᵀ J v for the mean squared-error loss."""
    for seed in range(n_problems):
        f, params, v = _random_mlp_problem(7000 + seed)
        X = jax.random.normal(jax.random.PRNGKey(7100 + seed), (6, 3))
        model_fn = lambda p: jax.vmap(lambda x: models.mlp_apply(p, x))(X)
        out_loss = lambda out: 0.5 * jnp.sum(out ** 2) / out.shape[0]   # G does not depend on the targets
        got = _flat_or_hint(gnvp_fn(model_fn, params, v), params, "gnvp_squared_error(model_fn, params, v)")
        expected = ravel_pytree(curvature.gnvp(model_fn, out_loss, params, v))[0]
        hessian_v = ravel_pytree(curvature.hvp(lambda p: out_loss(model_fn(p)), params, v))[0]
        if np.allclose(got, hessian_v, rtol=1e-8, atol=1e-10) and not np.allclose(hessian_v, expected):
            raise AssertionError("gnvp_squared_error returned the full Hessian-vector product; the Gauss-Newton "
                                 "product is Jᵀ(J v)/n: a jvp, then a vjp, with no second derivative of the model.")
        _compare(got, expected, "gnvp_squared_error(model_fn, params, v)")
    print(f"Correct! Your Gauss-Newton product matches the reference on {n_problems} random networks.")


def check_power_iteration(power_fn, n_problems=3):
    """Check ``power_fn(matvec, v0, iters)`` returns the eigenvalue of largest magnitude (with its sign)."""
    for seed, top in zip(range(n_problems), (3.0, -3.0, 2.0)):
        rng = np.random.default_rng(8000 + seed)
        Q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
        eig = np.r_[top, rng.uniform(-1.0, 1.0, 11)]
        A = jnp.asarray((Q * eig) @ Q.T)
        v0 = jnp.asarray(rng.normal(size=12))
        got = power_fn(lambda v: A @ v, v0, 200)
        if np.ndim(got) != 0:
            raise AssertionError(f"power_iteration should return one number (the eigenvalue); got shape {np.shape(got)}.")
        got = float(got)
        if np.isclose(got, top, rtol=1e-6):
            continue
        if np.isclose(got, abs(top), rtol=1e-6):
            raise AssertionError("power_iteration returned |λ|, losing the sign of a negative dominant eigenvalue: "
                                 "return the Rayleigh quotient vᵀAv of the unit vector v.")
        if not np.isfinite(got) or abs(got) > 1e6:
            raise AssertionError("power_iteration blew up: normalise v to unit length after every product.")
        raise AssertionError(f"power_iteration returned {got:.6g}; the dominant eigenvalue is {top:g}.")
    print(f"Correct! Your power iteration finds the dominant eigenvalue (positive and negative) on {n_problems} matrices.")


def check_conjugate_gradient(cg_fn, n_problems=3):
    """Check ``cg_fn(matvec, b, iters)`` returns the CG iterate after ``iters`` steps from x₀ = 0."""
    for seed in range(n_problems):
        A = _random_spd(9000 + seed, d=8, kappa=100.0)
        b = jnp.asarray(np.random.default_rng(seed).normal(size=8))
        for iters in (1, 3, 8):
            expected = np.asarray(jax.scipy.sparse.linalg.cg(lambda v: A @ v, b, tol=0.0, atol=0.0, maxiter=iters)[0])
            got = np.asarray(cg_fn(lambda v: A @ v, b, iters))
            if got.shape != b.shape:
                raise AssertionError(f"conjugate_gradient should return a vector shaped like b {b.shape}; got {got.shape}.")
            if np.allclose(got, expected, rtol=1e-7, atol=1e-9):
                continue
            if np.allclose(got, b - A @ expected, rtol=1e-7, atol=1e-9):
                raise AssertionError("conjugate_gradient returned the residual b − Ax; return the iterate x.")
            A_np, x, r = np.asarray(A), np.zeros(8), np.asarray(b)
            for _ in range(iters):  # steepest descent with exact line search: the classic mistake
                step = (r @ r) / (r @ A_np @ r)
                x, r = x + step * r, r - step * (A_np @ r)
            if np.allclose(got, x, rtol=1e-7, atol=1e-9):
                raise AssertionError("conjugate_gradient took steepest-descent steps (direction = residual): make each "
                                     "new direction A-conjugate, d ← r_new + (r_newᵀr_new / rᵀr) d.")
            raise AssertionError(f"conjugate_gradient after {iters} iterations differs from CG "
                                 f"(max abs error {np.max(np.abs(got - expected)):.3g}).")
    print(f"Correct! Your CG matches the reference iterates on {n_problems} problems (after 1, 3 and 8 steps).")


def check_lissa_loop(lissa_fn, n_problems=3):
    """Check ``lissa_fn(matvec, b, scale, damping, depth)`` is LiSSA with damping in the units of A."""
    for seed in range(n_problems):
        A = _random_spd(9500 + seed, d=6, kappa=20.0) / 20.0
        b = jnp.asarray(np.random.default_rng(seed).normal(size=6))
        scale, damping, depth = 1.5, 0.05, 40
        ref = lambda d, dep=depth: np.asarray(curvature.lissa(lambda v: A @ v, b, scale=scale, damping=d, depth=dep,
                                                              check=False))
        got = np.asarray(lissa_fn(lambda v: A @ v, b, scale, damping, depth))
        if got.shape != b.shape:
            raise AssertionError(f"lissa_loop should return a vector shaped like b {b.shape}; got {got.shape}.")
        if np.allclose(got, ref(damping), rtol=1e-8, atol=1e-10):
            continue
        if np.allclose(got, scale * ref(damping), rtol=1e-8, atol=1e-10):
            raise AssertionError("lissa_loop forgot the final division by the scale: return h / scale.")
        if np.allclose(got, ref(scale * damping), rtol=1e-8, atol=1e-10):
            raise AssertionError("lissa_loop used Koh & Liang's convention, (1 − damping)·h: that damping is in units "
                                 "of the scale. Here damping is in the units of A: subtract (A h + damping·h) / scale.")
        if np.allclose(got, ref(damping, depth - 1), rtol=1e-8, atol=1e-10) or \
                np.allclose(got, ref(damping, depth + 1), rtol=1e-8, atol=1e-10):
            raise AssertionError("lissa_loop is one step off: start from h = b and take exactly `depth` steps.")
        raise AssertionError(f"lissa_loop differs from the reference (max abs error {np.max(np.abs(got - ref(damping))):.3g}).")
    print(f"Correct! Your LiSSA loop matches the reference on {n_problems} problems.")


def _random_binary_logistic(seed, n=25, d=4, l2=0.1):
    rng = np.random.default_rng(seed)
    X, Y = jnp.asarray(rng.normal(size=(n, d))), jnp.asarray(rng.choice([-1.0, 1.0], size=n))
    theta = jnp.asarray(rng.normal(size=d))
    x_test, y_test = jnp.asarray(rng.normal(size=d)), float(rng.choice([-1.0, 1.0]))
    return theta, X, Y, x_test, y_test, l2


def check_binary_influence(influence_fn, n_problems=3):
    """Check ``influence_fn(theta, X, Y, x_test, y_test, l2)`` is I_up,loss of every training point for binary
    logistic regression with logit θᵀx (no bias), labels ±1 and objective mean loss + (l2/2)‖θ‖²."""
    loss = lambda th, x, y: models.logistic_loss(th @ x, y)
    for seed in range(n_problems):
        theta, X, Y, x_test, y_test, l2 = _random_binary_logistic(9900 + seed)
        expected = np.asarray(influence.influence_up_loss(loss, theta, (X, Y), (x_test, y_test), l2=l2, solver="exact"))
        got = np.asarray(influence_fn(theta, X, Y, x_test, y_test, l2))
        if got.shape != expected.shape:
            raise AssertionError(f"binary_influence should return one number per training point, shape "
                                 f"{expected.shape}; got {got.shape}.")
        if np.allclose(got, expected, rtol=1e-7, atol=1e-10):
            continue
        if np.allclose(got, -expected, rtol=1e-7, atol=1e-10):
            raise AssertionError("binary_influence has the wrong sign: I_up,loss = −∇L(z_test)ᵀ H⁻¹ ∇L(z), positive "
                                 "for harmful points (up-weighting them raises the test loss).")
        z, zt = Y * (X @ theta), y_test * (theta @ x_test)
        sig = jax.nn.sigmoid
        H = (X * (sig(z) * sig(-z))[:, None]).T @ X / len(X)
        if np.allclose(got, np.asarray(-y_test * Y * sig(-zt) * sig(-z) * (X @ jnp.linalg.solve(H, x_test))),
                       rtol=1e-7, atol=1e-10):
            raise AssertionError("binary_influence: H is missing the L2 term; H = (1/n) Σ σ(z)σ(−z) x xᵀ + l2·I.")
        if np.allclose(np.corrcoef(got, np.asarray(-y_test * Y * sig(-zt) * sig(-z) * (X @ x_test)))[0, 1], 1.0):
            raise AssertionError("binary_influence uses the plain inner product x_testᵀx: weight it by H⁻¹.")
        raise AssertionError(f"binary_influence differs from the reference (max abs error "
                             f"{np.max(np.abs(got - expected)):.3g}); check σ(−y θᵀx) factors for the test and the "
                             "training point.")
    print(f"Correct! Your closed form matches influence_up_loss on {n_problems} random problems.")


def check_self_influence(self_influence_fn, n_problems=3):
    """Check ``self_influence_fn(G, H)`` returns −gᵢᵀH⁻¹gᵢ for every row gᵢ of G."""
    for seed in range(n_problems):
        rng = np.random.default_rng(9950 + seed)
        G, H = jnp.asarray(rng.normal(size=(7, 5))), _random_spd(9960 + seed, d=5, kappa=30.0)
        expected = -np.einsum("ip,ip->i", np.asarray(G), np.linalg.solve(np.asarray(H), np.asarray(G).T).T)
        got = np.asarray(self_influence_fn(G, H))
        if got.shape != (7,):
            raise AssertionError(f"self_influence should return one number per row of G, shape (7,); got {got.shape}.")
        if np.allclose(got, expected, rtol=1e-8, atol=1e-10):
            continue
        if np.allclose(got, -expected, rtol=1e-8, atol=1e-10):
            raise AssertionError("self_influence has the wrong sign: I_up,loss(z, z) = −gᵀH⁻¹g ≤ 0.")
        if np.allclose(np.abs(got), np.einsum("ip,pq,iq->i", np.asarray(G), np.asarray(H), np.asarray(G)), rtol=1e-8):
            raise AssertionError("self_influence multiplied by H; it needs H⁻¹ (solve with H).")
        raise AssertionError(f"self_influence differs from the reference (max abs error {np.max(np.abs(got - expected)):.3g}).")
    print(f"Correct! Your self-influence matches the reference on {n_problems} random problems.")


def check_influence_from_eigh(influence_fn, n_problems=3):
    """Check ``influence_fn(evals, evecs, G, g_test, damping)`` returns −G (H + δI)⁻¹ g_test for H = V diag(λ) Vᵀ."""
    for seed in range(n_problems):
        rng = np.random.default_rng(9970 + seed)
        H = np.asarray(_random_spd(9980 + seed, d=6, kappa=50.0)) - 0.05 * np.eye(6)  # slightly indefinite
        evals, evecs = np.linalg.eigh(H)
        G, g_test, damping = rng.normal(size=(8, 6)), rng.normal(size=6), 0.3
        expected = -G @ np.linalg.solve(H + damping * np.eye(6), g_test)
        got = np.asarray(influence_fn(jnp.asarray(evals), jnp.asarray(evecs), jnp.asarray(G), jnp.asarray(g_test), damping))
        if got.shape != (8,):
            raise AssertionError(f"influence should give one score per training point (row of G), shape (8,); got {got.shape}.")
        if np.allclose(got, expected, rtol=1e-8, atol=1e-10):
            continue
        if np.allclose(got, -expected, rtol=1e-8, atol=1e-10):
            raise AssertionError("The sign is flipped: I_up,loss = −∇L(z_test)ᵀ(H + δI)⁻¹∇L(z).")
        if np.allclose(got, -G @ np.linalg.solve(H, g_test), rtol=1e-8):
            raise AssertionError("The damping is missing: divide by (λᵢ + δ), not λᵢ.")
        if np.allclose(got, -G @ (g_test / (evals + damping)), rtol=1e-8):
            raise AssertionError("Divide in the eigenbasis: rotate g_test in with Vᵀ, divide by λᵢ + δ, rotate back with V.")
        raise AssertionError(f"influence differs from the reference (max abs error {np.max(np.abs(got - expected)):.3g}).")
    print(f"Correct! One eigendecomposition gives influence at any damping; matched on {n_problems} random problems.")


def check_bregman_cross_entropy(bregman_fn, n_problems=3):
    """Check ``bregman_fn(logits, logits_ref, y)``: the Bregman divergence of the cross-entropy in the logits,
    L(f) − L(f̂) − ∇L(f̂)ᵀ(f − f̂), for one example (integer class y)."""
    ce = lambda f, y: -jax.nn.log_softmax(f)[y]
    for seed in range(n_problems):
        rng = np.random.default_rng(9990 + seed)
        f, f_ref, y = jnp.asarray(rng.normal(size=5)), jnp.asarray(rng.normal(size=5)), int(rng.integers(5))
        grad_ref = jax.nn.softmax(f_ref) - jax.nn.one_hot(y, 5)
        expected = float(ce(f, y) - ce(f_ref, y) - grad_ref @ (f - f_ref))
        got = float(bregman_fn(f, f_ref, y))
        if np.isclose(got, expected, rtol=1e-9, atol=1e-12):
            if not abs(float(bregman_fn(f_ref, f_ref, y))) < 1e-12:
                raise AssertionError("The divergence of f̂ from itself must be 0.")
            continue
        if np.isclose(got, float(ce(f, y) - ce(f_ref, y)), rtol=1e-9):
            raise AssertionError("That is the change of the loss; subtract the linear term ∇L(f̂)ᵀ(f − f̂) as well.")
        if np.isclose(got, -expected, rtol=1e-9):
            raise AssertionError("The sign is flipped: a Bregman divergence of a convex loss is ≥ 0.")
        grad_at_f = jax.nn.softmax(f) - jax.nn.one_hot(y, 5)
        if np.isclose(got, float(ce(f, y) - ce(f_ref, y) - grad_at_f @ (f - f_ref)), rtol=1e-9):
            raise AssertionError("Take the gradient at the reference logits f̂ (softmax(f̂) − onehot(y)), not at f.")
        raise AssertionError(f"got {got:.6g}, expected {expected:.6g}.")
    print(f"Correct! Your Bregman divergence matches on {n_problems} random pairs of logits.")


def check_fraction_found(fraction_found_fn, n_problems=3):
    """Check ``fraction_found_fn(scores, flipped, checked)``: the fraction of the flipped indices among the
    round(checked·n) points with the LARGEST scores (a detector's ranking), for checked in (0, 1]."""
    for seed in range(n_problems):
        rng = np.random.default_rng(10010 + seed)
        n = 200
        scores, flipped = rng.normal(size=n), np.sort(rng.choice(n, 20, replace=False))
        scores[flipped] += 1.0
        for checked in (0.05, 0.1, 0.3):
            k = int(round(checked * n))
            expected = len(np.intersect1d(np.argsort(-scores)[:k], flipped)) / len(flipped)
            got = float(fraction_found_fn(jnp.asarray(scores), flipped, checked))
            if np.isclose(got, expected):
                continue
            if np.isclose(got, len(np.intersect1d(np.argsort(scores)[:k], flipped)) / len(flipped)):
                raise AssertionError("You checked the points with the SMALLEST scores; check the largest first.")
            if np.isclose(got, len(np.intersect1d(np.argsort(-scores)[:k], flipped)) / k):
                raise AssertionError("Divide by the number of flipped labels (the fraction *found*), not by the number checked.")
            raise AssertionError(f"checked={checked}: got {got:.4g}, expected {expected:.4g}.")
    print(f"Correct! Your detection curve matches the reference on {n_problems} random rankings.")


def check_project_8bit(project_fn, n_problems=3):
    """Check ``project_fn(x_new, x0, eps)``: the nearest valid 8-bit image (values k/255 in [0, 1]) within the L∞
    ball of radius eps (a multiple of 1/255) around the original image x0 (itself on the 8-bit grid)."""
    for seed in range(n_problems):
        rng = np.random.default_rng(10020 + seed)
        x0 = rng.integers(0, 256, size=64) / 255.0
        eps = 10 / 255.0
        x_new = x0 + rng.normal(scale=0.1, size=64)
        expected = np.round(np.clip(np.clip(x_new, x0 - eps, x0 + eps), 0.0, 1.0) * 255) / 255
        got = np.asarray(project_fn(jnp.asarray(x_new), jnp.asarray(x0), eps))
        if got.shape != x0.shape:
            raise AssertionError(f"Return one image shaped like x0 {x0.shape}; got {got.shape}.")
        if np.allclose(got, expected, atol=1e-12):
            continue
        if not np.allclose(got * 255, np.round(got * 255), atol=1e-9):
            raise AssertionError("Some pixels are not on the 8-bit grid k/255: round(x·255)/255 at the end.")
        if np.any(got < -1e-12) or np.any(got > 1 + 1e-12):
            raise AssertionError("Pixel values must stay in [0, 1]: clip to the valid range too.")
        if np.max(np.abs(got - x0)) > eps + 1e-9:
            raise AssertionError(f"The result leaves the L∞ ball: max |x − x0| = {np.max(np.abs(got - x0)):.4f} > eps.")
        raise AssertionError(f"Differs from the projection (max abs error {np.max(np.abs(got - expected)):.3g}).")
    print(f"Correct! Your projection gives valid 8-bit images inside the ball on {n_problems} random images.")
