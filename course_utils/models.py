"""Models in plain JAX: ``*_init(...) -> params`` (a dict or list of dicts; the networks take a ``key``) and
``*_apply(params, x)``.

Inputs ``x`` are flat feature vectors, one example of shape (d,) or a batch of shape (n, d); the CNN reshapes
them into square images. Losses take the model's output and a label, for ONE example; ``example_loss`` joins a
model and a loss into the ``loss_fn(params, x, y)`` that training and influence functions expect.

Label conventions: squared error takes real targets; ``logistic_loss`` takes y in {-1, +1} (as in Koh & Liang's
closed form); ``cross_entropy`` takes an integer class.

Layer taps (for K-FAC and EK-FAC)
---------------------------------
Every layer of these models is affine, s = ã W̃ with ã = [1, a] (the 1 FIRST) and W̃ = [b; w] of shape
(1 + d_in, d_out): that stacking is exactly ``ravel_pytree``'s order for a layer ``{"b": …, "w": …}`` ("b" sorts
before "w"), so a layer's flat parameters are W̃ in row-major order. A convolution is the same product at every
location of the image (``patches @ kernel``), with ã a patch vector. ``*_taps(params, x, eps)`` runs ONE example x
and returns ``(output, acts, pre)``: ``acts`` holds each layer's ã as a (T, 1 + d_in) array (T locations: 1 for a
dense layer), ``pre`` its pre-activations s as (T, d_out), and ``eps`` (same shapes as ``pre``, or None) is added to
s — so the gradient of anything with respect to zero ``eps`` is the pre-activation gradient g = ∂/∂s. ``acts``,
``pre`` and ``eps`` have the container structure of params at the layer level (a dict by layer name, a list, or one
array for a single layer), so ``jax.tree_util.tree_leaves`` lists them in ``ravel_pytree`` order (``layers``).
``model_taps(apply_fn)`` finds the taps of an ``*_apply`` function.
"""
import jax
import jax.numpy as jnp

__all__ = ["linear_init", "linear_apply", "mlp_init", "mlp_apply", "cnn_init", "cnn_features", "cnn_apply",
           "squared_error", "logistic_loss", "cross_entropy", "smooth_hinge", "bregman", "example_loss",
           "linear_taps", "mlp_taps", "cnn_taps", "model_taps", "layers", "is_layer"]


# --- linear models: regression, binary logistic, softmax ----------------------------------------------------


def linear_init(d, n_out=None):
    """Zero weights: w of shape (d,) (one output) or (d, n_out) (softmax over n_out classes), and a bias.

    No key: a linear model's objective here is convex, so it starts at zero (deterministic) and any start reaches
    the same minimum.
    """
    shape = (d,) if n_out is None else (d, n_out)
    return {"w": jnp.zeros(shape), "b": jnp.zeros(shape[1:])}


def linear_apply(params, x):
    """x @ w + b: a scalar per example (regression, binary logit) or a vector of logits (softmax)."""
    return x @ params["w"] + params["b"]


# --- a small multi-layer perceptron --------------------------------------------------------------------------


def mlp_init(key, sizes):
    """Layers of sizes[0] -> sizes[1] -> ... -> sizes[-1], LeCun-normal weights and zero biases."""
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {"w": jax.random.normal(k, (m, n)) / jnp.sqrt(m), "b": jnp.zeros(n)}
        for k, m, n in zip(keys, sizes[:-1], sizes[1:])
    ]


