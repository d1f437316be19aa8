"""Tests for tuitrain.data: IDX reading, the lookup order, the embedded subset, splits,
normalization, the transfer tasks, and the npz / Keras datasets' error paths.

Real data where it exists: the shared Fashion-MNIST release (../shared/data/fashion-mnist,
or $TUITRAIN_DATA_DIR as CI sets it) and the embedded subset; tiny IDX files written here for
the lookup order. Every test runs offline (TUITRAIN_OFFLINE=1) in an isolated environment.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from tuitrain import datafiles
from tuitrain.data import FASHION_MNIST_CLASSES, load_data
from tuitrain.datafiles import FASHION_FILES, DataError, find_fashion_mnist, read_fashion_folder
from tuitrain.preset import DataConfig


def _real_folder() -> Path | None:
    for folder in (os.environ.get("TUITRAIN_DATA_DIR"),
                   Path(__file__).resolve().parents[2] / "shared" / "data" / "fashion-mnist"):
        if folder and datafiles.is_fashion_folder(folder):
            return Path(folder)
    return None


REAL = _real_folder()
needs_real = pytest.mark.skipif(REAL is None, reason="the full Fashion-MNIST files are absent")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real lookup location leaks in: empty HOME / KERAS_HOME / Debian folder, offline."""
    monkeypatch.setenv("TUITRAIN_OFFLINE", "1")
    monkeypatch.delenv("TUITRAIN_DATA_DIR", raising=False)
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(datafiles, "DEBIAN_DIR", tmp_path / "debian" / "fashion-mnist")


@pytest.fixture(scope="module")
def real():
    if REAL is None:
        pytest.skip("the full Fashion-MNIST files are absent")
    return read_fashion_folder(REAL)


def write_idx(path: Path, array: np.ndarray) -> None:
    array = np.ascontiguousarray(array, np.uint8)
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, 8, array.ndim, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def fake_folder(folder: Path, n_train: int = 40, n_test: int = 20) -> Path:
    """A Fashion-MNIST-shaped folder: label i % 10; pixel [0, 0] = the image's index."""
    folder.mkdir(parents=True, exist_ok=True)
    for (img, lab), n in ((FASHION_FILES[:2], n_train), (FASHION_FILES[2:], n_test)):
        x = np.zeros((n, 28, 28), np.uint8)
        x[:, 0, 0] = np.arange(n)
        x[:, 5:9, 5:9] = (np.arange(n) * 7 % 256)[:, None, None]
        write_idx(folder / img, x)
        write_idx(folder / lab, np.arange(n) % 10)
    return folder


def cfg(**kw) -> DataConfig:
    return DataConfig(**kw)


# --- the real release ----------------------------------------------------------------------

def test_idx_reading_gives_full_shapes_and_readme_stats(real):
    x, y, x_test, y_test = real
    assert x.shape == (60000, 28, 28) and y.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert x.dtype == np.uint8 and sorted(np.unique(y)) == list(range(10))
    assert np.bincount(y).tolist() == [6000] * 10
    assert x.mean(dtype=np.float64) / 255 == pytest.approx(0.2860, abs=5e-5)
    assert x.std(dtype=np.float64) / 255 == pytest.approx(0.3530, abs=5e-5)


@needs_real
def test_chapter_splits_from_env_dir(real, monkeypatch):
    monkeypatch.setenv("TUITRAIN_DATA_DIR", str(REAL))
    ds = load_data(cfg(source="full"))
    assert (len(ds.x_train), len(ds.x_valid), len(ds.x_test)) == (55000, 5000, 10000)
    assert ds.x_train.dtype == np.float32 and ds.x_train.max() == 1.0
    np.testing.assert_array_equal(ds.x_valid[-1] * 255, real[0][-1])
    np.testing.assert_array_equal(ds.y_train, real[1][:55000])
    assert str(REAL) in ds.source and "TUITRAIN_DATA_DIR" in ds.source and ds.notices == []
    assert ds.class_names == FASHION_MNIST_CLASSES and ds.num_classes == 10


