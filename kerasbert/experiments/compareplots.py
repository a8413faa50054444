"""The figures of `kerasbert compare`: validation curves, a metric against each varying setting,
and accuracy against training time. Each group of comparable runs gets its own colour (scatter
plots) or panel (curves), so runs on different data or test splits are never read as one series.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # Before pyplot: no display on servers or CI.

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from kerasbert.experiments.runinfo import RunInfo  # noqa: E402

DPI = 120
CURVES_FILE = "validation_curves.png"
TIME_FILE = "accuracy_vs_training_time.png"
# A positive setting spanning more than this ratio (learning rates, weight decays) reads better
# on a log axis: sweeps sample such settings log-uniformly.
LOG_AXIS_RATIO = 4


def write_comparison_plots(
    groups: Mapping[str, list[RunInfo]], varying: Sequence[str], output: Path
) -> list[Path]:
    """Write every figure into `output`; returns the paths written."""
    files = [validation_curves(groups, output / CURVES_FILE)]
    files += [metric_vs_setting(groups, name, output / f"metric_vs_{name}.png") for name in varying]
    files.append(accuracy_vs_time(groups, output / TIME_FILE))
    return files


def validation_curves(groups: Mapping[str, list[RunInfo]], path: Path) -> Path:
    """Validation loss (top) and accuracy (bottom) per epoch, one column of panels per group."""
    columns = len(groups)
    figure, axes = plt.subplots(2, columns, figsize=(5 * columns, 6.5), squeeze=False)
    for column, (group, runs) in enumerate(groups.items()):
        for row, key in enumerate(("val_loss", "val_accuracy")):
            axis = axes[row][column]
            for run in runs:
                values = run.history.get(key) or []
                epochs = run.history.get("epoch") or list(range(1, len(values) + 1))
                if values:
                    axis.plot(epochs[: len(values)], values, marker="o", label=run.name)
            axis.set_xlabel("epoch")
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
            axis.set_ylabel(key.replace("_", " "))
            axis.grid(alpha=0.3)
            if row == 0:
                axis.set_title(f"group {group}" if columns > 1 else "validation curves")
        if len(runs) <= 12:
            axes[0][column].legend(fontsize=7)
    return _save(figure, path)


def metric_vs_setting(groups: Mapping[str, list[RunInfo]], name: str, path: Path) -> Path:
    """Validation loss and accuracy (test accuracy as crosses, where evaluated) against a setting."""
    figure, (loss_axis, score_axis) = plt.subplots(1, 2, figsize=(10, 4))
    values = [run.setting(name) for runs in groups.values() for run in runs]
    numeric = all(
        isinstance(value, (int, float)) and not isinstance(value, bool) for value in values
    )
    categories = sorted({repr(value) for value in values})
    for colour, (group, runs) in zip(_colours(), groups.items()):
        xs = [
            run.setting(name) if numeric else categories.index(repr(run.setting(name)))
            for run in runs
        ]
        label = f"group {group}" if len(groups) > 1 else None
        loss_axis.scatter(
            xs, [_nan(run.validation("val_loss")) for run in runs], color=colour, label=label
        )
        score_axis.scatter(
            xs, [_nan(run.validation("val_accuracy")) for run in runs], color=colour, label=label
        )
        score_axis.scatter(
            xs, [_nan(run.metric("accuracy")) for run in runs], color=colour, marker="x"
        )
    for axis, title in ((loss_axis, "validation loss"), (score_axis, "accuracy (o val, x test)")):
        axis.set_xlabel(name)
        axis.set_title(title)
        axis.grid(alpha=0.3)
        if numeric and _wide(values):
            axis.set_xscale("log")
        elif numeric:
            axis.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
        if not numeric:
            axis.set_xticks(range(len(categories)), [text.strip("'") for text in categories])
    if len(groups) > 1:
        loss_axis.legend(fontsize=7)
    return _save(figure, path)


def accuracy_vs_time(groups: Mapping[str, list[RunInfo]], path: Path) -> Path:
    """Accuracy against training seconds: test accuracy where evaluated (x), else validation (o)."""
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for colour, (group, runs) in zip(_colours(), groups.items()):
        for run in runs:
            test = run.metric("accuracy")
            accuracy = test if test is not None else run.validation("val_accuracy")
            if run.train_seconds is None or accuracy is None:
                continue
            axis.scatter(run.train_seconds, accuracy, color=colour, marker="x" if test else "o")
            axis.annotate(run.name, (run.train_seconds, accuracy), fontsize=6, alpha=0.8)
        if len(groups) > 1:
            axis.scatter([], [], color=colour, label=f"group {group}")
    axis.set_xlabel("training seconds (fit, validation included)")
    axis.set_ylabel("accuracy (x test, o validation)")
    axis.grid(alpha=0.3)
    if len(groups) > 1:
        axis.legend(fontsize=7)
    return _save(figure, path)


def _wide(values: Sequence[float]) -> bool:
    positive = [value for value in values if value and value > 0]
    return len(positive) == len(values) and max(positive) / min(positive) > LOG_AXIS_RATIO


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _colours() -> list[str]:
    return [f"C{index}" for index in range(10)] * 3


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path
