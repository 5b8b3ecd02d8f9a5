"""Influence estimators after Koh & Liang, each answering in Koh & Liang's I_up,loss convention, so every one of
them can be graded against the exact answer (``influence.influence_up_loss(..., solver=Exact())``).

The one sign convention (``influence``'s module docstring): a score τ(z_test)ᵢ estimates I_up,loss(zᵢ, z_test),
the change of the test loss per unit up-weighting of training point zᵢ in R(θ) = (1/n) Σ L(zⱼ, θ) + (l2/2)‖θ‖².
Positive = up-weighting zᵢ raises the test loss (zᵢ is harmful to that prediction); removing zᵢ changes the test loss
by about −(1/n)·τᵢ. ``up_loss(test)`` returns (m, n) for m test points ((n,) for one), ``self_influence()`` the
diagonal I_up,loss(zᵢ, zᵢ) for every training point (n,) — the same number ``up_loss`` gives with zᵢ as the test
point, so it is ≤ 0 for every estimator here.

    estimator        curvature H̃ in −∇L(z_test)ᵀ H̃⁻¹ ∇L(zᵢ)                 built once (``cost`` records it)
    ``kfac``         block-diagonal A ⊗ G per layer + (l2 + damping)·I       A, G and their eigenbases
    ``ekfac``        the same eigenbasis, eigenvalues refitted (Λ*)          + one more pass for Λ*
    ``arnoldi``      top-k eigenpairs of H (Lanczos), the rest dropped       k eigenvectors, train projections
    ``tracin``       none: Σₖ ηₖ ∇L(z_test, θₖ)·∇L(zᵢ, θₖ), sign flipped     the checkpoints
    ``grad_dot``     H̃ = I (TracIn with one checkpoint and η = 1)            nothing
    ``trak``         TRAK's (ΦᵀΦ)⁻¹ on projected margin gradients            Φ and a Cholesky factor per model

TracIn and TRAK score *helpfulness* (positive = the training point helps the prediction), the opposite of
I_up,loss: their ``up_loss`` flips the sign (and their own scores stay available: ``TRAK.scores``). TRAK also scores
the *margin* f = log(p/(1−p)) of the correct class, not the loss; ``TRAK.up_loss`` converts (see ``trak``).

Cheap scores for every training point: a query preconditions the few test gradients (m × p) and then gets
∇L(zᵢ)·s for every training point i with forward-mode differentiation, ∇L(zᵢ)·s = d/dε L(zᵢ, θ + εs) (``jax.jvp``,
vmapped over the training set in chunks of ``chunk`` examples): an (n, p) matrix of per-example gradients is never
formed. Self-influence needs each gᵢᵀH̃⁻¹gᵢ, so it computes per-example gradients ``chunk`` at a time and reduces
each to its number at once.

Every builder checks its inputs (float64 JAX, finite values, shapes, hyperparameters in range) with a message saying
what to change, then runs compiled code. ``lds`` and ``random_subsets`` grade any of these scores by the linear
datamodeling score; ``influence.retrain`` trains the subset models.
"""
import functools
import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from . import curvature, influence, models, training, validation
from ._validate import require_finite, require_float64, require_positive, require_training_set, require_x64

__all__ = ["Cost", "KFAC", "kfac", "ekfac", "Arnoldi", "arnoldi", "top_eigenpairs", "TracIn", "tracin", "grad_dot",
           "train_checkpoints", "TRAK", "trak", "margin", "lds", "random_subsets", "gauss_newton_matrix"]


class Cost(NamedTuple):
    """What building an estimator cost (``seconds`` is wall-clock: print it, never assert it)."""
    hvps: int            # products with the Hessian of the full training objective
    example_passes: int  # per-example derivative passes over training points (gradients, pseudo-gradients, jvps)
    bytes: int           # memory of the arrays the fitted object keeps (factors, eigenvectors, projections)
    seconds: float       # time to build, including compilation on the first call


# --- shared pieces -------------------------------------------------------------------------------------------


def _nbytes(*trees):
    return int(sum(np.asarray(leaf).nbytes for leaf in jax.tree_util.tree_leaves(trees)))


def _block(tree):
    return jax.block_until_ready(tree)


@functools.lru_cache(maxsize=None)
def _example_loss(apply_fn, out_loss):
    """One loss_fn per (model, loss) pair, so compiled functions keyed on it are reused across estimators."""
    return models.example_loss(apply_fn, out_loss)


@functools.partial(jax.jit, static_argnames=("loss_fn", "chunk"))
def _train_dots(loss_fn, params, train, S, chunk):
    """(m, n): ∇L(zᵢ)·sⱼ for every training point i and row sⱼ of S (flat, ravel order), one jvp each."""
    X, Y = train
    w, unravel = ravel_pytree(params)

    def row(s):
        dot = lambda xy: jax.jvp(lambda v: loss_fn(unravel(v), xy[0], xy[1]), (w,), (s,))[1]
        return jax.lax.map(dot, (X, Y), batch_size=min(chunk, X.shape[0]))
    return jax.lax.map(row, S)


@functools.partial(jax.jit, static_argnames=("loss_fn", "quad", "chunk"))
def _per_example_quad(loss_fn, params, train, state, quad, chunk):
    """(n,): quad(state, gᵢ) for every training point's flat gradient gᵢ, ``chunk`` gradients at a time."""
    X, Y = train
    w, unravel = ravel_pytree(params)
    grad = jax.grad(lambda v, x, y: loss_fn(unravel(v), x, y))
    return jax.lax.map(lambda xy: quad(state, grad(w, *xy)), (X, Y), batch_size=min(chunk, X.shape[0]))


def _chunked_sum(fn, X, Y, chunk):
    """Σᵢ fn(xᵢ, yᵢ) (a pytree), vmapped over ``chunk`` examples at a time (padding has weight 0). Traceable."""
    def batch_sum(xb, yb, wb):
        return jax.tree_util.tree_map(lambda o: jnp.tensordot(wb, o, axes=1), jax.vmap(fn)(xb, yb))
    return _chunked_reduce(batch_sum, X, Y, chunk, jax.eval_shape(fn, X[0], Y[0]))


