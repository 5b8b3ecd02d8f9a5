"""Checking influence against leave-one-out retraining, with the protocol stated.

The number such a check produces depends on which points are removed, so the protocol is part of the answer:

* remove each of the ``n_top`` training points with the largest |score| (Koh & Liang's protocol: the points the
  estimate says matter most) and ``n_random`` others drawn uniformly from the rest (points of typical influence);
* retrain without each one (``influence.leave_one_out``: warm-started from ``params``, to a gradient-norm
  tolerance, with the objective for which −score/n is the first-order prediction);
* compare the actual change of the test loss with the prediction −score/n, separately for the top points, the
  random points and all of them, by Pearson's r (do the values agree?) and Spearman's ρ (does the ranking agree?).

A correlation over the top points alone is the like-for-like comparison with the paper's figures; mixing in random
points (whose changes are near zero) inflates Pearson's r, which is why both are reported per subset.
"""
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import influence

__all__ = ["pearson", "spearman", "select_removals", "union_removals", "LOOCheck", "loo_check"]


def pearson(a, b):
    """Pearson's correlation coefficient of two equally long 1-D arrays (nan if either is constant)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 3:
        raise ValueError(f"pearson needs two 1-D arrays of the same length ≥ 3; got shapes {a.shape} and {b.shape}.")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")                      # undefined when one side is constant (say, no change at all)
    return float(np.corrcoef(a, b)[0, 1])


def _ranks(a):
    """Ranks 0..n−1, ties sharing their mean rank (as scipy.stats.rankdata(method='average') − 1)."""
    order = np.argsort(a, kind="stable")
    ranks = np.empty(len(a))
    ranks[order] = np.arange(len(a))
    values, inverse = np.unique(a, return_inverse=True)
    return (np.bincount(inverse, ranks) / np.bincount(inverse))[inverse] if len(values) < len(a) else ranks


def spearman(a, b):
    """Spearman's rank correlation: Pearson's r of the ranks."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"spearman needs two 1-D arrays of the same length; got shapes {a.shape} and {b.shape}.")
    return pearson(_ranks(a), _ranks(b))


def select_removals(scores, *, n_top, n_random, key):
    """(indices, is_top): the n_top largest |scores| (largest first), then n_random others drawn without
    replacement from the rest with ``key``."""
    scores = np.asarray(scores)
    if scores.ndim != 1 or not np.all(np.isfinite(scores)):
        raise ValueError("select_removals: scores must be a finite 1-D array (one score per training point).")
    if n_top < 0 or n_random < 0 or n_top + n_random > len(scores) or n_top + n_random == 0:
        raise ValueError(f"select_removals: need 0 ≤ n_top, n_random and 0 < n_top + n_random ≤ {len(scores)} "
                         f"(the number of training points); got n_top={n_top}, n_random={n_random}.")
    top = np.argsort(-np.abs(scores), kind="stable")[:n_top]
    rest = np.setdiff1d(np.arange(len(scores)), top)
    drawn = np.asarray(jax.random.choice(key, rest, (n_random,), replace=False)) if n_random else np.array([], int)
    return np.concatenate([top, drawn]).astype(int), np.arange(n_top + n_random) < n_top


def union_removals(score_sets, *, n_top, n_random, key):
    """(indices, is_top) for ``loo_check(removals=...)`` when several estimators are compared on the same retrains:
    the n_top largest |score| among the nonzero scores of EACH set, merged (so no estimator chooses the points it is
    judged on), then n_random other points drawn without replacement with ``key``."""
    score_sets = [np.asarray(s) for s in score_sets]
    if not score_sets or any(s.shape != score_sets[0].shape or s.ndim != 1 for s in score_sets):
        raise ValueError("union_removals: give one or more 1-D score arrays of the same length.")
    tops = [select_removals(s, n_top=min(n_top, np.count_nonzero(s)), n_random=0, key=key)[0] for s in score_sets]
    union = np.unique(np.concatenate(tops))
    rest = np.setdiff1d(np.arange(len(score_sets[0])), union)
    if n_random > len(rest):
        raise ValueError(
            f"union_removals: n_random={n_random}, but only {len(rest)} points are left outside the union."
        )
    drawn = np.asarray(jax.random.choice(key, rest, (n_random,), replace=False)) if n_random else np.array([], int)
    return np.concatenate([union, drawn]).astype(int), np.arange(len(union) + n_random) < len(union)


