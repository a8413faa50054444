"""Logging set-up for the command-line entry points (`kerasbert ...`, the benchmark, scripts).

The library itself only ever calls `logging.getLogger(__name__)`; whoever runs it decides what is
shown, through `setup_logging`.
"""

from __future__ import annotations

import logging
import os
import warnings

DEFAULT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(debug: bool = False, fmt: str = DEFAULT_FORMAT) -> None:
    """kerasbert's own messages at INFO (DEBUG with `debug`); other libraries' only from WARNING.

    tf2onnx logs dozens of INFO lines per export; kerasbert reports what it did in one line
    (`export` also quiets onnxruntime's optimizer and quantizer, which log on their own terms).
    TensorFlow's C++ start-up notices are not Python logging: whoever loads TensorFlow decides
    about them (`kerasbert.training.tfkeras.import_tensorflow(debug=...)`, which `kerasbert
    --debug` calls).
    """
    # transformers sets its own logger's level from this variable when it is first imported,
    # which is later than this call and outside kerasbert's hands; an entry point owns its
    # process, and a user's own setting is kept.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING, format=fmt, datefmt="%H:%M:%S"
    )
    logging.getLogger("kerasbert").setLevel(logging.DEBUG if debug else logging.INFO)
    # transformers' own loading report is replaced by kerasbert's checks in checkpoint.py.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    # transformers' TF models trip their own deprecation warning on every training step's build.
    warnings.filterwarnings("ignore", message="`seed_generator` is deprecated")
