"""`--debug` and TensorFlow: the commands that load TensorFlow call `load_tensorflow` first."""

from __future__ import annotations


def load_tensorflow(debug: bool) -> None:
    """With `--debug`, import TensorFlow now with its C++ start-up notices shown; without, leave
    it to the library, which loads it quietly when it first needs it.

    The flag travels as this argument rather than through the environment: TensorFlow loads once
    per process, so whoever loads it first decides what the terminal shows, and the library's own
    later loads (`kerasbert.training.tfkeras`) find it loaded. Commands call this where they would
    load TensorFlow anyway, after their own checks of their input where they have any, so a bad
    file still fails without waiting for TensorFlow.
    """
    if debug:
        from kerasbert.training.tfkeras import import_tensorflow

        import_tensorflow(debug=True)
