"""Exercise checks: each tests a student's function on fresh random problems against the library's reference.

A check prints a short verdict when the answer is right, and raises ``AssertionError`` with a specific hint
(which shape or value is off, and what that usually means) when it is not.
"""
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from . import curvature, dynamics, models


__all__ = [
    "check_hvp",
    "check_gnvp_squared_error",
    "check_power_iteration",
    "check_conjugate_gradient",
    "check_lissa_loop",
    "check_self_influence",
    "check_influence_from_eigh",
    "check_bregman_cross_entropy",
    "check_project_8bit",
    "check_input_gradients",
    "check_loss_gap",
    "check_gd_limit",
    "check_best_momentum",
    "check_matching_step",
    "check_saddle_free_newton",
    "check_linear_layer_hessian",
    "check_damping_for_radius",
    "check_hutchinson_diagonal",
    "check_newton_loo",
    "check_label_margin",
    "check_diag_fisher_influence",
    "check_kron_solve",
]


def _random_mlp_problem(seed):
    """A small MLP with a scalar loss, random parameters and a random direction v (float64)."""
    key = jax.random.key(seed)
    sizes = [3, 4, 2]
    params = models.mlp_init(key, sizes)
    X = jax.random.normal(jax.random.fold_in(key, 1), (6, 3))
    Y = jax.random.normal(jax.random.fold_in(key, 2), (6, 2))
    f = lambda p: jnp.mean(jax.vmap(lambda x, y: models.squared_error(models.mlp_apply(p, x), y))(X, Y))
    flat, unravel = ravel_pytree(params)
    v = unravel(jax.random.normal(jax.random.fold_in(key, 3), flat.shape))
    return f, params, v


def _number(value, what):
    """``float(value)``, or an AssertionError saying that one number was expected (a stub returns None)."""
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise AssertionError(f"{what} should return one number; got {type(value).__name__} "
                             f"{np.shape(value) if value is not None else ''}.") from err


def _flat_or_hint(result, like, what):
    try:
        flat = ravel_pytree(result)[0]
    except Exception as err:  # not a pytree of arrays
        raise AssertionError(f"{what} should return a pytree shaped like params; got {type(result).__name__}.") from err
    expected = ravel_pytree(like)[0]
    if flat.shape != expected.shape or jax.tree_util.tree_structure(result) != jax.tree_util.tree_structure(like):
        raise AssertionError(
            f"{what} should return something shaped like params (a {jax.tree_util.tree_structure(like)}"
            f" with {expected.size} numbers); got {flat.size} numbers in {jax.tree_util.tree_structure(result)}."
        )
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
    raise AssertionError(
        f"{what}: values differ from the reference (max abs error {np.max(np.abs(got - expected)):.3g})."
    )


def check_hvp(hvp_fn, n_problems=3):
    """Check ``hvp_fn(f, params, v)`` computes ∇²f(params)·v, on random MLPs."""
    for seed in range(n_problems):
        f, params, v = _random_mlp_problem(1000 + seed)
        got = _flat_or_hint(hvp_fn(f, params, v), params, "hvp_fn(f, params, v)")
        expected = ravel_pytree(curvature.hvp(f, params, v))[0]
        _compare(got, expected, "hvp_fn(f, params, v)", hint_if_gradient=ravel_pytree(jax.grad(f)(params))[0])
    print(f"Correct! Your Hessian-vector product matches the reference on {n_problems} random networks.")


def _random_spd(seed, d=5, kappa=50.0):
    """A random symmetric positive-definite d×d matrix with eigenvalues from 1 to kappa (float64)."""
    Q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return jnp.asarray(Q @ np.diag(np.geomspace(1.0, kappa, d)) @ Q.T)


def check_gnvp_squared_error(gnvp_fn, n_problems=3):
    """Check ``gnvp_fn(model_fn, params, v)`` returns G·v = (1/n) Jᵀ J v for the mean squared-error loss."""
    for seed in range(n_problems):
        f, params, v = _random_mlp_problem(7000 + seed)
        X = jax.random.normal(jax.random.key(7100 + seed), (6, 3))
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
        if got is not None and np.ndim(got) != 0:
            raise AssertionError(
                f"power_iteration should return one number (the eigenvalue); got shape {np.shape(got)}."
            )
        got = _number(got, "power_iteration")
        if np.isclose(got, top, rtol=1e-6):
            continue
        if np.isclose(got, abs(top), rtol=1e-6):
            raise AssertionError("power_iteration returned |λ|, losing the sign of a negative dominant eigenvalue: "
                                 "return the Rayleigh quotient vᵀAv of the unit vector v.")
        if not np.isfinite(got) or abs(got) > 1e6:
            raise AssertionError("power_iteration blew up: normalise v to unit length after every product.")
        raise AssertionError(f"power_iteration returned {got:.6g}; the dominant eigenvalue is {top:g}.")
    print(
        f"Correct! Your power iteration finds the dominant eigenvalue (positive and negative) on {n_problems} matrices."
    )


