"""Models in plain JAX: ``*_init(...) -> params`` (a dict or list of dicts; the networks take a ``key``) and
``*_apply(params, x)``.

Inputs ``x`` are flat feature vectors, one example of shape (d,) or a batch of shape (n, d); the CNN reshapes
them into square images. Losses take the model's output and a label, for ONE example; ``example_loss`` joins a
model and a loss into the ``loss_fn(params, x, y)`` that training and influence functions expect.

Label conventions: squared error takes real targets; ``logistic_loss`` takes y in {-1, +1} (as in Koh & Liang's
closed form); ``cross_entropy`` takes an integer class.
"""
import jax
import jax.numpy as jnp

__all__ = ["linear_init", "linear_apply", "mlp_init", "mlp_apply", "cnn_init", "cnn_features", "cnn_apply",
           "squared_error", "logistic_loss", "cross_entropy", "smooth_hinge", "bregman", "example_loss"]


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


def cnn_init(key, image_side, channels=(8, 8), n_classes=10):
    """Two 3×3 convolutions (each followed by tanh and 2×2 average pooling) and a dense layer.

    For 8×8 digits with channels (8, 8) this has 994 parameters; for 28×28 MNIST, 4,594.
    """
    k1, k2, k3 = jax.random.split(key, 3)
    c1, c2 = channels
    side = image_side // 4  # two 2x2 poolings
    return {
        "conv1": {"w": jax.random.normal(k1, (3, 3, 1, c1)) / 3.0, "b": jnp.zeros(c1)},
        "conv2": {"w": jax.random.normal(k2, (3, 3, c1, c2)) / jnp.sqrt(9.0 * c1), "b": jnp.zeros(c2)},
        "dense": {"w": jax.random.normal(k3, (side * side * c2, n_classes)) / jnp.sqrt(side * side * c2),
                  "b": jnp.zeros(n_classes)},
    }


def _conv_tanh_pool(x, layer):
    """3×3 'SAME' convolution as a matmul over image patches (NHWC), tanh, then 2×2 average pooling.

    Writing the convolution as patches @ kernel (rather than lax.conv) keeps it a plain matrix product, which
    stays fast when vmap maps over many parameter sets at once (retraining many models in parallel).
    """
    n, h, w, c = x.shape
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    patches = jnp.concatenate([padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=-1)
    x = jnp.tanh(patches @ layer["w"].reshape(9 * c, -1) + layer["b"])
    return x[:, : h // 2 * 2, : w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, -1).mean(axis=(2, 4))


def cnn_features(params, x):
    """The convolutional part: flat features (what the dense layer sees) for images x of shape (d,) or (n, d)."""
    side = int(round(x.shape[-1] ** 0.5))
    h = x.reshape(-1, side, side, 1)
    h = _conv_tanh_pool(h, params["conv1"])
    h = _conv_tanh_pool(h, params["conv2"])
    return h.reshape(x.shape[:-1] + (-1,))


def cnn_apply(params, x):
    """Logits for flat square images x of shape (d,) or (n, d), d = side²."""
    return cnn_features(params, x) @ params["dense"]["w"] + params["dense"]["b"]


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
