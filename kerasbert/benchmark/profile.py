"""Where a training step's time goes: its parts timed in turn, and TensorFlow's profiler by op.

`profile_training_step` times the forward pass, the backward pass, the optimizer and the whole
Keras step at length 128, and splits the benchmark's own train step into op categories
(`op_time_profile`, read from the TensorFlow profiler's trace): what the FLOP-rate target and the
per-step cost that padding does not change are made of.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.benchmark.config import FLOP_RATE_LENGTH, BenchmarkConfig
from kerasbert.benchmark.matmul import bert_training_flops, dimensions
from kerasbert.benchmark.timing import time_in_turn
from kerasbert.benchmark.training import train_step_function

logger = logging.getLogger(__name__)

# Op categories of the step's op-time profile, first match wins: the optimizer's ops by its name
# scope; matmuls by op type (forward and backward); then by the layer an op sits in.
OP_CATEGORIES = (
    ("optimizer", "clipping, weight decay and the Adam update"),
    ("matmul", "dense layers and attention scores, forward and backward"),
    ("dropout", "random masks and their application, forward and backward"),
    ("attention", "softmax, mask, head reshapes and transposes"),
    ("feed_forward", "GELU and the intermediate layer's bias"),
    ("layer_norm", "layer normalization"),
    ("other", "embeddings, residual adds, loss, metrics"),
)
MATMUL_OP_TYPES = ("MatMul", "Einsum")
# Op types listed by time in a profile: enough to name every op that matters in a BERT step.
TOP_OP_TYPES = 12


def op_category(name: str, op_type: str, optimizer_scope: str) -> str:
    """Which `OP_CATEGORIES` entry a TensorFlow op belongs to, from its name and type."""
    path = name.lower()
    if name.startswith(optimizer_scope + "/"):
        return "optimizer"
    if any(kind in op_type for kind in MATMUL_OP_TYPES):
        return "matmul"
    if "/dropout" in path:
        return "dropout"
    if "/attention/self/" in path:
        return "attention"
    if "/intermediate/" in path:
        return "feed_forward"
    if "layernorm" in path or "layer_norm" in path:
        return "layer_norm"
    return "other"


def op_time_profile(
    call: Callable[[], Any], steps: int, optimizer_scope: str
) -> dict[str, Any] | None:
    """Trace `steps` calls of `call` with TensorFlow's profiler and split the time TensorFlow's
    compute threads spent in ops into `OP_CATEGORIES`.

    Op time is each op's span summed over the executor's threads (two ops running side by side for
    1 ms count 2 ms; an op's span includes the intra-op threads it waits on), so the shares say
    where the step's work goes, and `ops_at_once` (op time over wall time) how many ops ran side
    by side on average. None where the trace has no CPU op events (a GPU run, or a TensorFlow
    without the profiler's protobufs).
    """
    from kerasbert.training.tfkeras import tf

    try:
        from tensorflow.tsl.profiler.protobuf import xplane_pb2
    except ImportError:
        logger.warning("TensorFlow's profiler protobufs are missing: no op-time profile")
        return None
    with tempfile.TemporaryDirectory(prefix="kerasbert-profile-") as logdir:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        for _ in range(steps):
            call()
        wall = time.perf_counter() - start
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        for path in Path(logdir).rglob("*.xplane.pb"):
            space.ParseFromString(path.read_bytes())
    milliseconds, by_type = op_milliseconds(space, steps, optimizer_scope)
    total = sum(milliseconds.values())
    if not total:
        return None
    return {
        "steps": steps,
        "wall_ms_per_step": 1000 * wall / steps,
        "op_ms_per_step": total,
        "ops_at_once": total / (1000 * wall / steps),
        "ms_per_step": milliseconds,
        "share": {name: spent / total for name, spent in milliseconds.items()},
        "top_op_types": dict(sorted(by_type.items(), key=lambda item: -item[1])[:TOP_OP_TYPES]),
    }


def op_milliseconds(
    space, steps: int, optimizer_scope: str
) -> tuple[dict[str, float], dict[str, float]]:
    """Milliseconds per step of a profiler trace's (`XSpace`) CPU ops, by `OP_CATEGORIES` entry
    and by op type."""
    milliseconds = dict.fromkeys((name for name, _ in OP_CATEGORIES), 0.0)
    by_type: dict[str, float] = {}
    for plane in space.planes:
        for line in plane.lines:
            # Op events are "name:type" on the executor's compute threads.
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                label = plane.event_metadata[event.metadata_id].name
                # Executor bookkeeping ("ExecutorState::Process") spans the ops it runs.
                if ":" not in label or "::" in label:
                    continue
                name, op_type = label.rsplit(":", 1)
                spent = event.duration_ps / 1e9 / steps
                milliseconds[op_category(name, op_type, optimizer_scope)] += spent
                by_type[op_type] = by_type.get(op_type, 0.0) + spent
    return milliseconds, by_type


def profile_training_step(
    config: BenchmarkConfig, steps: int = 4, short_length: int | None = None
) -> dict[str, Any]:
    """Where one training step at length 128 spends its time, on a repeated random batch.

    Times, each the median of `steps` calls after a warm-up call: the forward pass (in training
    mode, dropout included), forward + backward (gradients, no update), the optimizer alone
    (`apply_gradients` of those gradients: clipping, weight decay and the Adam update) and the
    whole Keras step (`train_on_batch`). The backward pass is the second minus the first; what the
    whole step takes beyond gradients and update is Keras' own bookkeeping (loss, metrics) plus
    timing noise. The step's FLOP rate is the matmul FLOPs over the whole step.

    `op_time` splits the benchmark's own train step (`train_step_function`) into op categories
    (`op_time_profile`) at length 128 and, given `short_length`, on a batch that short (a
    bucketed headline batch's length). The short batch goes first, on the fresh model, so few
    word-embedding rows have moved yet (as early in a headline run; later steps update more).
    """
    from kerasbert.training import checkpoint
    from kerasbert.training.model import build_classifier, compile_classifier
    from kerasbert.training.strategy import precision_scope, resolve_precision
    from kerasbert.training.tfkeras import keras

    keras.backend.clear_session()
    precision = resolve_precision(config.precision)
    # The run's precision is process-wide; the caller's settings are back once the step is timed.
    with precision_scope(precision):
        model_path = checkpoint.resolve_checkpoint(config.model)
        length = min(FLOP_RATE_LENGTH, checkpoint.max_positions(model_path))
        model = build_classifier(model_path, ["a", "b"], config.freeze_embeddings)
        compile_classifier(model, learning_rate=1e-5, total_steps=10, warmup_steps=0)
        rng = np.random.default_rng(config.seed)

        def random_batch(batch_length: int) -> dict[str, np.ndarray]:
            shape = (config.batch_size, batch_length)
            return {
                "input_ids": rng.integers(0, model.config.vocab_size, shape).astype(np.int32),
                "attention_mask": np.ones(shape, np.int32),
            }

        features = random_batch(length)
        labels = np.zeros(config.batch_size, np.int32)
        lengths = ([short_length] if short_length else []) + [length]
        batches = {
            batch_length: features if batch_length == length else random_batch(batch_length)
            for batch_length in lengths
        }
        op_time, precision_turns = op_time_by_shape(model, batches, labels, steps, precision)
        timed = time_step_parts(model, features, labels, steps)
    flops = bert_training_flops(config.batch_size, length, labels=2, **dimensions(model.config))
    return {
        "batch": config.batch_size,
        "length": length,
        "step_seconds": timed["step"],
        "forward_seconds": timed["forward"],
        "backward_seconds": timed["forward_backward"] - timed["forward"],
        "optimizer_seconds": timed["optimizer"],
        "keras_overhead_seconds": timed["step"] - timed["forward_backward"] - timed["optimizer"],
        "flop_rate": flops / timed["step"],
        "precision": precision,
        "op_time": op_time,
        "precision_step_seconds": precision_turns,
    }


def op_time_by_shape(
    model,
    batches: dict[int, dict[str, np.ndarray]],
    labels: np.ndarray,
    steps: int,
    precision: str,
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """The op-time profile of the benchmark's train step on each batch (keyed "BATCHxLENGTH"),
    in the order given; under `cpu_bfloat16` also the same step's seconds with and without the
    bfloat16 rewrite, taking turns."""
    from kerasbert.training.strategy import bfloat16_rewrite

    op_time, precision_turns = {}, {}
    step = train_step_function(model)
    for batch in batches.values():
        step(batch, labels).numpy()  # warm-up (the first call traces)
        shape = "x".join(str(size) for size in batch["input_ids"].shape)
        profile = op_time_profile(
            lambda batch=batch: step(batch, labels).numpy(), steps, model.optimizer.name
        )
        if profile is not None:
            op_time[shape] = profile
        if precision != "cpu_bfloat16":
            continue

        def with_rewrite(enabled: bool, batch=batch) -> None:
            with bfloat16_rewrite(enabled):
                step(batch, labels).numpy()

        calls = {"fp32": lambda _: with_rewrite(False), "cpu_bfloat16": with_rewrite}
        for call in calls.values():
            call(True)  # warm-up: each setting optimizes the graph once
        seconds = time_in_turn(calls, [True], rounds=steps)
        timed = {name: float(np.median(values)) for name, values in seconds.items()}
        timed["speedup"] = timed["fp32"] / timed["cpu_bfloat16"]
        precision_turns[shape] = timed
    return op_time, precision_turns


def time_step_parts(
    model, features: dict[str, np.ndarray], labels: np.ndarray, steps: int
) -> dict[str, float]:
    """Median seconds of the forward pass, forward + backward, the optimizer alone and the
    whole Keras step on one batch, the four taking turns so their differences mean something."""
    from kerasbert.training.tfkeras import keras, tf

    loss_of = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def forward(inputs):
        return model(inputs, training=True).logits

    @tf.function
    def forward_backward(inputs, targets):
        with tf.GradientTape() as tape:
            loss = loss_of(targets, model(inputs, training=True).logits)
        return tape.gradient(loss, model.trainable_variables)

    @tf.function
    def apply(gradients):
        model.optimizer.apply_gradients(zip(gradients, model.trainable_variables))

    gradients = forward_backward(features, labels)
    calls = {
        "forward": lambda _: forward(features).numpy(),
        # The call returns once every gradient is computed (dense or IndexedSlices).
        "forward_backward": lambda _: forward_backward(features, labels),
        "optimizer": lambda _: apply(gradients),
        "step": lambda _: model.train_on_batch(features, labels),
    }
    for call in calls.values():
        call(None)  # warm-up: tracing
    seconds = time_in_turn(calls, [None], rounds=steps)
    return {name: float(np.median(values)) for name, values in seconds.items()}