def check_conjugate_gradient(cg_fn, n_problems=3):
    """Check ``cg_fn(matvec, b, iters)`` returns the CG iterate after ``iters`` steps from x₀ = 0."""
    for seed in range(n_problems):
        A = _random_spd(9000 + seed, d=8, kappa=100.0)
        b = jnp.asarray(np.random.default_rng(seed).normal(size=8))
        for iters in (1, 3, 8):
            expected = np.asarray(jax.scipy.sparse.linalg.cg(lambda v: A @ v, b, tol=0.0, atol=0.0, maxiter=iters)[0])
            got = np.asarray(cg_fn(lambda v: A @ v, b, iters))
            if got.shape != b.shape:
                raise AssertionError(
                    f"conjugate_gradient should return a vector shaped like b {b.shape}; got {got.shape}."
                )
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
        raise AssertionError(
            f"lissa_loop differs from the reference (max abs error {np.max(np.abs(got - ref(damping))):.3g})."
        )
    print(f"Correct! Your LiSSA loop matches the reference on {n_problems} problems.")


def _random_binary_logistic(seed, n=25, d=4, l2=0.1):
    rng = np.random.default_rng(seed)
    X, Y = jnp.asarray(rng.normal(size=(n, d))), jnp.asarray(rng.choice([-1.0, 1.0], size=n))
    theta = jnp.asarray(rng.normal(size=d))
    x_test, y_test = jnp.asarray(rng.normal(size=d)), float(rng.choice([-1.0, 1.0]))
    return theta, X, Y, x_test, y_test, l2


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
        raise AssertionError(
            f"self_influence differs from the reference (max abs error {np.max(np.abs(got - expected)):.3g})."
        )
    print(f"Correct! Your self-influence matches the reference on {n_problems} random problems.")


def check_influence_from_eigh(influence_fn, n_problems=3):
    """Check ``influence_fn(evals, evecs, G, g_test, damping)`` returns −G (H + δI)⁻¹ g_test for H = V diag(λ) Vᵀ."""
    for seed in range(n_problems):
        rng = np.random.default_rng(9970 + seed)
        H = np.asarray(_random_spd(9980 + seed, d=6, kappa=50.0)) - 0.05 * np.eye(6)  # slightly indefinite
        evals, evecs = np.linalg.eigh(H)
        G, g_test, damping = rng.normal(size=(8, 6)), rng.normal(size=6), 0.3
        expected = -G @ np.linalg.solve(H + damping * np.eye(6), g_test)
        got = np.asarray(
            influence_fn(jnp.asarray(evals), jnp.asarray(evecs), jnp.asarray(G), jnp.asarray(g_test), damping)
        )
        if got.shape != (8,):
            raise AssertionError(
                f"influence should give one score per training point (row of G), shape (8,); got {got.shape}."
            )
        if np.allclose(got, expected, rtol=1e-8, atol=1e-10):
            continue
        if np.allclose(got, -expected, rtol=1e-8, atol=1e-10):
            raise AssertionError("The sign is flipped: I_up,loss = −∇L(z_test)ᵀ(H + δI)⁻¹∇L(z).")
        if np.allclose(got, -G @ np.linalg.solve(H, g_test), rtol=1e-8):
            raise AssertionError("The damping is missing: divide by (λᵢ + δ), not λᵢ.")
        if np.allclose(got, -G @ (g_test / (evals + damping)), rtol=1e-8):
            raise AssertionError(
                "Divide in the eigenbasis: rotate g_test in with Vᵀ, divide by λᵢ + δ, rotate back with V."
            )
        raise AssertionError(
            f"influence differs from the reference (max abs error {np.max(np.abs(got - expected)):.3g})."
        )
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
        got = _number(bregman_fn(f, f_ref, y), "bregman_fn")
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


# --- checks for the exercises of issue 13 (answers not shown in the lessons) --------------------------------------


def _close(a, b, rtol=1e-8, atol=1e-10):
    return np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=rtol, atol=atol)


def check_input_gradients(input_grads_fn, n_problems=3):
    """Check ``input_grads_fn(loss, params, X, Y)`` returns ∇ₓ loss(params, xᵢ, yᵢ) for every example, shape (n, d)."""
    loss = models.example_loss(models.linear_apply, models.logistic_loss)
    for seed in range(n_problems):
        key = jax.random.key(11000 + seed)
        n, d = 6 + seed, 5
        params = {"w": jax.random.normal(key, (d,)), "b": jnp.asarray(0.2)}
        X = jax.random.normal(jax.random.fold_in(key, 1), (n, d))
        Y = jnp.where(jax.random.bernoulli(jax.random.fold_in(key, 2), 0.5, (n,)), 1.0, -1.0)
        expected = np.asarray(jax.vmap(jax.grad(loss, argnums=1), (None, 0, 0))(params, X, Y))
        got = input_grads_fn(loss, params, X, Y)
        if isinstance(got, dict):
            raise AssertionError("You returned a pytree shaped like params: that is ∇θ. Differentiate with respect "
                                 "to the input x instead (jax.grad's argnums).")
        got = np.asarray(got)
        if got.shape != (n, d):
            raise AssertionError(f"Return one gradient per example, shape (n, d) = ({n}, {d}); got {got.shape}. "
                                 "vmap over the examples.")
        if _close(got, -expected):
            raise AssertionError("The sign is flipped: return ∇ₓ of the loss, not of minus the loss.")
        if _close(got, expected / n):
            raise AssertionError("Every row is n × too small: that is the gradient of the *mean* loss with respect to "
                                 "X. Differentiate each example's loss on its own.")
        if _close(got, np.broadcast_to(expected.mean(0), expected.shape)):
            raise AssertionError("Every row is the same (the average): differentiate each example's loss separately.")
        if not _close(got, expected):
            raise AssertionError(f"Values differ from ∇ₓ loss (max abs error {np.max(np.abs(got - expected)):.3g}).")
    print(f"Correct! Your input gradients match on {n_problems} random problems.")