@needs_real
def test_subset_is_genuine_and_stratified(real):
    s = datafiles.read_subset()
    x, y, x_test, y_test = real
    for part, n, lo, hi in (("train", 300, 0, 55000), ("valid", 60, 55000, 60000),
                            ("test", 100, 0, 10000)):
        idx = s[f"idx_{part}"]
        assert lo <= idx.min() and idx.max() < hi and np.all(np.diff(idx) > 0)
        xs, ys = (x_test, y_test) if part == "test" else (x, y)
        assert s[f"x_{part}"].tobytes() == xs[idx].tobytes()
        np.testing.assert_array_equal(s[f"y_{part}"], ys[idx])
        assert np.bincount(s[f"y_{part}"], minlength=10).tolist() == [n] * 10


def test_subset_shape_and_size():
    s = datafiles.read_subset()
    assert s["x_train"].shape == (3000, 28, 28) and s["x_train"].dtype == np.uint8
    assert np.bincount(s["y_train"]).tolist() == [300] * 10
    assert np.bincount(s["y_valid"]).tolist() == [60] * 10
    assert np.bincount(s["y_test"]).tolist() == [100] * 10
    assert datafiles.SUBSET_PATH.stat().st_size < 3_000_000
    assert (datafiles.SUBSET_PATH.parent / "LICENSE").read_text().count("Zalando") >= 1


# --- the lookup order ----------------------------------------------------------------------

def test_lookup_order(tmp_path, monkeypatch):
    home = tmp_path / "home"
    debian = fake_folder(datafiles.DEBIAN_DIR)
    assert find_fashion_mnist() == debian
    default_cache = fake_folder(home / ".keras" / "datasets" / "fashion-mnist")
    assert find_fashion_mnist() == default_cache
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert find_fashion_mnist() == debian  # KERAS_HOME replaces ~/.keras
    keras_cache = fake_folder(tmp_path / "kh" / "datasets" / "fashion-mnist")
    assert find_fashion_mnist() == keras_cache
    env_dir = fake_folder(tmp_path / "env")
    monkeypatch.setenv("TUITRAIN_DATA_DIR", str(env_dir))
    assert find_fashion_mnist() == env_dir
    given = fake_folder(tmp_path / "given")
    assert find_fashion_mnist(str(given)) == given
    ds = load_data(cfg(path=str(given), validation_size=10))
    assert str(given) in ds.source and "data.path" in ds.source


def test_incomplete_folder_does_not_count(tmp_path, monkeypatch):
    partial = fake_folder(tmp_path / "partial")
    (partial / FASHION_FILES[3]).unlink()
    monkeypatch.setenv("TUITRAIN_DATA_DIR", str(partial))
    assert find_fashion_mnist() is None
    ds = load_data(cfg())
    assert any("TUITRAIN_DATA_DIR" in n and "ignored" in n for n in ds.notices)
    with pytest.raises(DataError, match=r"data.path = .*partial.*t10k-labels"):
        load_data(cfg(path=str(partial)))


def test_full_source_with_nothing_found_says_how_to_get_it():
    with pytest.raises(DataError) as err:
        load_data(cfg(source="full"))
    msg = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in msg and "TUITRAIN_DATA_DIR" in msg
    assert "\n" not in msg


def test_auto_falls_back_to_subset_with_notices():
    ds = load_data(cfg())
    assert ds.source == "embedded subset (3000 train / 1000 test)"
    assert (len(ds.x_train), len(ds.x_valid), len(ds.x_test)) == (3000, 600, 1000)
    assert any("embedded subset" in n for n in ds.notices)
    assert any("capped at 600" in n for n in ds.notices)
    small = load_data(cfg(source="subset", validation_size=100))
    assert len(small.x_valid) == 100 and small.notices == []


def test_found_data_wins_over_subset_in_auto(tmp_path, monkeypatch):
    monkeypatch.setenv("TUITRAIN_DATA_DIR", str(fake_folder(tmp_path / "d")))
    ds = load_data(cfg(validation_size=10))
    assert (len(ds.x_train), len(ds.x_valid), len(ds.x_test)) == (30, 10, 20)
    assert load_data(cfg(source="subset")).source.startswith("embedded subset")


# --- splits, limit, normalization, tasks ---------------------------------------------------

