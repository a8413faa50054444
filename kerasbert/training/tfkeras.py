"""TensorFlow and tf-keras, set up in one place: import `keras` and `tf` from here.

transformers' TF models are tf-keras (Keras 2) models; Keras 3 optimizers, losses and callbacks
cannot drive them, so everything Keras comes from `tf_keras`. transformers picks its Keras when it
is imported, which is why this module sets the environment before importing anything: every
training-side module that needs TensorFlow or transformers imports this module first.

TensorFlow's C++ runtime writes start-up notices straight to the terminal (oneDNN, CUDA stubs and,
on a machine without a GPU, `E0000 ... failed call to cuInit`, an "error" that is none). They are
kept off the terminal unless `--debug` (`KERASBERT_DEBUG=1`) asks for them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send what C++ libraries write to file descriptor 2 to /dev/null during the block.

    TF_CPP_MIN_LOG_LEVEL does not reach the messages absl prints before it is initialised, so the
    descriptor itself is redirected. Python's own `sys.stderr` is flushed first, and nothing is
    redirected with `KERASBERT_DEBUG=1`.
    """
    if os.environ.get("KERASBERT_DEBUG") == "1":
        yield
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 (some embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


with native_stderr_silenced():
    import tensorflow as tf

    try:
        import tf_keras as keras
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            "kerasbert training needs tf-keras (Keras 2), which transformers' TF models are built "
            'on: pip install "kerasbert[train]"  (or: pip install "tf-keras>=2.21,<2.22")'
        ) from error
    # The CUDA probe runs when devices are first listed: here, inside the silenced block.
    tf.config.list_physical_devices()

__all__ = ["keras", "tf", "native_stderr_silenced"]