def check_loss_gap(loss_gap_fn, n_problems=3):
    """Check ``loss_gap_fn(lam, c0, eta, t)``: L(w_t) − L(w*) after t GD steps on ½(w−w*)ᵀH(w−w*), from the
    eigenvalues ``lam`` of H and the initial error's eigenbasis coordinates ``c0``."""
    for seed in range(n_problems):
        H = _random_spd(12000 + seed, d=6, kappa=30.0)
        lam, Q = np.linalg.eigh(np.asarray(H))
        rng = np.random.default_rng(seed)
        w0, w_star = rng.normal(size=6), rng.normal(size=6)
        eta = 1.7 / lam[-1]
        c0 = Q.T @ (w0 - w_star)
        w = w0.copy()
        for t in range(13):
            expected = 0.5 * (w - w_star) @ np.asarray(H) @ (w - w_star)
            got = _number(loss_gap_fn(jnp.asarray(lam), jnp.asarray(c0), eta, t), "loss_gap")
            if not np.isclose(got, expected, rtol=1e-9, atol=1e-14):
                f = lambda power, weight=lam, half=0.5: half * np.sum(weight * (1 - eta * lam) ** power * c0 ** 2)
                if np.isclose(got, 2 * expected, rtol=1e-9):
                    raise AssertionError("Your gap is 2 × the right one: the loss is ½ eᵀHe.")
                if t >= 1 and np.isclose(got, f(t), rtol=1e-9):
                    raise AssertionError("The loss is quadratic in the error: each coordinate contributes "
                                         "(1 − ηλ)^(2t), not (1 − ηλ)^t.")
                if np.isclose(got, f(2 * t, weight=1.0), rtol=1e-9):
                    raise AssertionError("That is ½‖w_t − w*‖²: weight each direction by its eigenvalue λᵢ.")
                if np.isclose(got, f(2 * t + 2), rtol=1e-9) or (t > 0 and np.isclose(got, f(2 * t - 2), rtol=1e-9)):
                    raise AssertionError(f"At t = {t} you returned the gap one step off: t steps from w₀.")
                raise AssertionError(f"At t = {t}: got {got:.6g}, simulated GD gives {expected:.6g}.")
            w = w - eta * np.asarray(H) @ (w - w_star)
    print(f"Correct! Your loss gap matches simulated gradient descent on {n_problems} random problems.")


def check_gd_limit(gd_limit_fn, n_problems=3):
    """Check ``gd_limit_fn(X, y, w0)``: where gradient descent on ½‖Xw − y‖²/n from w0 converges when X has more
    columns than rows (infinitely many interpolants)."""
    for seed in range(n_problems):
        rng = np.random.default_rng(13000 + seed)
        n, d = 5, 12
        X, y, w0 = rng.normal(size=(n, d)), rng.normal(size=n), rng.normal(size=d)
        w = w0.copy()
        eta = n / np.linalg.eigvalsh(X.T @ X).max()
        for _ in range(4000):
            w = w - eta * X.T @ (X @ w - y) / n
        got = np.asarray(gd_limit_fn(jnp.asarray(X), jnp.asarray(y), jnp.asarray(w0)))
        pinv = np.linalg.pinv(X)
        if got.shape != (d,):
            raise AssertionError(f"Return a weight vector of shape ({d},); got {got.shape}.")
        if _close(got, w, rtol=1e-6, atol=1e-8):
            continue
        if _close(got, pinv @ y, rtol=1e-6, atol=1e-8):
            raise AssertionError(
                "That is the minimum-norm interpolant X⁺y, GD's limit from w₀ = 0. From another start, "
                "the part of w₀ that the gradients X^T(·) never touch stays."
            )
        if _close(got, w0 + pinv @ y, rtol=1e-6, atol=1e-8):
            raise AssertionError(
                "w₀ + X⁺y does not even interpolate: only w₀'s component in the null space of X survives."
            )
        if _close(got, pinv @ y + pinv @ X @ w0, rtol=1e-6, atol=1e-8):
            raise AssertionError("X⁺X projects onto the row space, which GD does change: keep w₀'s null-space part, "
                                 "(I − X⁺X) w₀.")
        raise AssertionError(f"Differs from simulated GD (max abs error {np.max(np.abs(got - w)):.3g}).")
    print(f"Correct! Your limit matches long runs of gradient descent on {n_problems} random problems.")


