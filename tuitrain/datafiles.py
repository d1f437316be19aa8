"""Where Fashion-MNIST's files are, and reading them: IDX files, the embedded subset.

``find_fashion_mnist()`` applies the lookup order (``data.path``, ``$TUITRAIN_DATA_DIR``,
the Keras cache, Debian's package, a Keras download when one is possible);
``read_fashion_folder()`` reads (and caches) the four IDX files; ``read_subset()`` the
embedded stratified subset in ``tuitrain/datasets/``. ``DataError`` carries one-line
messages for the user. :mod:`tuitrain.data` builds the splits from these.
"""

from __future__ import annotations

import functools
import gzip
import os
import socket
import struct
import threading
from pathlib import Path

import numpy as np

FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
SUBSET_PATH = Path(__file__).parent / "datasets" / "fashion_mnist_subset.npz"
ENV_DATA_DIR = "TUITRAIN_DATA_DIR"
ENV_OFFLINE = "TUITRAIN_OFFLINE"
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
HOW_TO_GET = ("get it with `apt-get install dataset-fashion-mnist`, or "
              "keras.datasets.fashion_mnist.load_data() (downloads into ~/.keras), or set "
              f"{ENV_DATA_DIR} (or data.path) to a folder holding the four .gz files")


class DataError(Exception):
    """A dataset that cannot be found or read; the message is one line for the user."""


# --- reading files -------------------------------------------------------------------------

def read_idx(path: str | os.PathLike) -> np.ndarray:
    """A gzip'd IDX file (ubyte data) as a read-only uint8 array of its stated shape."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable gzip IDX file ({e})") from None
    if len(data) < 4 or data[0] or data[1] or data[2] != 0x08:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", data[4:header])
    if len(data) - header != int(np.prod(dims)):
        raise DataError(f"{path}: IDX header says {dims} but holds {len(data) - header} bytes")
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def is_fashion_folder(folder: str | os.PathLike | None) -> bool:
    """True when ``folder`` holds the four Fashion-MNIST IDX .gz files."""
    return folder is not None and all((Path(folder) / f).is_file() for f in FASHION_FILES)


def read_fashion_folder(folder: str | os.PathLike) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test) as uint8 from a Fashion-MNIST folder (cached)."""
    folder = Path(folder).resolve()
    stamp = tuple((folder / f).stat().st_mtime_ns for f in FASHION_FILES)
    return _read_fashion_cached(str(folder), stamp)


@functools.lru_cache(maxsize=2)
def _read_fashion_cached(folder: str, _stamp: tuple) -> tuple[np.ndarray, ...]:
    x_train, y_train, x_test, y_test = (read_idx(Path(folder) / f) for f in FASHION_FILES)
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise DataError(f"{folder}: image and label files have different lengths")
    return x_train, y_train, x_test, y_test


@functools.lru_cache(maxsize=1)
def read_subset() -> dict[str, np.ndarray]:
    """The embedded subset's arrays (x/y/idx for train, valid, test), uint8 images."""
    with np.load(SUBSET_PATH, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


# --- finding Fashion-MNIST -----------------------------------------------------------------

def keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()


def _candidates(path: str | None) -> list[tuple[Path, str]]:
    found = [(Path(path).expanduser(), "data.path")] if path else []
    if os.environ.get(ENV_DATA_DIR):
        found.append((Path(os.environ[ENV_DATA_DIR]).expanduser(), ENV_DATA_DIR))
    found.append((keras_home() / "datasets" / "fashion-mnist", "keras cache"))
    found.append((DEBIAN_DIR, "Debian package dataset-fashion-mnist"))
    return found


def download_allowed(host: str = "storage.googleapis.com", timeout: float = 3.0) -> bool:
    """Whether a Keras download may be tried: not offline, not under pytest, host reachable."""
    if os.environ.get(ENV_OFFLINE, "") not in ("", "0") or "PYTEST_CURRENT_TEST" in os.environ:
        return False
    ok: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            ok.append(True)
        except OSError:
            pass

    # A thread bounds the whole probe, DNS included, which create_connection's timeout does not.
    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout)
    return bool(ok)


def _keras_download_fashion() -> Path | None:
    """The download keras.datasets.fashion_mnist.load_data() does; the folder, or None."""
    if not download_allowed():
        return None
    try:
        import keras
        paths = [keras.utils.get_file(f, origin=KERAS_ORIGIN + f,
                                      cache_subdir=os.path.join("datasets", "fashion-mnist"))
                 for f in FASHION_FILES]
    except Exception:  # any failure means "not available"; the caller explains what to do
        return None
    folder = Path(paths[0]).parent
    return folder if is_fashion_folder(folder) else None


def locate_fashion_mnist(path: str | None = None,
                         download: bool = True) -> tuple[Path, str] | None:
    """(folder, where it was found) for the first folder holding Fashion-MNIST, or None."""
    for folder, origin in _candidates(path):
        if is_fashion_folder(folder):
            return folder, origin
    if download and (folder := _keras_download_fashion()) is not None:
        return folder, "keras download"
    return None


def find_fashion_mnist(path: str | None = None, download: bool = True) -> Path | None:
    """The first folder holding Fashion-MNIST: ``path``, $TUITRAIN_DATA_DIR,
    $KERAS_HOME/datasets/fashion-mnist (default ~/.keras), Debian's folder, a Keras download."""
    found = locate_fashion_mnist(path, download)
    return found[0] if found else None
