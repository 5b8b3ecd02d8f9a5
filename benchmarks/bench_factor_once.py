"""Influence at the physical limit, on ONE pinned core: forming H, factoring once, and answering many queries.

Every side of every ratio runs in this one process, pinned to a single CPU core before JAX starts
(``os.sched_setaffinity``, the call ``taskset`` makes; XLA sizes its thread pool from that mask), so the ratios
compare algorithms, not how many cores each side happened to use.

(1) Forming the exact Hessian of the training objective, every way we have, on notebook 06's CNN (994 parameters,
    500 8×8 digits): HVP columns in batches of 16 / 64 / 256 (``curvature.hessian_matrix``), ``jax.hessian``
    (forward-over-reverse over all columns at once), per-example blocks (Hessians of chunks of examples, summed,
    each column a tangent in the whole parameter vector), ``influence.hessian`` (blocks of 10 examples × 16 columns,
    each column's tangent in one parameter leaf, only the half of H on and after that leaf computed, the rest
    mirrored), and — for scale, not the same matrix — the Gauss-Newton matrix from per-example output Jacobians
    (``estimators.gauss_newton_matrix``); on a wider CNN (channels (10, 10): 1,420 parameters) on 1,000 digits, the
    columns, the blocks and ``influence.hessian``. Each method's largest difference from the first is printed.
(2) Factor once, query many (``influence.factorize``): per test image, factorisation included, amortised over 1, 10
    and 100 test images, against the per-sample LiSSA loop of the PyTorch ports (Python loop over depth, one
    minibatch HVP per step; batch 32, depth 5,000, scale 40 — settings that converge here), compiled step by step
    and eager. Agreement: each method's worst Pearson r with the exact damped influence over the images it scored.
(3) The query against its floor: ``Factorization.up_loss`` for 100 test images against the bare product of their
    gradients with the training-gradient matrix (G_test Gᵀ, gradients included on both sides).

Run:  .venv/bin/python benchmarks/bench_factor_once.py [--quick]      (make bench runs every benchmark)
"""
import argparse
import os
import time

if hasattr(os, "sched_setaffinity"):                 # pin before JAX starts its thread pool
    CORE = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {CORE})

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.flatten_util import ravel_pytree  # noqa: E402

jax.config.update("jax_enable_x64", True)

import ports  # noqa: E402
from course_utils import (curvature as C, data as D, estimators as E, influence as I, models as M,  # noqa: E402
                          training as T)

L2, DAMP = 0.01, 1e-3


def seconds(fn, *args):
    """Seconds for one call after a warm-up call (which compiles)."""
    jax.block_until_ready(fn(*args))
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - start


def first_call(fn, *args):
    """Seconds for the first call, compilation included (what a user pays once)."""
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - start


def model(n, channels):
    ds = D.load_mnist_subset(side=8)
    X, Y = jnp.asarray(ds.x_train[:n]), jnp.asarray(ds.y_train[:n])
    loss = M.example_loss(M.cnn_apply, M.cross_entropy)
    fit = T.train_lbfgs(loss, M.cnn_init(jax.random.key(0), 8, channels=channels), (X, Y), l2=L2, tol=1e-9,
                        max_steps=20_000)
    return ds, X, Y, loss, fit


def example_blocks(loss, unravel, w, X, Y, examples, columns):
    """Σ over chunks of `examples` training points of that chunk's Hessian, `columns` HVP columns at a time."""
    Xc, Yc = X.reshape(-1, examples, X.shape[1]), Y.reshape(-1, examples)

    def body(total, xy):
        chunk_risk = lambda u: jnp.sum(jax.vmap(loss, (None, 0, 0))(unravel(u), *xy))
        return total + C.hessian_matrix(chunk_risk, w, columns_per_batch=columns), None
    H, _ = jax.lax.scan(body, jnp.zeros((w.size, w.size), w.dtype), (Xc, Yc))
    return H / X.shape[0] + L2 * jnp.eye(w.size, dtype=w.dtype)


def forming(n, channels, everything):
    _, X, Y, loss, fit = model(n, channels)
    w, unravel = ravel_pytree(fit.params)
    risk = lambda u, data: T.empirical_risk(loss, unravel(u), data, l2=L2)
    column_batches = (16, 64, 256) if everything else (64,)
    methods = {f"HVP columns, {b} at a time": jax.jit(lambda u, d, b=b: C.hessian_matrix(lambda v: risk(v, d), u,
                                                                                        columns_per_batch=b))
               for b in column_batches}
    if everything:
        methods["jax.hessian (all columns at once)"] = jax.jit(lambda u, d: jax.hessian(lambda v: risk(v, d))(u))
    for ex, cols in ((25, 64), (10, 256), (5, 32), (10, 16)) if everything else ((10, 16),):
        methods[f"blocks of {ex} examples × {cols} columns"] = jax.jit(
            lambda u, d, ex=ex, cols=cols: example_blocks(loss, unravel, u, d[0], d[1], ex, cols))
    methods["influence.hessian (leaf groups, half of H)"] = jax.jit(
        lambda u, d: I.hessian(loss, unravel(u), d, l2=L2, check=False))
    print(f"(1) forming H: CNN channels {channels}, {w.size} parameters, {n} training images")
    reference, best = None, None
    for name, fn in methods.items():
        H, t_first = first_call(fn, w, (X, Y))
        t = seconds(fn, w, (X, Y))
        diff = 0.0 if reference is None else float(jnp.max(jnp.abs(H - reference)))
        reference = H if reference is None else reference
        best = (t, name) if best is None or t < best[0] else best
        print(f"    {name:<44} {t:6.2f} s (first call, compiling: {t_first:6.2f} s); max |ΔH| {diff:.1e}")
    gn = lambda: E.gauss_newton_matrix(M.cnn_apply, M.cross_entropy, fit.params, (X, Y))
    print(f"    {'Gauss-Newton from per-example Jacobians':<44} {seconds(gn):6.2f} s   (not H: the GN part only)")
    print(f"    fastest exact: {best[1]}, {best[0]:.2f} s")