def check_best_momentum(best_beta_fn):
    """Check ``best_beta_fn(eta, mu, L)``: for a fixed step η ≤ 1/L, the heavy-ball β that minimises the worst rate
    max over λ in [μ, L] of the spectral radius of the 2×2 iteration matrix."""
    for mu, L, eta in [(1.0, 100.0, 1e-2), (0.2, 10.0, 0.05), (1.0, 1000.0, 4e-4)]:
        got = _number(best_beta_fn(eta, mu, L), "best_momentum")
        expected = (1 - np.sqrt(eta * mu)) ** 2          # the two roots at λ = μ coincide, at √β = 1 − √(ημ)
        if np.isclose(got, expected, rtol=1e-8):
            continue
        sk = np.sqrt(L / mu)
        if np.isclose(got, ((sk - 1) / (sk + 1)) ** 2, rtol=1e-6):
            raise AssertionError("That is the best β for the best step 4/(√L + √μ)², not for the step η you were "
                                 "given: with η fixed, tune β alone.")
        if np.isclose(got, (sk - 1) / (sk + 1), rtol=1e-6):
            raise AssertionError("That is Nesterov's standard β; heavy ball's 2×2 matrix is a different one.")
        if np.isclose(got, np.sqrt(expected), rtol=1e-6):
            raise AssertionError("That is the rate the best β reaches, not β: the two roots multiply to β, so a "
                                 "double (or complex) pair of roots has modulus √β.")
        if np.isclose(got, 1 - eta * mu, rtol=1e-6) or np.isclose(got, (1 - eta * mu) ** 2, rtol=1e-6):
            raise AssertionError("That is built from gradient descent's factor 1 − ημ: look at the roots of heavy "
                                 "ball's characteristic polynomial z² − (1 + β − ηλ)z + β at λ = μ.")
        if not 0 <= got < 1:
            raise AssertionError(f"β = {got:.4g} is outside [0, 1): heavy ball then does not converge.")
        lam = jnp.geomspace(mu, L, 400)
        worst = lambda beta: float(dynamics.momentum_rate(eta * lam, beta).max())
        raise AssertionError(f"For μ = {mu:g}, L = {L:g}, η = {eta:g}: your β = {got:.6g} has worst rate "
                             f"{worst(got):.6f} over [μ, L]; a better β reaches {worst(expected):.6f}. Hint: the "
                             "slowest direction is λ = μ; make its two roots coincide.")
    print("Correct! Your β gives the smallest worst-case heavy-ball rate on 3 problems.")


def check_matching_step(matching_step_fn):
    """Check ``matching_step_fn(lam, eta, batch, new_batch)``: the step size at which SGD with ``new_batch`` has the
    same noisy-quadratic-model floor as SGD with step ``eta`` and ``batch`` (Hessian eigenvalues ``lam``)."""
    cases = [(np.geomspace(0.1, 1.0, 8), 0.5, 4, 16), (np.geomspace(0.1, 1.0, 8), 1.2, 16, 4),
             (np.array([0.2, 2.0, 5.0]), 0.02, 2, 8)]
    for lam, eta, batch, new_batch in cases:
        target = dynamics.nqm_floor(lam, eta, 1.0, batch)
        lo, hi = 0.0, 2 / lam.max()                      # the floor rises from 0 to ∞ on (0, 2/λmax): bisect
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if dynamics.nqm_floor(lam, mid, 1.0, new_batch) < target else (lo, mid)
        expected = (lo + hi) / 2
        got = _number(matching_step_fn(jnp.asarray(lam), eta, batch, new_batch), "matching_step")
        if np.isclose(got, expected, rtol=1e-6):
            continue
        where = f"(λ from {lam.min():g} to {lam.max():g}, η = {eta:g}, B = {batch} → {new_batch})"
        if np.isclose(got, eta * new_batch / batch, rtol=1e-6):
            beyond = " — here it is not even below 2/λmax" if got * lam.max() >= 2 else ""
            raise AssertionError(f"{where}: that is the linear scaling rule η·B'/B{beyond}. It is exact only while "
                                 "ηλ ≪ 2: each direction's floor has the factor 1/(2 − ηλ), which grows with η. "
                                 "Solve floor(η', B') = floor(η, B) for η'.")
        if np.isclose(got, eta * batch / new_batch, rtol=1e-6):
            raise AssertionError(f"{where}: the scaling is upside down: a larger batch has less noise, so it can take "
                                 "a larger step for the same floor.")
        if np.isclose(got, eta * np.sqrt(new_batch / batch), rtol=1e-6):
            raise AssertionError(f"{where}: square-root scaling does not keep this floor; solve "
                                 "floor(η', B') = floor(η, B) for η'.")
        if not 0 < got < 2 / lam.max():
            raise AssertionError(f"{where}: η' = {got:.4g} is outside (0, 2/λmax = {2 / lam.max():.4g}), where SGD "
                                 "has no floor (it diverges).")
        floor_got = dynamics.nqm_floor(lam, got, 1.0, new_batch)
        raise AssertionError(f"{where}: at your η' = {got:.6g} the floor is {floor_got:.6g} × σ², but it should equal "
                             f"{target:.6g} × σ² (η' = {expected:.6g}).")
    print("Correct! Your step keeps the SGD floor when the batch size changes, on 3 problems.")


