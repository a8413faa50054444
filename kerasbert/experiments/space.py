"""The sweep file: shared settings, a search space over `TrainConfig` fields, objective, budget.

    # sweep.yaml
    base:                       # TrainConfig settings every trial shares
      data: bbc-headlines
      max_train_samples: 400
      epochs: 1
    space:
      learning_rate: {low: 1.0e-5, high: 3.0e-4, log: true}   # a range: float, or int if ints
      batch_size: [16, 32]                                     # a list: one of these
      warmup_ratio: {low: 0.0, high: 0.2}
    objective: auto             # the metric each trial keeps its epoch by (single-label:
                                # macro-F1, multi-label: micro-F1), or val_loss, val_accuracy,
                                # val_macro_f1, val_micro_f1; always on the validation split
    budget: {trials: 6, minutes: 30}
    seed: 0                     # the sampler's seed
    pruning: true               # stop trials whose per-epoch objective lags the others'
    export: true                # export the best trial to ONNX at the end

Every mistake is an `InputError` naming the field, before any trial runs: unknown or unsearchable
fields, empty ranges and lists, a budget of 0, and bounds `TrainConfig` itself refuses.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerasbert.common.errors import InputError
from kerasbert.config import TrainConfig, read_config_file
from kerasbert.training.recipe import PREDICTED_METRICS

KEYS = {"base", "space", "objective", "budget", "seed", "pruning", "export", "output"}
# Objectives are read from the run's history at its kept epoch. `auto` is the metric the trial's
# run keeps that epoch by (its recipe's), so a sweep ranks trials by the figure each was stopped
# on; a loss-ranked sweep of F1-stopped runs would favour the earliest, least overconfident epochs.
OBJECTIVES = ("auto", "val_loss", "val_accuracy", *PREDICTED_METRICS)
# Set by the sweep for every trial, so they cannot be searched or given in `base`.
SWEEP_OWNED = {"output_dir", "export_dir", "overwrite", "export", "plots"}
# Searching these would change the data the objective is measured on, so trials could not be
# compared: the sweep holds them fixed (in `base`).
FIXED_DATA = {
    "data",
    "validation_data",
    "test_data",
    "validation_fraction",
    "test_fraction",
    "max_eval_samples",
    "seed",
    "text_column",
    "text_pair_column",
    "label_column",
    "label_columns",
}
FIELD_TYPES = {
    item.name: item.type.replace(" | None", "") for item in dataclasses.fields(TrainConfig)
}


@dataclass(frozen=True)
class Dimension:
    """One searched setting: a range (`low`..`high`, optionally `log` or with a `step`) or a list
    of `choices`."""

    name: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] | None = None

    def suggest(self, trial) -> Any:
        """The value an Optuna trial proposes for this setting."""
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        if FIELD_TYPES[self.name] == "int":
            return trial.suggest_int(
                self.name, self.low, self.high, step=self.step or 1, log=self.log
            )
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def extremes(self) -> list[Any]:
        """The values `TrainConfig` must accept for every proposal to be valid."""
        return list(self.choices) if self.choices is not None else [self.low, self.high]


@dataclass(frozen=True)
class SweepSpec:
    """A parsed, validated sweep file (see the module docstring)."""

    base: dict[str, Any]
    space: tuple[Dimension, ...]
    objective: str = "auto"
    trials: int = 10
    minutes: float | None = None
    seed: int = 0
    pruning: bool = True
    export: bool = True
    output: str | None = None

    @property
    def metric(self) -> str | None:
        """The history key the objective reads; None when each trial's recipe names it
        (`auto` with the base's `early_stopping_metric` auto: macro-F1 or micro-F1 by the data)."""
        if self.objective != "auto":
            return self.objective
        chosen = self.base.get("early_stopping_metric", "auto")
        return None if chosen == "auto" else chosen

    @property
    def direction(self) -> str:
        return "minimize" if self.metric == "val_loss" else "maximize"

    def study_settings(self) -> dict[str, Any]:
        """What a resumed sweep must share with the one it continues (the budget may change)."""
        space = {dimension.name: dataclasses.asdict(dimension) for dimension in self.space}
        for values in space.values():
            if values["choices"] is not None:
                values["choices"] = list(values["choices"])
        return {"base": self.base, "space": space, "objective": self.objective, "seed": self.seed}

    def trial_config(self, params: dict[str, Any], **outputs: Any) -> TrainConfig:
        """The `TrainConfig` of one trial: the base, the proposed values, the sweep's outputs."""
        return TrainConfig.from_dict({**self.base, **params, **outputs}, source="the sweep file")


def read_sweep_spec(
    path: str | Path, trials: int | None = None, minutes: float | None = None
) -> SweepSpec:
    """Read and check a sweep file; `trials` and `minutes` override its budget."""
    values = read_config_file(path)
    return parse_sweep_spec(values, source=str(path), trials=trials, minutes=minutes)


def parse_sweep_spec(
    values: dict[str, Any],
    source: str = "the sweep file",
    trials: int | None = None,
    minutes: float | None = None,
) -> SweepSpec:
    """Check a sweep file's contents (see the module docstring) and build its `SweepSpec`."""
    unknown = sorted(set(values) - KEYS)
    if unknown:
        raise InputError(
            f"{source} has unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(KEYS))}."
        )
    base = _base(values.get("base") or {}, source)
    space = _space(values.get("space"), base, source)
    objective = values.get("objective", "auto")
    if objective not in OBJECTIVES:
        raise InputError(
            f"{source}: objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}."
        )
    stopping = base.get("early_stopping_metric", "auto")
    if objective == "auto" and any(item.name == "early_stopping_metric" for item in space):
        raise InputError(
            f"{source}: objective auto follows each trial's early_stopping_metric, which the "
            "space searches; name the objective (val_loss, val_accuracy, val_macro_f1 or "
            "val_micro_f1)."
        )
    if objective in PREDICTED_METRICS and stopping not in ("auto", objective):
        raise InputError(
            f"{source}: objective {objective} is computed only by runs that keep their epoch by "
            f"it, and base sets early_stopping_metric {stopping}; set it to auto or {objective}, "
            "or use objective auto."
        )
    budget = values.get("budget") or {}
    if not isinstance(budget, dict) or set(budget) - {"trials", "minutes"}:
        raise InputError(
            f"{source}: budget must be a mapping of trials and/or minutes, got {budget!r}."
        )
    count = trials if trials is not None else budget.get("trials", 10)
    if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
        raise InputError(f"{source}: the budget must allow at least 1 trial, got {count!r}.")
    limit = minutes if minutes is not None else budget.get("minutes")
    if limit is not None and (not isinstance(limit, (int, float)) or limit <= 0):
        raise InputError(f"{source}: the time budget must be more than 0 minutes, got {limit!r}.")
    seed = values.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise InputError(f"{source}: seed must be an integer, got {seed!r}.")
    switches = {name: values.get(name, True) for name in ("pruning", "export")}
    for name, value in switches.items():
        if not isinstance(value, bool):
            raise InputError(f"{source}: {name} must be true or false, got {value!r}.")
    output = values.get("output")
    return SweepSpec(
        base,
        space,
        objective,
        count,
        limit,
        seed,
        switches["pruning"],
        switches["export"],
        None if output is None else str(output),
    )


def _base(base: Any, source: str) -> dict[str, Any]:
    if not isinstance(base, dict):
        raise InputError(f"{source}: base must be a mapping of TrainConfig settings.")
    base = {key.replace("-", "_"): value for key, value in base.items()}
    owned = sorted(set(base) & SWEEP_OWNED)
    if owned:
        raise InputError(
            f"{source}: base sets {', '.join(owned)}, which the sweep sets for each trial; remove them."
        )
    TrainConfig.from_dict(base, source=f"{source} (base)")  # unknown names and bad values, named
    return base


def _space(space: Any, base: dict[str, Any], source: str) -> tuple[Dimension, ...]:
    if not isinstance(space, dict) or not space:
        raise InputError(
            f"{source}: space must map at least one TrainConfig setting to a range or a list."
        )
    space = {key.replace("-", "_"): value for key, value in space.items()}
    unknown = sorted(set(space) - set(FIELD_TYPES))
    if unknown:
        raise InputError(
            f"{source}: unknown field(s) in the search space: {', '.join(unknown)}. "
            f"Searchable: {', '.join(sorted(set(FIELD_TYPES) - SWEEP_OWNED - FIXED_DATA))}."
        )
    for names, why in (
        (SWEEP_OWNED, "the sweep sets them for each trial"),
        (FIXED_DATA, "they change the data the objective is measured on; fix them in base"),
        (set(base), "they are also set in base; keep each setting in one place"),
    ):
        clash = sorted(set(space) & names)
        if clash:
            raise InputError(f"{source}: cannot search {', '.join(clash)}: {why}.")
    dimensions = tuple(_dimension(name, value, source) for name, value in space.items())
    for dimension in dimensions:
        for value in dimension.extremes():
            TrainConfig.from_dict(
                {**base, dimension.name: value},
                source=f"{source} (space.{dimension.name} = {value!r})",
            )
    return dimensions


def _dimension(name: str, value: Any, source: str) -> Dimension:
    where = f"{source}: space.{name}"
    if isinstance(value, list):
        if not value:
            raise InputError(f"{where} is an empty list; give at least one value.")
        if name == "model":
            _check_checkpoints(value, where)
        return Dimension(name, choices=tuple(value))
    if (
        not isinstance(value, dict)
        or set(value) - {"low", "high", "log", "step"}
        or not {"low", "high"} <= set(value)
    ):
        raise InputError(
            f"{where} must be a list of values or a range {{low, high[, log, step]}}, got {value!r}."
        )
    kind = FIELD_TYPES[name]
    if kind not in ("int", "float"):
        raise InputError(
            f"{where}: {name} is a {kind} setting; give a list of values, not a range."
        )
    low, high = value["low"], value["high"]
    wanted = (int,) if kind == "int" else (int, float)
    if not all(isinstance(bound, wanted) and not isinstance(bound, bool) for bound in (low, high)):
        raise InputError(f"{where}: low and high must be {kind} numbers, got {low!r} and {high!r}.")
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise InputError(
            f"{where}: the range {low!r}..{high!r} is empty; low must be below high (fix a single "
            "value in base instead)."
        )
    log, step = bool(value.get("log", False)), value.get("step")
    if log and low <= 0:
        raise InputError(f"{where}: a log range needs low > 0, got {low!r}.")
    if step is not None and (log or not isinstance(step, wanted) or step <= 0 or step > high - low):
        raise InputError(
            f"{where}: step must be a positive {kind} within the range, without log; got {step!r}."
        )
    if kind == "float":
        low, high = float(low), float(high)
    return Dimension(name, low, high, log, step)


def _check_checkpoints(choices: list[Any], where: str) -> None:
    """Sweeps run offline: each model must be the packaged one or a local checkpoint folder."""
    for choice in choices:
        if choice != "minilm" and not (isinstance(choice, str) and Path(choice).is_dir()):
            raise InputError(f"{where}: {choice!r} is not a local checkpoint folder (or minilm).")