def test_validation_from_start_and_end(tmp_path):
    folder = str(fake_folder(tmp_path / "d"))
    end = load_data(cfg(path=folder, validation_size=10, normalization="none"))
    assert end.x_valid[:, 0, 0].tolist() == list(range(30, 40))
    start = load_data(cfg(path=folder, validation_size=10, validation_from="start",
                          normalization="none"))
    assert start.x_valid[:, 0, 0].tolist() == list(range(10))
    assert start.x_train[0, 0, 0] == 10
    with pytest.raises(DataError, match="validation_size"):
        load_data(cfg(path=folder, validation_size=40))


def test_standardize_per_pixel_on_train():
    ds = load_data(cfg(source="subset", normalization="standardize"))
    mean, std = ds.x_train.mean(axis=0), ds.x_train.std(axis=0)
    raw_std = datafiles.read_subset()["x_train"].std(axis=0)
    assert np.abs(mean).max() < 1e-4
    np.testing.assert_allclose(std[raw_std > 0], 1.0, atol=1e-3)
    assert np.all(np.isfinite(ds.x_test)) and np.all(np.isfinite(ds.x_valid))
    assert abs(ds.x_test.mean()) < 0.1  # same statistics applied to the test split


def test_standardize_constant_pixels_stay_finite(tmp_path):
    ds = load_data(cfg(path=str(fake_folder(tmp_path / "d")), validation_size=10,
                       normalization="standardize"))
    assert np.all(np.isfinite(ds.x_train)) and np.all(ds.x_train[:, 20, 20] == 0)


def test_scale_and_none():
    scaled = load_data(cfg(source="subset"))
    raw = load_data(cfg(source="subset", normalization="none"))
    np.testing.assert_allclose(scaled.x_train * 255, raw.x_train, atol=1e-4)
    assert raw.x_train.max() == 255.0 and raw.x_train.dtype == np.float32


def test_transfer_a(tmp_path):
    ds = load_data(cfg(path=str(fake_folder(tmp_path / "d", 100, 30)), validation_size=20,
                       task="transfer_a", normalization="none"))
    # labels were index % 10; pixel [0, 0] is the original index
    orig = ds.x_train[:, 0, 0].astype(int) % 10
    assert not np.isin(orig, [0, 2]).any() and len(ds.x_train) == 64
    expected = {1: 0, 3: 1, 4: 2, 5: 3, 6: 4, 7: 5, 8: 6, 9: 7}
    assert ds.y_train.tolist() == [expected[o] for o in orig]
    assert ds.num_classes == 8 and ds.class_names[0] == "Trouser" and len(ds.x_test) == 24
    assert "T-shirt/top" not in ds.class_names and "Pullover" not in ds.class_names


def test_transfer_b_and_limit(tmp_path):
    ds = load_data(cfg(path=str(fake_folder(tmp_path / "d", 100, 30)), validation_size=20,
                       task="transfer_b", normalization="none", limit=5))
    orig = ds.x_train[:, 0, 0].astype(int)
    assert orig.tolist() == [0, 2, 10, 12, 20]  # the first 5 images of task B
    assert ds.y_train.dtype == np.float32 and ds.y_train.tolist() == [0, 1, 0, 1, 0]
    assert set(ds.y_test.tolist()) == {0.0, 1.0} and len(ds.x_valid) == 4
    assert ds.class_names == ["T-shirt/top", "Pullover"]


def test_limit_on_subset():
    ds = load_data(cfg(source="subset", limit=200))
    assert len(ds.x_train) == 200 and len(ds.x_test) == 1000
    np.testing.assert_array_equal(ds.y_train, datafiles.read_subset()["y_train"][:200])


def test_corrupt_idx_file(tmp_path):
    folder = fake_folder(tmp_path / "d")
    with gzip.open(folder / FASHION_FILES[0], "wb") as f:
        f.write(b"\x00\x00\x08\x03" + struct.pack(">3I", 40, 28, 28) + b"\x00" * 100)
    with pytest.raises(DataError, match="IDX header"):
        load_data(cfg(path=str(folder)))


# --- other datasets ------------------------------------------------------------------------

