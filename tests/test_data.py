"""data.py: what ships in packages, deterministic splits, label noise, and the opt-in MNIST download."""
import gzip
import hashlib

import jax
import numpy as np
import pytest

from course_utils import data as D


@pytest.mark.slow
def test_digits_and_mnist_subset_are_float64_in_unit_interval_and_deterministic():
    for load, n, side in ((D.load_digits, 1797, 8), (D.load_mnist_subset, 5000, 28)):
        ds = load(seed=3)
        assert ds.image_shape == (side, side)
        assert ds.x_train.shape[1] == side * side and len(ds.x_train) + len(ds.x_test) == n
        for x in (ds.x_train, ds.x_test):
            assert x.dtype == np.float64 and x.min() == 0.0 and x.max() == 1.0
        assert set(np.unique(ds.y_train)) == set(range(10))
        again = load(seed=3)
        assert np.array_equal(ds.x_train, again.x_train) and np.array_equal(ds.y_test, again.y_test)
        assert not np.array_equal(ds.x_train, load(seed=4).x_train)
    assert len(D.load_digits(n_train=100).x_train) == 100


@pytest.mark.slow
def test_mnist_subset_downsampled_images_stay_on_the_8_bit_grid():
    full, small, half = (D.load_mnist_subset(side=s) for s in (28, 8, 14))
    assert small.image_shape == (8, 8) and small.x_train.shape == (4000, 64)
    assert np.array_equal(small.y_train, full.y_train)  # the same split, image by image
    assert np.array_equal(small.x_train * 255, np.round(small.x_train * 255))  # valid 8-bit images
    crop = full.x_train[:3].reshape(3, 28, 28)[:, 2:26, 2:26]
    assert np.allclose(
        small.x_train[:3].reshape(3, 8, 8), crop.reshape(3, 8, 3, 8, 3).mean(axis=(2, 4)), atol=0.5 / 255
    )
    assert np.allclose(half.x_train[0].reshape(14, 14), full.x_train[0].reshape(14, 2, 14, 2).mean(axis=(1, 3)))
    with pytest.raises(ValueError, match="side must be"):
        D.load_mnist_subset(side=10)


def test_binary_subset_labels_are_plus_minus_one():
    ds = D.binary_subset(D.load_digits(), (1, 7))
    full = D.load_digits()
    assert set(np.unique(ds.y_train)) == {-1.0, 1.0}
    assert np.sum(ds.y_train == 1) == np.sum(full.y_train == 7)
    assert np.sum(ds.y_train == -1) == np.sum(full.y_train == 1)


def test_flip_labels_returns_exactly_the_flipped_indices():
    y = D.load_digits().y_train
    noisy, flipped = D.flip_labels(y, 0.1, key=jax.random.key(0))
    assert len(flipped) == round(0.1 * len(y))
    assert np.array_equal(np.flatnonzero(noisy != y), flipped)
    pm = np.where(y > 4, 1.0, -1.0)
    noisy_pm, flipped_pm = D.flip_labels(pm, 0.2, key=jax.random.key(1))
    assert np.array_equal(noisy_pm[flipped_pm], -pm[flipped_pm])
    assert np.array_equal(np.flatnonzero(noisy_pm != pm), flipped_pm)
    again, _ = D.flip_labels(y, 0.1, key=jax.random.key(0))
    assert np.array_equal(again, noisy)                                  # the same key, the same corruption


@pytest.mark.parametrize("kwargs, message", [
    (dict(y=np.zeros(0, int), fraction=0.1, key=jax.random.key(0)), "non-empty"),
    (dict(y=np.arange(5), fraction=1.5, key=jax.random.key(0)), r"\[0, 1\]"),
    (dict(y=np.arange(5), fraction=0.1, key=0), "typed JAX key"),
    (dict(y=np.zeros(5, int), fraction=0.4, key=jax.random.key(0)), "at least 2 classes"),
])
def test_flip_labels_rejects_bad_input(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        D.flip_labels(**kwargs)


def _idx_gz(path, array):
    """Write `array` (uint8) in the gzipped IDX format that MNIST uses."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def mnist_mirror(tmp_path):
    """A local stand-in for the MNIST server: tiny IDX files and their SHA-256 sums (never the network)."""
    rng = np.random.default_rng(0)
    server = tmp_path / "server"
    server.mkdir()
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 28, 28)),
        "train-labels-idx1-ubyte.gz": np.arange(6) % 10,
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (4, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": np.arange(4),
    }
    for name, a in arrays.items():
        _idx_gz(server / name, a)
    sums = {name: hashlib.sha256((server / name).read_bytes()).hexdigest() for name in arrays}
    return server, sums, arrays


def test_full_mnist_download_is_opt_in_cached_and_checksummed(tmp_path, mnist_mirror):
    server, sums, arrays = mnist_mirror
    cache = tmp_path / "cache"
    url = server.as_uri() + "/"
    with pytest.raises(FileNotFoundError, match="download=True"):
        D.load_mnist_full(cache, base_url=url, checksums=sums)
    ds = D.load_mnist_full(cache, download=True, base_url=url, checksums=sums)
    assert ds.x_train.shape == (6, 784) and ds.x_test.shape == (4, 784) and ds.x_train.dtype == np.float64
    assert np.allclose(ds.x_train * 255, arrays["train-images-idx3-ubyte.gz"].reshape(6, -1))
    assert np.array_equal(ds.y_train, arrays["train-labels-idx1-ubyte.gz"])
    # cached: works with the "server" gone
    for f in server.iterdir():
        f.unlink()
    assert np.array_equal(D.load_mnist_full(cache, base_url=url, checksums=sums).y_test, np.arange(4))
    # a corrupted cache file is detected and removed
    (cache / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="checksum mismatch"):
        D.load_mnist_full(cache, base_url=url, checksums=sums)
    assert not (cache / "t10k-labels-idx1-ubyte.gz").exists()
