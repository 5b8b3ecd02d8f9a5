"""Modern influence estimators graded against exact influence, and what they cost — measured in one run, printed.

(a) Notebook 08's §1 (07's model): 500 MNIST digits at 8×8 with 10% of the labels flipped (07's flips), the
    994-parameter CNN, mean cross-entropy + (0.01/2)‖θ‖², trained by L-BFGS to ‖∇R‖ ≤ 1e-9.
    Reference: exact damped influence ``influence_up_loss(..., solver=Exact(), damping=1e-3)`` for 10 test images
    (the first 10 of the test split).
    For each estimator (``course_utils.estimators``, same damping): the mean over the 10 images of Pearson's r and
    Spearman's ρ with the reference across the 500 training points, the build time, the query time, and the cost per
    test image amortised over 1, m and 10·m test images, the build included. Then the
    cost of one warm-started retrain on a random half of the training set with and without an L-BFGS preconditioner
    (what an LDS over M subsets costs), and the LDS of every estimator over 40 such subsets.
(b) A 51,930-parameter CNN on 28×28 MNIST (4,000 training images, four times notebook 08's §2; channels (4, 8), a
    128-unit hidden layer), trained briefly with Adam on minibatches: one HVP; CG (``curvature.cg_solve`` under vmap)
    to 1e-6 relative residual for 5 test gradients with a damping that keeps H + δI's condition number ≤ ~400; K-FAC /
    EK-FAC builds; TRAK with k = 512; and each one's agreement with CG.

Times are wall-clock on whatever machine runs this (shared cores inflate them): read them as orders of magnitude.

Run:  .venv/bin/python benchmarks/bench_estimators.py [--part a|b]
"""
import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

jax.config.update("jax_enable_x64", True)

from course_utils import (curvature as C, data as D, estimators as E, influence as I, models as M,  # noqa: E402
                          training as T, validation as V)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args, **kwargs))
    return out, time.perf_counter() - start


def agreement(scores, reference):
    scores, reference = np.atleast_2d(np.asarray(scores)), np.atleast_2d(np.asarray(reference))
    r = [V.pearson(s, t) for s, t in zip(scores, reference)]
    rho = [V.spearman(s, t) for s, t in zip(scores, reference)]
    return float(np.mean(r)), float(np.min(r)), float(np.mean(rho))


def report(name, est, build_s, test, reference):
    one = jax.tree_util.tree_map(lambda a: a[:1], test)
    _, query1_s = timed(est.up_loss, one)            # one test image (compiles for that shape)
    scores, query_s = timed(est.up_loss, test)       # all m test images (compiles for that shape)
    _, query2_s = timed(est.up_loss, test)           # the second query: compiled already
    r, r_min, rho = agreement(scores, reference)
    cost, m = est.cost, len(test[1])
    print(f"{name:>34}: r = {r:6.3f} (min {r_min:6.3f}), ρ = {rho:6.3f}; build {build_s:6.1f} s "
          f"({cost.hvps} HVPs, {cost.example_passes} example passes, {cost.bytes / 1e6:7.2f} MB kept); "
          f"query {query_s:5.1f} s first, {query2_s:5.2f} s again; per test image, build included: "
          f"{build_s + query1_s:6.2f} s for 1, {(build_s + query_s) / m:6.2f} s each for {m}, "
          f"{(build_s + query_s + 9 * query2_s) / (10 * m):6.3f} s each for {10 * m}")
    return np.asarray(scores)