def _chunked_reduce(batch_sum, X, Y, chunk, like):
    """Σ over chunks of ``batch_sum(x_chunk, y_chunk, weights)`` (weights 0 on padding), a pytree shaped ``like``."""
    def body(total, batch):
        return jax.tree_util.tree_map(jnp.add, total, batch_sum(*batch)), None
    zeros = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), like)
    return jax.lax.scan(body, zeros, influence._blocks(X, Y, chunk))[0]


@functools.partial(jax.jit, static_argnames=("apply_fn", "out_loss", "chunk"))
def _gauss_newton(apply_fn, out_loss, params, X, Y, chunk):
    w, unravel = ravel_pytree(params)

    def batch_sum(xb, yb, wb):
        def one(x, y):
            J = jax.jacrev(lambda v: apply_fn(unravel(v), x))(w)                 # (k, p): k reverse passes
            return J, jax.hessian(out_loss)(apply_fn(params, x), y) @ J          # and ∇²ℓ·J, (k, p)
        J, HJ = jax.vmap(one)(xb, yb)
        return jnp.einsum("c,ckp,ckq->pq", wb, J, HJ)
    return _chunked_reduce(batch_sum, X, Y, chunk, jax.ShapeDtypeStruct((w.size, w.size), w.dtype)) / X.shape[0]


def gauss_newton_matrix(apply_fn, out_loss, params, train, *, chunk=64):
    """The exact (p, p) Gauss-Newton matrix of the mean loss (1/n) Σᵢ ``out_loss``(``apply_fn``(params, xᵢ), yᵢ):
    (1/n) Σᵢ Jᵢᵀ ∇²ℓᵢ Jᵢ, with Jᵢ the k × p Jacobian of example i's k outputs and ∇²ℓᵢ the Hessian of its loss in
    those outputs (``ravel_pytree`` order, no l2). The matrix K-FAC and EK-FAC approximate (their ceiling).

    The same matrix as ``curvature.gauss_newton_matrix`` (p Gauss-Newton products with the whole batch), built
    from per-example Jacobians instead: k reverse passes per example and one (n·k) × p by (n·k) × p product,
    ``chunk`` examples at a time, which is far cheaper when the outputs are few (k ≪ p). Memory: p² plus
    chunk·k·p."""
    where = "gauss_newton_matrix"
    _concrete(where, params, train)
    _check_model(where, params, train, 0.0, 0.0)
    _check_chunk(chunk, where)
    return _gauss_newton(apply_fn, out_loss, params, jnp.asarray(train[0]), jnp.asarray(train[1]), int(chunk))


def _check_model(where, params, train, l2, damping):
    influence._check_model(where, params, train, l2, damping)


def _check_chunk(chunk, where):
    require_positive(chunk, "chunk", where, integer=True)


def _check_key(key, where):
    if not (isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)):
        raise TypeError(f"{where}: key must be a typed JAX key, e.g. key=jax.random.key(0); got "
                        f"{type(key).__name__}{'' if not hasattr(key, 'dtype') else f' of dtype {key.dtype}'}.")


def _test_grads(loss_fn, params, train, test, where):
    Xt, Yt, single = influence._test_batch(train, test, where, True)
    return influence.flat_grads(loss_fn, params, (Xt, Yt)), single


def _concrete(where, *trees):
    influence._require_concrete(where, *trees)
    require_x64(where)


# --- K-FAC and EK-FAC ------------------------------------------------------------------------------------------


def _layer_stats(taps, out_loss, params, x, y):
    """One example: each layer's ã (T, 1 + d_in) and pseudo-gradients (C, T, d_out), gᶜ = Jₛᵀ rᶜ for the columns
    rᶜ of a square root of the output Hessian (Σ_c rᶜrᶜᵀ = ∇²_f L): so Σ_c gᶜgᶜᵀ = Jₛᵀ ∇²_f L Jₛ, the Gauss-Newton
    matrix's factor (for softmax cross-entropy ∇²_f L = diag(p) − ppᵀ = Σ_c p_c (e_c − p)(e_c − p)ᵀ, so this is
    Σ_c p_c gᶜgᶜᵀ with gᶜ the gradient for label c: the true Fisher, its expectation over classes taken exactly)."""
    out, acts, pre = taps(params, x, None)
    eps = jax.tree_util.tree_map(jnp.zeros_like, pre)
    f = jnp.ravel(out)
    H_out = jax.hessian(lambda f: out_loss(f.reshape(out.shape), y))(f).reshape(f.size, f.size)
    evals, evecs = jnp.linalg.eigh(H_out)
    roots = (evecs * jnp.sqrt(jnp.clip(evals, 0.0))).T          # rows rᶜ, Σ rᶜrᶜᵀ = H_out
    _, vjp = jax.vjp(lambda e: jnp.ravel(taps(params, x, e)[0]), eps)
    pseudo = jax.vmap(lambda r: vjp(r)[0])(roots)
    return jax.tree_util.tree_leaves(acts), jax.tree_util.tree_leaves(pseudo)


@functools.partial(jax.jit, static_argnames=("taps", "out_loss", "chunk"))
def _kfac_factors(taps, out_loss, params, X, Y, chunk):
    """Per layer: A = (1/n) Σᵢ Σₜ ãₜãₜᵀ and G = (1/n) Σᵢ (1/T) Σₜ Σ_c gᶜₜgᶜₜᵀ (KFC: summed / averaged over the
    T locations; only the product A ⊗ G matters, so where the 1/T goes changes nothing)."""
    def one(x, y):
        acts, pseudo = _layer_stats(taps, out_loss, params, x, y)
        return ([a.T @ a for a in acts], [jnp.einsum("ctj,ctk->jk", g, g) / g.shape[1] for g in pseudo])
    A, G = _chunked_sum(one, X, Y, chunk)
    n = X.shape[0]
    return [a / n for a in A], [g / n for g in G]


@functools.partial(jax.jit, static_argnames=("taps", "out_loss", "chunk"))
def _ekfac_diagonal(taps, out_loss, params, X, Y, bases, chunk):
    """Per layer: Λ* = (1/n) Σᵢ Σ_c (Q_Aᵀ Mᶜᵢ Q_G)² with Mᶜᵢ = Σₜ ãₜ gᶜₜᵀ that example's (pseudo-)gradient of the
    layer: the diagonal of the exact Gauss-Newton block in the Kronecker eigenbasis (George et al. 2018)."""
    def one(x, y):
        acts, pseudo = _layer_stats(taps, out_loss, params, x, y)
        return [jnp.sum(jnp.einsum("tj,ctk->cjk", a @ QA, g @ QG) ** 2, axis=0)
                for a, g, (QA, QG) in zip(acts, pseudo, bases)]
    return [s / X.shape[0] for s in _chunked_sum(one, X, Y, chunk)]