def _random_nonconvex(seed, d=5):
    """R(w) = ½wᵀAw + ¼Σw⁴ + bᵀw with A indefinite: a smooth function with saddles, and a point w."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    A = jnp.asarray((Q * np.r_[-2.0, -0.5, 0.7, 1.5, 3.0][:d]) @ Q.T)
    b = jnp.asarray(rng.normal(size=d))
    R = lambda w: 0.5 * w @ A @ w + 0.25 * jnp.sum(w ** 4) + b @ w
    return R, jnp.asarray(0.3 * rng.normal(size=d))


def check_saddle_free_newton(step_fn, n_problems=3):
    """Check ``step_fn(R, w)`` returns w − V|Λ|⁻¹Vᵀ∇R(w), with H = VΛVᵀ the Hessian of R at w (saddle-free Newton)."""
    for seed in range(n_problems):
        R, w = _random_nonconvex(14000 + seed)
        g, H = jax.grad(R)(w), jax.hessian(R)(w)
        lam, V = jnp.linalg.eigh(H)
        assert float(lam[0]) < 0 < float(lam[-1])           # the check's problems are indefinite at w
        expected = np.asarray(w - V @ ((V.T @ g) / jnp.abs(lam)))
        got = np.asarray(step_fn(R, w))
        if got.shape != w.shape:
            raise AssertionError(f"Return the new point, shaped like w {w.shape}; got {got.shape}.")
        if _close(got, expected):
            continue
        if _close(got, np.asarray(w - jnp.linalg.solve(H, g))):
            raise AssertionError("That is Newton's step: along a negative eigenvalue it moves *up* the slope, towards "
                                 "the saddle. Divide by |λ| instead of λ in the eigenbasis.")
        if _close(got, np.asarray(w + V @ ((V.T @ g) / jnp.abs(lam)))):
            raise AssertionError("The step goes uphill in every direction: subtract V|Λ|⁻¹Vᵀ∇R, don't add it.")
        if _close(got, np.asarray(w - g)):
            raise AssertionError("That is a gradient step; rescale each eigendirection by 1/|λ|.")
        raise AssertionError(f"Differs from the saddle-free Newton step (max abs error "
                             f"{np.max(np.abs(got - expected)):.3g}).")
    print(f"Correct! Your saddle-free Newton step matches on {n_problems} indefinite problems.")


def check_linear_layer_hessian(hessian_fn, n_problems=3):
    """Check ``hessian_fn(X, H_out, l2)``: the Hessian of (1/n) Σᵢ ℓᵢ(Wᵀxᵢ) + (l2/2)‖W‖² with respect to W.ravel()
    (W of shape (d, k), row-major), where ℓᵢ has Hessian ``H_out[i]`` (k × k) in its k outputs."""
    for seed in range(n_problems):
        rng = np.random.default_rng(15000 + seed)
        n, d, k, l2 = 7, 4, 3, 0.1
        X = rng.normal(size=(n, d))
        B = rng.normal(size=(n, k, k))
        H_out = np.einsum("nab,ncb->nac", B, B) / k                 # symmetric PSD output Hessians
        quad = lambda w: jnp.mean(jax.vmap(lambda x, h: 0.5 * (w.reshape(d, k).T @ x) @ h @ (w.reshape(d, k).T @ x))(
            jnp.asarray(X), jnp.asarray(H_out))) + 0.5 * l2 * w @ w
        expected = np.asarray(jax.hessian(quad)(jnp.zeros(d * k)))
        got = np.asarray(hessian_fn(jnp.asarray(X), jnp.asarray(H_out), l2))
        if got.shape != (d * k, d * k):
            raise AssertionError(f"Return a (d·k, d·k) = ({d * k}, {d * k}) matrix; got {got.shape}.")
        if _close(got, expected):
            continue
        kron = lambda a, b: np.mean([np.kron(a(i), b(i)) for i in range(n)], axis=0)
        xx, ho = (lambda i: np.outer(X[i], X[i])), (lambda i: H_out[i])
        if _close(got, kron(ho, xx) + l2 * np.eye(d * k)):
            raise AssertionError("The Kronecker factors are in the wrong order for W.ravel(), which runs over the k "
                                 "outputs fastest (index i·k + a): use kron(x xᵀ, H_out), not kron(H_out, x xᵀ).")
        if _close(got, expected - l2 * np.eye(d * k)):
            raise AssertionError("The L2 term is missing: add l2 · I.")
        if _close(got, n * (expected - l2 * np.eye(d * k)) + l2 * np.eye(d * k)):
            raise AssertionError("n × too large: the loss is a mean over examples.")
        if _close(got, kron(xx, lambda i: np.eye(k)) + l2 * np.eye(d * k)):
            raise AssertionError("The output Hessians are missing: each example contributes x xᵀ ⊗ H_out[i].")
        raise AssertionError(f"Differs from jax.hessian (max abs error {np.max(np.abs(got - expected)):.3g}).")
    print(f"Correct! Your Kronecker-structured Hessian matches jax.hessian on {n_problems} random layers.")


def _trust_region_problem(seed, kind):
    """A symmetric 6×6 H (indefinite, or positive definite) with known eigenvalues, and a random gradient g."""
    rng = np.random.default_rng(19000 + seed)
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    evals = {"indefinite": [-1.5, -0.4, 0.3, 1.0, 2.0, 4.0], "definite": [0.2, 0.5, 1.0, 2.0, 3.0, 5.0]}[kind]
    H = (Q * np.asarray(evals)) @ Q.T
    return 0.5 * (H + H.T), rng.normal(size=6)


def _step_norm(H, g, mu):
    """‖(H + μI)⁻¹g‖ in H's eigenbasis (inf at a pole μ = −λᵢ)."""
    lam, V = np.linalg.eigh(H)
    with np.errstate(divide="ignore"):
        return float(np.linalg.norm((V.T @ g) / (lam + mu)))


def _damping_for_radius(H, g, radius):
    """Reference: the μ ≥ max(0, −λmin(H)) with ‖(H + μI)⁻¹g‖ = radius, by bisection (0 if the Newton step fits)."""
    lam = np.linalg.eigvalsh(H)
    lo = max(0.0, -lam[0])
    if lam[0] > 0 and _step_norm(H, g, 0.0) <= radius:
        return 0.0
    hi = lo + np.linalg.norm(g) / radius            # every λᵢ + μ ≥ ‖g‖/radius there, so the step is inside the ball
    for _ in range(200):                             # the step norm falls monotonically from ∞ to 0 on (lo, ∞)
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _step_norm(H, g, mid) > radius else (lo, mid)
    return 0.5 * (lo + hi)


