"""Foundation benchmark: what vectorisation buys, measured in one run on this machine (ratios, not timed tests).

1. Per-example gradients of the small CNN on the MNIST subset (all training points): one vmapped call
   against a Python loop over points of eager gradients, the way PyTorch ports compute them (goal: ≥ 20×),
   and against a loop over a jit-compiled per-example gradient (the strongest loop one can write).
2. Leave-one-out retraining with ``influence.leave_one_out`` (one compiled lax.map; optionally all retrains
   vmapped) against a Python loop of the same jit-compiled retrain: 50 points of L2-regularised logistic
   regression (Newton) and 20 of the small CNN on 100 MNIST-subset images (L-BFGS). Goal: ≥ 5×. Vectorising pays
   when one retrain is too small to keep the cores busy; a retrain that already saturates both cores gains nothing
   from vmap (see the closing note of the foundation issue).

Run:  make bench     (or .venv/bin/python benchmarks/bench_foundation.py [--quick])
"""
import argparse
import os

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from course_utils import data as D, influence as I, models as M, timing, training as T  # noqa: E402


def timed(fn, *args):
    """Seconds for one call (after a warm-up call that compiles)."""
    return timing.seconds(fn, *args, repeats=1)


def per_example_gradients(n_train):
    ds = D.load_mnist_subset(n_train=n_train)
    X, Y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
    loss = M.example_loss(M.cnn_apply, M.cross_entropy)
    params = M.cnn_init(jax.random.key(0), 28, channels=(4, 4))
    vmapped = jax.jit(jax.vmap(jax.grad(loss), in_axes=(None, 0, 0)))
    eager, compiled = jax.grad(loss), jax.jit(jax.grad(loss))
    loop = lambda g: (lambda p, X, Y: [g(p, X[i], Y[i]) for i in range(len(X))])
    t_vmap, t_eager, t_jit = (
        timed(vmapped, params, X, Y),
        timed(loop(eager), params, X, Y),
        timed(loop(compiled), params, X, Y),
    )
    G = vmapped(params, X, Y)
    assert all(np.allclose(G["dense"]["w"][i], compiled(params, X[i], Y[i])["dense"]["w"]) for i in (0, len(X) - 1))
    n_params = sum(a.size for a in jax.tree_util.tree_leaves(params))
    print(f"[1] per-example gradients, CNN ({n_params} params) on {len(X)} MNIST-subset images (28x28):")
    print(f"    vmap {t_vmap:.3f} s | loop of eager grads (as PyTorch ports do) {t_eager:.1f} s: "
          f"{t_eager / t_vmap:.0f}x (goal >= 20x) | loop of a jit-compiled grad {t_jit:.3f} s: {t_jit / t_vmap:.1f}x")


def loo(name, loss, params, X, Y, l2, method, n_points, vmapped=True, **opts):
    train = T.train_newton if method == "newton" else T.train_lbfgs
    fit = train(loss, params, (X, Y), l2=l2, **opts)
    indices = np.arange(n_points)
    mapped = lambda b: (lambda: I.leave_one_out(loss, fit.params, (X, Y), indices, l2=l2, method=method,
                                                models_per_batch=b, **opts))
    trainer = jax.jit(lambda w: train(loss, fit.params, (X, Y), l2=l2, weights=w, **opts))

    def sequential():
        out = []
        for i in indices:
            w = np.ones(len(X))
            w[i] = 0.0
            out.append(trainer(w))
        return out

    t_seq, t_map = timed(sequential), timed(mapped(1))
    (P, g), seq = mapped(1)(), sequential()
    agree = max(float(jnp.max(jnp.abs(a - b[i]))) for i, f in enumerate(seq)
                for a, b in zip(jax.tree_util.tree_leaves(f.params), jax.tree_util.tree_leaves(P)))
    print(f"    {name}:\n      Python loop of a compiled retrain {t_seq:.2f} s | leave_one_out, compiled lax.map "
          f"{t_map:.2f} s: {t_seq / t_map:.1f}x", end="")
    if vmapped:
        t_vmap = timed(mapped(n_points))
        print(f" | leave_one_out, all {n_points} vmapped {t_vmap:.2f} s: {t_seq / t_vmap:.1f}x", end="")
    print(f"  (goal >= 5x)\n      max |Δθ| loop vs leave_one_out {agree:.1e}; max final ‖∇R‖ {float(jnp.max(g)):.1e}")


def leave_one_out_benchmark(n_points, n_cnn, n_points_cnn):
    print("[2] leave-one-out retraining, warm-started, to stationarity:")
    ds = D.binary_subset(D.load_digits(), (1, 7))
    X, Y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
    loo(f"{n_points} points, logistic regression, 8x8 digits 1 vs 7 ({len(X)} images, 65 params, Newton)",
        M.example_loss(M.linear_apply, M.logistic_loss), M.linear_init(64), X, Y, 0.01, "newton", n_points)
    ds = D.load_mnist_subset(n_train=n_cnn)
    X, Y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
    params = M.cnn_init(jax.random.key(0), 28, channels=(4, 4))
    loo(f"{n_points_cnn} points, small CNN, MNIST subset ({len(X)} images, 2158 params, L-BFGS to 1e-6)",
        M.example_loss(M.cnn_apply, M.cross_entropy), params, X, Y, 0.01, "lbfgs", n_points_cnn, vmapped=False,
        tol=1e-6, max_steps=3000)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, to check the script runs")
    args = parser.parse_args()
    print(f"jax {jax.__version__}, {os.cpu_count()} CPU cores, float64")
    per_example_gradients(100 if args.quick else 1000)
    leave_one_out_benchmark(5 if args.quick else 50, 100, 3 if args.quick else 20)