def _kfac_apply(factors, shift, v, power):
    """Per layer block (Q_A ⊗ Q_G) diag(S + shift)^power (Q_A ⊗ Q_G)ᵀ applied to flat v (ravel order)."""
    out, start = [], 0
    for QA, QG, S in factors:
        size = S.size
        V = v[start:start + size].reshape(S.shape)
        out.append((QA @ ((QA.T @ V @ QG) * (S + shift) ** power) @ QG.T).ravel())
        start += size
    return jnp.concatenate(out)


def _kfac_quad(state, g):
    """gᵀ (block-diagonal approximation + shift·I)⁻¹ g, in each block's eigenbasis."""
    factors, shift = state
    total, start = 0.0, 0
    for QA, QG, S in factors:
        V = g[start:start + S.size].reshape(S.shape)
        total = total + jnp.sum((QA.T @ V @ QG) ** 2 / (S + shift))
        start += S.size
    return total


_kfac_solve = jax.jit(jax.vmap(lambda factors, shift, b: _kfac_apply(factors, shift, b, -1.0), (None, None, 0)))


class KFAC(NamedTuple):
    """K-FAC or EK-FAC for one trained model (``kfac`` / ``ekfac``): per layer ℓ the eigenbases Q_A, Q_G of A, G and
    the matrix S of eigenvalues in the Kronecker basis (Λ_A λ_Gᵀ for K-FAC, Λ* for EK-FAC), so the curvature is
    H̃ = blockdiag_ℓ (Q_A ⊗ Q_G) diag(S) (Q_A ⊗ Q_G)ᵀ + (l2 + damping)·I, in ``ravel_pytree`` order."""
    kind: str                  # "kfac" or "ekfac"
    loss_fn: Callable
    params: Any
    train: Any
    l2: float
    damping: float
    factors: tuple             # per layer (Q_A, Q_G, S), S of shape (1 + d_in, d_out)
    A: tuple                   # per layer A (1 + d_in)² and G (d_out)², the Kronecker factors
    G: tuple
    chunk: int
    cost: Cost

    @property
    def shift(self):
        return self.l2 + self.damping

    def block(self, layer):
        """The dense (undamped) approximation of one layer's Gauss-Newton block, ((1+d_in)·d_out)² (small layers)."""
        QA, QG, S = self.factors[layer]
        Q = jnp.kron(QA, QG)
        return (Q * S.ravel()) @ Q.T

    def matrix(self):
        """The dense block-diagonal approximation (undamped, no l2), p × p in ravel order: for tests on small models."""
        return jax.scipy.linalg.block_diag(*[self.block(k) for k in range(len(self.factors))])

    def _require_invertible(self, where):
        smallest = min(float(jnp.min(S)) for _, _, S in self.factors) + self.shift
        if smallest <= 0:
            raise ValueError(f"{where}: the approximate curvature + (l2 + damping)·I has an eigenvalue {smallest:.3g} "
                             "≤ 0 (some layer's inputs or output gradients never vary, so A or G is singular): build "
                             "it with l2 + damping > 0.")

    def solve(self, B):
        """Rows of H̃⁻¹ Bᵀ for B of shape (m, p) (or one vector (p,)), H̃ including (l2 + damping)·I."""
        self._require_invertible(f"{self.kind}.solve")
        B = jnp.asarray(B)
        return _kfac_solve(self.factors, self.shift, jnp.atleast_2d(B)).reshape(B.shape)

    def up_loss(self, test):
        """I_up,loss estimates −∇L(z_test)ᵀ H̃⁻¹ ∇L(zᵢ): (m, n) for a batch of test points, (n,) for one."""
        _concrete("KFAC.up_loss", test)
        Gt, single = _test_grads(self.loss_fn, self.params, self.train, test, "KFAC.up_loss")
        scores = -_train_dots(self.loss_fn, self.params, self.train, self.solve(Gt), self.chunk)
        return scores[0] if single else scores

    def self_influence(self):
        """−gᵢᵀ H̃⁻¹ gᵢ for every training point (n,), gᵢ = ∇L(zᵢ); per-example gradients ``chunk`` at a time."""
        self._require_invertible(f"{self.kind}.self_influence")
        return -_per_example_quad(self.loss_fn, self.params, self.train, (self.factors, self.shift), _kfac_quad,
                                  self.chunk)


def _build_kfac(kind, apply_fn, out_loss, params, train, l2, damping, chunk):
    where = kind
    _concrete(where, params, train)
    taps = models.model_taps(apply_fn)
    _check_model(where, params, train, l2, damping)
    _check_chunk(chunk, where)
    X, Y = jnp.asarray(train[0]), jnp.asarray(train[1])
    out = jax.eval_shape(lambda p, x: taps(p, x, None)[0], params, X[0])
    n_out = int(np.prod(out.shape))
    start = time.perf_counter()
    A, G = _kfac_factors(taps, out_loss, params, X, Y, chunk)
    eig = [(jnp.linalg.eigh(a), jnp.linalg.eigh(g)) for a, g in zip(A, G)]
    bases = [(QA, QG) for (_, QA), (_, QG) in eig]
    if kind == "kfac":
        S = [jnp.outer(jnp.clip(lA, 0.0), jnp.clip(lG, 0.0)) for (lA, _), (lG, _) in eig]
    else:
        S = _ekfac_diagonal(taps, out_loss, params, X, Y, bases, chunk)
    factors = _block(tuple((QA, QG, s) for (QA, QG), s in zip(bases, S)))
    seconds = time.perf_counter() - start
    passes = X.shape[0] * n_out * (1 if kind == "kfac" else 2)
    cost = Cost(hvps=0, example_passes=passes, bytes=_nbytes(factors, A, G), seconds=seconds)
    return KFAC(kind, _example_loss(apply_fn, out_loss), params, (X, Y), l2, damping, factors, tuple(A), tuple(G),
                chunk, cost)


