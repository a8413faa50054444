"""The learning-rate range test (Smith 2017; fastai's and ktrain's `lr_find`).

    kerasbert lr-find --data bbc-headlines --max-train-samples 600 --output lr-find/headlines

Trains the run's model on its training split for a few dozen steps while the learning rate grows
exponentially from `start` to `end`, records each batch's loss, and stops once the loss has
diverged. The suggestion is the rate of the lowest smoothed loss divided by 10 (where the loss is
still falling fast, not where it is about to turn); the steepest descent is recorded beside it.
Writes `lr_find.json` and `lr_find.png`; no run directory, nothing saved of the model.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kerasbert.common.files import write_json
from kerasbert.common.names import Task
from kerasbert.config import DEFAULT_LEARNING_RATE, TrainConfig
from kerasbert.training.tfkeras import keras, tf

if TYPE_CHECKING:
    from kerasbert.data.splits import DataSplits

logger = logging.getLogger(__name__)

RESULT_FILE, PLOT_FILE = "lr_find.json", "lr_find.png"
# fastai's smoothing of the per-batch loss: a batch's loss alone is too noisy to read a slope from.
SMOOTHING = 0.98
# The loss has diverged once its smoothed value is this many times its lowest.
DIVERGENCE = 4.0
# The rule of thumb: a tenth of the rate at the lowest loss still learns fast and stays stable.
MIN_LOSS_DIVISOR = 10


@keras.utils.register_keras_serializable(package="kerasbert")
class ExponentialRamp(keras.optimizers.schedules.LearningRateSchedule):
    """`start × (end / start) ^ (step / (steps - 1))`: from `start` at step 0 to `end` at the last."""

    def __init__(self, start: float, end: float, steps: int):
        super().__init__()
        self.start, self.end, self.steps = float(start), float(end), int(steps)

    def __call__(self, step):
        fraction = tf.cast(step, tf.float32) / max(self.steps - 1, 1)
        return self.start * tf.pow(self.end / self.start, fraction)

    def get_config(self) -> dict:
        return {"start": self.start, "end": self.end, "steps": self.steps}


class LearningRateRangeTest(keras.callbacks.Callback):
    """Drive the rate up exponentially and record (rate, loss) for every batch.

    Replaces the compiled schedule with an `ExponentialRamp` before the first step, resets the
    loss tracker before each batch (so the logged loss is that batch's alone, not the epoch's
    running mean), and stops training once the smoothed loss exceeds `divergence` × its minimum.
    """

    def __init__(self, start: float, end: float, steps: int, divergence: float = DIVERGENCE):
        super().__init__()
        self.start, self.end, self.steps, self.divergence = start, end, steps, divergence
        self.rates: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.diverged = False
        self._average = 0.0

    def on_train_begin(self, logs=None):
        self.model.optimizer.learning_rate = ExponentialRamp(self.start, self.end, self.steps)

    def on_train_batch_begin(self, batch, logs=None):
        self.model.reset_metrics()

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", math.nan))
        # The rate the step just used (the optimizer keeps it in a variable as it applies it).
        self.rates.append(float(keras.backend.get_value(self.model.optimizer.learning_rate)))
        self.losses.append(loss)
        if not math.isfinite(loss):
            self.diverged = True
            self.model.stop_training = True
            return
        self._average = SMOOTHING * self._average + (1 - SMOOTHING) * loss
        smoothed = self._average / (1 - SMOOTHING ** len(self.losses))
        self.smoothed.append(smoothed)
        if smoothed > self.divergence * min(self.smoothed):
            self.diverged = True
            self.model.stop_training = True


@dataclass
class RangeTestResult:
    """Rates and losses of a range test, with the suggested rate and how it was chosen."""

    rates: list[float]
    losses: list[float]
    smoothed: list[float]
    suggested: float | None
    min_loss_rate: float | None
    steepest_rate: float | None
    diverged: bool
    rule: str = f"rate at the lowest smoothed loss / {MIN_LOSS_DIVISOR}"


def suggest_learning_rate(
    rates: list[float], smoothed: list[float]
) -> tuple[float | None, float | None, float | None]:
    """(suggested, rate at the lowest smoothed loss, rate of steepest descent) of a range test.

    The steepest descent is searched only before the lowest loss: past it the curve rises.

    >>> rates = [10.0 ** (step / 10 - 6) for step in range(40)]
    >>> losses = [1.0 / (1 + math.exp(4 * (math.log10(rate) + 4))) + 0.1 for rate in rates]
    >>> [f"{value:.0e}" for value in suggest_learning_rate(rates, losses)]
    ['8e-04', '8e-03', '1e-04']
    """
    count = min(len(rates), len(smoothed))
    if count < 3:
        return None, None, None
    rates, smoothed = np.asarray(rates[:count]), np.asarray(smoothed[:count])
    lowest = int(np.argmin(smoothed))
    slopes = (
        np.gradient(smoothed[: lowest + 1], np.log10(rates[: lowest + 1])) if lowest >= 2 else None
    )
    steepest = float(rates[int(np.argmin(slopes))]) if slopes is not None else None
    min_loss_rate = float(rates[lowest])
    return min_loss_rate / MIN_LOSS_DIVISOR, min_loss_rate, steepest


def find_learning_rate(
    config: TrainConfig,
    output: str | Path,
    start: float = 1e-7,
    end: float = 1.0,
    steps: int = 100,
    splits: DataSplits | None = None,
) -> RangeTestResult:
    """Run the range test on the training split of `config`'s data; write JSON and PNG to `output`.

    The model is built, and its head fitted (`--fit-head`), as a run with these settings would be,
    so the curve shows what fine-tuning from that start can take. `splits` are `config`'s data
    splits when already read (`kerasbert.data.splits.splits_for`); None reads them here.
    """
    from kerasbert.common.errors import InputError
    from kerasbert.data.splits import splits_for
    from kerasbert.training import checkpoint, pipeline
    from kerasbert.training.recipe import plan_batch_size, steps_per_epoch
    from kerasbert.training.strategy import create_strategy, precision_scope, resolve_precision

    if not 0 < start < end:
        raise InputError(f"lr-find needs 0 < --start-lr < --end-lr; got {start} and {end}.")
    if steps < 5:
        raise InputError(f"lr-find needs at least 5 --steps to draw a curve; got {steps}.")
    strategy = create_strategy(config.strategy, config.tpu)
    splits = splits if splits is not None else splits_for(config)
    model_path = checkpoint.resolve_checkpoint(config.model)
    tokenizer = checkpoint.load_tokenizer(model_path)
    keras.utils.set_random_seed(config.seed)
    try:
        # The run's precision is process-wide; the caller's is back when the test ends.
        with precision_scope(resolve_precision(config.precision, strategy)):
            train = splits.train
            encoded = pipeline.encode(
                tokenizer, train.texts, config.max_length, train.text_pairs, config.truncation
            )
            labels = train.label_ids(splits.labels)
            replicas = strategy.num_replicas_in_sync
            # The batch the run would train with: the rates it tests are for that batch.
            batch = plan_batch_size(config, len(encoded), replicas)[0] * replicas
            per_epoch = steps_per_epoch(len(encoded), batch, config.padding == "fixed")
            data = pipeline.make_dataset(
                encoded,
                labels,
                batch,
                padding=config.padding,
                shuffle=True,
                seed=config.seed,
                drop_remainder=config.padding == "fixed",
                epochs=-(-steps // max(per_epoch, 1)),
            )
            model = _start_model(config, splits, model_path, strategy, encoded, labels, steps)
            recorder = LearningRateRangeTest(start, end, steps)
            logger.info(
                "Range test: %d steps from %.1e to %.1e on %d examples.",
                steps,
                start,
                end,
                len(encoded),
            )
            model.fit(data, epochs=1, steps_per_epoch=steps, callbacks=[recorder], verbose=0)
    finally:
        keras.backend.clear_session()
    suggested, min_loss_rate, steepest = suggest_learning_rate(recorder.rates, recorder.smoothed)
    result = RangeTestResult(
        recorder.rates,
        recorder.losses,
        recorder.smoothed,
        suggested,
        min_loss_rate,
        steepest,
        recorder.diverged,
    )
    write_range_test(
        result, Path(output), {"data": config.data, "model": config.model, "batch_size": batch}
    )
    return result


def _start_model(config: TrainConfig, splits, model_path: str, strategy, encoded, labels, steps):
    """The model a run with `config` starts from: built, compiled and its head fitted."""
    from kerasbert.training import pipeline
    from kerasbert.training.model import build_classifier, compile_classifier, fit_head

    # Multi-label data trains one sigmoid per label, as `fit_run` does (no class weights here:
    # the test reads where the loss turns, not its level).
    multi_label = splits.task == Task.MULTI_LABEL
    with strategy.scope():
        model = build_classifier(
            model_path, splits.labels, config.freeze_embeddings, multi_label=multi_label
        )
        # The rate given here is replaced by `LearningRateRangeTest`'s ramp before the first step.
        compile_classifier(
            model,
            learning_rate=DEFAULT_LEARNING_RATE,
            total_steps=steps,
            warmup_steps=0,
            weight_decay=config.weight_decay,
            jit_compile=config.jit_compile,
            multi_label=multi_label,
        )
    if config.fit_head:
        fit_head(model, pipeline.pooled_features(model, encoded), labels, config.seed)
    return model


def write_range_test(result: RangeTestResult, output: Path, settings: dict[str, Any]) -> None:
    """`lr_find.json` (every rate and loss, the suggestion and its rule) and `lr_find.png`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    output.mkdir(parents=True, exist_ok=True)
    write_json(output / RESULT_FILE, {**asdict(result), "settings": settings})
    figure, axis = plt.subplots(figsize=(7, 4.5))
    axis.plot(result.rates, result.losses, alpha=0.3, label="batch loss")
    axis.plot(result.rates[: len(result.smoothed)], result.smoothed, label="smoothed loss")
    for rate, style, name in (
        (result.suggested, "-", "suggested"),
        (result.min_loss_rate, ":", "lowest loss"),
        (result.steepest_rate, "--", "steepest descent"),
    ):
        if rate:
            axis.axvline(
                rate, linestyle=style, color="black", alpha=0.6, label=f"{name} {rate:.1e}"
            )
    axis.set_xscale("log")
    smoothed = [loss for loss in result.smoothed if math.isfinite(loss)]
    if smoothed:  # the diverged tail would flatten the interesting part of the curve
        lowest = min(loss for loss in result.losses + smoothed if math.isfinite(loss))
        axis.set_ylim(lowest * 0.9, min(max(smoothed), DIVERGENCE * min(smoothed)) * 1.05)
    axis.set_xlabel("learning rate")
    axis.set_ylabel("training loss")
    axis.set_title("learning-rate range test")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(output / PLOT_FILE, dpi=120)
    plt.close(figure)
