"""Influence functions (Koh & Liang 2017, "Understanding Black-box Predictions via Influence Functions").

The sign convention — stated here once and used everywhere in the course
------------------------------------------------------------------------
Training objective R(θ) = (1/n) Σᵢ L(zᵢ, θ) + (l2/2)‖θ‖², minimiser θ̂, H = ∇²R(θ̂) (+ damping·I).

    I_up,params(z)         = −H⁻¹ ∇θL(z, θ̂)                      change of θ̂ per unit up-weighting of z
    I_up,loss(z, z_test)   = −∇θL(z_test, θ̂)ᵀ H⁻¹ ∇θL(z, θ̂)       change of the test loss per unit up-weighting
    I_pert,loss(z, z_test) = −∇θL(z_test, θ̂)ᵀ H⁻¹ ∇x∇θL(z, θ̂)     how the test loss moves with the training input x

I_up,loss > 0: giving z more weight raises the test loss, so z is HARMFUL to that prediction.
I_up,loss < 0: z is HELPFUL. Removing z is up-weighting it by ε = −1/n, so the predicted change of the test loss
when z is left out is −(1/n)·I_up,loss(z, z_test). ``leave_one_out`` retrains with exactly the objective for which
that prediction is first-order exact: (1/n)·Σ_{j≠i} L(z_j, θ) + (l2/2)‖θ‖².

Calling convention
------------------
``loss_fn(params, x, y)`` is the loss of ONE example, without the L2 term (that is ``l2``); ``train = (X, Y)`` with a
leading axis of n examples; every option is a keyword. How to solve with H + damping·I is a solver object:

    Exact()                                   explicit Hessian + Cholesky (p up to a few thousand); the factor is
                                              kept per model, so a later call with new test points reuses it
    CG(tol=1e-10, maxiter=None)               conjugate gradient on Hessian-vector products
    LiSSA(scale=, depth=, repeats=1, minibatch=None)
                                              the Neumann series; ``minibatch=k`` uses the Hessian of k random
                                              training points per step (the stochastic version; pass ``key=``)

The numerical path is compiled once per (loss_fn, shapes, solver) and reused by every later call. ``check=True`` (the
default) checks the inputs first (float64, finite, shapes, indices, hyperparameters in their domain) and the answer
afterwards (negative curvature, divergence), with messages that say what to change; it needs concrete values.
``check=False`` skips both and makes every function traceable (callable inside ``jax.jit`` / ``vmap``).
``factorize`` factors H + damping·I once and answers any number of queries from the factor.
"""
import functools
import hashlib
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from . import curvature, training
from ._validate import (not_positive_definite, require_finite, require_float64, require_indices, require_nonnegative,
                        require_positive, require_training_set, require_x64)

__all__ = [
    "Exact", "CG", "LiSSA", "influence_up_loss", "influence_up_params", "influence_pert_loss", "self_influence",
    "inverse_hvp", "factorize", "Factorization", "retrain", "leave_one_out", "per_example_grads", "flat_grads",
    "minibatch_hvp", "hessian",
]


class Exact(NamedTuple):
    """Form H explicitly (p Hessian-vector products) and solve by its Cholesky factor: exact, for p up to a few
    thousand. Memory p², time ~p HVPs to form it; ``factorize`` keeps it with every training gradient solved, so each
    query then costs its test gradients and one matrix product."""


class CG(NamedTuple):
    """Conjugate gradient on Hessian-vector products, to relative residual ``tol`` (at most ``maxiter`` steps)."""
    tol: float = 1e-10
    maxiter: Optional[int] = None


class LiSSA(NamedTuple):
    """The truncated Neumann series (``curvature.lissa``): ``depth`` steps at ``scale`` (> λmax/2), averaged over
    ``repeats`` runs; ``minibatch=k`` uses the Hessian of k random training points per step (needs ``key=``)."""
    scale: float
    depth: int
    repeats: int = 1
    minibatch: Optional[int] = None


# --- building blocks (compiled once per loss function and shapes) ----------------------------------------------


def per_example_grads(loss_fn, params, data):
    """∇θ loss_fn(params, xᵢ, yᵢ) for every example of ``data = (X, Y)``, stacked like params with a leading axis n."""
    X, Y = data
    return jax.vmap(jax.grad(loss_fn), in_axes=(None, 0, 0))(params, X, Y)


@functools.partial(jax.jit, static_argnames="loss_fn")
def flat_grads(loss_fn, params, data):
    """Per-example gradients as one (n, p) matrix, columns in ``ravel_pytree`` order (one compiled vmap)."""
    X, Y = data
    w, unravel = ravel_pytree(params)
    return jax.vmap(jax.grad(lambda w, x, y: loss_fn(unravel(w), x, y)), (None, 0, 0))(w, X, Y)


_EXAMPLES_PER_BLOCK, _COLUMNS_PER_BATCH = 10, 16      # hessian's defaults, also what factorize uses


