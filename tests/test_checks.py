"""Exercise checks accept right answers and reject plausible wrong ones with a specific hint."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from course_utils import checks, curvature


@pytest.mark.slow
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
@pytest.mark.slow
def test_check_hvp_rejects_plausible_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_hvp(wrong)


def gnvp_mse(model_fn, params, v, scale=1.0):
    out, Jv = jax.jvp(model_fn, (params,), (v,))
    return jax.tree_util.tree_map(lambda a: scale * a, jax.vjp(model_fn, params)[1](Jv / out.shape[0])[0])


def test_check_gnvp_squared_error_accepts_a_correct_answer(capsys):
    checks.check_gnvp_squared_error(gnvp_mse)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda m, p, v: gnvp_mse(m, p, v, scale=6.0), "× the right one"),
    (lambda m, p, v: curvature.hvp(lambda q: 0.5 * jnp.sum(m(q) ** 2) / 6, p, v), "full Hessian-vector product"),
    (lambda m, p, v: jax.jvp(m, (p,), (v,))[1], "shaped like params"),
])
def test_check_gnvp_squared_error_rejects_plausible_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_gnvp_squared_error(wrong)


def power(matvec, v0, iters, how="right"):
    v = v0 / jnp.linalg.norm(v0)
    for _ in range(iters):
        w = matvec(v)
        v = w if how == "unnormalised" else w / jnp.linalg.norm(w)
    return {"right": v @ matvec(v), "abs": jnp.linalg.norm(matvec(v)), "unnormalised": v @ matvec(v),
            "vector": v}[how]


def test_check_power_iteration_accepts_a_correct_answer(capsys):
    checks.check_power_iteration(power)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("how, hint", [("abs", "sign"), ("unnormalised", "normalise"), ("vector", "one number")])
def test_check_power_iteration_rejects_plausible_mistakes(how, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_power_iteration(lambda m, v0, k: power(m, v0, k, how))


def cg_loop(matvec, b, iters, steepest=False):
    x, r = jnp.zeros_like(b), b
    d = r
    for _ in range(iters):
        Ad = matvec(d)
        a = (r @ r) / (d @ Ad)
        x, r_new = x + a * d, r - a * Ad
        d = r_new if steepest else r_new + (r_new @ r_new) / (r @ r) * d
        r = r_new
    return x


def test_check_conjugate_gradient_accepts_a_correct_answer(capsys):
    checks.check_conjugate_gradient(cg_loop)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda m, b, k: cg_loop(m, b, k, steepest=True), "steepest-descent"),
    (lambda m, b, k: b - m(cg_loop(m, b, k)), "residual"),
    (lambda m, b, k: cg_loop(m, b, k)[:-1], "shaped like b"),
    (lambda m, b, k: cg_loop(m, b, k + 1), "differs from CG"),
])
def test_check_conjugate_gradient_rejects_plausible_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_conjugate_gradient(wrong)


def lissa_py(matvec, b, s, damping, depth, divide=True, kl=False):
    h = b
    for _ in range(depth):
        h = b + (1 - damping) * h - matvec(h) / s if kl else b + h - (matvec(h) + damping * h) / s
    return h / s if divide else h


def test_check_lissa_loop_accepts_a_correct_answer(capsys):
    checks.check_lissa_loop(lissa_py)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda m, b, s, dmp, k: lissa_py(m, b, s, dmp, k, divide=False), "division by the scale"),
    (lambda m, b, s, dmp, k: lissa_py(m, b, s, dmp, k, kl=True), "Koh & Liang's convention"),
    (lambda m, b, s, dmp, k: lissa_py(m, b, s, dmp, k + 1), "one step off"),
    (lambda m, b, s, dmp, k: lissa_py(m, b, s, 0.0, k), "differs from the reference"),
])
def test_check_lissa_loop_rejects_plausible_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_lissa_loop(wrong)


def self_inf(G, H, how="right"):
    M = H if how == "H" else jnp.linalg.inv(H)
    out = -jnp.einsum("ip,pq,iq->i", G, M, G)
    return -out if how == "sign" else out


def test_check_self_influence_accepts_a_correct_answer(capsys):
    checks.check_self_influence(self_inf)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("how, hint", [("sign", "wrong sign"), ("H", "multiplied by H")])
def test_check_self_influence_rejects_plausible_mistakes(how, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_self_influence(lambda G, H: self_inf(G, H, how))


def eig_influence(evals, evecs, G, g_test, damping, how=None):
    if how == "no_rotation":
        return -G @ (g_test / (evals + damping))
    if how == "no_damping":
        damping = 0.0
    out = -G @ (evecs @ ((evecs.T @ g_test) / (evals + damping)))
    return -out if how == "sign" else out


def test_check_influence_from_eigh_accepts_a_correct_answer(capsys):
    checks.check_influence_from_eigh(eig_influence)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("how, hint", [("sign", "sign is flipped"), ("no_damping", "damping is missing"),
                                       ("no_rotation", "eigenbasis")])
def test_check_influence_from_eigh_rejects_plausible_mistakes(how, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_influence_from_eigh(lambda *a: eig_influence(*a, how=how))


def bregman(f, f_ref, y, how=None):
    ce = lambda f: -jax.nn.log_softmax(f)[y]
    g = jax.nn.softmax(f if how == "grad_at_f" else f_ref) - jax.nn.one_hot(y, f.shape[0])
    out = ce(f) - ce(f_ref) - (0.0 if how == "no_linear" else g @ (f - f_ref))
    return -out if how == "sign" else out


def test_check_bregman_cross_entropy_accepts_a_correct_answer(capsys):
    checks.check_bregman_cross_entropy(bregman)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("how, hint", [("sign", "sign is flipped"), ("no_linear", "linear term"),
                                       ("grad_at_f", "reference logits")])
def test_check_bregman_cross_entropy_rejects_plausible_mistakes(how, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_bregman_cross_entropy(lambda *a: bregman(*a, how=how))


def project(x_new, x0, eps, how=None):
    x = x_new if how == "no_ball" else jnp.clip(x_new, x0 - eps, x0 + eps)
    x = x if how == "no_range" else jnp.clip(x, 0.0, 1.0)
    return x if how == "no_round" else jnp.round(x * 255) / 255


def test_check_project_8bit_accepts_a_correct_answer(capsys):
    checks.check_project_8bit(project)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("how, hint", [("no_round", "8-bit grid"), ("no_range", r"\[0, 1\]"), ("no_ball", "ball")])
def test_check_project_8bit_rejects_plausible_mistakes(how, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_project_8bit(lambda *a: project(*a, how=how))

def input_grads(loss, params, X, Y, scale=1.0, mean=False):
    G = scale * jax.vmap(jax.grad(loss, argnums=1), (None, 0, 0))(params, X, Y)
    return jnp.broadcast_to(G.mean(0), G.shape) if mean else G


@pytest.mark.slow
def test_check_input_gradients(capsys):
    checks.check_input_gradients(input_grads)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda loss, p, X, Y: jax.grad(loss)(p, X[0], Y[0]), "∇θ"),
    (lambda loss, p, X, Y: input_grads(loss, p, X, Y)[0], "one gradient per example"),
    (lambda loss, p, X, Y: input_grads(loss, p, X, Y, -1.0), "sign"),
    (lambda loss, p, X, Y: input_grads(loss, p, X, Y, 1.0 / len(X)), "mean"),
    (lambda loss, p, X, Y: input_grads(loss, p, X, Y, mean=True), "same"),
    (lambda loss, p, X, Y: input_grads(loss, p, X, Y) + 1e-3, "differ"),
])
def test_check_input_gradients_rejects(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_input_gradients(wrong)


def gap(lam, c0, eta, t, power=2, weight=True, half=0.5, shift=0):
    w = lam if weight else 1.0
    return half * jnp.sum(w * (1 - eta * lam) ** (power * t + shift) * c0 ** 2)


def test_check_loss_gap(capsys):
    checks.check_loss_gap(gap)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda *a: gap(*a, half=1.0), "2 ×"),
    (lambda *a: gap(*a, power=1), "quadratic"),
    (lambda *a: gap(*a, weight=False), "eigenvalue"),
    (lambda *a: gap(*a, shift=2), "one step off"),
])
def test_check_loss_gap_rejects(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_loss_gap(wrong)


def limit(X, y, w0, how="right"):
    P = jnp.linalg.pinv(X)
    return {"right": P @ y + w0 - P @ (X @ w0), "zero": P @ y, "plus": w0 + P @ y, "row": P @ y + P @ (X @ w0)}[how]


def test_check_gd_limit(capsys):
    checks.check_gd_limit(limit)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("how, hint", [("zero", "minimum-norm"), ("plus", "does not even interpolate"),
                                       ("row", "row space")])
def test_check_gd_limit_rejects(how, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_gd_limit(lambda X, y, w0: limit(X, y, w0, how))


def best_beta(eta, mu, L):
    return (1 - np.sqrt(eta * mu)) ** 2


def test_check_best_momentum(capsys):
    checks.check_best_momentum(best_beta)
    assert "Correct" in capsys.readouterr().out


def test_best_momentum_is_the_brute_force_minimiser():
    """The reference answer minimises the worst rate over [μ, L] among a fine grid of β (by brute force)."""
    from course_utils import dynamics

    mu, L, eta = 0.2, 10.0, 0.05
    lam = jnp.geomspace(mu, L, 400)
    betas = np.linspace(0.0, 0.99, 1981)
    worst = np.array([float(dynamics.momentum_rate(eta * lam, b).max()) for b in betas])
    assert abs(betas[np.argmin(worst)] - best_beta(eta, mu, L)) < 1e-3
    assert worst.min() >= float(dynamics.momentum_rate(eta * lam, best_beta(eta, mu, L)).max()) - 1e-9


@pytest.mark.parametrize("wrong, hint", [
    (lambda eta, mu, L: ((np.sqrt(L / mu) - 1) / (np.sqrt(L / mu) + 1)) ** 2, "best step"),
    (lambda eta, mu, L: (np.sqrt(L / mu) - 1) / (np.sqrt(L / mu) + 1), "Nesterov"),
    (lambda eta, mu, L: 1 - np.sqrt(eta * mu), "rate the best β reaches"),
    (lambda eta, mu, L: 1 - eta * mu, "gradient descent"),
    (lambda eta, mu, L: 1.2, "outside"),
    (lambda eta, mu, L: 0.5 * best_beta(eta, mu, L), "worst rate"),
    (lambda eta, mu, L: None, "one number"),
])
def test_check_best_momentum_rejects(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_best_momentum(wrong)


def matching_step(lam, eta, batch, new_batch):
    from course_utils import dynamics

    target, lo, hi = dynamics.nqm_floor(np.asarray(lam), eta, 1.0, batch), 0.0, 2 / float(np.max(lam))
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if dynamics.nqm_floor(np.asarray(lam), mid, 1.0, new_batch) < target else (lo, mid)
    return (lo + hi) / 2


def test_check_matching_step(capsys):
    checks.check_matching_step(matching_step)
    assert "Correct" in capsys.readouterr().out


def test_matching_step_equals_linear_scaling_for_tiny_steps():
    """As η → 0 the floor is ησ² tr H/(4B): then η' = η·B'/B exactly (an independent answer for the reference)."""
    lam = np.array([0.2, 1.0, 3.0])
    np.testing.assert_allclose(matching_step(lam, 1e-7, 2, 8), 4e-7, rtol=1e-6)


@pytest.mark.parametrize("wrong, hint", [
    (lambda lam, eta, B, B2: eta * B2 / B, "linear scaling rule"),
    (lambda lam, eta, B, B2: eta * B / B2, "upside down"),
    (lambda lam, eta, B, B2: eta * np.sqrt(B2 / B), "square-root"),
    (lambda lam, eta, B, B2: 2.5 / float(np.max(lam)), "outside"),
    (lambda lam, eta, B, B2: 1.01 * matching_step(lam, eta, B, B2), "should equal"),
    (lambda lam, eta, B, B2: None, "one number"),
])
def test_check_matching_step_rejects(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_matching_step(wrong)


def saddle_free(R, w, how="right"):
    g, H = jax.grad(R)(w), jax.hessian(R)(w)
    lam, V = jnp.linalg.eigh(H)
    return {"right": w - V @ ((V.T @ g) / jnp.abs(lam)), "newton": w - jnp.linalg.solve(H, g),
            "uphill": w + V @ ((V.T @ g) / jnp.abs(lam)), "gradient": w - g}[how]


def test_check_saddle_free_newton(capsys):
    checks.check_saddle_free_newton(saddle_free)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "how, hint", [("newton", "Newton's step"), ("uphill", "uphill"), ("gradient", "gradient step")]
)
def test_check_saddle_free_newton_rejects(how, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_saddle_free_newton(lambda R, w: saddle_free(R, w, how))


def layer_hessian(X, H_out, l2, how="right"):
    n, d = X.shape
    k = H_out.shape[1]
    xx = jnp.einsum("ni,nj->nij", X, X)
    if how == "swapped":
        M = jnp.einsum("nab,nij->aibj", H_out, xx).reshape(d * k, d * k) / n
    elif how == "identity":
        M = jnp.einsum("nij,ab->iajb", xx, jnp.eye(k)).reshape(d * k, d * k) / n
    else:
        M = jnp.einsum("nij,nab->iajb", xx, H_out).reshape(d * k, d * k) / (1 if how == "sum" else n)
    return M + (0.0 if how == "no_l2" else l2) * jnp.eye(d * k)


def test_check_linear_layer_hessian(capsys):
    checks.check_linear_layer_hessian(layer_hessian)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("how, hint", [("swapped", "wrong order"), ("no_l2", "L2"), ("sum", "n × too large"),
                                       ("identity", "output Hessians")])
def test_check_linear_layer_hessian_rejects(how, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_linear_layer_hessian(lambda X, H, l2: layer_hessian(X, H, l2, how))


def damping_for_radius(H, g, radius, how="right"):
    """A student-style answer (bisection in H's eigenbasis), and the plausible mistakes the check must name."""
    lam, V = jnp.linalg.eigh(H)
    c = V.T @ g
    norm = lambda mu: float(jnp.linalg.norm(c / (lam + mu)))
    target = radius ** 2 if how == "squared" else radius
    if how == "gradient":
        return float(jnp.linalg.norm(g)) / radius
    if how == "always_damp":                       # a root on (−λmin, ∞) even when it is negative (Newton step inside)
        lo = -float(lam[0])
    elif how == "wrong_branch":                    # a root between the poles, below −λmin, where one exists
        grid = np.linspace(0.0, max(0.0, -float(lam[0])), 4001)[1:-1]
        values = np.array([norm(m) - radius for m in grid])
        crossings = np.nonzero(np.diff(np.sign(values)))[0]
        if len(crossings):
            lo, hi = grid[crossings[0]], grid[crossings[0] + 1]
            for _ in range(100):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if np.sign(norm(mid) - radius) == np.sign(norm(lo) - radius) else (lo, mid)
            return 0.5 * (lo + hi)
        return damping_for_radius(H, g, radius)
    else:
        lo = max(0.0, -float(lam[0]))
        if lam[0] > 0 and norm(0.0) <= target:
            return 0.0
    if how == "below_floor":
        return 0.5 * lo if lo > 0 else -0.1
    hi = lo + float(jnp.linalg.norm(g)) / min(target, radius) + 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if norm(mid) > target else (lo, mid)
    return 0.5 * (lo + hi)


def test_check_damping_for_radius(capsys):
    checks.check_damping_for_radius(damping_for_radius)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("how, hint", [("wrong_branch", "negative eigenvalue"), ("gradient", "ignores H"),
                                       ("squared", "squared norm"), ("always_damp", "no damping"),
                                       ("below_floor", "below max")])
def test_check_damping_for_radius_rejects(how, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_damping_for_radius(lambda H, g, r: damping_for_radius(H, g, r, how))


def test_check_damping_for_radius_rejects_the_stub():
    with pytest.raises(AssertionError, match="below max"):         # μ = 0 on an indefinite H
        checks.check_damping_for_radius(lambda H, g, r: 0.0)
    with pytest.raises(AssertionError, match="one number"):
        checks.check_damping_for_radius(lambda H, g, r: None)


def hutchinson_diag(matvec, dim, key, n_probes, probes="rademacher", how="right"):
    if probes == "rademacher":
        Z = jax.random.rademacher(key, (n_probes, dim), dtype=jnp.float64)
    else:
        Z = jax.random.normal(key, (n_probes, dim))
    if how == "normalise":
        Z = Z / jnp.linalg.norm(Z, axis=1, keepdims=True)
    prod = jax.vmap(lambda z: {"squared": matvec(z) ** 2, "trace": z @ matvec(z)}.get(how, z * matvec(z)))(Z)
    return prod.sum(0) if how == "sum" else prod.mean(0)


def test_check_hutchinson_diagonal(capsys):
    checks.check_hutchinson_diagonal(hutchinson_diag)
    # dividing by the mean of z ⊙ z (a normalisation some papers use) changes nothing for ±1 entries
    checks.check_hutchinson_diagonal(lambda m, d, k, p: hutchinson_diag(m, d, k, p) / jnp.mean(
        jax.random.rademacher(k, (p, d), dtype=jnp.float64) ** 2, 0))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda m, d, k, p: hutchinson_diag(m, d, k, p, probes="normal"), "Rademacher"),
    (lambda m, d, k, p: hutchinson_diag(m, d, k, p, how="sum"), "don't sum"),
    (lambda m, d, k, p: hutchinson_diag(m, d, k, p, how="squared"), "squared product"),
    (lambda m, d, k, p: hutchinson_diag(m, d, k, p, how="trace"), "not zᵀAz"),
    (lambda m, d, k, p: hutchinson_diag(m, d, k, p, how="normalise"), "normalise"),
    (lambda m, d, k, p: jnp.diag(jax.vmap(m)(jnp.eye(d))), "exact diagonal"),
    (lambda m, d, k, p: hutchinson_diag(m, d, jax.random.key(0), p), "different keys"),
    (lambda m, d, k, p: hutchinson_diag(m, d, jax.random.key(np.random.randint(1 << 30)), p), "same key"),
    (lambda m, d, k, p: hutchinson_diag(m, d, k, min(p, 10)), "standard deviations"),   # n_probes ignored
    (lambda m, d, k, p: hutchinson_diag(m, d, k, p) + 0.05, "exactly"),
    (lambda m, d, k, p: None, "shape"),
])
def test_check_hutchinson_diagonal_rejects(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_hutchinson_diagonal(wrong)


def newton_loo(theta, X, Y, i, l2, how="right"):
    n = len(Y)
    z = Y * (X @ theta)
    s = jax.nn.sigmoid(z) * jax.nn.sigmoid(-z)
    H = (X * s[:, None]).T @ X / n + l2 * jnp.eye(len(theta))
    g_i = -Y[i] * jax.nn.sigmoid(-z[i]) * X[i]
    H_i = s[i] * jnp.outer(X[i], X[i])
    M = {"right": H - H_i / n, "influence": H, "plus": H + H_i / n}[how if how in ("influence", "plus") else "right"]
    sign, scale = (-1.0 if how == "sign" else 1.0), (n if how == "n" else 1.0)
    return sign * scale * jnp.linalg.solve(M, g_i) / n


@pytest.mark.slow
def test_check_newton_loo(capsys):
    checks.check_newton_loo(newton_loo)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("how, hint", [("influence", "influence prediction"), ("sign", "sign"), ("n", "n ×"),
                                       ("plus", "Differs")])
def test_check_newton_loo_rejects(how, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_newton_loo(lambda *a: newton_loo(*a, how=how))


def margin(logits, y, how="right"):
    own = logits[jnp.arange(len(y)), y]
    mask = jax.nn.one_hot(y, logits.shape[1]) > 0
    if how == "probs":
        p = jax.nn.softmax(logits)
        return jnp.where(mask, -jnp.inf, p).max(1) - p[jnp.arange(len(y)), y]
    best = logits.max(1) if how == "with_own" else jnp.where(mask, -jnp.inf, logits).max(1)
    return -(best - own) if how == "sign" else best - own


def test_check_label_margin(capsys):
    checks.check_label_margin(margin)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("how, hint", [("sign", "sign"), ("with_own", "exclude the given label"),
                                       ("probs", "logits, not the softmax")])
def test_check_label_margin_rejects(how, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_label_margin(lambda logits, y: margin(logits, y, how))


def test_eigh_solve_matches_a_damped_solve_for_vectors_and_matrices():
    from course_utils import curvature

    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    A = (Q * np.r_[-0.3, 0.1, 0.5, 1, 2, 4]) @ Q.T
    evals, evecs = jnp.linalg.eigh(jnp.asarray(A))
    b, B = rng.normal(size=6), rng.normal(size=(6, 3))
    for damping in (0.5, 2.0):
        assert np.allclose(curvature.eigh_solve(evals, evecs, jnp.asarray(b), damping=damping),
                           np.linalg.solve(A + damping * np.eye(6), b), rtol=1e-10)
        assert np.allclose(curvature.eigh_solve(evals, evecs, jnp.asarray(B), damping=damping),
                           np.linalg.solve(A + damping * np.eye(6), B), rtol=1e-10)
    with pytest.raises(ValueError, match="rows"):
        curvature.eigh_solve(evals, evecs, jnp.ones(5))


def test_bregman_of_cross_entropy_is_its_closed_form_and_nonnegative():
    from course_utils import models

    D = models.bregman(models.cross_entropy)
    rng = np.random.default_rng(1)
    for _ in range(5):
        f, f_ref, y = jnp.asarray(rng.normal(size=4)), jnp.asarray(rng.normal(size=4)), int(rng.integers(4))
        closed = (models.cross_entropy(f, y) - models.cross_entropy(f_ref, y)
                  - (jax.nn.softmax(f_ref) - jax.nn.one_hot(y, 4)) @ (f - f_ref))
        assert np.isclose(D(f, f_ref, y), closed, rtol=1e-12) and D(f, f_ref, y) >= 0 and D(f, f, y) == 0
    sq = models.bregman(models.squared_error)           # for squared error it is half the squared distance
    assert np.isclose(sq(jnp.array([1.0, 2.0]), jnp.array([0.0, 0.5]), jnp.zeros(2)), 0.5 * (1 + 1.5 ** 2))


def test_project_8bit_lands_on_the_grid_inside_the_ball():
    from course_utils import data

    rng = np.random.default_rng(2)
    x0 = rng.integers(0, 256, 64) / 255
    x = x0 + rng.normal(scale=0.2, size=64)
    p = np.asarray(data.project_8bit(x, x0, 10 / 255))
    assert np.allclose(p * 255, np.round(p * 255), atol=1e-9) and np.all((p >= 0) & (p <= 1))
    assert np.max(np.abs(p - x0)) <= 10 / 255 + 1e-12
    checks.check_project_8bit(data.project_8bit)


ALL_CHECKS = sorted(name for name in dir(checks) if name.startswith("check_"))


@pytest.mark.parametrize("name", ALL_CHECKS)
@pytest.mark.parametrize("stub", [lambda *a, **k: None, lambda *a, **k: 0.0], ids=["returns None", "returns 0"])
def test_every_check_rejects_a_stub_with_an_assertion(name, stub):
    """A half-done exercise (a function returning None or 0) gets a hint, not a TypeError from inside the check."""
    with pytest.raises(AssertionError):
        getattr(checks, name)(stub)


def diag_fisher(G, Gt, shift, how="right"):
    d = jnp.mean(G ** 2, axis=0) * (G.shape[0] if how == "sum" else 1)
    if how == "no_shift":
        return -Gt @ (G / d).T
    if how == "sqrt":
        return -Gt @ (G / jnp.sqrt(d + shift)).T
    if how == "scalar":
        return -Gt @ G.T / (jnp.mean(d) + shift)
    out = -Gt @ (G / (d + shift)).T
    return -out if how == "sign" else out


def test_check_diag_fisher_influence(capsys):
    checks.check_diag_fisher_influence(diag_fisher)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("how, hint", [("sign", "sign"), ("sum", "MEAN"), ("no_shift", "Add the shift"),
                                       ("sqrt", "square root"), ("scalar", "PARAMETER")])
def test_check_diag_fisher_influence_rejects(how, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_diag_fisher_influence(lambda G, Gt, shift: diag_fisher(G, Gt, shift, how))
    with pytest.raises(AssertionError, match="shape"):
        checks.check_diag_fisher_influence(lambda G, Gt, shift: diag_fisher(G, Gt, shift).T)


def kron_solve(A, G, V, shift, how="right"):
    if how == "factored":
        r = jnp.sqrt(shift)
        return jnp.linalg.solve(A + r * jnp.eye(len(A)), V) @ jnp.linalg.inv(G + r * jnp.eye(len(G)))
    la, Qa = jnp.linalg.eigh(A)
    lg, Qg = jnp.linalg.eigh(G)
    lam = {"sum": la[:, None] + lg[None] + shift, "no_shift": jnp.outer(la, lg)}.get(how, jnp.outer(la, lg) + shift)
    core = Qa.T @ V @ Qg
    return Qa @ (core * lam if how == "multiply" else core / lam) @ Qg.T


def test_check_kron_solve(capsys):
    checks.check_kron_solve(kron_solve)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("how, hint", [("factored", "factored damping"), ("sum", "PRODUCTS"),
                                       ("no_shift", "Add the shift"), ("multiply", "solve with it")])
def test_check_kron_solve_rejects(how, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_kron_solve(lambda A, G, V, shift: kron_solve(A, G, V, shift, how))
    with pytest.raises(AssertionError, match="shape"):
        checks.check_kron_solve(lambda A, G, V, shift: kron_solve(A, G, V, shift).T)
