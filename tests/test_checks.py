"""Exercise checks accept right answers and reject plausible wrong ones with a specific hint."""
import jax
import jax.numpy as jnp
import numpy as np
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


def gd_eig(H, w0, w_star, eta, t, shift=0):
    lam, Q = jnp.linalg.eigh(H)
    return w_star + Q @ ((1 - eta * lam) ** (t + shift) * (Q.T @ (w0 - w_star)))


def test_check_gd_closed_form_accepts_a_correct_answer(capsys):
    checks.check_gd_closed_form(gd_eig)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda H, w0, ws, eta, t: gd_eig(H, w0, ws, eta, t, shift=1), "off-by-one"),
    (lambda H, w0, ws, eta, t: gd_eig(H, w0, ws, eta, t) - ws, "add w\\* back"),
    (lambda H, w0, ws, eta, t: jnp.linalg.eigh(H)[1].T @ (gd_eig(H, w0, ws, eta, t) - ws), "eigenbasis coordinates"),
    (lambda H, w0, ws, eta, t: ws + (1 - eta * jnp.diag(H)) ** t * (w0 - ws), "differs from simulated GD"),
])
def test_check_gd_closed_form_rejects_plausible_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_gd_closed_form(wrong)


def best(H, eta_of=lambda lo, hi: 2 / (lo + hi)):
    lam = jnp.linalg.eigvalsh(H)
    eta = eta_of(lam[0], lam[-1])
    return eta, jnp.maximum(jnp.abs(1 - eta * lam[0]), jnp.abs(1 - eta * lam[-1]))


def test_check_best_step_accepts_a_correct_answer(capsys):
    checks.check_best_step(best)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda H: best(H, lambda lo, hi: 2 / hi), "edge of divergence"),
    (lambda H: best(H, lambda lo, hi: 1 / hi), "1/λmax"),
    (lambda H: best(H, lambda lo, hi: 1 / (lo + hi)), "eta is off"),
    (lambda H: (best(H)[0], 1 - 1 / (jnp.linalg.cond(H))), "rate should be"),
    (lambda H: best(H)[0], "pair"),
])
def test_check_best_step_rejects_plausible_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_best_step(wrong)


def newton(R, w, how="solve"):
    g, H = jax.grad(R)(w), jax.hessian(R)(w)
    return {"solve": w - jnp.linalg.solve(H, g), "plus": w + jnp.linalg.solve(H, g), "grad": w - g,
            "mult": w - H @ g, "diag": w - g / jnp.diag(H)}[how]


def test_check_newton_step_accepts_a_correct_answer(capsys):
    checks.check_newton_step(newton)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("how, hint", [("plus", "uphill"), ("grad", "gradient step"), ("mult", "instead of solving"),
                                       ("diag", "differs from the reference")])
def test_check_newton_step_rejects_plausible_mistakes(how, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_newton_step(lambda R, w: newton(R, w, how))


def gn(J, logits, how="right"):
    p = jax.nn.softmax(logits)
    out = {"right": jax.vmap(jnp.diag)(p) - p[:, :, None] * p[:, None, :], "diag": jax.vmap(jnp.diag)(p),
           "identity": jnp.broadcast_to(jnp.eye(p.shape[1]), p.shape + p.shape[1:])}[how]
    return jnp.einsum("nkp,nkl,nlq->pq", J, out, J) / J.shape[0]


def test_check_gauss_newton_matrix_accepts_a_correct_answer(capsys):
    checks.check_gauss_newton_matrix(gn)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda J, f: gn(J, f, "diag"), "diag\\(p\\) as the output Hessian"),
    (lambda J, f: gn(J, f, "identity"), "squared error"),
    (lambda J, f: J.shape[0] * gn(J, f), "average over examples"),
    (lambda J, f: gn(J, f)[:-1], "\\(p, p\\)"),
    (lambda J, f: gn(J, jnp.exp(f)), "differs from the reference"),
])
def test_check_gauss_newton_matrix_rejects_plausible_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_gauss_newton_matrix(wrong)


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


def closed_form(th, X, Y, xt, yt, l2, how="right"):
    sig = jax.nn.sigmoid
    z, zt = Y * (X @ th), yt * (th @ xt)
    H = (X * (sig(z) * sig(-z))[:, None]).T @ X / len(X) + (0.0 if how == "no_l2" else l2) * jnp.eye(len(th))
    Hinv_xt = xt if how == "no_H" else jnp.linalg.solve(H, xt)
    factor = 1.0 if how == "no_train_factor" else sig(-z)
    out = -yt * Y * sig(-zt) * factor * (X @ Hinv_xt)
    return -out if how == "sign" else out


def test_check_binary_influence_accepts_a_correct_answer(capsys):
    checks.check_binary_influence(closed_form)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("how, hint", [("sign", "wrong sign"), ("no_l2", "L2 term"), ("no_H", "plain inner product"),
                                       ("no_train_factor", "differs from the reference")])
def test_check_binary_influence_rejects_plausible_mistakes(how, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_binary_influence(lambda *a: closed_form(*a, how=how))


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


def found(scores, flipped, checked, how=None):
    k = int(round(checked * len(scores)))
    order = np.argsort(np.asarray(scores)) if how == "ascending" else np.argsort(-np.asarray(scores))
    hits = len(np.intersect1d(order[:k], flipped))
    return hits / k if how == "per_checked" else hits / len(flipped)


def test_check_fraction_found_accepts_a_correct_answer(capsys):
    checks.check_fraction_found(found)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("how, hint", [("ascending", "SMALLEST"), ("per_checked", "number of flipped")])
def test_check_fraction_found_rejects_plausible_mistakes(how, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_fraction_found(lambda *a: found(*a, how=how))


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