def hessian(loss_fn, params, train, *, l2=0.0, examples_per_block=_EXAMPLES_PER_BLOCK,
            columns_per_batch=_COLUMNS_PER_BATCH, check=True):
    """The explicit (p, p) Hessian of the training objective at params, in ``ravel_pytree`` order (compiled once per
    loss function, shapes and block sizes).

    Exact: (1/n) Σ over blocks of ``examples_per_block`` training points of that block's Hessian, plus l2·I — the same
    matrix as ``curvature.hessian_matrix`` of R up to rounding (for a loss whose custom derivative rules, if any, are
    true derivatives). Each block's Hessian is built column by column, ``columns_per_batch`` Hessian-vector products
    at a time, one group of parameter leaves (layer weights and biases) at a time, and three things make it fast:

    - a column's tangent lives in one group and the other leaves are held constant, so forward mode carries no
      tangent through the layers before that group;
    - H is symmetric, so for a group's columns only the gradient with respect to that group and the leaves the model
      reads after it is taken (the rest of those rows are other groups' columns, mirrored): reverse mode stops at
      the group's first layer;
    - small blocks keep each step's tangents (examples × columns × activations) in the CPU's cache.

    "After" is the order in which the traced loss first reads each leaf (the input layer first; leaves it never
    reads go last); any order gives the same matrix, this one usually the least work. Up to 8 leaves are a group
    each; more are cut into 8 runs of consecutive leaves, which bounds the compile time (one copy of the model's
    derivative per group). ``benchmarks/bench_factor_once.py`` measures it against every other way of forming H.
    """
    where = "hessian"
    _begin(where, check, params, train, l2)
    if check:
        _check_model(where, params, train, l2, 0.0)
        require_positive(examples_per_block, "examples_per_block", where, integer=True)
        require_positive(columns_per_batch, "columns_per_batch", where, integer=True)
    return _hessian(loss_fn, params, train, l2, int(examples_per_block), int(columns_per_batch))


_MAX_GROUPS = 8


@functools.partial(jax.jit, static_argnames=("loss_fn", "examples_per_block", "columns_per_batch"))
def _hessian(loss_fn, params, train, l2, examples_per_block, columns_per_batch):
    X, Y = train
    w = ravel_pytree(params)[0]
    leaves, treedef = jax.tree_util.tree_flatten(params)
    blocks = _blocks(X, Y, examples_per_block)
    block_loss = lambda ls, xb, yb, wb: jnp.sum(wb * jax.vmap(loss_fn, (None, 0, 0))(treedef.unflatten(ls), xb, yb))
    order = [j for j in _read_order(lambda ls: block_loss(ls, *(b[0] for b in blocks)), leaves) if leaves[j].size]
    if not order:                                                    # no parameters at all
        return jnp.zeros((0, 0), w.dtype)
    groups = [list(g) for g in np.array_split(order, min(len(order), _MAX_GROUPS))]
    sizes = [sum(leaves[i].size for i in g) for g in groups]
    starts = np.concatenate([[0], np.cumsum(sizes)])                 # where each group starts, in read order

    def rows(g, xb, yb, wb):
        """H[group g, groups g, g+1, …] for one block: group g's columns, their entries there and after."""
        later = [i for h in groups[g:] for i in h]
        cuts = np.cumsum([leaves[i].size for i in groups[g]])[:-1]

        def grad_later(x):                                           # x: group g's leaves, flat
            def loss_of(sub):
                ls = list(leaves)
                for i, v in zip(later, sub):
                    ls[i] = v
                return block_loss(ls, xb, yb, wb)
            mine = [v.reshape(leaves[i].shape) for i, v in zip(groups[g], jnp.split(x, cuts))]
            grads = jax.grad(loss_of)(mine + [leaves[i] for i in later[len(mine):]])
            return jnp.concatenate([d.ravel() for d in grads])
        x0 = jnp.concatenate([leaves[i].ravel() for i in groups[g]])
        column = lambda e: jax.jvp(grad_later, (x0,), (e,))[1]
        return jax.lax.map(column, jnp.eye(sizes[g], dtype=w.dtype), batch_size=min(columns_per_batch, sizes[g]))

    add_block = lambda total, block: ([t + rows(g, *block) for g, t in enumerate(total)], None)
    upper, _ = jax.lax.scan(add_block, [jnp.zeros((sizes[g], starts[-1] - starts[g]), w.dtype)
                                        for g in range(len(groups))], blocks)     # upper[g]: H[group g, g and after]

    def part(a, b):                                                  # the (group a, group b) block, read order
        if b < a:
            return part(b, a).T
        return upper[a][:, starts[b] - starts[a]:starts[b + 1] - starts[a]]
    H = jnp.block([[part(a, b) for b in range(len(groups))] for a in range(len(groups))])
    offsets = np.concatenate([[0], np.cumsum([leaf.size for leaf in leaves])])
    perm = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for g in groups for i in g])
    back = np.argsort(perm)                                          # read order -> ravel_pytree order
    return H[back][:, back] / X.shape[0] + l2 * jnp.eye(w.size, dtype=w.dtype)