def kfac(apply_fn, out_loss, params, train, *, l2=0.0, damping=0.0, chunk=64):
    """K-FAC (Martens & Grosse 2015; convolutions as in KFC, Grosse & Martens 2016) for the model
    ``apply_fn`` (``models.linear_apply``, ``mlp_apply`` or ``cnn_apply``) with per-example loss ``out_loss``.

    Each layer (weight and bias together, ã = [1, a]) gets a block A ⊗ G of the Gauss-Newton matrix of the mean loss,
    block-diagonal across layers. G uses the Gauss-Newton / true-Fisher pseudo-gradients with the exact expectation
    over the model's predicted distribution (Σ_c p_c gᶜgᶜᵀ for softmax cross-entropy — no label sampling, no
    empirical Fisher; deterministic). For a dense layer and ONE example, A ⊗ G is that example's GN block exactly.

    Damping: the curvature of R is GN + l2·I, plus ``damping``·I; K-FAC is inverted in its Kronecker eigenbasis as
    (Λ_A ⊗ Λ_G + l2 + damping)⁻¹ — exact for A ⊗ G + (l2 + damping)·I, not the factored approximation
    (A + √λ·I) ⊗ (G + √λ·I). Convolutions: KFC's assumptions (activations independent of derivatives, derivatives
    uncorrelated across locations, statistics the same at every location) are what make the block A ⊗ G; where the
    derivatives at nearby locations are correlated (e.g. before average pooling) the block is approximated less well.
    Cost: one pass of a forward and C backward passes per training example (C outputs).
    """
    return _build_kfac("kfac", apply_fn, out_loss, params, train, l2, damping, chunk)


def ekfac(apply_fn, out_loss, params, train, *, l2=0.0, damping=0.0, chunk=64):
    """EK-FAC (George et al. 2018; for influence at scale, Grosse et al. 2023): K-FAC's Kronecker eigenbasis
    Q_A ⊗ Q_G, with the eigenvalues replaced by Λ* = the second moments of the per-example (pseudo-)gradients in that
    basis, i.e. the diagonal of the exact Gauss-Newton block there — the best diagonal in Frobenius norm, so never
    further from the block than K-FAC. Inverse: Q [(Qᵀ v) / (Λ* + l2 + damping)]. Cost: K-FAC's pass plus a second
    one for Λ*. Arguments as ``kfac``."""
    return _build_kfac("ekfac", apply_fn, out_loss, params, train, l2, damping, chunk)


# --- Arnoldi / low rank ---------------------------------------------------------------------------------------


def top_eigenpairs(matvec, like, k, *, iters=None, key=None, by="value"):
    """The k largest eigenpairs of a symmetric operator by Lanczos with full reorthogonalisation
    (``curvature.lanczos_eigenpairs``): (eigenvalues descending (k,), eigenvectors as rows (k, p), flat).

    ``iters`` Lanczos steps (default min(p, 2k + 20)); ``by="value"`` keeps the largest eigenvalues (negative ones
    never), ``by="magnitude"`` the largest |λ| (what Schioppa et al.'s released ``arnoldi.distill`` always does).
    Traceable when ``iters`` is given."""
    p = ravel_pytree(like)[0].size
    iters = min(p, 2 * k + 20) if iters is None else iters
    if not (1 <= k <= iters <= p):
        raise ValueError(f"top_eigenpairs: need 1 ≤ k ≤ iters ≤ p = {p}; got k = {k}, iters = {iters}.")
    if by not in ("value", "magnitude"):
        raise ValueError(f"top_eigenpairs: by must be 'value' or 'magnitude', not {by!r}.")
    theta, vectors = curvature.lanczos_eigenpairs(matvec, like, iters=iters, key=key)
    order = jnp.argsort(-(theta if by == "value" else jnp.abs(theta)))[:k]
    return theta[order], vectors[order]


@functools.partial(jax.jit, static_argnames=("loss_fn", "k", "iters", "by"))
def _hessian_eigenpairs(loss_fn, params, train, l2, k, iters, by, key):
    R, w, _ = training.flat_risk(loss_fn, params, train, l2=l2)
    grad = jax.grad(R)
    return top_eigenpairs(lambda v: jax.jvp(grad, (w,), (v,))[1], w, k, iters=iters, key=key, by=by)


class Arnoldi(NamedTuple):
    """Low-rank influence (``arnoldi``): H ≈ U diag(λ) Uᵀ on the top-k eigenvectors (rows of U), inverted there as
    U diag(1/(λ + damping)) Uᵀ; the rest of the spectrum contributes nothing. ``train_proj`` = U gᵢ for every
    training point (n, k), computed once, so a query costs the test gradients and an (m, k) × (k, n) product."""
    loss_fn: Callable
    params: Any
    train: Any
    l2: float
    damping: float
    eigenvalues: jax.Array     # (k,), of H = ∇²R (l2 included), descending
    vectors: jax.Array         # (k, p)
    train_proj: jax.Array      # (n, k)
    cost: Cost

    def solve(self, B):
        """Rows of U diag(1/(λ + damping)) Uᵀ Bᵀ (B of shape (m, p) or (p,)): zero outside the subspace."""
        B = jnp.asarray(B)
        return ((B @ self.vectors.T) / (self.eigenvalues + self.damping)) @ self.vectors

    def up_loss(self, test):
        """−(U g_test)ᵀ diag(1/(λ + damping)) (U gᵢ): (m, n) for a batch of test points, (n,) for one."""
        _concrete("Arnoldi.up_loss", test)
        Gt, single = _test_grads(self.loss_fn, self.params, self.train, test, "Arnoldi.up_loss")
        scores = -((Gt @ self.vectors.T) / (self.eigenvalues + self.damping)) @ self.train_proj.T
        return scores[0] if single else scores

    def self_influence(self):
        """−Σⱼ (uⱼ·gᵢ)² / (λⱼ + damping) for every training point (n,), from the stored projections."""
        return -jnp.sum(self.train_proj ** 2 / (self.eigenvalues + self.damping), axis=1)


