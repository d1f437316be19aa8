"""tuitrain: a terminal trainer for deep networks (Keras 3 + Textual)."""

__version__ = "0.1.0"
