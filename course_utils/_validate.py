"""Argument validation for the numerical core: common misuse becomes a message that says what to change.

Every check here runs in Python on concrete values, *before* a compiled computation (or, for diagnostics a
computation returns, after it), never inside ``jit``. (``checks.py`` is something else: the exercise auto-checks.)
"""
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["NotPositiveDefiniteError", "require_x64", "require_float64", "require_finite", "require_same_structure",
           "require_nonnegative", "require_positive", "require_training_set", "require_indices",
           "not_positive_definite"]


class NotPositiveDefiniteError(ValueError):
    """The (damped) Hessian has zero or negative curvature, so H^{-1} is not what you want."""


def require_x64(where):
    """Curvature solves need float64; JAX silently uses float32 unless x64 is enabled."""
    if not jax.config.jax_enable_x64:
        raise TypeError(
            f"{where} needs float64, but JAX is running in float32. Put "
            "`jax.config.update('jax_enable_x64', True)` at the top of the notebook, before creating arrays."
        )


def require_float64(tree, name, where):
    """Raise if any floating leaf of `tree` is lower precision than float64."""
    for leaf in jax.tree_util.tree_leaves(tree):
        dtype = jnp.asarray(leaf).dtype
        if jnp.issubdtype(dtype, jnp.floating) and dtype != jnp.float64:
            raise TypeError(
                f"{where}: `{name}` has dtype {dtype}; this computation needs float64 "
                f"(cast with `jnp.asarray({name}, jnp.float64)` or `.astype(np.float64)`)."
            )


def require_finite(tree, name, where):
    """Raise if any leaf of `tree` holds a NaN or an infinity (which would otherwise surface much later, as a
    'not positive definite' error or a silently wrong number)."""
    for leaf in jax.tree_util.tree_leaves(tree):
        values = np.asarray(leaf)
        if values.dtype.kind in "fc" and not np.all(np.isfinite(values)):
            bad = int(np.sum(~np.isfinite(values)))
            raise ValueError(f"{where}: `{name}` contains {bad} NaN or infinite value(s); fix the data or the "
                             "parameters first (a diverged training run leaves them behind).")


def require_same_structure(reference, other, ref_name, name, where):
    """Raise if `other` is not shaped like `reference` (same pytree structure and leaf shapes)."""
    ref_def, other_def = jax.tree_util.tree_structure(reference), jax.tree_util.tree_structure(other)
    if ref_def != other_def:
        raise ValueError(
            f"{where}: `{name}` must have the same structure as `{ref_name}`; got {other_def}, expected {ref_def}."
        )
    for a, b in zip(jax.tree_util.tree_leaves(reference), jax.tree_util.tree_leaves(other)):
        if np.shape(a) != np.shape(b):
            raise ValueError(
                f"{where}: `{name}` has a leaf of shape {np.shape(b)} where `{ref_name}` has {np.shape(a)}."
            )


def require_nonnegative(value, name, where):
    if not (np.ndim(value) == 0 and np.isfinite(value) and value >= 0):
        raise ValueError(f"{where}: {name} must be a finite number ≥ 0; got {value!r}.")


def require_positive(value, name, where, integer=False):
    ok = np.ndim(value) == 0 and np.isfinite(value) and value > 0 and (not integer or float(value).is_integer())
    if not ok:
        raise ValueError(f"{where}: {name} must be a {'whole number' if integer else 'finite number'} > 0; "
                         f"got {value!r}.")


def require_training_set(train, where):
    """(X, Y) with the same, nonzero number of examples, float64 inputs, finite values."""
    if not (isinstance(train, (tuple, list)) and len(train) == 2):
        raise TypeError(f"{where}: train must be a pair (X, Y) with a leading axis of n examples.")
    X, Y = train
    if np.ndim(X) == 0 or np.shape(X)[0] == 0:
        raise ValueError(f"{where}: the training set is empty (train X has shape {np.shape(X)}).")
    if np.shape(X)[0] != np.shape(Y)[0]:
        raise ValueError(f"{where}: train X has {np.shape(X)[0]} examples but train Y has {np.shape(Y)[0]}.")
    require_float64(X, "train X", where)
    require_finite(X, "train X", where)
    require_finite(Y, "train Y", where)


def require_indices(indices, n, where, unique=True):
    """Integer indices into 0..n−1 (JAX would silently clamp an index past the end to the last point)."""
    idx = np.asarray(indices)
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"{where}: indices must be a non-empty 1-D array of integers; got shape {idx.shape}, "
                         f"dtype {idx.dtype}.")
    if idx.min() < 0 or idx.max() >= n:
        raise ValueError(f"{where}: indices must lie in 0..{n - 1} (the training set has {n} points); got "
                         f"{idx.min()}..{idx.max()}.")
    if unique and len(np.unique(idx)) != len(idx):
        raise ValueError(f"{where}: indices contain repeats; each point can be removed once.")
    return idx


def not_positive_definite(where, lam_min, damping=0.0):
    """The error for a solve that met negative (or zero) curvature, naming a damping that removes it."""
    return NotPositiveDefiniteError(
        f"{where}: H + damping·I is not positive definite (smallest eigenvalue ≈ {lam_min:.3g} with "
        f"damping={damping:g}). A non-convex model (or an unconverged one) needs damping: try "
        f"damping={damping + max(2 * abs(lam_min), 1e-8):.2g}."
    )