def arnoldi(loss_fn, params, train, k, *, l2=0.0, damping=0.0, iters=None, by="value", key=None, chunk=64):
    """Low-rank influence after Schioppa et al. (2022), "Scaling Up Influence Functions".

    Their released code (google-research/jax-influence) runs the Arnoldi iteration (``arnoldi.arnoldi_iter`` at
    74bd321, from a start vector the caller passes: their MNIST tutorial builds a random one but passes the trained
    parameters themselves) on Hessian-vector products of the training loss (a fresh batch of data per product in
    that tutorial), keeps the top-k Ritz pairs by |λ| (``arnoldi.distill``; the tutorial distills 100, then keeps
    the 20 largest by value with ``utils.get_eigvals_eigvecs(use_abs=False)``, dropping negative eigenvalues),
    projects every gradient onto the k directions with one jvp per direction, and scores with 1/λ there, undamped —
    the rest of the spectrum is dropped. Here (random start from ``key``, or from key 0 without it):
    Lanczos (Arnoldi for a symmetric H) with full reorthogonalisation on H = ∇²R, l2 included, ``iters`` steps
    (default min(p, 2k + 20)); top-k ``by`` value (default) or magnitude; (λ + damping)⁻¹ on the subspace. With
    k = p (and iters = p) it is the exact (H + damping·I)⁻¹. Cost: ``iters`` HVPs and k jvp passes over the
    training set; stores k × p eigenvectors and n × k projections.
    """
    where = "arnoldi"
    _concrete(where, params, train)
    _check_model(where, params, train, l2, damping)
    _check_chunk(chunk, where)
    p = ravel_pytree(params)[0].size
    if not (isinstance(k, (int, np.integer)) and 1 <= k <= p):
        raise ValueError(f"arnoldi: k must be a whole number in 1..p = {p} (the number of eigenpairs kept); got {k!r}.")
    iters = min(p, 2 * int(k) + 20) if iters is None else iters
    if not (isinstance(iters, (int, np.integer)) and k <= iters <= p):
        raise ValueError(f"arnoldi: iters must be a whole number with k = {k} ≤ iters ≤ p = {p}; got {iters!r}.")
    if by not in ("value", "magnitude"):
        raise ValueError(f"arnoldi: by must be 'value' or 'magnitude', not {by!r}.")
    if key is not None:
        _check_key(key, where)
    X, Y = jnp.asarray(train[0]), jnp.asarray(train[1])
    start = time.perf_counter()
    evals, vectors = _hessian_eigenpairs(loss_fn, params, (X, Y), l2, int(k), int(iters), by, key)
    shifted = np.asarray(evals) + damping
    if np.any(shifted <= 0):
        worst = float(shifted.min())
        raise ValueError(f"arnoldi: a kept eigenvalue + damping is {worst:.3g} ≤ 0 (H has negative curvature in the "
                         f"top-{k} by {by}); use by='value' or damping > {abs(worst - damping):.2g}.")
    proj = _block(_train_dots(loss_fn, params, (X, Y), vectors, chunk).T)
    seconds = time.perf_counter() - start
    cost = Cost(hvps=int(iters), example_passes=int(k) * X.shape[0], bytes=_nbytes(evals, vectors, proj),
                seconds=seconds)
    return Arnoldi(loss_fn, params, (X, Y), l2, damping, evals, vectors, proj, cost)


# --- TracIn and the gradient dot product --------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("loss_fn", "chunk"))
def _tracin_scores(loss_fn, checkpoints, step_sizes, train, test, chunk):
    def one(theta):
        Gt = influence.flat_grads(loss_fn, theta, test)
        return _train_dots(loss_fn, theta, train, Gt, chunk)
    return -jnp.tensordot(step_sizes, jax.lax.map(one, checkpoints), axes=1)


def _sq_norm(state, g):
    return g @ g


@functools.partial(jax.jit, static_argnames=("loss_fn", "chunk"))
def _tracin_self(loss_fn, checkpoints, step_sizes, train, chunk):
    norms = jax.lax.map(lambda theta: _per_example_quad(loss_fn, theta, train, None, _sq_norm, chunk), checkpoints)
    return -jnp.tensordot(step_sizes, norms, axes=1)


class TracIn(NamedTuple):
    """TracInCP (``tracin``) or the gradient dot product (``grad_dot``): the checkpoints θₖ stacked along a
    leading axis K, and their step sizes ηₖ."""
    loss_fn: Callable
    checkpoints: Any
    step_sizes: jax.Array
    train: Any
    chunk: int
    cost: Cost

    def up_loss(self, test):
        """−Σₖ ηₖ ∇L(z_test, θₖ)·∇L(zᵢ, θₖ): (m, n) for a batch of test points, (n,) for one (TracIn's score with
        the sign flipped into I_up,loss's convention)."""
        _concrete("TracIn.up_loss", test)
        Xt, Yt, single = influence._test_batch(self.train, test, "TracIn.up_loss", True)
        scores = _tracin_scores(self.loss_fn, self.checkpoints, self.step_sizes, self.train, (Xt, Yt), self.chunk)
        return scores[0] if single else scores

    def self_influence(self):
        """−Σₖ ηₖ ‖∇L(zᵢ, θₖ)‖² for every training point (n,) (TracIn's self-influence, sign flipped)."""
        return _tracin_self(self.loss_fn, self.checkpoints, self.step_sizes, self.train, self.chunk)


def _stack(checkpoints):
    if isinstance(checkpoints, (list, tuple)):
        if len(checkpoints) == 0:
            raise ValueError("tracin: checkpoints is empty; pass at least one set of parameters.")
        return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *checkpoints)
    return checkpoints