def _read_order(fn, leaves):
    """Indices of ``leaves`` (the argument list of fn) sorted by the first operation of fn's traced computation that
    reads each (looking inside a nested computation whose inputs are the operation's own, like a jitted call or a
    ``scan``, not inside ``cond`` branches); ties keep their order and unread leaves go last. Tree order if the
    trace cannot be read: any order gives the same Hessian."""
    def first_reads(jaxpr):
        key = {}
        for k, eqn in enumerate(jaxpr.eqns):
            subs = [getattr(v, "jaxpr", v) for v in eqn.params.values()
                    if isinstance(v, (jax.extend.core.Jaxpr, jax.extend.core.ClosedJaxpr))]
            inner = first_reads(subs[0]) if len(subs) == 1 and len(subs[0].invars) == len(eqn.invars) else None
            for m, v in enumerate(eqn.invars):
                if isinstance(v, jax.extend.core.Var) and v not in key:
                    key[v] = (k,) + (inner[m] if inner else ())
        return [key.get(v, (len(jaxpr.eqns),)) for v in jaxpr.invars]
    try:
        reads = first_reads(jax.make_jaxpr(fn)(leaves).jaxpr)
    except Exception:          # an internal JAX API changed: fall back to tree order (only the speed depends on it)
        return list(range(len(leaves)))
    return sorted(range(len(leaves)), key=lambda j: reads[j])


