"""Choose the `tf.distribute` strategy and the mixed-precision policy for a run.

The strategy is created once by the caller and passed in; nothing here is global state.
"""

from __future__ import annotations

import json
import logging
import os

from kerasbert.errors import InputError

logger = logging.getLogger(__name__)


def create_strategy(name: str = "auto", tpu: str | None = None):
    """Return the `tf.distribute.Strategy` for `name` (see `TrainConfig.strategy`)."""
    import tensorflow as tf

    if name == "auto":
        name = _detect(tpu)
    if name == "tpu":
        strategy = _tpu_strategy(tpu)
    elif name == "multiworker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    elif name == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
    elif name == "gpu":
        gpus = tf.config.list_logical_devices("GPU")
        if not gpus:
            raise InputError("--strategy gpu: TensorFlow sees no GPU. Use --strategy cpu or auto.")
        strategy = tf.distribute.OneDeviceStrategy(gpus[0].name)
    elif name == "cpu":
        strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    else:
        strategy = tf.distribute.get_strategy()
    logger.info(
        "Strategy: %s with %d replica(s).", type(strategy).__name__, strategy.num_replicas_in_sync
    )
    return strategy


def _detect(tpu: str | None) -> str:
    import tensorflow as tf

    if tpu or os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_NAME"):
        return "tpu"
    workers = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {}).get("worker", [])
    if len(workers) > 1:
        return "multiworker"
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return "mirrored"
    return "default"


def _tpu_strategy(tpu: str | None):
    import tensorflow as tf

    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise InputError(
            f"--strategy tpu: no TPU found ({error}). On Colab choose Runtime > Change runtime "
            "type > TPU; elsewhere pass --tpu NAME, or use --strategy auto."
        ) from error
    return tf.distribute.TPUStrategy(resolver)


def resolve_precision(precision: str, strategy) -> str:
    """`auto` → bf16 on TPU, fp16 on GPU, fp32 on CPU; other values pass through."""
    import tensorflow as tf

    if precision != "auto":
        return precision
    if type(strategy).__name__.startswith("TPU"):
        return "mixed_bfloat16"
    if tf.config.list_logical_devices("GPU"):
        return "mixed_float16"
    return "fp32"


def apply_precision(precision: str) -> None:
    """Set the global tf-keras mixed-precision policy (fp32 → `float32`)."""
    from kerasbert.model import keras

    keras.mixed_precision.set_global_policy("float32" if precision == "fp32" else precision)
