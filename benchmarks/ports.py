"""The baseline the speed ratios are measured against: the per-sample LiSSA loop as the PyTorch ports of Koh & Liang's
code run it — a Python loop over depth with one minibatch Hessian-vector product per step, then one gradient per
training point — shared by ``bench_influence_cnn.py`` and ``bench_factor_once.py`` (run as scripts from this folder).
"""
import jax.numpy as jnp
import numpy as np

from course_utils import curvature as C, training as T


def minibatch_hvp(loss, unravel, w, X, Y, *, l2, damping):
    """(v, idx) -> (H_idx + damping·I) v, with H_idx the Hessian of the objective on the minibatch X[idx]."""
    risk = lambda u, idx: T.empirical_risk(loss, unravel(u), (X[idx], Y[idx]), l2=l2)
    return lambda v, idx: C.hvp(lambda u: risk(u, idx), w, v) + damping * v


def lissa_loop(hvp, grad, w, X, Y, x_t, y_t, depth, *, scale=40.0, batch=32, seed=0):
    """I_up,loss of every training point for one test point: depth LiSSA steps h ← v + h − hvp(h)/scale on random
    minibatches of ``batch`` (Python loop), s_test = h/scale, then −∇L(zᵢ)·s_test one training point at a time."""
    n = len(Y)
    rng = np.random.default_rng(seed)
    v = grad(w, x_t, y_t)
    h = v
    for _ in range(depth):
        h = v + h - hvp(h, jnp.asarray(rng.integers(0, n, batch))) / scale
    s_test = h / scale
    return np.array([-float(grad(w, X[i], Y[i]) @ s_test) for i in range(n)])
