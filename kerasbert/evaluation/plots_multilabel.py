"""PNG figures of a multi-label run: per-label F1 with support, threshold curves, co-occurrence.

A confusion matrix and a top-class calibration curve assume one label per text; a multi-label run
gets these instead, beside the training curves (`kerasbert.evaluation.plots`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from kerasbert.evaluation.plots import _save, _style, plot_training_curves
from kerasbert.training.recipe import kept_metric
from kerasbert.training.rundir import MULTILABEL_PLOT_FILES, PLOT_FILES, RunDir

logger = logging.getLogger(__name__)


def write_multilabel_plots(
    run: RunDir,
    metrics: dict[str, Any],
    plots_dir: str | Path,
    dataset: str = "the test set",
    with_history: bool = True,
) -> list[Path]:
    """Write a multi-label run's plots into `plots_dir`; return the paths written.

    `metrics` is `kerasbert.evaluation.multilabel_metrics.compute_multilabel_metrics` output; the threshold
    curves come from the run's `thresholds.json`, the training curves (with `with_history`) from
    its `history.json`.
    """
    plots_dir = Path(plots_dir)
    written = []
    history = run.read_history() if with_history else None
    if history is not None:
        metric = kept_metric(run.read_recipe())
        written.append(
            plot_training_curves(history, plots_dir / PLOT_FILES["training_curves"], metric)
        )
    written.append(
        plot_per_label_f1(
            metrics, plots_dir / MULTILABEL_PLOT_FILES["per_label_f1"], dataset=dataset
        )
    )
    tuned = run.read_thresholds()
    if tuned is not None:
        written.append(
            plot_threshold_curves(tuned, plots_dir / MULTILABEL_PLOT_FILES["threshold_curves"])
        )
    written.append(
        plot_label_cooccurrence(
            metrics["true_cooccurrence"],
            metrics["cooccurrence"],
            metrics["labels"],
            plots_dir / MULTILABEL_PLOT_FILES["label_cooccurrence"],
            dataset=dataset,
        )
    )
    logger.info("Wrote %d multi-label plots to %s", len(written), plots_dir)
    return written


def plot_per_label_f1(
    metrics: dict[str, Any], path: str | Path, dataset: str = "the test set"
) -> Path:
    """Precision, recall and F1 per label, each label's support (test texts carrying it) in its
    name, with the micro and macro F1 as lines."""
    per_class = metrics["per_class"]
    names = list(per_class)
    with _style():
        figure, axis = plt.subplots(figsize=(max(6.0, 1.3 * len(names) + 2), 4.2))
        positions = np.arange(len(names))
        for offset, key, colour in (
            (-0.27, "precision", "C0"),
            (0, "recall", "C1"),
            (0.27, "f1", "C2"),
        ):
            axis.bar(
                positions + offset,
                [per_class[name][key] for name in names],
                width=0.27,
                color=colour,
                label=key.capitalize() if key != "f1" else "F1",
            )
        for key, style in (("micro_f1", "--"), ("macro_f1", ":")):
            if metrics.get(key) is not None:
                axis.axhline(
                    metrics[key], color="grey", linestyle=style, label=f"{key} {metrics[key]:.3f}"
                )
        axis.set_xticks(positions)
        axis.set_xticklabels([f"{name}\n(n={per_class[name]['support']})" for name in names])
        axis.set_ylim(0, 1.05)
        axis.set_ylabel("Score")
        axis.set_title(f"Per-label scores at the tuned thresholds on {dataset}")
        axis.legend(loc="lower right", fontsize="small")
        return _save(figure, path)


def plot_threshold_curves(tuned: dict[str, Any], path: str | Path) -> Path:
    """Validation F1 against the threshold for each label, its chosen threshold marked."""
    grid = np.asarray(tuned["grid"])
    with _style():
        figure, axis = plt.subplots(figsize=(7.5, 4.5))
        for index, (label, curve) in enumerate(tuned["f1"].items()):
            colour = f"C{index % 10}"
            chosen = tuned["thresholds"][label]
            axis.plot(grid, curve, color=colour, label=f"{label} (threshold {chosen:.2f})")
            axis.axvline(chosen, color=colour, linestyle=":", alpha=0.7)
        axis.set_xlabel("Threshold on the label's probability")
        axis.set_ylabel("Validation F1")
        axis.set_ylim(0, 1.05)
        axis.set_title("Per-label thresholds tuned on the validation split")
        axis.legend(loc="lower left", fontsize="small")
        return _save(figure, path)


def plot_label_cooccurrence(
    true_cooccurrence: Sequence[Sequence[int]],
    cooccurrence: Sequence[Sequence[int]],
    labels: Sequence[str],
    path: str | Path,
    dataset: str = "the test set",
) -> Path:
    """Two heatmaps: texts carrying both labels (truth), and texts with true label (row) that
    were predicted the column label; the diagonal of the second is each label's true positives."""
    with _style(grid=False):
        figure, axes = plt.subplots(1, 2, figsize=(2 * max(4.5, 0.9 * len(labels) + 2), 4.5))
        for axis, values, title in (
            (axes[0], true_cooccurrence, "True labels together"),
            (axes[1], cooccurrence, "True (rows) vs predicted (columns)"),
        ):
            sns.heatmap(
                np.asarray(values),
                annot=True,
                fmt="d",
                cmap="Blues",
                cbar=False,
                xticklabels=list(labels),
                yticklabels=list(labels),
                ax=axis,
            )
            axis.set_title(title)
        figure.suptitle(f"Label co-occurrence on {dataset}")
        return _save(figure, path)