def _blocks(X, Y, size):
    """(X, Y, weights) cut into blocks of ``size`` examples along a new leading axis, the last block padded with
    copies of the first example that get weight 0 (weights 1 elsewhere): for sums over examples a block at a time."""
    n = X.shape[0]
    size = min(size, n)
    count = -(-n // size)
    pad = count * size - n
    blocked = lambda a: jnp.concatenate([a, jnp.repeat(a[:1], pad, axis=0)]).reshape((count, size) + a.shape[1:])
    return blocked(X), blocked(Y), jnp.concatenate([jnp.ones(n), jnp.zeros(pad)]).reshape(count, size)


def minibatch_hvp(loss_fn, params, train, *, l2=0.0, minibatch):
    """``matvec(v, key)``: the product of v (flat, ``ravel_pytree`` order) with the Hessian of the objective on
    ``minibatch`` training points drawn with ``key`` (with replacement) — the stochastic LiSSA's curvature."""
    X, Y = jnp.asarray(train[0]), jnp.asarray(train[1])
    w, unravel = ravel_pytree(params)

    def matvec(v, key):
        i = jax.random.randint(key, (minibatch,), 0, X.shape[0])
        R = lambda u: training.empirical_risk(loss_fn, unravel(u), (X[i], Y[i]), l2=l2)
        return jax.jvp(jax.grad(R), (w,), (v,))[1]
    return matvec


def _full_hvp(loss_fn, params, train, l2):
    R, w, _ = training.flat_risk(loss_fn, params, train, l2=l2)
    grad = jax.grad(R)
    return lambda v: jax.jvp(grad, (w,), (v,))[1]


@functools.partial(jax.jit, static_argnames=("loss_fn", "solver"))
def _solve_iterative(loss_fn, params, train, l2, damping, B, solver, key):
    """Rows of (H + damping·I)⁻¹ Bᵀ by CG or LiSSA on HVPs, with (relative residual, bᵀx) per row."""
    hvp = _full_hvp(loss_fn, params, train, l2)
    A = lambda v: hvp(v) + damping * v
    if isinstance(solver, CG):
        X = jax.vmap(lambda b: jax.scipy.sparse.linalg.cg(A, b, tol=solver.tol, atol=0.0, maxiter=solver.maxiter)[0])(B)
    else:
        if solver.minibatch is None:
            run = lambda b, k: curvature.lissa(hvp, b, damping=damping, scale=solver.scale, depth=solver.depth,
                                               check=False)
        else:
            mb = minibatch_hvp(loss_fn, params, train, l2=l2, minibatch=solver.minibatch)
            run = lambda b, k: curvature.lissa(mb, b, damping=damping, scale=solver.scale, depth=solver.depth,
                                               repeats=solver.repeats, key=k, check=False)
        keys = jax.random.split(jax.random.key(0) if key is None else key, B.shape[0])
        X = jax.vmap(run)(B, keys)
    b_norm = jnp.linalg.norm(B, axis=1)
    residual = jnp.linalg.norm(jax.vmap(A)(X) - B, axis=1) / jnp.where(b_norm > 0, b_norm, 1.0)
    return X, residual, jnp.sum(B * X, axis=1)


@functools.partial(jax.jit, static_argnames="loss_fn")
def _cholesky(loss_fn, params, train, l2, damping):
    H = _hessian(loss_fn, params, train, l2, _EXAMPLES_PER_BLOCK, _COLUMNS_PER_BATCH)
    return jnp.linalg.cholesky(H + damping * jnp.eye(H.shape[0], dtype=H.dtype))


# --- factor once, query many ----------------------------------------------------------------------------------


class Factorization(NamedTuple):
    """Factor once, query many: the lower Cholesky factor L of H + damping·I for one model (``factorize``), the
    training gradients G (n, p) and their solves S = (H + damping·I)⁻¹Gᵀ (p, n), all computed once.

    A query then costs its m test gradients and one (m, p) × (p, n) product, −G_test S: the same work as the product
    G_test Gᵀ of the test gradients with the training-gradient matrix, with no Hessian and no triangular solve.
    Self-influence (−Σⱼ GᵢⱼSⱼᵢ) and I_up,params (−Sᵀ) are read off S. Memory: p² + 2·n·p floats."""
    loss_fn: Callable
    params: Any
    train: Any
    l2: float
    damping: float
    factor: jax.Array        # L, lower triangular, (p, p)
    grads: jax.Array         # G, the training gradients, (n, p)
    solved: jax.Array        # S = (H + damping·I)⁻¹ Gᵀ, (p, n)

    @classmethod
    def from_hessian(cls, loss_fn, params, train, H, *, l2=0.0, damping=0.0, check=True):
        """The factorization of an H you already formed (``hessian``, with this l2) — factoring costs far less than
        forming. Raises ``NotPositiveDefiniteError`` (naming a damping that fixes it) if H + damping·I is not."""
        where = "Factorization.from_hessian"
        _begin(where, check, params, train, H)
        if check:
            _check_model(where, params, train, l2, damping)
            _check_square(H, "H", params, where)
        L = jnp.linalg.cholesky(H + damping * jnp.eye(H.shape[0], dtype=H.dtype))
        if check and not bool(jnp.all(jnp.isfinite(L))):
            raise not_positive_definite(where, float(jnp.linalg.eigvalsh(H)[0] + damping), damping)
        return cls.from_factor(loss_fn, params, train, L, l2=l2, damping=damping, check=False)

    @classmethod
    def from_factor(cls, loss_fn, params, train, L, *, l2=0.0, damping=0.0, check=True):
        """The factorization with the lower Cholesky factor L of H + damping·I already computed: adds the training
        gradients and their solves."""
        where = "Factorization.from_factor"
        _begin(where, check, params, train, L)
        if check:
            _check_model(where, params, train, l2, damping)
            _check_square(L, "L", params, where)
            if not (bool(jnp.all(jnp.diagonal(L) > 0)) and not bool(jnp.any(jnp.triu(L, 1)))):
                raise ValueError(f"{where}: L must be the lower Cholesky factor of H + damping·I (lower triangular, "
                                 "positive diagonal); use Factorization.from_hessian(..., H) to factor an H.")
        return cls(loss_fn, params, train, l2, damping, L, *_train_solves(loss_fn, params, train, L))

    def solve(self, B):
        """Rows of (H + damping·I)⁻¹ Bᵀ for B of shape (m, p) (or one vector of shape (p,))."""
        return jax.scipy.linalg.cho_solve((self.factor, True), B.T).T

    def up_loss(self, test, *, check=True):
        """I_up,loss(zᵢ, z_test) for every training point: (n,) for one test example, (m, n) for a batch."""
        _begin("Factorization.up_loss", check, test)
        Xt, Yt, single = _test_batch(self.train, test, "Factorization.up_loss", check)
        scores = _factor_scores(self.loss_fn, self.params, self.solved, (Xt, Yt))
        return scores[0] if single else scores

    def self_influence(self):
        """I_up,loss(zᵢ, zᵢ) for every training point (≤ 0)."""
        return -jnp.sum(self.grads * self.solved.T, axis=1)

    def up_params(self):
        """I_up,params(zᵢ) for every training point, stacked like params with a leading axis n."""
        return jax.vmap(ravel_pytree(self.params)[1])(-self.solved.T)


@functools.partial(jax.jit, static_argnames="loss_fn")
def _train_solves(loss_fn, params, train, L):
    """(G, S): the training gradients (n, p) and (LLᵀ)⁻¹Gᵀ (p, n), the part of every query that does not depend on
    the test point."""
    G = flat_grads(loss_fn, params, train)
    return G, jax.scipy.linalg.cho_solve((L, True), G.T)


@functools.partial(jax.jit, static_argnames="loss_fn")
def _factor_scores(loss_fn, params, S, test):
    return -flat_grads(loss_fn, params, test) @ S


_FACTORS = {}      # the last factor per loss function: (fingerprint, Factorization)


def _fingerprint(*trees):
    digest = hashlib.blake2b(digest_size=16)
    for leaf in jax.tree_util.tree_leaves(trees):
        a = np.ascontiguousarray(np.asarray(leaf))
        digest.update(repr((a.shape, a.dtype.str)).encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def factorize(loss_fn, params, train, *, l2=0.0, damping=0.0, check=True):
    """Form H + damping·I at params (``hessian``), factor it once and solve it for every training gradient: a
    ``Factorization`` that answers ``up_loss`` queries at the cost of the test gradients and one matrix product, and
    ``self_influence`` and ``up_params`` from what it keeps.

    Raises ``NotPositiveDefiniteError`` (naming a damping that fixes it) when H + damping·I is not positive definite.
    """
    _begin("factorize", check, params, train)
    if check:
        _check_model("factorize", params, train, l2, damping)
    L = _cholesky(loss_fn, params, train, l2, damping)
    if check and not bool(jnp.all(jnp.isfinite(L))):
        H = hessian(loss_fn, params, train, l2=l2, check=False)
        raise not_positive_definite("factorize", float(jnp.linalg.eigvalsh(H)[0] + damping), damping)
    return Factorization.from_factor(loss_fn, params, train, L, l2=l2, damping=damping, check=False)


def _cached_factor(loss_fn, params, train, l2, damping, check, where):
    """The Factorization of this exact model, formed once and reused by later calls (a repeated query with new test
    points costs no new Hessian). The model is recognised by its content, so a changed array is a new model."""
    if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves((params, train, l2, damping))):
        L = _cholesky(loss_fn, params, train, l2, damping)
        return Factorization.from_factor(loss_fn, params, train, L, l2=l2, damping=damping, check=False)
    key = _fingerprint(params, train, l2, damping)
    hit = _FACTORS.get(loss_fn)
    if hit is None or hit[0] != key:
        try:
            hit = (key, factorize(loss_fn, params, train, l2=l2, damping=damping, check=check))
        except ValueError as err:
            raise type(err)(f"{where} (solver=Exact()): {err}") from None
        _FACTORS.clear()                       # one factor at a time: p² floats each
        _FACTORS[loss_fn] = hit
    return hit[1]


# --- checks (outside the compiled path) ------------------------------------------------------------------------


def _check_model(where, params, train, l2, damping):
    _require_concrete(where, params, train, l2, damping)
    require_x64(where)
    require_training_set(train, where)
    require_float64(params, "params", where)
    for i, leaf in enumerate(jax.tree_util.tree_leaves(params)):
        if not jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.inexact):
            raise TypeError(f"{where}: params leaf {i} (tree order) has dtype {jnp.asarray(leaf).dtype}; every "
                            "parameter must be float64 (keep counters and other integers out of the parameters).")
    require_finite(params, "params", where)
    require_nonnegative(l2, "l2", where)
    require_nonnegative(damping, "damping", where)


