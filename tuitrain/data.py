"""Datasets for tuitrain runs: the chapter's Fashion-MNIST splits and transfer tasks.

Provides ``load_data(cfg) -> Dataset`` for a preset's ``DataConfig``: Fashion-MNIST (the
full release, found on disk or downloaded by Keras, or the embedded subset that ships in
``tuitrain/datasets/``), MNIST and CIFAR10 (Keras cache or download) and a user's ``.npz``;
the train / validation / test splits, the sample limit, the transfer tasks A and B of
chapter 11 and the normalization (none, /255, per-pixel standardization).
Finding and reading the files is :mod:`tuitrain.datafiles`; its ``DataError`` (one-line
messages for the user) is what ``load_data`` raises.

No Keras import unless a download is attempted: reading the IDX files takes about a second.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tuitrain import datafiles
from tuitrain.datafiles import (ENV_DATA_DIR, FASHION_FILES, HOW_TO_GET, DataError,
                                read_fashion_folder)
from tuitrain.preset import DataConfig

FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
MNIST_CLASSES = [str(i) for i in range(10)]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]
# Chapter 11's tasks: B = Pullover (2) vs T-shirt/top (0); A = the other 8 classes, in order.
_B_NEG, _B_POS = 0, 2
_A_CLASSES = [c for c in range(10) if c not in (_B_NEG, _B_POS)]
_A_REMAP = np.full(10, -1, np.int32)
_A_REMAP[_A_CLASSES] = np.arange(8)
_STD_EPS = 1e-7


@dataclass
class Dataset:
    """Normalized float32 images and labels (int32; float32 0/1 for transfer_b) per split."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    notices: list[str] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)
    num_classes: int = 10

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


# --- splits, tasks, normalization ----------------------------------------------------------

def _split(x, y, cfg: DataConfig) -> tuple:
    n, v = len(x), cfg.validation_size
    if v >= n:
        raise DataError(f"data.validation_size = {v} leaves no training images (there are {n})")
    if cfg.validation_from == "start":
        return x[v:], y[v:], x[:v], y[:v]
    return x[:n - v], y[:n - v], x[n - v:], y[n - v:]


def _task(x, y, task: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y)
    if task == "all":
        return x, y.astype(np.int32)
    in_b = (y == _B_NEG) | (y == _B_POS)
    if task == "transfer_a":
        return x[~in_b], _A_REMAP[y[~in_b]]
    return x[in_b], (y[in_b] == _B_POS).astype(np.float32)


def _standardize_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0, dtype=np.float64)
    sq = np.zeros_like(mean)
    for i in range(0, len(x), 4096):  # chunks: no float64 copy of the whole training set
        sq += ((x[i:i + 4096] - mean) ** 2).sum(axis=0)
    # max(std, eps) as keras.layers.Normalization does: constant pixels map to 0, not NaN
    std = np.maximum(np.sqrt(sq / len(x)), _STD_EPS)
    return mean.astype(np.float32), std.astype(np.float32)


def _normalize(xs: list[np.ndarray], how: str) -> list[np.ndarray]:
    xs = [x.astype(np.float32) for x in xs]
    if how == "none":
        return xs
    xs = [x / np.float32(255) for x in xs]
    if how == "standardize":
        mean, std = _standardize_stats(xs[0])
        xs = [(x - mean) / std for x in xs]
    return xs


# --- the datasets --------------------------------------------------------------------------

