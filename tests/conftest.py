"""Shared test helpers: tiny real presets on the embedded Fashion-MNIST subset."""

from __future__ import annotations

import copy
import os
import time

import pytest

# Tests never download anything, and TensorFlow's start-up chatter only hides failures.
os.environ.setdefault("TUITRAIN_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TINY = {
    "name": "tiny",
    "description": "two small layers on 300 subset images",
    "data": {"source": "subset", "limit": 300, "validation_size": 100},
    "model": {"layers": [{"units": 16, "activation": "relu", "kernel_initializer": "he_normal",
                          "repeat": 2}]},
    "optimizer": {"name": "sgd", "learning_rate": 0.01},
    "train": {"epochs": 2, "batch_size": 32},
    "stats": {"every": 1},
    "evaluation": {"test": False},
}


def tiny_dict(**sections) -> dict:
    """The tiny preset as a dict, with whole sections or dotted keys replaced."""
    d = copy.deepcopy(TINY)
    for key, value in sections.items():
        node = d
        parts = key.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return d


def tiny_preset(**sections):
    from tuitrain.preset import validate_preset

    return validate_preset(tiny_dict(**sections), "tiny")


def wait_until(cond, timeout=120.0, what="condition"):
    """Poll another *process's* progress (there is nothing in-process to wait on)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def logs_dir(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    return d