def _check_square(M, name, params, where):
    """A float64, finite (p, p) matrix, p the number of parameters."""
    p = ravel_pytree(params)[0].size
    if np.shape(M) != (p, p):
        raise ValueError(f"{where}: {name} has shape {np.shape(M)}; expected ({p}, {p}) for these {p} parameters "
                         "(ravel_pytree order, as influence.hessian returns it).")
    require_float64(M, name, where)
    require_finite(M, name, where)


def _require_concrete(where, *trees):
    if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(trees)):
        raise TypeError(f"{where} was called inside jax.jit/vmap with check=True; its checks need concrete values. "
                        "Pass check=False inside a transformation (and check the inputs outside it).")


def _begin(where, check, *trees):
    """The first checks of every public function: concrete values (not inside jit) and float64 JAX."""
    if check:
        _require_concrete(where, *trees)
        require_x64(where)


def _check_solver(where, solver, key):
    if not isinstance(solver, (Exact, CG, LiSSA)):
        raise TypeError(f"{where}: solver must be Exact(), CG(tol=…, maxiter=…) or LiSSA(scale=…, depth=…), "
                        f"not {solver!r}.")
    if isinstance(solver, CG):
        require_nonnegative(solver.tol, "CG tol", where)
        if solver.maxiter is not None:
            require_positive(solver.maxiter, "CG maxiter", where, integer=True)
    if isinstance(solver, LiSSA):
        require_positive(solver.scale, "LiSSA scale", where)
        require_positive(solver.depth, "LiSSA depth", where, integer=True)
        require_positive(solver.repeats, "LiSSA repeats", where, integer=True)
        if solver.minibatch is not None:
            require_positive(solver.minibatch, "LiSSA minibatch", where, integer=True)
        elif solver.repeats > 1:
            raise ValueError(f"{where}: LiSSA repeats > 1 averages stochastic runs; set minibatch= (and key=).")