def queries(n_tests, lissa_steps_timed):
    ds, X, Y, loss, fit = model(500, (8, 8))
    w, unravel = ravel_pytree(fit.params)
    n, p = len(Y), w.size
    flat_loss = lambda u, x, y: loss(unravel(u), x, y)
    X_test, Y_test = jnp.asarray(ds.x_test[:n_tests]), jnp.asarray(ds.y_test[:n_tests])
    G = np.asarray(I.flat_grads(loss, fit.params, (X, Y)))
    G_test = np.asarray(I.flat_grads(loss, fit.params, (X_test, Y_test)))
    H = np.asarray(I.hessian(loss, fit.params, (X, Y), l2=L2)) + DAMP * np.eye(p)
    reference = -(G @ np.linalg.solve(H, G_test.T)).T                                     # (n_tests, n)
    worst_r = lambda S, rows: min(np.corrcoef(S[i], reference[i])[0, 1] for i in rows)
    print(f"(2) factor once, query many: 06 CNN, {p} parameters, {n} training images, damping {DAMP}")

    # the library: form H, factor, solve the training gradients, then answer the test images (first call: compiles)
    def library(m):
        start = time.perf_counter()
        fac = I.factorize(loss, fit.params, (X, Y), l2=L2, damping=DAMP)
        scores = jax.block_until_ready(fac.up_loss((X_test[:m], Y_test[:m])))
        return np.asarray(scores), time.perf_counter() - start
    library(1)                                                     # compile every shape once
    library(10)
    library(n_tests)
    lib = {m: library(m) for m in (1, 10, n_tests)}

    # the per-sample LiSSA loop of the ports: one minibatch HVP per step in a Python loop, then one gradient per point
    eager_hvp = ports.minibatch_hvp(loss, unravel, w, X, Y, l2=L2, damping=DAMP)
    mb_hvp, grad_one = jax.jit(eager_hvp), jax.jit(jax.grad(flat_loss))

    def lissa_loop(x_t, y_t, depth, hvp=mb_hvp, grad=grad_one):
        return ports.lissa_loop(hvp, grad, w, X, Y, x_t, y_t, depth)

    lissa_loop(X_test[0], Y_test[0], 2)
    start = time.perf_counter()
    lissa_loop(X_test[0], Y_test[0], lissa_steps_timed)
    t_short = time.perf_counter() - start
    start = time.perf_counter()
    jax.block_until_ready([grad_one(w, X[i], Y[i]) for i in range(n)])
    t_grads = time.perf_counter() - start
    t_compiled = (t_short - t_grads) * 5000 / lissa_steps_timed + t_grads                # per image, depth 5,000
    eager_grad = jax.grad(flat_loss)
    start = time.perf_counter()
    lissa_loop(X_test[0], Y_test[0], 0, hvp=eager_hvp, grad=eager_grad)                 # the n eager gradients
    t_eager_grads = time.perf_counter() - start
    rng, h = np.random.default_rng(0), G_test[0]
    start = time.perf_counter()
    for _ in range(20):
        h = jax.block_until_ready(G_test[0] + h - eager_hvp(h, jnp.asarray(rng.integers(0, n, 32))) / 40.0)
    t_eager = (time.perf_counter() - start) / 20 * 5000 + t_eager_grads
    r_lissa = [np.corrcoef(lissa_loop(X_test[i], Y_test[i], 5000), reference[i])[0, 1] for i in range(3)]
    print(f"    per-sample LiSSA loop (batch 32, depth 5,000, scale 40), per test image: compiled steps "
          f"{t_compiled:.2f} s (timed over {lissa_steps_timed} steps), eager {t_eager:.1f} s (timed over 20 steps); "
          f"Pearson with exact on 3 images {min(r_lissa):.4f}–{max(r_lissa):.4f}")
    for m, (scores, t) in lib.items():
        print(f"    factorize + up_loss for {m:>3} test images: {t:6.2f} s, {t / m * 1e3:8.1f} ms per image "
              f"(H, factor and training solves included) -> {t_compiled / (t / m):7.1f}x the compiled loop, "
              f"{t_eager / (t / m):8.0f}x the eager loop; worst Pearson {worst_r(scores, range(m)):.6f}")

    # (3) a query on a kept factor against the bare product G_test Gᵀ (both from the parameters: gradients included)
    fac = I.factorize(loss, fit.params, (X, Y), l2=L2, damping=DAMP)
    test = (X_test, Y_test)
    t_query = seconds(lambda: fac.up_loss(test))
    product = jax.jit(lambda q, d, t: I.flat_grads(loss, q, t) @ I.flat_grads(loss, q, d).T)
    t_product = seconds(product, fit.params, (X, Y), test)
    t_self = seconds(fac.self_influence)
    print(f"(3) a query on the kept factor, {n_tests} test images: {t_query * 1e3:.1f} ms; the product of their "
          f"gradients with the training-gradient matrix, both computed: {t_product * 1e3:.1f} ms "
          f"(ratio {t_query / t_product:.2f}; goal ≤ 2); self-influence of all {n} points: {t_self * 1e3:.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, to check the script runs")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "all"
    print(f"jax {jax.__version__}, float64, pinned to CPU core(s) {cores} of {os.cpu_count()}")
    forming(500, (8, 8), everything=not args.quick)
    if not args.quick:
        forming(1000, (10, 10), everything=False)
    queries(n_tests=10 if args.quick else 100, lissa_steps_timed=50 if args.quick else 500)