def mlp_apply(params, x):
    """tanh hidden layers, linear output layer."""
    for layer in params[:-1]:
        x = jnp.tanh(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


# --- a small convolutional network ---------------------------------------------------------------------------


def cnn_init(key, image_side, channels=(8, 8), n_classes=10, hidden=None):
    """Two 3×3 convolutions (each followed by tanh and 2×2 average pooling) and a dense layer; with ``hidden=h``, a
    tanh dense layer of h units ("hidden") before the output layer.

    For 8×8 digits with channels (8, 8) this has 994 parameters; for 28×28 MNIST, 4,594. For 28×28 with channels
    (4, 8) and hidden=128 it has 51,930, most of them (50,304) in the hidden layer: a ≥ 50,000-parameter network
    that stays cheap, since a dense layer costs one matrix product per example.
    """
    c1, c2 = channels
    side = image_side // 4  # two 2x2 poolings
    k1, k2, k3, *k4 = jax.random.split(key, 3 if hidden is None else 4)   # hidden=None: the keys as before
    features = side * side * c2
    params = {
        "conv1": {"w": jax.random.normal(k1, (3, 3, 1, c1)) / 3.0, "b": jnp.zeros(c1)},
        "conv2": {"w": jax.random.normal(k2, (3, 3, c1, c2)) / jnp.sqrt(9.0 * c1), "b": jnp.zeros(c2)},
    }
    if hidden is not None:
        if not (isinstance(hidden, int) and hidden > 0):
            raise ValueError(f"cnn_init: hidden must be None or a positive number of units; got {hidden!r}.")
        params["hidden"] = {"w": jax.random.normal(k4[0], (features, hidden)) / jnp.sqrt(features),
                            "b": jnp.zeros(hidden)}
        features = hidden
    params["dense"] = {"w": jax.random.normal(k3, (features, n_classes)) / jnp.sqrt(features),
                       "b": jnp.zeros(n_classes)}
    return params


def _patches(x):
    """The 3×3 'SAME' patches of images x (n, h, w, c): (n, h, w, 9c), in the order of kernel.reshape(9c, -1)."""
    n, h, w, c = x.shape
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    return jnp.concatenate([padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=-1)


def _conv_tanh_pool(x, layer, eps=None, taps=None, name=None):
    """3×3 'SAME' convolution as a matmul over image patches (NHWC), tanh, then 2×2 average pooling.

    Writing the convolution as patches @ kernel (rather than lax.conv) keeps it a plain matrix product, which
    stays fast when vmap maps over many parameter sets at once (retraining many models in parallel). With
    ``taps`` (a dict), the patches and pre-activations of ``name`` are recorded and ``eps[name]`` is added.
    """
    n, h, w, c = x.shape
    patches = _patches(x)
    s = patches @ layer["w"].reshape(9 * c, -1) + layer["b"]
    if taps is not None:
        s = s + eps[name].reshape(s.shape) if eps is not None else s
        taps[name] = (patches, s)
    x = jnp.tanh(s)
    return x[:, : h // 2 * 2, : w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, -1).mean(axis=(2, 4))


def _cnn(params, x, eps=None, taps=None):
    side = int(round(x.shape[-1] ** 0.5))
    h = x.reshape(-1, side, side, 1)
    h = _conv_tanh_pool(h, params["conv1"], eps, taps, "conv1")
    h = _conv_tanh_pool(h, params["conv2"], eps, taps, "conv2")
    h = h.reshape(x.shape[:-1] + (-1,))
    names = ("hidden", "dense") if "hidden" in params else ("dense",)
    for name in names:
        s = h @ params[name]["w"] + params[name]["b"]
        if taps is not None:
            s = s + eps[name].reshape(s.shape) if eps is not None else s
            taps[name] = (h, s)
        h = jnp.tanh(s) if name == "hidden" else s
    return h


def cnn_features(params, x):
    """The convolutional part: flat features (what the first dense layer sees) for images x of shape (d,) or (n, d)."""
    side = int(round(x.shape[-1] ** 0.5))
    h = x.reshape(-1, side, side, 1)
    h = _conv_tanh_pool(h, params["conv1"])
    h = _conv_tanh_pool(h, params["conv2"])
    return h.reshape(x.shape[:-1] + (-1,))


def cnn_apply(params, x):
    """Logits for flat square images x of shape (d,) or (n, d), d = side²."""
    if "hidden" not in params:
        return cnn_features(params, x) @ params["dense"]["w"] + params["dense"]["b"]
    return _cnn(params, x)


# --- layer taps: each layer's inputs ã = [1, a] and pre-activations s, for K-FAC ------------------------------


def is_layer(tree):
    """True for one affine layer ``{"w": …, "b": …}`` (the unit K-FAC treats as a block)."""
    return isinstance(tree, dict) and set(tree) == {"w", "b"}


def layers(params):
    """The layers of params, in ``ravel_pytree`` order (so their flat parameters are consecutive slices)."""
    return jax.tree_util.tree_leaves(params, is_leaf=is_layer)


def _augment(a):
    """(…, d) activations → (T, 1 + d) with a 1 first (the bias input)."""
    a = a.reshape(-1, a.shape[-1])
    return jnp.concatenate([jnp.ones((a.shape[0], 1), a.dtype), a], axis=1)


def _rows(s):
    """Pre-activations as (T, d_out); a scalar output is one location with d_out = 1."""
    return s.reshape(-1, 1) if s.ndim == 0 else s.reshape(-1, s.shape[-1])


def linear_taps(params, x, eps=None):
    """(output, acts, pre) of ``linear_apply`` for ONE example x (module docstring): one layer, T = 1. A scalar
    output (w of shape (d,)) is a layer with d_out = 1."""
    s = linear_apply(params, x)
    s = s if eps is None else s + eps.reshape(s.shape)
    return s, _augment(x), _rows(s)


def mlp_taps(params, x, eps=None):
    """(output, acts, pre) of ``mlp_apply`` for ONE example x (module docstring): lists, one entry per layer."""
    acts, pre = [], []
    for k, layer in enumerate(params):
        s = x @ layer["w"] + layer["b"]
        s = s if eps is None else s + eps[k].reshape(s.shape)
        acts.append(_augment(x))
        pre.append(_rows(s))
        x = jnp.tanh(s) if k < len(params) - 1 else s
    return x, acts, pre


def cnn_taps(params, x, eps=None):
    """(output, acts, pre) of ``cnn_apply`` for ONE image x of shape (d,) (module docstring): dicts by layer name.
    A convolution's acts are its T = side² patch vectors [1, patch] and pre its (T, channels) pre-activations
    (the KFC view of Grosse & Martens 2016); a dense layer has T = 1."""
    taps = {}
    out = _cnn(params, x[None], eps, taps)[0]
    acts = {name: _augment(a) for name, (a, _) in taps.items()}
    pre = {name: _rows(s) for name, (_, s) in taps.items()}
    return out, acts, pre


_TAPS = {linear_apply: linear_taps, mlp_apply: mlp_taps, cnn_apply: cnn_taps}


def model_taps(apply_fn):
    """The ``*_taps`` function of one of this module's ``*_apply`` functions (or ``apply_fn`` itself if it is one)."""
    if apply_fn in _TAPS.values():
        return apply_fn
    if apply_fn not in _TAPS:
        name = getattr(apply_fn, "__name__", apply_fn)
        raise ValueError(f"model_taps: no layer taps for {name!r}; K-FAC needs each layer's inputs and "
                         "pre-activations: use linear_apply, mlp_apply or cnn_apply (or their *_taps).")
    return _TAPS[apply_fn]


# --- per-example losses on model outputs ---------------------------------------------------------------------


def squared_error(prediction, y):
    """½ (prediction − y)², summed over output dimensions."""
    return 0.5 * jnp.sum((prediction - y) ** 2)


def logistic_loss(logit, y):
    """log(1 + exp(−y · logit)) for y in {−1, +1}, computed stably."""
    return jax.nn.softplus(-y * logit)


def cross_entropy(logits, y):
    """−log softmax(logits)[y] for an integer class y."""
    return -jax.nn.log_softmax(logits)[y]


def smooth_hinge(t):
    """Smooth hinge of Koh & Liang (§4.1): t · softplus((1 − y·logit)/t); t → 0 gives the hinge max(0, 1 − y·logit)."""
    def loss(logit, y):
        margin = 1.0 - y * logit
        return jnp.maximum(margin, 0.0) if t == 0 else t * jax.nn.softplus(margin / t)
    return loss


def bregman(out_loss):
    """The Bregman divergence of a loss in the model's outputs: D(f, f_ref, y) = L(f, y) − L(f_ref, y) −
    ∇L(f_ref, y)ᵀ(f − f_ref), for ONE example (``out_loss(f, y)`` as the losses above). It is ≥ 0 when the loss is
    convex in f, zero at f = f_ref, and quadratic to second order; the proximal Bregman response function of
    Bae et al. (2022) is built from it."""
    def divergence(f, f_ref, y):
        value_ref, slope = jax.value_and_grad(out_loss)(f_ref, y)
        return out_loss(f, y) - value_ref - jnp.sum(slope * (f - f_ref))
    return divergence


def example_loss(apply_fn, out_loss):
    """loss_fn(params, x, y) = out_loss(apply_fn(params, x), y) for one example."""
    def loss_fn(params, x, y):
        return out_loss(apply_fn(params, x), y)
    return loss_fn