def _check_iterative(where, solver, loss_fn, params, train, l2, damping, B, X, residual, bx, key):
    """After a CG or LiSSA solve: negative curvature, divergence or non-convergence become clear errors."""
    if isinstance(solver, LiSSA):
        grew = np.asarray(jnp.linalg.norm(X, axis=1) * solver.scale) > \
            (solver.depth + 1) * np.asarray(jnp.linalg.norm(B, axis=1)) * (1 + 1e-6)
        if np.any(grew) or not np.all(np.isfinite(np.asarray(X))):
            lam_min = _lam_min(loss_fn, params, train, l2, damping)
            if lam_min <= 0:
                raise not_positive_definite(f"{where} (LiSSA diverged)", lam_min, damping)
            raise ValueError(
                f"{where}: LiSSA diverged at scale={solver.scale:g}: raise the scale above λmax/2 of every "
                "Hessian it applies (curvature.lissa's check says which)."
            )
        return
    if not np.all(np.isfinite(np.asarray(X))) or np.any(np.asarray(bx) <= 0) or \
            float(jnp.max(residual)) > 1e3 * solver.tol:
        lam_min = _lam_min(loss_fn, params, train, l2, damping)
        if lam_min <= 0 or np.any(np.asarray(bx) <= 0):
            raise not_positive_definite(f"{where} (solver=CG)", min(lam_min, 0.0), damping)
        raise RuntimeError(f"{where}: CG stopped at relative residual {float(jnp.max(residual)):.1e} > tol = "
                           f"{solver.tol:g}; raise maxiter, or add damping to improve the conditioning.")


def _lam_min(loss_fn, params, train, l2, damping):
    """λmin of H + damping·I by 60 Lanczos steps (an upper bound that converges from above: a negative value
    proves negative curvature). Part of the checks, not of the solve."""
    return float(_lanczos_min(loss_fn, params, train, l2) + damping)


@functools.partial(jax.jit, static_argnames="loss_fn")
def _lanczos_min(loss_fn, params, train, l2):
    return curvature.smallest_eigenvalue(_full_hvp(loss_fn, params, train, l2), ravel_pytree(params)[0])


def _lam_max_stochastic(loss_fn, params, train, l2, damping, minibatch, key):
    """The largest λmax over ``curvature.CHECK_BATCHES`` sampled minibatch Hessians (+ damping)."""
    mb = minibatch_hvp(loss_fn, params, train, l2=l2, minibatch=minibatch)
    w = ravel_pytree(params)[0]
    keys = jax.random.split(jax.random.fold_in(key, 2**31 - 1), curvature.CHECK_BATCHES)
    lam = jax.jit(jax.vmap(lambda k: curvature.top_eigenvalue(lambda v: mb(v, k), w)))(keys)
    return float(jnp.max(lam)) + damping


def _test_batch(train, test, where, check):
    """(X_test, Y_test, single): accept one example (x, y) or a batch, and check the feature shape."""
    X, (x, y) = train[0], test
    if check:
        require_float64(x, "test x", where)
        require_finite(x, "test x", where)
        require_finite(y, "test y", where)
    x, y = jnp.asarray(x), jnp.asarray(y)
    if x.shape == X.shape[1:]:
        return x[None], y[None], True
    if x.shape[1:] == X.shape[1:]:
        if len(x) != len(y):
            raise ValueError(f"{where}: test x has {len(x)} examples but test y has {len(y)}.")
        if len(x) == 0:
            raise ValueError(f"{where}: the test batch is empty.")
        return x, y, False
    raise ValueError(f"{where}: test x has shape {x.shape}; expected one example of shape {X.shape[1:]} "
                     f"(like a row of train X) or a batch of shape (m, {', '.join(map(str, X.shape[1:]))}).")


# --- the public functions --------------------------------------------------------------------------------------


def _solve(where, loss_fn, params, train, B, l2, damping, solver, key, check):
    """Rows of (H + damping·I)⁻¹ Bᵀ for B of shape (m, p), by the chosen solver, checked unless check=False."""
    if check:
        _check_model(where, params, train, l2, damping)
        _check_solver(where, solver, key)
    if isinstance(solver, Exact):
        return _cached_factor(loss_fn, params, train, l2, damping, check, where).solve(B)
    if check and isinstance(solver, LiSSA):
        if solver.minibatch is not None and key is None:
            raise ValueError(f"{where}: LiSSA(minibatch=…) draws random minibatches: pass key=jax.random.key(…).")
        lam_max = (_lam_max_stochastic(loss_fn, params, train, l2, damping, solver.minibatch, key)
                   if solver.minibatch is not None else
                   float(curvature.top_eigenvalue(_full_hvp(loss_fn, params, train, l2), ravel_pytree(params)[0]))
                   + damping)
        if solver.scale <= lam_max / 2:
            raise ValueError(curvature._scale_message(solver.scale, lam_max, None if solver.minibatch is None else key)
                             .replace("lissa", where, 1))
    if check:   # negative curvature makes H⁻¹ meaningless even where the iteration happens to converge
        lam_min = _lam_min(loss_fn, params, train, l2, damping)
        if lam_min <= 0:
            raise not_positive_definite(f"{where} (solver={type(solver).__name__})", lam_min, damping)
    X, residual, bx = _solve_iterative(loss_fn, params, train, l2, damping, B, solver, key)
    if check:
        _check_iterative(where, solver, loss_fn, params, train, l2, damping, B, X, residual, bx, key)
    return X