def part_a():
    L2, DAMP = 0.01, 1e-3
    ds = D.load_mnist_subset(side=8)
    X = jnp.asarray(ds.x_train[:500])
    Y_noisy, flipped = D.flip_labels(np.asarray(ds.y_train[:500]), 0.1, key=jax.random.key(0))   # notebook 07's flips
    Y = jnp.asarray(Y_noisy)
    test = (jnp.asarray(ds.x_test[:10]), jnp.asarray(ds.y_test[:10]))
    loss = M.example_loss(M.cnn_apply, M.cross_entropy)
    params0 = M.cnn_init(jax.random.key(0), 8, channels=(8, 8))
    fit, t = timed(T.train_lbfgs, loss, params0, (X, Y), l2=L2, tol=1e-9, max_steps=20_000)
    p = ravel_pytree(fit.params)[0].size
    print(f"(a) 06 CNN: {p} parameters, 500 training images ({len(flipped)} labels flipped); "
          f"L-BFGS {int(fit.steps)} steps in {t:.1f} s, "
          f"‖∇R‖ = {float(fit.grad_norm):.1e}")
    first, t_one = timed(I.influence_up_loss, loss, fit.params, (X, Y), jax.tree_util.tree_map(lambda a: a[:1], test),
                         l2=L2, damping=DAMP, solver=I.Exact())        # forms H and its factor (then cached)
    exact, t_exact = timed(I.influence_up_loss, loss, fit.params, (X, Y), test, l2=L2, damping=DAMP,
                           solver=I.Exact())                          # 10 images from the cached factor
    print(f"{'exact (explicit H, Cholesky)':>34}: {t_one:.1f} s for H, its factor and 1 test image; 10 more images "
          f"from the factor {t_exact:.2f} s; per test image {t_one:.2f} s for 1, {(t_one + t_exact) / 10:.2f} s each "
          f"for 10")
    rows = {"exact": np.asarray(exact)}
    GN, t_gn = timed(E.gauss_newton_matrix, M.cnn_apply, M.cross_entropy, fit.params, (X, Y))
    G, Gt = I.flat_grads(loss, fit.params, (X, Y)), I.flat_grads(loss, fit.params, test)
    rows["exact GN"] = -np.asarray(Gt @ np.linalg.solve(GN + (L2 + DAMP) * np.eye(p), G.T))
    r, r_min, rho = agreement(rows["exact GN"], exact)
    print(f"{'exact Gauss-Newton + (λ+δ)I':>34}: r = {r:6.3f} (min {r_min:6.3f}), ρ = {rho:6.3f} — the ceiling for "
          f"K-FAC/EK-FAC, which approximate this matrix (formed from per-example Jacobians in {t_gn:.2f} s)")
    for name, build in (("K-FAC", E.kfac), ("EK-FAC", E.ekfac)):
        est, t = timed(build, M.cnn_apply, M.cross_entropy, fit.params, (X, Y), l2=L2, damping=DAMP)
        rows[name] = report(name, est, t, test, exact)
    for k in (20, 50, 100, 200, 400):
        est, t = timed(E.arnoldi, loss, fit.params, (X, Y), k, l2=L2, damping=DAMP)
        rows[f"Arnoldi k={k}"] = report(f"Arnoldi k={k} ({est.cost.hvps} Lanczos steps)", est, t, test, exact)
    est, t = timed(E.grad_dot, loss, fit.params, (X, Y))
    rows["gradient dot"] = report("gradient dot product", est, t, test, exact)

    # TracIn: Adam full-batch from the same initialisation, 10 checkpoints
    (ckpts, eta), t = timed(E.train_checkpoints, loss, params0, (X, Y), learning_rate=1e-2, steps=2000, every=200,
                            optimizer="adam", l2=L2)
    last = jax.tree_util.tree_map(lambda a: a[-1], ckpts)
    print(f"{'':>34}  (TracIn's run: Adam lr 1e-2, 2000 full-batch steps in {t:.1f} s, final ‖∇R‖ = "
          f"{float(T.grad_norm(loss, last, (X, Y), l2=L2)):.1e})")
    est, t = timed(E.tracin, loss, ckpts, eta, (X, Y))
    rows["TracIn"] = report("TracIn (10 Adam checkpoints)", est, t, test, exact)
    est, t = timed(E.tracin, loss, jax.tree_util.tree_map(lambda a: a[-3:], ckpts), eta[-3:], (X, Y))
    rows["TracIn last 3"] = report("TracIn (last 3 checkpoints)", est, t, test, exact)

    # TRAK: the trained model alone, and an ensemble of 5 (seeds 0–4, L-BFGS to 1e-6)
    for k in (32, 64, 128, 256, 500):
        est, t = timed(E.trak, M.cnn_apply, fit.params, (X, Y), k=k, key=jax.random.key(0))
        rows[f"TRAK k={k}"] = report(f"TRAK k={k}, 1 model", est, t, test, exact)
    ensemble, t_train = [fit.params], 0.0
    for seed in range(1, 5):
        other, t = timed(T.train_lbfgs, loss, M.cnn_init(jax.random.key(seed), 8, channels=(8, 8)), (X, Y), l2=L2,
                         tol=1e-6, max_steps=20_000)
        ensemble.append(other.params)
        t_train += t
    print(f"{'':>34}  (4 more models for the ensemble: {t_train:.1f} s of training)")
    for k in (64, 256):
        est, t = timed(E.trak, M.cnn_apply, ensemble, (X, Y), k=k, key=jax.random.key(0))
        rows[f"TRAK k={k} ×5"] = report(f"TRAK k={k}, 5 models", est, t, test, exact)

    # LDS sizing: warm-started retrains on random halves (the objective keeps 1/n, so the subset model's Hessian at
    # θ̂ is about α·(H − λI) + λI: that matrix's Cholesky factor is the natural preconditioner)
    H = I.hessian(loss, fit.params, (X, Y), l2=L2)
    scaled = jnp.linalg.cholesky(0.5 * (H - L2 * jnp.eye(p)) + L2 * jnp.eye(p) + 2 * DAMP * jnp.eye(p))
    for label, f in (("Cholesky of H(θ̂)", jnp.linalg.cholesky(H)), ("Cholesky of ½(H−λI)+λI+2δI", scaled),
                     ("no preconditioner", None)):
        for tol in (1e-4, 1e-6):
            weights = jnp.asarray(E.random_subsets(jax.random.key(0), 500, 1, 0.5)[0], float)
            run = lambda: T.train_lbfgs(loss, fit.params, (X, Y), l2=L2, weights=weights, tol=tol, max_steps=20_000,
                                        factor=f)
            timed(run)
            one, t = timed(run)
            print(f"half-subset retrain, warm start, {label}, ‖∇R‖ ≤ {tol:g}: {int(one.steps)} L-BFGS steps, {t:.2f} s")
    M_subsets = 40
    masks = E.random_subsets(jax.random.key(1), 500, M_subsets, 0.5)
    (fits, norms), t = timed(I.retrain, loss, fit.params, (X, Y), masks, l2=L2, method="lbfgs", tol=1e-6,
                             max_steps=20_000)
    outputs = jax.vmap(lambda q: jax.vmap(loss, (None, 0, 0))(q, *test))(fits)
    print(f"LDS: {M_subsets} half subsets retrained (warm start, no preconditioner, ‖∇R‖ ≤ 1e-6, "
          f"max {float(norms.max()):.1e}) in "
          f"{t:.0f} s in one call; mean (min) LDS over the 10 test images:")
    for name, scores in rows.items():
        value = E.lds(scores, masks, outputs)
        print(f"{name:>34}: {value.mean:6.3f} ({value.per_test.min():6.3f})")
    return rows