class LOOCheck(NamedTuple):
    indices: np.ndarray     # the removed training points: the top ones first, then the random ones
    is_top: np.ndarray      # True for the n_top points of largest |score|
    predicted: np.ndarray   # −score/n for each removal
    actual: np.ndarray      # change of the test loss after retraining without the point
    params: Any             # the retrained parameters, stacked with a leading axis len(indices)
    grad_norm: np.ndarray   # ‖∇R‖ of each retrain (how close to stationary it stopped)

    def agreement(self):
        """{"top" | "random" | "all": (Pearson r, Spearman ρ)} of predicted against actual (subsets of < 3: nan)."""
        out = {}
        for name, mask in (("top", self.is_top), ("random", ~self.is_top), ("all", np.ones_like(self.is_top))):
            ok = mask.sum() >= 3
            out[name] = ((pearson(self.predicted[mask], self.actual[mask]), spearman(self.predicted[mask],
                          self.actual[mask])) if ok else (float("nan"), float("nan")))
        return out

    def report(self):
        """One line per subset: how many points, Pearson and Spearman (for printing under a plot)."""
        rows = []
        for name, (r, rho) in self.agreement().items():
            k = {"top": self.is_top.sum(), "random": (~self.is_top).sum(), "all": len(self.is_top)}[name]
            rows.append(f"{name:>6} ({k:3d} removals): Pearson r = {r:.4f}, Spearman ρ = {rho:.4f}")
        return "\n".join(rows)


def loo_check(loss_fn, params, train, test, scores, *, l2, n_top=50, n_random=25, key=None, removals=None,
              **retrain_options):
    """Retrain without the n_top highest-|score| points and n_random random others; see the module docstring.

    ``test = (x, y)`` is one test example and ``scores`` its I_up,loss for every training point (any estimator's).
    ``removals = (indices, is_top)`` replaces the selection (say, the union of several estimators' top points,
    chosen with ``select_removals``). ``retrain_options`` go to ``influence.leave_one_out`` (``method``,
    ``precondition``, ``tol``, ...).
    """
    X, _ = train
    scores = np.asarray(scores)
    if scores.shape != (X.shape[0],):
        raise ValueError(f"loo_check: scores must have one entry per training point, shape ({X.shape[0]},); "
                         f"got {scores.shape}.")
    if removals is None:
        if key is None:
            raise TypeError("loo_check: pass key= (it draws the random removals), or removals=(indices, is_top).")
        indices, is_top = select_removals(scores, n_top=n_top, n_random=n_random, key=key)
    else:
        indices, is_top = (np.asarray(a) for a in removals)
        if indices.shape != is_top.shape or indices.ndim != 1 or len(np.unique(indices)) != len(indices) \
                or indices.min() < 0 or indices.max() >= X.shape[0]:
            raise ValueError(f"loo_check: removals must be (indices, is_top) of equal length, with distinct indices "
                             f"in 0..{X.shape[0] - 1}.")
    retrained, grad_norm = influence.leave_one_out(loss_fn, params, train, jnp.asarray(indices), l2=l2,
                                                   **retrain_options)
    x, y = test
    test_loss = jax.vmap(loss_fn, (0, None, None))(retrained, x, y)
    actual = np.asarray(test_loss - loss_fn(params, x, y))
    return LOOCheck(indices, is_top, -scores[indices] / X.shape[0], actual, retrained, np.asarray(grad_norm))