def inverse_hvp(loss_fn, params, train, v, *, l2=0.0, damping=0.0, solver=CG(), key=None, check=True):
    """(H + damping·I)⁻¹ v for v shaped like params (H the Hessian of the training objective at params)."""
    _begin("inverse_hvp", check, params, train, v)
    v_flat, unravel = ravel_pytree(v)
    if v_flat.shape != ravel_pytree(params)[0].shape:
        raise ValueError(f"inverse_hvp: v has {v_flat.size} entries but params have {ravel_pytree(params)[0].size}.")
    if check:
        require_finite(v, "v", "inverse_hvp")
    return unravel(_solve("inverse_hvp", loss_fn, params, train, v_flat[None], l2, damping, solver, key, check)[0])


def influence_up_loss(loss_fn, params, train, test, *, l2=0.0, damping=0.0, solver=CG(), key=None, check=True):
    """I_up,loss(zᵢ, z_test) for every training point: shape (n,) for one test example, (m, n) for a batch."""
    _begin("influence_up_loss", check, params, train, test)
    Xt, Yt, single = _test_batch(train, test, "influence_up_loss", check)
    if isinstance(solver, Exact):
        if check:
            _check_model("influence_up_loss", params, train, l2, damping)
        scores = _cached_factor(loss_fn, params, train, l2, damping, check, "influence_up_loss").up_loss(
            (Xt, Yt), check=False)
        return scores[0] if single else scores
    S = _solve("influence_up_loss", loss_fn, params, train, flat_grads(loss_fn, params, (Xt, Yt)), l2, damping,
               solver, key, check)
    scores = -S @ flat_grads(loss_fn, params, train).T
    return scores[0] if single else scores


def influence_up_params(loss_fn, params, train, *, l2=0.0, damping=0.0, solver=Exact(), key=None, check=True):
    """I_up,params(zᵢ) = −H⁻¹∇θL(zᵢ) for every training point, stacked like params with leading axis n."""
    _begin("influence_up_params", check, params, train)
    S = _solve("influence_up_params", loss_fn, params, train, flat_grads(loss_fn, params, train), l2, damping,
               solver, key, check)
    return jax.vmap(ravel_pytree(params)[1])(-S)


def influence_pert_loss(loss_fn, params, train, test, *, l2=0.0, damping=0.0, solver=CG(), key=None, check=True):
    """I_pert,loss: ∇x of −s_testᵀ∇θL(x, yᵢ) at each training input; shape (n, *x.shape) or (m, n, *x.shape)."""
    _begin("influence_pert_loss", check, params, train, test)
    Xt, Yt, single = _test_batch(train, test, "influence_pert_loss", check)
    S = _solve("influence_pert_loss", loss_fn, params, train, flat_grads(loss_fn, params, (Xt, Yt)), l2, damping,
               solver, key, check)
    out = _pert(loss_fn, params, train, S)
    return out[0] if single else out


@functools.partial(jax.jit, static_argnames="loss_fn")
def _pert(loss_fn, params, train, S):
    X, Y = train
    w, unravel = ravel_pytree(params)
    g_theta = jax.grad(lambda w, x, y: loss_fn(unravel(w), x, y))
    pert = lambda s, x, y: jax.grad(lambda x: -s @ g_theta(w, x, y))(x)
    return jax.vmap(lambda s: jax.vmap(pert, (None, 0, 0))(s, X, Y))(S)


def self_influence(loss_fn, params, train, *, l2=0.0, damping=0.0, solver=Exact(), key=None, check=True):
    """I_up,loss(zᵢ, zᵢ) = −∇L(zᵢ)ᵀH⁻¹∇L(zᵢ) for every training point (≤ 0 when H is positive definite).

    Large |self-influence|: the model leans on that point to fit it — the first ones to check for a wrong label.
    """
    _begin("self_influence", check, params, train)
    if isinstance(solver, Exact):
        if check:
            _check_model("self_influence", params, train, l2, damping)
        return _cached_factor(loss_fn, params, train, l2, damping, check, "self_influence").self_influence()
    G = flat_grads(loss_fn, params, train)
    return -jnp.sum(G * _solve("self_influence", loss_fn, params, train, G, l2, damping, solver, key, check), axis=-1)


# --- leave-one-out retraining -----------------------------------------------------------------------------------