def _fashion(cfg: DataConfig, notices: list[str]) -> tuple[tuple, str]:
    if cfg.source != "subset":
        if cfg.path and not datafiles.is_fashion_folder(cfg.path):
            missing = [f for f in FASHION_FILES if not (Path(cfg.path).expanduser() / f).is_file()]
            raise DataError(f"data.path = {cfg.path}: missing {', '.join(missing)}; {HOW_TO_GET}")
        env = os.environ.get(ENV_DATA_DIR)
        if env and not cfg.path and not datafiles.is_fashion_folder(Path(env).expanduser()):
            notices.append(f"{ENV_DATA_DIR}={env} does not hold the four Fashion-MNIST "
                           "files; ignored")
        found = datafiles.locate_fashion_mnist(cfg.path)
        if found is not None:
            folder, origin = found
            x, y, x_test, y_test = read_fashion_folder(folder)
            return (*_split(x, y, cfg), x_test, y_test), f"{folder} ({origin})"
        if cfg.source == "full":
            cache = datafiles.keras_home() / "datasets" / "fashion-mnist"
            raise DataError(f"Fashion-MNIST not found (looked in data.path, ${ENV_DATA_DIR}, "
                            f"{cache}, {datafiles.DEBIAN_DIR}; no download possible); {HOW_TO_GET}")
    try:
        s = datafiles.read_subset()
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise DataError(f"the embedded subset {datafiles.SUBSET_PATH} cannot be read ({e})"
                        ) from None
    n_train, n_test, cap = len(s["x_train"]), len(s["x_test"]), len(s["x_valid"])
    if cfg.source == "auto":
        notices.append(f"Fashion-MNIST not found: using the embedded subset ({n_train} train / "
                       f"{cap} validation / {n_test} test images); for the full set, {HOW_TO_GET}")
    v = cfg.validation_size
    if v > cap:
        notices.append(f"data.validation_size = {v} capped at {cap} for the embedded subset")
        v = cap
    return ((s["x_train"], s["y_train"], s["x_valid"][:v], s["y_valid"][:v],
             s["x_test"], s["y_test"]), f"embedded subset ({n_train} train / {n_test} test)")


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as f:
        d = pickle.load(f, encoding="bytes")  # the Keras cache's own format, as Keras reads it
    x = np.asarray(d[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return x, np.asarray(d[b"labels"], np.int32)


def _keras_dataset(name: str) -> tuple[tuple, str]:
    cache = datafiles.keras_home() / "datasets"
    if name == "mnist" and (cache / "mnist.npz").is_file():
        with np.load(cache / "mnist.npz", allow_pickle=False) as z:
            arrays = (z["x_train"], z["y_train"], z["x_test"], z["y_test"])
        return arrays, f"keras cache {cache / 'mnist.npz'}"
    for d in (cache / "cifar-10-batches-py-target" / "cifar-10-batches-py",
              cache / "cifar-10-batches-py"):
        if name == "cifar10" and (d / "test_batch").is_file():
            parts = [_cifar_batch(d / f"data_batch_{i}") for i in range(1, 6)]
            x_test, y_test = _cifar_batch(d / "test_batch")
            return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                    x_test, y_test), f"keras cache {d}"
    host = "www.cs.toronto.edu" if name == "cifar10" else "storage.googleapis.com"
    if datafiles.download_allowed(host):
        try:
            import keras
            (x, y), (x_test, y_test) = getattr(keras.datasets, name).load_data()
            return (x, y, x_test, y_test), "keras download"
        except Exception as e:
            raise DataError(f"{name}: the Keras download failed ({type(e).__name__}: "
                            f"{str(e).splitlines()[0] if str(e) else ''})") from None
    raise DataError(f"{name} is not in the Keras cache ({cache}) and cannot be downloaded "
                    f"(offline); run keras.datasets.{name}.load_data() where there is internet "
                    f"and copy {cache} here, or set KERAS_HOME")


def _npz(cfg: DataConfig, notices: list[str]) -> tuple[tuple, str, list[str] | None]:
    p = Path(cfg.path or "").expanduser()
    if not cfg.path or not p.is_file():
        raise DataError(f"data.path = {cfg.path}: no such .npz file")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise DataError(f"{p}: not a readable .npz file ({e})") from None
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
    if missing:
        raise DataError(f"{p}: missing array {', '.join(missing)} "
                        "(needs x_train, y_train, x_test, y_test)")
    has_valid = "x_valid" in arrays and "y_valid" in arrays
    for part in ("train", "valid", "test") if has_valid else ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"].reshape(-1)
        if len(x) != len(y):
            raise DataError(f"{p}: x_{part} has {len(x)} samples but y_{part} has {len(y)}")
        if not np.issubdtype(y.dtype, np.integer) and not np.all(np.mod(y, 1) == 0):
            raise DataError(f"{p}: y_{part} must hold integer class labels")
        arrays[f"y_{part}"] = y.astype(np.int32)
    if has_valid:
        splits = tuple(arrays[k] for k in ("x_train", "y_train", "x_valid", "y_valid"))
        notices.append(f"{p.name}: using its own x_valid/y_valid as the validation split")
    else:
        splits = _split(arrays["x_train"], arrays["y_train"], cfg)
    names = [str(n) for n in arrays["class_names"]] if "class_names" in arrays else None
    return (*splits, arrays["x_test"], arrays["y_test"]), str(p), names


def load_data(cfg: DataConfig) -> Dataset:
    """The preset's dataset, split, filtered to its task, limited and normalized."""
    notices: list[str] = []
    names: list[str] | None = None
    if cfg.task != "all" and cfg.dataset != "fashion_mnist":
        raise DataError(f"data.task = {cfg.task} is defined for fashion_mnist only")
    if cfg.dataset != "fashion_mnist" and cfg.source == "subset":
        raise DataError("data.source = subset: the embedded subset is Fashion-MNIST, "
                        f"not {cfg.dataset}")
    if cfg.dataset == "fashion_mnist":
        splits, source = _fashion(cfg, notices)
        names = FASHION_MNIST_CLASSES
    elif cfg.dataset == "npz":
        splits, source, names = _npz(cfg, notices)
    else:
        (x, y, x_test, y_test), source = _keras_dataset(cfg.dataset)
        splits = (*_split(x, y.reshape(-1), cfg), x_test, y_test.reshape(-1))
        names = MNIST_CLASSES if cfg.dataset == "mnist" else CIFAR10_CLASSES
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (
        _task(splits[i], splits[i + 1], cfg.task) for i in (0, 2, 4))
    if cfg.limit is not None:
        x_tr, y_tr = x_tr[:cfg.limit], y_tr[:cfg.limit]
    if len(x_tr) == 0:
        raise DataError(f"{source}: no training images left after the split and task filter")
    x_tr, x_va, x_te = _normalize([x_tr, x_va, x_te], cfg.normalization)
    if cfg.task == "transfer_a":
        names = [FASHION_MNIST_CLASSES[c] for c in _A_CLASSES]
    elif cfg.task == "transfer_b":
        names = [FASHION_MNIST_CLASSES[_B_NEG], FASHION_MNIST_CLASSES[_B_POS]]
    if names is None:
        names = [str(i) for i in range(int(max(y_tr.max(), y_te.max(initial=0))) + 1)]
    return Dataset(x_tr, y_tr, x_va, y_va, x_te, y_te, source=source, notices=notices,
                   class_names=list(names), num_classes=len(names))