def tracin(loss_fn, checkpoints, step_sizes, train, *, chunk=64):
    """TracInCP (Pruthi et al. 2020): τᵢ = Σₖ ηₖ ∇L(z_test, θₖ)·∇L(zᵢ, θₖ) over saved checkpoints θₖ (a list of
    params, or params stacked along a leading axis, e.g. from ``train_checkpoints``) with step sizes ηₖ > 0.

    TracIn scores helpfulness (τ > 0: training on zᵢ lowered the test loss), so ``up_loss`` returns −τ. The scale
    matches I_up,loss for full-batch gradient descent on the mean loss when ηₖ sums the step sizes of the steps that
    checkpoint stands for: up-weighting zᵢ by ε adds ε·η∇L(zᵢ) to each step, which changes the test loss by
    −ε·η ∇L(z_test)·∇L(zᵢ) to first order (ignoring how earlier steps change later ones). No curvature at all.
    """
    where = "tracin"
    checkpoints = _stack(checkpoints)
    _concrete(where, checkpoints, train)
    require_float64(checkpoints, "checkpoints", where)
    require_finite(checkpoints, "checkpoints", where)
    require_training_set(train, where)
    _check_chunk(chunk, where)
    leaves = jax.tree_util.tree_leaves(checkpoints)
    K = int(np.shape(leaves[0])[0]) if leaves and np.ndim(leaves[0]) > 0 else 0
    if K == 0 or any(np.shape(leaf)[:1] != (K,) for leaf in leaves):
        raise ValueError("tracin: checkpoints must be a non-empty list of params, or params stacked along a leading "
                         "axis of K ≥ 1 checkpoints (every leaf with the same leading size).")
    step_sizes = np.atleast_1d(np.asarray(step_sizes, np.float64))
    if step_sizes.shape != (K,):
        raise ValueError(f"tracin: step_sizes must hold one step size per checkpoint ({K}); got shape "
                         f"{step_sizes.shape}.")
    if not np.all(np.isfinite(step_sizes) & (step_sizes > 0)):
        raise ValueError(f"tracin: every step size must be a finite number > 0; got {step_sizes.tolist()}.")
    X, Y = jnp.asarray(train[0]), jnp.asarray(train[1])
    cost = Cost(hvps=0, example_passes=0, bytes=_nbytes(checkpoints), seconds=0.0)
    return TracIn(loss_fn, checkpoints, jnp.asarray(step_sizes), (X, Y), chunk, cost)


def grad_dot(loss_fn, params, train, *, chunk=64):
    """The no-curvature control: −∇L(z_test)·∇L(zᵢ) in I_up,loss's sign, i.e. influence with H replaced by I
    (``tracin`` with the one checkpoint params and η = 1)."""
    return tracin(loss_fn, [params], [1.0], train, chunk=chunk)


@functools.partial(jax.jit, static_argnames=("loss_fn", "optimizer", "n_checkpoints", "every", "batch_size"))
def _train_checkpoints(loss_fn, params, train, l2, learning_rate, optimizer, n_checkpoints, every, batch_size, key):
    X, Y = train
    n = X.shape[0]
    opt = optax.sgd(learning_rate) if optimizer == "sgd" else optax.adam(learning_rate)

    def objective(p, k):
        if batch_size is None:
            return training.empirical_risk(loss_fn, p, train, l2=l2)
        i = jax.random.choice(k, n, (batch_size,), replace=False)
        return training.empirical_risk(loss_fn, p, (X[i], Y[i]), l2=l2)

    def step(t, carry):
        p, state, base = carry
        g = jax.grad(objective)(p, jax.random.fold_in(base, t))
        updates, state = opt.update(g, state, p)
        return optax.apply_updates(p, updates), state, base

    def segment(carry, j):
        p, state = carry
        p, state, _ = jax.lax.fori_loop(j * every, (j + 1) * every, step, (p, state, key))
        return (p, state), p

    return jax.lax.scan(segment, (params, opt.init(params)), jnp.arange(n_checkpoints))[1]


def train_checkpoints(loss_fn, params, train, *, learning_rate, steps, every, optimizer="sgd", batch_size=None, l2=0.0,
                      key=None):
    """Train from ``params`` with optax (``optimizer`` "sgd" or "adam", constant ``learning_rate``) on the objective
    mean loss + (l2/2)‖θ‖² over the full batch (``batch_size=None``) or random minibatches (drawn with ``key``,
    without replacement within a step), saving a checkpoint every ``every`` steps — one compiled ``lax.scan``.

    Returns (checkpoints stacked along a leading axis K = steps // every, step sizes ηₖ = learning_rate · every):
    the checkpoint after steps k·every, weighted by the step sizes of the ``every`` steps it stands for (TracInCP
    weights each checkpoint by its step size; with a constant learning rate the two differ by a constant factor).
    With Adam the update is not η∇L, so TracIn's weights are then a heuristic.
    """
    where = "train_checkpoints"
    _concrete(where, params, train)
    _check_model(where, params, train, l2, 0.0)
    require_positive(learning_rate, "learning_rate", where)
    require_positive(every, "every", where, integer=True)
    require_positive(steps, "steps", where, integer=True)
    if steps < every:
        raise ValueError(f"{where}: steps = {steps} < every = {every} would save no checkpoint.")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"{where}: optimizer must be 'sgd' or 'adam', not {optimizer!r}.")
    n = np.shape(train[0])[0]
    if batch_size is not None:
        require_positive(batch_size, "batch_size", where, integer=True)
        if batch_size > n:
            raise ValueError(f"{where}: batch_size = {batch_size} exceeds the {n} training points.")
        if key is None:
            raise ValueError(f"{where}: minibatches are random: pass key=jax.random.key(…).")
    if key is not None:
        _check_key(key, where)
    K = int(steps) // int(every)
    X, Y = jnp.asarray(train[0]), jnp.asarray(train[1])
    checkpoints = _train_checkpoints(loss_fn, params, (X, Y), l2, learning_rate, optimizer, K, int(every),
                                     None if batch_size is None else int(batch_size),
                                     jax.random.key(0) if key is None else key)
    return checkpoints, jnp.full(K, float(learning_rate) * int(every))


# --- TRAK ----------------------------------------------------------------------------------------------------------


def margin(output, y):
    """TRAK's model output function f = log(p/(1−p)), p the model's probability of the label y (so p = σ(f)).

    Softmax logits (C,) and an integer class y: f = logit_y − log Σ_{c≠y} exp(logit_c) (the multi-class margin of
    MadryLab/trak's ``ImageClassificationModelOutput``, whose Q is 1 − p_y). A scalar logit with y ∈ {−1, +1}
    (``logistic_loss``): p = σ(y·logit), so f = y·logit."""
    output = jnp.asarray(output)
    if output.ndim == 0:
        return y * output
    others = 1.0 - jax.nn.one_hot(y, output.shape[-1], dtype=output.dtype)
    return output[y] - jax.scipy.special.logsumexp(output, b=others)


def _projection(key, p, k, dtype):
    return jax.random.normal(key, (p, k), dtype)


@functools.partial(jax.jit, static_argnames=("apply_fn", "k", "chunk"))
def _trak_features(apply_fn, params, X, Y, key, k, chunk):
    """(Φ (n, k), p (n,)): projected margin gradients Pᵀ∇f(zᵢ) and probabilities σ(f(zᵢ)), chunk examples at a time;
    k=None: no projection (P = I)."""
    w, unravel = ravel_pytree(params)
    f = lambda v, x, y: margin(apply_fn(unravel(v), x), y)
    P = None if k is None else _projection(key, w.size, k, w.dtype)

    def one(xy):
        value, g = jax.value_and_grad(f)(w, *xy)
        return (g if P is None else g @ P), jax.nn.sigmoid(value)
    return jax.lax.map(one, (X, Y), batch_size=min(chunk, X.shape[0]))