def retrain(loss_fn, params, train, weights, *, l2=0.0, method="newton", factor=None, damping=0.0,
            models_per_batch=1, tol=None, max_steps=None, check=True):
    """Retrain with per-example weights, warm-started from ``params``, every weight vector in one compiled call.

    Each row w of ``weights`` (shape (M, n), or one vector (n,)) gives a model minimising
    (1/n)·Σᵢ wᵢ L(zᵢ, θ) + (l2/2)‖θ‖² (n = the full training-set size; wᵢ = 0 drops zᵢ, 2 counts it twice), by
    ``training.train_newton`` (method="newton", convex models) or ``training.train_lbfgs`` ("lbfgs").
    ``factor=True`` (with "lbfgs", for networks small enough to form H): factor H(θ̂) + damping·I once and run every
    retrain's L-BFGS in the coordinates where that matrix is the identity — or pass that lower Cholesky factor (or a
    ``Factorization``) yourself if you already have it. The closer w is to all ones, the closer each retrain's
    Hessian is to H(θ̂) and the fewer steps it needs. All retrains run inside one compiled ``jax.lax.map``, vmapped in
    groups of ``models_per_batch`` (default 1: on a CPU whole-group vmap is slower, since vmapped while-loops advance
    in lock-step and a vmapped line search runs every branch for every model; on a GPU raise it).
    ``tol``/``max_steps`` default to the trainer's. Returns (params stacked with a leading axis M — or unstacked for
    one weight vector —, final gradient norms).
    """
    _begin("retrain", check, params, train)
    X, _ = train
    if method not in ("newton", "lbfgs"):
        raise ValueError(f"retrain: method must be 'newton' or 'lbfgs', not {method!r}.")
    single = np.ndim(weights) == 1
    weights = jnp.atleast_2d(jnp.asarray(weights, dtype=jnp.result_type(float)))
    if check:
        _check_model("retrain", params, train, l2, damping)
        require_positive(models_per_batch, "models_per_batch", "retrain", integer=True)
        require_finite(weights, "weights", "retrain")
        if weights.ndim != 2 or weights.shape[1] != X.shape[0] or weights.shape[0] == 0:
            raise ValueError(f"retrain: weights must have shape (n,) or (M, n) with n = {X.shape[0]} training points "
                             f"and M ≥ 1; got {tuple(np.shape(weights))}.")
    L = None
    if factor is not None and factor is not False:
        if method != "lbfgs":
            raise ValueError("retrain: factor= works with method='lbfgs' (Newton needs no preconditioner).")
        if factor is True:
            L = factorize(loss_fn, params, train, l2=l2, damping=damping, check=check).factor
        else:  # a factor the caller already has (forming H is the expensive part)
            L = factor.factor if isinstance(factor, Factorization) else jnp.asarray(factor)
            p = ravel_pytree(params)[0].size
            if L.shape != (p, p):
                raise ValueError(f"retrain: factor must be True, a Factorization, or a ({p}, {p}) lower Cholesky "
                                 f"factor of H + damping·I; got shape {L.shape}.")
    options = tuple((k, v) for k, v in (("tol", tol), ("max_steps", max_steps)) if v is not None)
    fits = _retrain_all(loss_fn, params, train, weights, l2, L, method, models_per_batch, options)
    if single:
        return jax.tree_util.tree_map(lambda a: a[0], fits.params), fits.grad_norm[0]
    return fits.params, fits.grad_norm


def leave_one_out(loss_fn, params, train, indices, *, l2=0.0, method="newton", factor=None, damping=0.0,
                  models_per_batch=1, tol=None, max_steps=None, check=True):
    """Retrain without each listed training point, warm-started from ``params``, in one compiled call.

    ``retrain`` with one weight vector per index (all ones but a 0 at that point), so each retrain minimises
    (1/n)·Σ_{j≠i} L(z_j, θ) + (l2/2)‖θ‖² (n = the full training-set size). Removing one of n points changes the
    Hessian by O(1/n), so with ``factor=True`` (method="lbfgs") each retrain needs ~10 steps instead of thousands;
    the other options are ``retrain``'s. Returns (params stacked with leading axis len(indices), final gradient
    norms).
    """
    _begin("leave_one_out", check, params, train)
    X, _ = train
    if method not in ("newton", "lbfgs"):
        raise ValueError(f"leave_one_out: method must be 'newton' or 'lbfgs', not {method!r}.")
    if check:
        _check_model("leave_one_out", params, train, l2, damping)
        indices = require_indices(indices, X.shape[0], "leave_one_out")
        require_positive(models_per_batch, "models_per_batch", "leave_one_out", integer=True)
    indices = jnp.asarray(indices)
    weights = jnp.ones((indices.shape[0], X.shape[0])).at[jnp.arange(indices.shape[0]), indices].set(0.0)
    try:
        return retrain(loss_fn, params, train, weights, l2=l2, method=method, factor=factor, damping=damping,
                       models_per_batch=models_per_batch, tol=tol, max_steps=max_steps, check=check)
    except ValueError as err:
        raise type(err)(str(err).replace("retrain:", "leave_one_out:", 1)) from None


@functools.partial(jax.jit, static_argnames=("loss_fn", "method", "models_per_batch", "options"))
def _retrain_all(loss_fn, params, train, weights, l2, factor, method, models_per_batch, options):
    """Compiled once per (loss_fn, shapes, method, options): calling leave_one_out again reuses it."""
    if method == "newton":
        retrain = lambda w: training._newton(loss_fn, params, train, l2, w, dict(options).get("tol", 1e-10),
                                             dict(options).get("max_steps", 100))
    else:
        retrain = lambda w: training._lbfgs(loss_fn, params, train, l2, w, dict(options).get("tol", 1e-8),
                                            dict(options).get("max_steps", 5000), factor)
    # models_per_batch=1 maps without vmap at all, so conditionals in the trainer stay real branches
    return jax.lax.map(retrain, weights, batch_size=None if models_per_batch == 1 else models_per_batch)
