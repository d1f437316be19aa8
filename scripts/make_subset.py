"""Build tuitrain/datasets/fashion_mnist_subset.npz from the real Fashion-MNIST files.

A stratified, seeded selection: 300 training images per class from the chapter's training
split (the first 55,000), 60 validation images per class from its validation split (the last
5,000) and 100 test images per class, kept in their original order. The npz stores the
uint8 images, the labels and the original indices (idx_*), so anyone can check the subset
against the release; Zalando's LICENSE is copied beside it.

    python scripts/make_subset.py [SOURCE_FOLDER] [--out PATH]

SOURCE_FOLDER defaults to ../shared/data/fashion-mnist (the project's shared copy).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tuitrain.datafiles import FASHION_FILES, SUBSET_PATH, read_fashion_folder  # noqa: E402

SEED = 11  # chapter 11
TRAIN_END = 55_000
PER_CLASS = {"train": 300, "valid": 60, "test": 100}
MAX_BYTES = 3_000_000


def stratified(labels: np.ndarray, offset: int, per_class: int,
               rng: np.random.Generator) -> np.ndarray:
    """``per_class`` indices of each class, drawn without replacement, sorted, plus offset."""
    picks = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
             for c in range(10)]
    return np.sort(np.concatenate(picks)) + offset


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", nargs="?", default=str(ROOT.parent / "shared/data/fashion-mnist"))
    ap.add_argument("--out", default=str(SUBSET_PATH))
    args = ap.parse_args(argv)
    source, out = Path(args.source), Path(args.out)
    missing = [f for f in FASHION_FILES if not (source / f).is_file()]
    if missing:
        print(f"{source}: missing {', '.join(missing)}", file=sys.stderr)
        return 2

    x, y, x_test, y_test = read_fashion_folder(source)
    rng = np.random.default_rng(SEED)
    idx = {"train": stratified(y[:TRAIN_END], 0, PER_CLASS["train"], rng),
           "valid": stratified(y[TRAIN_END:], TRAIN_END, PER_CLASS["valid"], rng),
           "test": stratified(y_test, 0, PER_CLASS["test"], rng)}
    arrays = {}
    for part, i in idx.items():
        xs, ys = (x_test, y_test) if part == "test" else (x, y)
        arrays[f"x_{part}"] = xs[i]
        arrays[f"y_{part}"] = ys[i]
        arrays[f"idx_{part}"] = i.astype(np.int32)
    arrays["seed"] = np.array(SEED)

    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    if (source / "LICENSE").is_file():
        shutil.copyfile(source / "LICENSE", out.parent / "LICENSE")
    size = out.stat().st_size
    counts = {p: len(i) for p, i in idx.items()}
    print(f"wrote {out}: {counts}, {size:,} bytes")
    if size > MAX_BYTES:
        print(f"{out}: larger than {MAX_BYTES:,} bytes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