def check_damping_for_radius(damping_fn):
    """Check ``damping_fn(H, g, radius)``: the damping μ ≥ max(0, −λmin(H)) at which the damped Newton step
    −(H + μI)⁻¹g has norm ``radius`` (the trust-region view of Levenberg–Marquardt), or 0 when H is positive definite
    and the Newton step −H⁻¹g is already no longer than ``radius``."""
    cases = [("indefinite", 0, 0.5), ("indefinite", 1, 3.0), ("definite", 2, 0.5), ("definite", 3, 2.0)]
    for kind, seed, size in cases:
        H, g = _trust_region_problem(seed, kind)
        lam_min = float(np.linalg.eigvalsh(H)[0])
        newton_norm = _step_norm(H, g, 0.0)
        radius = size if kind == "indefinite" else size * newton_norm   # definite: half, then twice the Newton step
        expected = _damping_for_radius(H, g, radius)
        got = _number(damping_fn(jnp.asarray(H), jnp.asarray(g), radius), "damping_for_radius")
        if not np.isfinite(got):
            raise AssertionError(f"damping_for_radius returned {got}; it should return a finite damping μ ≥ 0.")
        if np.isclose(got, expected, rtol=1e-6, atol=1e-9):
            continue
        norm_got = _step_norm(H, g, got)
        if expected == 0.0:
            raise AssertionError(
                f"Here H is positive definite and the Newton step is already inside the ball (‖H⁻¹g‖ = "
                f"{newton_norm:.4g} ≤ radius {radius:.4g}): it is the model's minimiser in the ball, so no damping "
                f"is needed — return 0 (you returned {got:.4g}).")
        if got < max(0.0, -lam_min):
            if np.isclose(norm_got, radius, rtol=1e-4):
                raise AssertionError(
                    f"Your μ = {got:.4g} gives a step of the right length, but H + μI has a negative eigenvalue "
                    f"(λmin(H) = {lam_min:.4g}): that root lies between two poles of ‖(H + μI)⁻¹g‖, and along an "
                    "eigenvector with λ + μ < 0 the step climbs. Search μ > −λmin(H), where the step norm falls "
                    "monotonically from ∞ to 0.")
            raise AssertionError(
                f"μ = {got:.4g} is below max(0, −λmin(H)) = {max(0.0, -lam_min):.4g}: H + μI is then not positive "
                "definite and the quadratic model has no minimum in that direction. Look for μ > −λmin(H).")
        if np.isclose(got, np.linalg.norm(g) / radius, rtol=1e-6):
            raise AssertionError("μ = ‖g‖/radius ignores H: it is the damping at which the gradient step −g/μ has "
                                 "that length. Solve ‖(H + μI)⁻¹g‖ = radius instead.")
        if np.isclose(norm_got, radius ** 2, rtol=1e-4) or np.isclose(norm_got ** 2, radius, rtol=1e-4):
            raise AssertionError("You matched the squared norm and the radius: ‖(H + μI)⁻¹g‖ itself (not its "
                                 "square) should equal the radius.")
        raise AssertionError(f"At your μ = {got:.6g} the step −(H + μI)⁻¹g has norm {norm_got:.6g}, not the "
                             f"radius {radius:.6g}.")
    print(f"Correct! Your damping gives a step of exactly the radius on {len(cases)} problems (indefinite and "
          "positive definite, the Newton step outside and inside the ball).")


