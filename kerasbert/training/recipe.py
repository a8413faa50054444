"""The training recipe of a run: what it chose for epochs, batch, stopping, learning rate and
warm-up, why, and how the run ended.

`plan_recipe` resolves the settings a user left at their defaults (`--epochs`, `--batch-size` and
`--learning-rate` unset, the `--early-stopping-metric` auto) into the values the run uses and says
where each came from; a user-given value is kept exactly. The record goes into the run's
`config.json` under `recipe` (`RunDir.write_recipe`), beside the settings it resolves, is read back by a resumed run (the same plan, not a recomputed one), and `finish_recipe`
adds how training ended ("stopped at 4: validation macro-F1 did not rise for 2 epochs") once
`fit` returns. The report prints `describe_recipe`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from kerasbert.config import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_LEARNING_RATE,
    MAX_AUTO_EPOCHS,
    MIN_AUTO_EPOCHS,
    MIN_EPOCH_STEPS,
    SMALL_SET_BATCH_SIZE,
    TrainConfig,
    planned_epochs,
)

# What `--early-stopping-metric auto` picks. Single-label: macro-F1, the figure the check and the
# report lead with; it weighs a rare class like a common one (accuracy would let a run trade the
# rare class away) and moves in finer steps than accuracy on a small validation split, so fewer
# epochs tie. Multi-label: micro-F1 at 0.5 thresholds; the tuned thresholds are fitted on the
# validation split after training, so tuning them every epoch would pick the epoch on the same
# examples twice and cost a threshold search per label per epoch.
AUTO_METRIC = {False: "val_macro_f1", True: "val_micro_f1"}
# The metrics the run computes itself from validation predictions (the others come from Keras).
PREDICTED_METRICS = ("val_macro_f1", "val_micro_f1")
METRIC_NAMES = {
    "val_loss": "validation loss",
    "val_accuracy": "validation accuracy",
    "val_macro_f1": "validation macro-F1",
    "val_micro_f1": "validation micro-F1",
}
_DEFAULTS = {field.name: field.default for field in dataclasses.fields(TrainConfig)}


def metric_mode(metric: str) -> str:
    """'min' for the validation loss, 'max' for the others."""
    return "min" if metric == "val_loss" else "max"


@dataclass(frozen=True)
class Recipe:
    """The values a run trains with and where each came from (`*_from`: the rule or the flag)."""

    epochs: int
    epochs_from: str
    batch_size: int
    batch_size_from: str
    steps_per_epoch: int
    epoch_tokens: int
    metric: str
    metric_from: str
    patience: int
    patience_from: str
    learning_rate: float
    learning_rate_from: str
    warmup_ratio: float
    warmup_steps: int
    warmup_from: str

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    @property
    def mode(self) -> str:
        return metric_mode(self.metric)

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "total_steps": self.total_steps}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Recipe:
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{name: values[name] for name in names})


def steps_per_epoch(examples: int, batch_size: int, drop_remainder: bool) -> int:
    """Optimizer steps in one pass over `examples` (`drop_remainder`: a last partial batch is
    dropped, as fixed shapes do)."""
    return examples // batch_size if drop_remainder else -(-examples // batch_size)


def plan_batch_size(config: TrainConfig, train_examples: int, replicas: int = 1) -> tuple[int, str]:
    """The batch per replica a run trains with, and why: `--batch-size` if given, else
    `SMALL_SET_BATCH_SIZE` when an epoch at `DEFAULT_BATCH_SIZE` would take fewer than
    `MIN_EPOCH_STEPS` steps, else `DEFAULT_BATCH_SIZE`.

    >>> plan_batch_size(TrainConfig(), 500)[0], plan_batch_size(TrainConfig(), 1_489)[0]
    (16, 32)
    """
    if config.batch_size is not None:
        return config.batch_size, "--batch-size (yours)"
    steps = steps_per_epoch(train_examples, DEFAULT_BATCH_SIZE * replicas, drop_remainder=False)
    if steps < MIN_EPOCH_STEPS:
        return SMALL_SET_BATCH_SIZE, (
            f"auto: {train_examples:,} training examples make {steps} steps per epoch at batch "
            f"{DEFAULT_BATCH_SIZE}, under {MIN_EPOCH_STEPS}"
        )
    return DEFAULT_BATCH_SIZE, (
        f"auto: {steps} steps per epoch at batch {DEFAULT_BATCH_SIZE}, at least {MIN_EPOCH_STEPS}"
    )


def plan_learning_rate(config: TrainConfig, batch_size: int) -> tuple[float, str]:
    """The peak learning rate, and why: `--learning-rate` if given; else `DEFAULT_LEARNING_RATE`,
    scaled linearly to the batch when the recipe picked the batch (a user's `--batch-size`
    keeps the default rate, as before the rule)."""
    if config.learning_rate is not None:
        return config.learning_rate, "--learning-rate (yours)"
    if config.batch_size is not None or batch_size == DEFAULT_BATCH_SIZE:
        return DEFAULT_LEARNING_RATE, "default"
    rate = DEFAULT_LEARNING_RATE * batch_size / DEFAULT_BATCH_SIZE
    return rate, f"auto: {DEFAULT_LEARNING_RATE:g} × batch {batch_size} / {DEFAULT_BATCH_SIZE}"


def plan_recipe(
    config: TrainConfig,
    train_examples: int,
    epoch_tokens: int,
    multi_label: bool,
    previous: dict[str, Any] | None = None,
    replicas: int = 1,
    drop_remainder: bool = False,
) -> Recipe:
    """The run's recipe for `train_examples` training examples holding `epoch_tokens` tokens,
    on `replicas` replicas (`drop_remainder`: fixed shapes drop a last partial batch);
    `previous`, the record of the run being resumed, is kept as it was.

    Example:
    >>> recipe = plan_recipe(TrainConfig(), train_examples=500, epoch_tokens=8_000,
    ...                      multi_label=False)
    >>> recipe.epochs, recipe.epochs_from, recipe.metric
    (10, 'auto: ceil(token budget 350,000 / 8,000 tokens per epoch) = 44, capped at 10', 'val_macro_f1')
    >>> recipe.batch_size, recipe.steps_per_epoch, recipe.learning_rate
    (16, 32, 4e-05)
    """
    batch_size, batch_size_from = plan_batch_size(config, train_examples, replicas)
    if previous:
        # A record from before the batch was planned trained at its config's batch.
        return Recipe.from_dict(
            {"batch_size": batch_size, "batch_size_from": batch_size_from, **previous}
        )
    steps = steps_per_epoch(train_examples, batch_size * replicas, drop_remainder)
    learning_rate, learning_rate_from = plan_learning_rate(config, batch_size)
    epochs = planned_epochs(config, epoch_tokens)
    if config.epochs is not None:
        epochs_from = "--epochs (yours)"
    else:
        needed = -(-config.token_budget // max(epoch_tokens, 1))
        bound = (
            f", capped at {MAX_AUTO_EPOCHS}"
            if needed > MAX_AUTO_EPOCHS
            else f", raised to {MIN_AUTO_EPOCHS}"
            if needed < MIN_AUTO_EPOCHS
            else ""
        )
        epochs_from = (
            f"auto: ceil(token budget {config.token_budget:,} / {epoch_tokens:,} tokens per "
            f"epoch) = {needed}{bound}"
        )
    if config.early_stopping_metric == "auto":
        metric = AUTO_METRIC[multi_label]
        metric_from = "auto: " + ("multi-label" if multi_label else "single-label")
    else:
        metric, metric_from = config.early_stopping_metric, "--early-stopping-metric (yours)"
    return Recipe(
        epochs=epochs,
        epochs_from=epochs_from,
        batch_size=batch_size,
        batch_size_from=batch_size_from,
        steps_per_epoch=steps,
        epoch_tokens=epoch_tokens,
        metric=metric,
        metric_from=metric_from,
        patience=config.early_stopping_patience,
        patience_from=_source(config, "early_stopping_patience"),
        learning_rate=learning_rate,
        learning_rate_from=learning_rate_from,
        warmup_ratio=config.warmup_ratio,
        warmup_steps=int(config.warmup_ratio * epochs * steps),
        warmup_from=_source(config, "warmup_ratio") + ", of the planned steps",
    )


def _source(config: TrainConfig, name: str) -> str:
    flag = "--" + name.replace("_", "-")
    return "default" if getattr(config, name) == _DEFAULTS[name] else f"{flag} (yours)"


def kept_index(history: dict[str, list], metric: str) -> int | None:
    """Position in `history`'s lists of the epoch whose weights a run keeps: the first best
    `metric` (lowest loss, highest score). The one rule: the checkpoint callback, the report,
    the plots, `compare` and `sweep` all ask it."""
    values = history.get(metric) or []
    scored = [
        (value if metric_mode(metric) == "max" else -value, -index)
        for index, value in enumerate(values)
        if value is not None and math.isfinite(value)
    ]
    return -max(scored)[1] if scored else None


def kept_epoch(history: dict[str, list], metric: str) -> int | None:
    """The 1-based epoch whose weights a run keeps: the first best `metric` in `history`."""
    index = kept_index(history, metric)
    return None if index is None else int(history["epoch"][index])


def kept_metric(record: dict[str, Any] | None) -> str:
    """The metric a run picked its kept epoch by: its recipe record's (`RunDir.read_recipe`), or
    the validation loss for runs written before the recipe was recorded."""
    return (record or {}).get("metric") or "val_loss"


def finish_recipe(recipe: Recipe, history: dict[str, list]) -> dict[str, Any]:
    """The recipe record with how training ended: epochs trained, the epoch kept, and why."""
    trained = len(history.get("epoch", []))
    kept = kept_epoch(history, recipe.metric)
    name = METRIC_NAMES[recipe.metric]
    if trained < recipe.epochs and recipe.patience and kept and trained - kept >= recipe.patience:
        direction = "fall" if recipe.mode == "min" else "rise"
        reason = (
            f"stopped at {trained}: {name} did not {direction} for {trained - kept} "
            f"epoch{'s' if trained - kept != 1 else ''} after epoch {kept}"
        )
    elif trained < recipe.epochs:
        # Another callback ended it: a sweep's pruning, or a loss that was not a number.
        reason = f"stopped at {trained} of {recipe.epochs} by another callback"
    else:
        reason = f"ran all {trained}"
    if kept is not None:
        reason += f"; kept epoch {kept}"
    return {**recipe.to_dict(), "epochs_trained": trained, "kept_epoch": kept, "ended": reason}


def describe_recipe(record: dict[str, Any]) -> str:
    """One line for the log and the report, e.g. 'epochs: auto → 5 (...), stopped at 4: ...'."""
    auto = record["epochs_from"].startswith("auto")
    epochs = f"epochs: {'auto → ' if auto else ''}{record['epochs']} ({record['epochs_from']})"
    if record.get("ended"):
        epochs += f", {record['ended']}"
    # Records written before the batch was planned do not name it.
    if "batch_size" in record:
        epochs += f"; batch {record['batch_size']} ({record['batch_size_from']})"
    return (
        f"{epochs}; epoch kept and stopping by {METRIC_NAMES[record['metric']]} "
        f"({record['metric_from']}), "
        f"patience {record['patience']} ({record['patience_from']}); learning rate "
        f"{record['learning_rate']:g} ({record['learning_rate_from']}), warm-up "
        f"{record['warmup_steps']} steps = {record['warmup_ratio']:g} "
        f"({record['warmup_from']})"
    )