def part_b():
    L2 = 1e-3
    ds = D.load_mnist_subset()
    X, Y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
    test = (jnp.asarray(ds.x_test[:5]), jnp.asarray(ds.y_test[:5]))
    loss = M.example_loss(M.cnn_apply, M.cross_entropy)
    params0 = M.cnn_init(jax.random.key(0), 28, channels=(4, 8), hidden=128)
    (ckpts, eta), t = timed(E.train_checkpoints, loss, params0, (X, Y), learning_rate=3e-3, steps=1500, every=300,
                            optimizer="adam", batch_size=128, l2=L2, key=jax.random.key(1))
    params = jax.tree_util.tree_map(lambda a: a[-1], ckpts)
    acc = float(np.mean(np.argmax(M.cnn_apply(params, jnp.asarray(ds.x_test)), -1) == ds.y_test))
    R, w, unravel = T.flat_risk(loss, params, (X, Y), l2=L2)
    print(f"(b) 28×28 CNN: {w.size} parameters, {len(Y)} training images, l2 = {L2}; Adam (lr 3e-3, batch 128) "
          f"1500 steps in {t:.0f} s: ‖∇R‖ = {float(jnp.linalg.norm(jax.grad(R)(w))):.2e}, test accuracy {acc:.1%}")
    # the data are arguments, not closed-over constants (XLA would spend minutes constant-folding them)
    risk = lambda u, data: T.empirical_risk(loss, unravel(u), data, l2=L2)
    hvp_at = jax.jit(lambda u, v, data: jax.jvp(lambda z: jax.grad(risk)(z, data), (u,), (v,))[1])
    hvp = lambda v: hvp_at(w, v, (X, Y))
    v = jax.random.normal(jax.random.key(2), w.shape)
    timed(hvp, v)
    _, t_hvp = timed(hvp, v)
    batched_at = jax.jit(jax.vmap(hvp_at, (None, 0, None)))
    batched = lambda V: batched_at(w, V, (X, Y))
    timed(batched, jnp.stack([v] * 5))
    _, t_hvp5 = timed(batched, jnp.stack([v] * 5))
    print(f"one full-batch HVP: {t_hvp:.2f} s; five at once (vmap): {t_hvp5:.2f} s")
    ritz, t_lanczos = timed(jax.jit(lambda u, data: C.lanczos(lambda v: hvp_at(u, v, data), u, iters=60)), w, (X, Y))
    t = t_lanczos
    lam_min, lam_max = float(ritz[0]), float(ritz[-1])
    damping = max(2 * abs(min(lam_min, 0.0)), lam_max / 400)
    print(f"Lanczos, 60 HVPs ({t:.0f} s): λmin ≈ {lam_min:.3g}, λmax ≈ {lam_max:.3g} (of H, l2 included) → damping "
          f"{damping:.3g} (≥ 2|λmin|, condition number ≤ ~400)")
    Gt = I.flat_grads(loss, params, test)
    cg_at = jax.jit(jax.vmap(lambda u, b, data: C.cg_solve(lambda v: hvp_at(u, v, data), b, damping=damping,
                                                            tol=1e-6, maxiter=400, check=False), (None, 0, None)))
    S, t = timed(cg_at, w, Gt, (X, Y))
    residual = jnp.linalg.norm(batched(S) + damping * S - Gt, axis=1) / jnp.linalg.norm(Gt, axis=1)
    print(f"CG to relative residual 1e-6 for 5 test gradients at once (vmap): {t:.0f} s, compilation included "
          f"(max residual {float(residual.max()):.1e}); per test image, the damping's Lanczos included: "
          f"{(t_lanczos + t) / 5:.1f} s")
    dots, t = timed(E._train_dots, loss, params, (X, Y), S, 64)
    reference = -np.asarray(dots)
    print(f"all {len(Y)} training scores for the 5 test images by one jvp each: {t:.1f} s (compiled on first call)")
    for name, build in (("K-FAC", E.kfac), ("EK-FAC", E.ekfac)):
        est, t = timed(build, M.cnn_apply, M.cross_entropy, params, (X, Y), l2=L2, damping=damping)
        report(name, est, t, test, reference)
    est, t = timed(E.arnoldi, loss, params, (X, Y), 50, l2=L2, damping=damping)
    report(f"Arnoldi k=50 ({est.cost.hvps} Lanczos steps)", est, t, test, reference)
    est, t = timed(E.trak, M.cnn_apply, params, (X, Y), k=512, key=jax.random.key(0))
    report("TRAK k=512, 1 model", est, t, test, reference)
    est, t = timed(E.tracin, loss, ckpts, eta, (X, Y))
    report("TracIn (5 Adam checkpoints)", est, t, test, reference)
    est, t = timed(E.grad_dot, loss, params, (X, Y))
    report("gradient dot product", est, t, test, reference)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=["a", "b", "both"], default="both")
    args = parser.parse_args()
    if args.part in ("a", "both"):
        part_a()
    if args.part in ("b", "both"):
        part_b()