def check_hutchinson_diagonal(diag_fn, n_probes=4000):
    """Check ``diag_fn(matvec, dim, key, n_probes)`` estimates diag(A) by Hutchinson's method with Rademacher probes:
    the mean of z ⊙ Az (elementwise) over ``n_probes`` random ±1 vectors z drawn with ``key``."""
    rng = np.random.default_rng(16000)
    D = jnp.asarray(rng.uniform(0.5, 3.0, size=20))
    got = np.asarray(diag_fn(lambda v: D * v, 20, jax.random.key(1), 3), dtype=float)
    if got.shape != (20,):
        raise AssertionError(f"Return one estimate per diagonal entry, a vector of shape (20,); got shape {got.shape}"
                             + (" — that is a trace-like number: average z ⊙ Az, not zᵀAz." if got.size == 1 else "."))
    if np.allclose(got, 3 * D, rtol=1e-9):
        raise AssertionError("That is 3 × the diagonal with 3 probes: average z ⊙ Az over the probes, don't sum.")
    if np.allclose(got, D ** 2, rtol=1e-9):
        raise AssertionError("That is (Az)², the squared product: multiply Az by the probe itself, z ⊙ Az.")
    if np.allclose(got, D / 20, rtol=1e-9):
        raise AssertionError("Don't normalise the probes: E[z ⊙ Az] = diag(A) needs E[zzᵀ] = I.")
    if not np.allclose(got, D, rtol=1e-9):
        raise AssertionError("For a diagonal matrix, Rademacher probes (±1 entries) give the diagonal exactly "
                             f"(zᵢ² = 1); max error {np.max(np.abs(got - D)):.3g}. Gaussian probes are only close.")
    Q, _ = np.linalg.qr(rng.normal(size=(30, 30)))
    A = (Q * rng.uniform(0.1, 2.0, 30)) @ Q.T
    diag = np.diag(A)
    est = [np.asarray(diag_fn(lambda v: jnp.asarray(A) @ v, 30, jax.random.key(k), n_probes)) for k in (2, 3)]
    if np.allclose(est[0], diag, rtol=1e-9, atol=1e-12):
        raise AssertionError("That is the exact diagonal (from products with unit vectors?): estimate it from "
                             "n_probes random ±1 probes, z ⊙ Az averaged.")
    if np.array_equal(est[0], est[1]):
        raise AssertionError("Two different keys gave the same estimate: draw the probes with the key you are given.")
    if not np.array_equal(np.asarray(diag_fn(lambda v: jnp.asarray(A) @ v, 30, jax.random.key(2), n_probes)), est[0]):
        raise AssertionError("The same key gave different estimates: draw every probe from the key, not from NumPy's "
                             "global random state.")
    sd = np.sqrt((np.sum(A ** 2, 1) - diag ** 2) / n_probes)     # Var(zᵢ(Az)ᵢ) = Σ_{j≠i} Aᵢⱼ² per probe
    for e in est:
        worst = int(np.argmax(np.abs(e - diag) / sd))
        if abs(e[worst] - diag[worst]) > 5 * sd[worst]:
            raise AssertionError(f"Entry {worst}: estimate {e[worst]:.4g} is more than 5 standard deviations "
                                 f"({sd[worst]:.3g}) from the diagonal entry {diag[worst]:.4g}.")
    print(f"Correct! Exact on a diagonal matrix, and within the expected noise on a dense one ({n_probes} probes).")


def check_newton_loo(newton_loo_fn, n_problems=3):
    """Check ``newton_loo_fn(theta, X, Y, i, l2)``: the change of θ̂ after ONE Newton step, from θ̂, on the objective
    without training point i, (1/n)Σ_{j≠i} log(1 + exp(−yⱼθᵀxⱼ)) + (l2/2)‖θ‖² (binary logistic, no bias, n fixed)."""
    from . import training

    loss = lambda th, x, y: models.logistic_loss(th @ x, y)
    for seed in range(n_problems):
        _, X, Y, _, _, l2 = _random_binary_logistic(17000 + seed)
        theta = training.train_newton(loss, jnp.zeros(X.shape[1]), (X, Y), l2=l2, tol=1e-12).params
        n, i = len(Y), 3 + seed
        R_without = lambda th: training.empirical_risk(loss, th, (X, Y), l2=l2, weights=jnp.ones(n).at[i].set(0.0))
        g_i = np.asarray(jax.grad(loss)(theta, X[i], Y[i]))
        # one Newton step from θ̂, where ∇R(θ̂) = 0, so ∇R_without(θ̂) = −∇L(zᵢ)/n
        expected = np.linalg.solve(np.asarray(jax.hessian(R_without)(theta)), g_i / n)
        got = np.asarray(newton_loo_fn(theta, X, Y, i, l2))
        if got.shape != theta.shape:
            raise AssertionError(f"Return the parameter change, shaped like theta {theta.shape}; got {got.shape}.")
        if _close(got, expected):
            continue
        R = lambda th: training.empirical_risk(loss, th, (X, Y), l2=l2)
        influence_change = np.linalg.solve(np.asarray(jax.hessian(R)(theta)), g_i) / n
        if _close(got, influence_change):
            raise AssertionError(
                "That is the influence prediction −(1/n)·I_up,params, with the full Hessian. One Newton "
                "step on the new objective uses ITS Hessian: H − (1/n)∇²L(zᵢ)."
            )
        if _close(got, -expected):
            raise AssertionError("The sign is flipped: removing a point moves θ̂ towards fitting the others, "
                                 "Δθ = +(H − Hᵢ/n)⁻¹ ∇L(zᵢ)/n.")
        if _close(got, n * expected, rtol=1e-6):
            raise AssertionError("n × too large: point i carries weight 1/n in the objective.")
        raise AssertionError(f"Differs from one Newton step on the objective without point {i} (max abs error "
                             f"{np.max(np.abs(got - expected)):.3g}).")
    print(f"Correct! Your one-step Newton leave-one-out matches on {n_problems} random problems.")


def check_label_margin(margin_fn, n_problems=3):
    """Check ``margin_fn(logits, y)``: for each example, how strongly the model disagrees with its given label,
    max over k ≠ yᵢ of logitsᵢₖ, minus logitsᵢ,yᵢ (positive when another class wins)."""
    for seed in range(n_problems):
        rng = np.random.default_rng(18000 + seed)
        n, k = 12, 5
        logits, y = rng.normal(size=(n, k)) * 2, rng.integers(0, k, size=n)
        own = logits[np.arange(n), y]
        others = np.where(np.arange(k)[None] == y[:, None], -np.inf, logits)
        expected = others.max(1) - own
        got = np.asarray(margin_fn(jnp.asarray(logits), jnp.asarray(y)))
        if got.shape != (n,):
            raise AssertionError(f"Return one number per example, shape ({n},); got {got.shape}.")
        if _close(got, expected):
            continue
        if _close(got, -expected):
            raise AssertionError(
                "The sign is flipped: the score should be large when the model disagrees with the label."
            )
        if _close(got, logits.max(1) - own):
            raise AssertionError(
                "The maximum must exclude the given label (otherwise the score is 0 whenever the model "
                "agrees): take the largest logit over the OTHER classes."
            )
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        p_others = np.where(np.arange(k)[None] == y[:, None], -np.inf, probs)
        if _close(got, p_others.max(1) - probs[np.arange(n), y]):
            raise AssertionError("Use the logits, not the softmax probabilities.")
        raise AssertionError(f"Differs from the reference (max abs error {np.max(np.abs(got - expected)):.3g}).")
    print(f"Correct! Your label margin matches on {n_problems} random batches of logits.")