def test_npz_dataset(tmp_path):
    rng = np.random.default_rng(0)
    f = tmp_path / "mine.npz"
    np.savez(f, x_train=rng.integers(0, 256, (50, 4, 4), np.uint8), y_train=np.arange(50) % 3,
             x_test=rng.integers(0, 256, (10, 4, 4), np.uint8), y_test=np.arange(10) % 3)
    ds = load_data(cfg(dataset="npz", path=str(f), validation_size=10))
    assert (len(ds.x_train), len(ds.x_valid), len(ds.x_test)) == (40, 10, 10)
    assert ds.num_classes == 3 and ds.class_names == ["0", "1", "2"] and ds.source == str(f)
    assert ds.x_train.max() <= 1.0


def test_npz_with_own_validation_and_names(tmp_path):
    f = tmp_path / "v.npz"
    z = np.zeros((6, 2), np.uint8)
    np.savez(f, x_train=z, y_train=np.array([[0], [1]] * 3), x_valid=z[:2],
             y_valid=np.array([0, 1]), x_test=z[:4], y_test=np.array([1, 0, 1, 0]),
             class_names=np.array(["cat", "dog"]))
    ds = load_data(cfg(dataset="npz", path=str(f)))
    assert len(ds.x_valid) == 2 and ds.class_names == ["cat", "dog"] and ds.y_train.ndim == 1


def test_npz_errors(tmp_path):
    with pytest.raises(DataError, match=r"nope\.npz: no such"):
        load_data(cfg(dataset="npz", path=str(tmp_path / "nope.npz")))
    f = tmp_path / "part.npz"
    np.savez(f, x_train=np.zeros((3, 2)), y_train=np.zeros(3, int))
    with pytest.raises(DataError, match=r"part\.npz: missing array x_test, y_test"):
        load_data(cfg(dataset="npz", path=str(f)))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"bad\.npz: not a readable"):
        load_data(cfg(dataset="npz", path=str(bad)))
    odd = tmp_path / "odd.npz"
    np.savez(odd, x_train=np.zeros((3, 2)), y_train=np.zeros(2, int),
             x_test=np.zeros((1, 2)), y_test=np.zeros(1, int))
    with pytest.raises(DataError, match="x_train has 3 samples but y_train has 2"):
        load_data(cfg(dataset="npz", path=str(odd), validation_size=1))


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_keras_datasets_offline_error(name):
    with pytest.raises(DataError, match=f"{name} is not in the Keras cache.*offline"):
        load_data(cfg(dataset=name))


def test_mnist_from_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    (tmp_path / "kh" / "datasets").mkdir(parents=True)
    np.savez(tmp_path / "kh" / "datasets" / "mnist.npz", x_train=np.ones((30, 28, 28), np.uint8),
             y_train=np.arange(30) % 10, x_test=np.ones((5, 28, 28), np.uint8),
             y_test=np.arange(5))
    ds = load_data(cfg(dataset="mnist", validation_size=6))
    assert (len(ds.x_train), len(ds.x_valid), len(ds.x_test)) == (24, 6, 5)
    assert ds.source.startswith("keras cache") and ds.class_names[3] == "3"


def test_cifar10_from_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    d = tmp_path / "kh" / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    d.mkdir(parents=True)
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        img = np.zeros((4, 3, 32, 32), np.uint8)
        img[:, 0] = i  # red channel marks the batch
        with open(d / name, "wb") as f:
            pickle.dump({b"data": img.reshape(4, -1), b"labels": [i, 1, 2, 3]}, f)
    ds = load_data(cfg(dataset="cifar10", validation_size=4, validation_from="start",
                       normalization="none"))
    assert ds.x_train.shape == (16, 32, 32, 3) and ds.x_valid[0, 0, 0].tolist() == [0, 0, 0]
    assert ds.x_test[0, 5, 5].tolist() == [5, 0, 0] and ds.class_names[0] == "airplane"


def test_task_and_subset_only_for_fashion_mnist(tmp_path):
    with pytest.raises(DataError, match="fashion_mnist only"):
        load_data(cfg(dataset="mnist", task="transfer_a"))
    with pytest.raises(DataError, match="embedded subset is Fashion-MNIST"):
        load_data(cfg(dataset="mnist", source="subset"))


def test_download_never_attempted_offline(monkeypatch):
    assert datafiles.download_allowed() is False
    monkeypatch.delenv("TUITRAIN_OFFLINE")
    assert datafiles.download_allowed() is False  # under pytest