class TRAK(NamedTuple):
    """TRAK (``trak``) for an ensemble of models: per model its features Φ (n, k), the Cholesky factor of
    ΦᵀΦ + damping·I, the probabilities pᵢ of each training label, and the key of its projection P (p × k, regenerated
    at query time rather than stored)."""
    apply_fn: Callable
    params: tuple
    train: Any
    k: Any                     # projection dimension, or None for no projection
    damping: float
    keys: tuple
    features: tuple            # Φ per model
    factors: tuple             # lower Cholesky factor of ΦᵀΦ + damping·I per model
    probs: tuple               # σ(f(zᵢ)) per model, (n,)
    chunk: int
    cost: Cost

    def _test_features(self, test, where):
        _concrete(where, test)
        Xt, Yt, single = influence._test_batch(self.train, test, where, True)
        out = [_trak_features(self.apply_fn, p, Xt, Yt, key, self.k, self.chunk)
               for p, key in zip(self.params, self.keys)]
        return out, single

    def scores(self, test):
        """TRAK's own scores τ(z_test)ᵢ (helpfulness for the margin, TRAK's sign and scale): the ensemble mean of
        φ_testᵀ(ΦᵀΦ)⁻¹Φᵀ times the ensemble mean of Q = diag(1 − pᵢ) (as MadryLab/trak's ``finalize_scores``
        averages the two separately). (m, n), or (n,) for one test point."""
        feats, single = self._test_features(test, "TRAK.scores")
        tau = self._tau([phi for phi, _ in feats])
        return tau[0] if single else tau

    def _tau(self, test_features):
        per_model = [phi @ jax.scipy.linalg.cho_solve((L, True), F.T)
                     for phi, L, F in zip(test_features, self.factors, self.features)]
        Q = 1.0 - jnp.mean(jnp.stack(self.probs), axis=0)
        return jnp.mean(jnp.stack(per_model), axis=0) * Q

    def up_loss(self, test):
        """TRAK converted to I_up,loss: −n·(1 − p̄_test)·τ (see ``trak``); (m, n), or (n,) for one test point."""
        feats, single = self._test_features(test, "TRAK.up_loss")
        tau = self._tau([phi for phi, _ in feats])
        p_test = jnp.mean(jnp.stack([p for _, p in feats]), axis=0)
        scores = -tau.shape[1] * (1.0 - p_test)[:, None] * tau
        return scores[0] if single else scores

    def self_scores(self):
        """TRAK's self-influence τ(zᵢ)ᵢ = φᵢᵀ(ΦᵀΦ)⁻¹φᵢ (1 − pᵢ), ensemble-averaged as in ``scores`` (≥ 0)."""
        quad = [jnp.sum(F * jax.scipy.linalg.cho_solve((L, True), F.T).T, axis=1)
                for F, L in zip(self.features, self.factors)]
        return jnp.mean(jnp.stack(quad), axis=0) * (1.0 - jnp.mean(jnp.stack(self.probs), axis=0))

    def self_influence(self):
        """The diagonal of ``up_loss`` on the training set: −n·(1 − p̄ᵢ)·``self_scores()`` (n,), ≤ 0."""
        n = self.features[0].shape[0]
        return -n * (1.0 - jnp.mean(jnp.stack(self.probs), axis=0)) * self.self_scores()


def trak(apply_fn, params, train, *, k=None, key=None, damping=0.0, chunk=64):
    """TRAK (Park et al. 2023) for a model ``apply_fn`` and an ensemble ``params`` (one params or a list of them,
    e.g. models trained from different seeds or on different subsets).

    Per model: φᵢ = Pᵀ ∇θ f(zᵢ) with f = ``margin`` (log p/(1−p) of the correct class) and P a p × k matrix of
    independent N(0, 1) entries drawn from ``key`` (a fresh projection per model; ``k=None``: no projection, P = I,
    for small models and tests); Φ = [φᵢ] (n × k); τ(z_test) = φ_testᵀ (ΦᵀΦ + damping·I)⁻¹ Φᵀ Q, Q = diag(1 − pᵢ),
    with the two factors averaged over the ensemble separately as in MadryLab/trak's ``finalize_scores``. That code
    (``traker.py`` at 0083217, ``score_computers.py`` at 0920e55) also divides the training and the target gradients
    by √p (p = the number of parameters), which alone would cancel in τ, and rescales each model's (ΦᵀΦ)⁻¹ to unit
    mean absolute entry; together each model's scores become τ/(p·m), m the mean absolute entry of that model's
    (ΦᵀΦ)⁻¹: a constant per model that changes the scale and the ensemble's weighting but no single model's ranking.
    It also keeps features in float16. We do none of these. Per-example gradients are computed ``chunk`` at a
    time and projected at once: memory n × k for Φ and p × k for P, never n × p.

    Conversion to I_up,loss. TRAK's τᵢ estimates f(z_test) at the full model minus f at the model without zᵢ (helpful
    is positive, for the MARGIN). Removing zᵢ is up-weighting by −1/n, so the derivative of f per unit up-weighting is
    n·τᵢ, and by the chain rule through L = −log p = log(1 + e^{−f}) (∂L/∂f = −(1 − p_test)) the test loss moves by
    −n·(1 − p_test)·τᵢ: that is ``up_loss`` (p_test averaged over the ensemble). For one model, no projection and a
    logistic model it is −n(1−p_t)(1−pᵢ) φ_tᵀ(ΦᵀΦ)⁻¹φᵢ — Koh & Liang's formula with the sum-Hessian ΦᵀRΦ (R the
    diagonal of p(1−p)) replaced by ΦᵀΦ, and no l2 (TRAK has none; ``damping`` plays its part). ``scores`` keeps
    TRAK's own sign and scale. Needs k ≤ n (or damping > 0): ΦᵀΦ has rank ≤ n.
    """
    where = "trak"
    params = list(params) if isinstance(params, (list, tuple)) else [params]
    if not params:
        raise ValueError("trak: params is an empty list; pass one model's params or a list of them.")
    _concrete(where, params, train)
    for p in params:
        _check_model(where, p, train, 0.0, damping)
    _check_chunk(chunk, where)
    X, Y = jnp.asarray(train[0]), jnp.asarray(train[1])
    n, p_size = X.shape[0], ravel_pytree(params[0])[0].size
    if any(ravel_pytree(q)[0].size != p_size for q in params):
        raise ValueError("trak: every model of the ensemble must have the same parameters (shapes).")
    if k is not None:
        if not (np.ndim(k) == 0 and float(k).is_integer() and 1 <= k <= p_size):
            raise ValueError(f"trak: k must be a whole number in 1..p = {p_size} (or None for no projection); got "
                             f"{k!r}.")
        if key is None:
            raise ValueError("trak: a random projection needs key=jax.random.key(…).")
        _check_key(key, where)
        k = int(k)
    dim = p_size if k is None else k
    if dim > n and damping == 0:
        raise ValueError(f"trak: ΦᵀΦ is {dim} × {dim} but has rank ≤ n = {n} (one row per training point), so it "
                         f"cannot be inverted: choose k ≤ {n} or damping > 0.")
    keys = tuple(jax.random.split(key, len(params))) if key is not None else (None,) * len(params)
    start = time.perf_counter()
    features, factors, probs = [], [], []
    for q, kq in zip(params, keys):
        F, pr = _trak_features(apply_fn, q, X, Y, kq, k, chunk)
        L = jnp.linalg.cholesky(F.T @ F + damping * jnp.eye(dim, dtype=F.dtype))
        if not bool(jnp.all(jnp.isfinite(L))):
            raise ValueError(f"trak: ΦᵀΦ + damping·I is singular (the margin gradients of the {n} training points do "
                             f"not span all {dim} dimensions; with P = I a softmax model never does, since its margins "
                             "do not change when every class's logit moves together): lower k or add damping > 0.")
        features.append(F)
        factors.append(L)
        probs.append(pr)
    _block((features, factors, probs))
    seconds = time.perf_counter() - start
    cost = Cost(hvps=0, example_passes=n * len(params), bytes=_nbytes(features, factors, probs), seconds=seconds)
    return TRAK(apply_fn, tuple(params), (X, Y), k, damping, keys, tuple(features), tuple(factors), tuple(probs),
                chunk, cost)


