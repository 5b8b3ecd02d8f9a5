"""Argument checks shared by the numerical core: they turn common misuse into a clear message."""
import jax
import jax.numpy as jnp
import numpy as np


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


def require_same_structure(reference, other, ref_name, name, where):
    """Raise if `other` is not shaped like `reference` (same pytree structure and leaf shapes)."""
    ref_def, other_def = jax.tree_util.tree_structure(reference), jax.tree_util.tree_structure(other)
    if ref_def != other_def:
        raise ValueError(f"{where}: `{name}` must have the same structure as `{ref_name}`; got {other_def}, expected {ref_def}.")
    for a, b in zip(jax.tree_util.tree_leaves(reference), jax.tree_util.tree_leaves(other)):
        if np.shape(a) != np.shape(b):
            raise ValueError(
                f"{where}: `{name}` has a leaf of shape {np.shape(b)} where `{ref_name}` has {np.shape(a)}."
            )


def not_positive_definite(where, lam_min, damping=0.0):
    """The error for a solve that met negative (or zero) curvature, naming a damping that removes it."""
    return NotPositiveDefiniteError(
        f"{where}: H + damping·I is not positive definite (smallest eigenvalue ≈ {lam_min:.3g} with "
        f"damping={damping:g}). A non-convex model (or an unconverged one) needs damping: try "
        f"damping={damping + max(2 * abs(lam_min), 1e-8):.2g}."
    )