def check_diag_fisher_influence(influence_fn, n_problems=3):
    """Check ``influence_fn(G_train, G_test, shift)``: I_up,loss with H replaced by the diagonal empirical Fisher,
    −G_test diag(d + shift)⁻¹ G_trainᵀ with dⱼ = (1/n) Σᵢ G_train[i, j]², shape (m, n)."""
    for seed in range(n_problems):
        rng = np.random.default_rng(19000 + seed)
        n, m, p, shift = 9, 2, 6, 0.3
        G, Gt = rng.normal(size=(n, p)) * rng.uniform(0.1, 3, size=p), rng.normal(size=(m, p))
        d = np.mean(G ** 2, axis=0)
        expected = -Gt @ (G / (d + shift)).T
        got = np.asarray(influence_fn(jnp.asarray(G), jnp.asarray(Gt), shift))
        if got.shape != (m, n):
            raise AssertionError(f"Return one score per (test, training) pair, shape (m, n) = {(m, n)}; got "
                                 f"{got.shape}.")
        if _close(got, expected):
            continue
        if _close(got, -expected):
            raise AssertionError("The sign is flipped: I_up,loss is MINUS g_testᵀ H̃⁻¹ gᵢ.")
        if _close(got, -Gt @ (G / (n * d + shift)).T):
            raise AssertionError("The Fisher diagonal is the MEAN of the squared gradients over training points "
                                 "(the objective is the mean loss), not their sum.")
        if _close(got, -Gt @ (G / d).T):
            raise AssertionError("Add the shift (l2 + damping) to the diagonal before inverting.")
        if _close(got, -Gt @ (G / np.sqrt(d + shift)).T):
            raise AssertionError("Divide by the diagonal itself (H̃⁻¹), not by its square root.")
        if _close(got, -Gt @ G.T / (np.mean(d) + shift)):
            raise AssertionError("Keep one curvature value per PARAMETER (a diagonal), not one number for all.")
        raise AssertionError(f"Differs from the reference (max abs error {np.max(np.abs(got - expected)):.3g}).")
    print(f"Correct! Your diagonal-Fisher influence matches on {n_problems} random problems.")


def check_kron_solve(solve_fn, n_problems=3):
    """Check ``solve_fn(A, G, V, shift)``: the X (a × b) with (A ⊗ G + shift·I) vec(X) = vec(V), vec = row-major
    ravel, i.e. A X G + shift·X = V for symmetric positive semi-definite A (a × a) and G (b × b)."""
    for seed in range(n_problems):
        rng = np.random.default_rng(20000 + seed)
        a, b, shift = 4, 3, 0.2
        Ma, Mg = rng.normal(size=(a, a + 2)), rng.normal(size=(b, b + 1))
        A, G, V = Ma @ Ma.T / a, Mg @ Mg.T / b, rng.normal(size=(a, b))
        expected = np.linalg.solve(np.kron(A, G) + shift * np.eye(a * b), V.ravel()).reshape(a, b)
        got = np.asarray(solve_fn(jnp.asarray(A), jnp.asarray(G), jnp.asarray(V), shift))
        if got.shape != (a, b):
            raise AssertionError(f"Return X with the shape of V, {(a, b)}; got {got.shape}.")
        if _close(got, expected):
            continue
        factored = np.linalg.solve(A + np.sqrt(shift) * np.eye(a), V) @ np.linalg.inv(G + np.sqrt(shift) * np.eye(b))
        if _close(got, factored):
            raise AssertionError("That is (A + √shift·I) ⊗ (G + √shift·I), the factored damping: it adds "
                                 "√shift·(A ⊗ I + I ⊗ G) to the matrix. Damp the product: divide by λ_A λ_G + shift "
                                 "in the eigenbasis.")
        la, Qa = np.linalg.eigh(A)
        lg, Qg = np.linalg.eigh(G)
        if _close(got, Qa @ ((Qa.T @ V @ Qg) / (la[:, None] + lg[None] + shift)) @ Qg.T):
            raise AssertionError("The eigenvalues of A ⊗ G are the PRODUCTS λ_A,j λ_G,k, not the sums.")
        if _close(got, Qa @ ((Qa.T @ V @ Qg) / np.outer(la, lg)) @ Qg.T):
            raise AssertionError("Add the shift to the eigenvalues before dividing.")
        if _close(got, Qa @ ((Qa.T @ V @ Qg) * (np.outer(la, lg) + shift)) @ Qg.T):
            raise AssertionError("You multiplied by A ⊗ G + shift·I; solve with it: divide by its eigenvalues.")
        raise AssertionError(f"Differs from the reference (max abs error {np.max(np.abs(got - expected)):.3g}).")
    print(f"Correct! Your Kronecker-factored solve matches on {n_problems} random problems.")
