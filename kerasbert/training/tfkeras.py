"""TensorFlow and tf-keras, set up in one place: import `keras` and `tf` from here.

transformers' TF models are tf-keras (Keras 2) models; Keras 3 optimizers, losses and callbacks
cannot drive them, so everything Keras comes from `tf_keras`. transformers picks its Keras when it
is imported, which is why the environment is set before anything is imported: every
training-side module that needs TensorFlow or transformers takes `tf` or `keras` from here first.

TensorFlow loads on the first `from kerasbert.training.tfkeras import tf` (or `keras`), not when
this module is imported, so that a caller can load it first with its own wishes:
`import_tensorflow(debug=True)` (what `kerasbert --debug` does) shows TensorFlow's C++ start-up
notices, which are otherwise kept off the terminal (oneDNN, CUDA stubs and, on a machine without
a GPU, `E0000 ... failed call to cuInit`, an "error" that is none).

Of the environment variables kerasbert sets to load TensorFlow, only `TF_USE_LEGACY_KERAS=1`
stays set afterwards (see `import_tensorflow`). TensorFlow sets a few of its own while it imports
(`TF2_BEHAVIOR`, `TPU_ML_PLATFORM`, ...) and reads them later; those are its business.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

LEGACY_KERAS = "TF_USE_LEGACY_KERAS"
LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"
# Errors only: TensorFlow's INFO and WARNING lines (oneDNN notices, XLA start-up) are not for users.
QUIET_LOG_LEVEL = "2"

__all__ = ["import_tensorflow", "keras", "native_stderr_silenced", "tf"]

# Declared, not bound: the module's `__getattr__` imports them on first use.
tf: Any
keras: Any


def import_tensorflow(debug: bool = False) -> tuple[Any, Any]:
    """Import TensorFlow and tf-keras once and return `(tf, keras)`; later calls return the same.

    Without `debug`, what TensorFlow's C++ runtime writes to the terminal while it loads and
    probes its devices is dropped (`native_stderr_silenced`); with `debug` it is shown. Either
    way `TF_CPP_MIN_LOG_LEVEL` is 2 while it loads, unless the user set it, and is restored
    after: the C++ logger reads it once, when the library loads (checked in tests/test_tfkeras.py:
    XLA's start-up lines stay hidden once it is unset again).

    `TF_USE_LEGACY_KERAS=1` is set (unless the user set it) and stays set. It has to be set when
    transformers is imported, and it is read again later: TensorFlow resolves `tf.keras` when
    it is first touched (`tensorflow/python/util/lazy_loader.py`), which tf2onnx's Keras
    converter does during an export, long after this call; unset by then, `tf.keras` would be
    Keras 3 (installed beside tf-keras) while the models are tf-keras models. transformers 4.57
    itself sets the variable to 1 when its TF modelling module is imported and never unsets it
    (`transformers/modeling_tf_utils.py`), so restoring it here could not last anyway.
    """
    loaded = globals().get("tf"), globals().get("keras")
    if loaded[0] is not None:
        return loaded
    os.environ.setdefault(LEGACY_KERAS, "1")
    silenced = contextlib.nullcontext() if debug else native_stderr_silenced()
    with _log_level(QUIET_LOG_LEVEL), silenced:
        import tensorflow as tf

        try:
            import tf_keras as keras
        except ImportError as error:  # pragma: no cover - depends on the install
            raise ImportError(
                "kerasbert training needs tf-keras (Keras 2), which transformers' TF models are "
                'built on: pip install "kerasbert[train]"  (or: pip install "tf-keras>=2.21,<2.22")'
            ) from error
        # The CUDA probe runs when devices are first listed: here, while the terminal is guarded.
        tf.config.list_physical_devices()
    globals().update(tf=tf, keras=keras)
    return tf, keras


def __getattr__(name: str) -> Any:
    """`tf` and `keras` load TensorFlow on first use (PEP 562), quietly."""
    if name in ("tf", "keras"):
        tf, keras = import_tensorflow()
        return tf if name == "tf" else keras
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@contextlib.contextmanager
def _log_level(level: str) -> Iterator[None]:
    """`TF_CPP_MIN_LOG_LEVEL` at `level` during the block unless the user set it; then as it was."""
    if LOG_LEVEL in os.environ:
        yield
        return
    os.environ[LOG_LEVEL] = level
    try:
        yield
    finally:
        os.environ.pop(LOG_LEVEL, None)


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send what C++ libraries write to file descriptor 2 to /dev/null during the block.

    TF_CPP_MIN_LOG_LEVEL does not reach the messages absl prints before it is initialised, so the
    descriptor itself is redirected. Python's own `sys.stderr` is flushed first.
    """
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