# --- the linear datamodeling score -------------------------------------------------------------------------------


def random_subsets(key, n, M, fraction):
    """(M, n) boolean masks, each row a subset of exactly round(fraction·n) of the n training points drawn uniformly
    without replacement with ``key`` (row j with ``jax.random.fold_in(key, j)``)."""
    _check_key(key, "random_subsets")
    require_positive(n, "n", "random_subsets", integer=True)
    require_positive(M, "M", "random_subsets", integer=True)
    size = int(round(fraction * n)) if np.ndim(fraction) == 0 and np.isfinite(fraction) else -1
    if not (0 < fraction < 1 and 1 <= size < n):
        raise ValueError(f"random_subsets: fraction must lie in (0, 1) and keep between 1 and n − 1 of the n = {n} "
                         f"points; got fraction={fraction!r}.")
    rows = jax.vmap(lambda j: jax.random.permutation(jax.random.fold_in(key, j), n) < size)(jnp.arange(M))
    return np.asarray(rows)


class LDS(NamedTuple):
    mean: float                 # the LDS: mean over test points
    per_test: np.ndarray        # (m,) Spearman correlation for each test point


def lds(scores, subsets, outputs):
    """The linear datamodeling score (Park et al. 2023, after the linear datamodels of Ilyas et al. 2022) of
    ``scores`` (m, n) (or (n,)).

    For each test point t and subset S_j (rows of ``subsets``, (M, n) boolean or 0/1): predicted gⱼ = Σ_{i∈S_j} τₜᵢ,
    measured fⱼ = ``outputs[j, t]`` ((M, m), or (M,) for one test point), e.g. the test loss of the model trained on
    S_j. LDS(t) = Spearman(f, g) over the M subsets; ``lds`` returns ``LDS(mean over t, per-test values)``.

    Signs: with I_up,loss scores (this module's convention) and the test LOSS as the output, both move the same way —
    a subset holding more harmful points (larger Σ τ) should have a larger test loss — so a good estimator has LDS near
    +1. (Park et al. score the margin with helpfulness scores: the same relation with both signs flipped.) The value
    depends on how the subset models were trained: state it. ``influence.retrain`` with ``weights=subsets`` keeps the
    objective's 1/n (n the full size), the objective for which Σ_{i∈S} τᵢ is the first-order prediction, and warm-
    starts from the full model; the papers train from scratch on each subset with fresh seeds. NaN for a test point
    whose outputs (or predictions) do not vary.
    """
    scores, subsets, outputs = np.asarray(scores, np.float64), np.asarray(subsets), np.asarray(outputs, np.float64)
    single = scores.ndim == 1
    scores = np.atleast_2d(scores)
    outputs = outputs[:, None] if outputs.ndim == 1 else outputs
    if scores.ndim != 2 or subsets.ndim != 2 or subsets.shape[1] != scores.shape[1]:
        raise ValueError(f"lds: scores must be (m, n) or (n,) and subsets (M, n) with the same n; got shapes "
                         f"{np.shape(scores)} and {subsets.shape}.")
    if outputs.shape != (subsets.shape[0], scores.shape[0]):
        raise ValueError(f"lds: outputs must have shape (M, m) = {(subsets.shape[0], scores.shape[0])} (one measured "
                         f"output per subset and test point){' or (M,)' if single else ''}; got {outputs.shape}.")
    if subsets.shape[0] < 3:
        raise ValueError(f"lds: need at least 3 subsets for a rank correlation; got {subsets.shape[0]}.")
    if not np.all(np.isin(subsets, (0, 1))):
        raise ValueError("lds: subsets must be boolean masks (or 0/1), one row per subset.")
    if not (np.all(np.isfinite(scores)) and np.all(np.isfinite(outputs))):
        raise ValueError("lds: scores and outputs must be finite.")
    predicted = subsets.astype(np.float64) @ scores.T                    # (M, m)
    per_test = np.array([validation.spearman(outputs[:, t], predicted[:, t]) for t in range(scores.shape[0])])
    return LDS(float(np.mean(per_test)), per_test)
