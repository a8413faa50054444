"""PNG figures of a run: training curves, confusion matrix, per-class scores, calibration, samples.

Every function takes plain Python/numpy values and a path, so it can be called on any run's
numbers; `write_plots(run_dir)` reads a run directory (see docs/DESIGN.md) and writes them all to
`run_dir/plots/`. Rendering is headless (Agg), so this works on servers, CI and TPU VMs.
"""

from __future__ import annotations

import contextlib
import logging
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # Before pyplot: no display on servers, CI or TPU VMs.

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from kerasbert.common.decision import best_ids  # noqa: E402
from kerasbert.evaluation.metrics import (  # noqa: E402
    CALIBRATION_BINS,
    calibration_bins,
    expected_calibration_error,
)
from kerasbert.training.calibration import coverage_curve  # noqa: E402
from kerasbert.training.recipe import METRIC_NAMES, kept_index, kept_metric  # noqa: E402
from kerasbert.training.rundir import PLOT_FILES, RunDir  # noqa: E402

logger = logging.getLogger(__name__)

# 120 dpi keeps text crisp on a laptop screen and in a GitHub README without multi-MB files.
DPI = 120

_CORRECT_COLOUR = "#e3f2e1"
_WRONG_COLOUR = "#fbe3e1"


def write_plots(run_dir: str | Path, raw_probabilities: np.ndarray | None = None) -> list[Path]:
    """Write every plot of a run directory to `run_dir/plots/` and return the paths written.

    `raw_probabilities`: a calibrated run's test probabilities without its temperature, for the
    reliability diagram before calibration (`kerasbert.evaluation.evaluate` predicts them).

    Reads `labels.json`, `metrics.json`, `history.json`, `data/test.jsonl` and
    `test_probabilities.json`. The training curves are skipped, with a warning, when the run has
    no `history.json` (e.g. a model evaluated without training).
    """
    run = RunDir(run_dir)
    labels = run.read_labels()
    metrics = run.read_metrics()
    test = run.read_split("test")
    texts = test.display_texts()  # a pair's two texts, joined
    probabilities = run.read_test_probabilities()
    if probabilities is None or len(probabilities) != len(texts):
        raise ValueError(
            f"{run.test_probabilities} is missing or does not match the {len(texts)} texts of "
            f"{run.split_path('test')}; the run directory is inconsistent."
        )
    y_true = test.label_ids(labels)

    plots_dir = run.plots
    written = []
    history = run.read_history()
    if history is not None:
        metric = kept_metric(run.read_recipe())
        written.append(plot_training_curves(history, run.plot("training_curves"), metric))
    else:
        logger.warning("%s is missing; skipping the training curves.", run.history)
    written += write_evaluation_plots(
        metrics,
        texts,
        y_true,
        probabilities,
        labels,
        plots_dir,
        raw_probabilities=raw_probabilities,
    )
    logger.info("Wrote %d plots to %s", len(written), plots_dir)
    return written


def write_evaluation_plots(
    metrics: dict[str, Any],
    texts: Sequence[str],
    y_true: np.ndarray | Sequence[int],
    probabilities: np.ndarray,
    labels: Sequence[str],
    plots_dir: str | Path,
    dataset: str = "the test set",
    raw_probabilities: np.ndarray | None = None,
) -> list[Path]:
    """Write the plots that need no training history into `plots_dir`: the confusion matrix,
    per-class scores, reliability, accuracy against coverage and sample predictions, and with
    `raw_probabilities` (a calibrated run's, before its temperature) their reliability too.

    `dataset` names the evaluated texts in the titles, e.g. "holdout.csv".
    """
    plots_dir = Path(plots_dir)
    calibrated = raw_probabilities is not None or metrics.get("calibration") is not None
    written = [
        plot_confusion_matrix(
            metrics["confusion_matrix"],
            labels,
            plots_dir / PLOT_FILES["confusion_matrix"],
            title=f"Confusion matrix on {_plain(dataset)}",
        ),
        plot_per_class_metrics(
            metrics, plots_dir / PLOT_FILES["per_class_metrics"], dataset=dataset
        ),
        plot_reliability(
            y_true,
            probabilities,
            plots_dir / PLOT_FILES["reliability"],
            title="Calibrated (temperature scaling)" if calibrated else "Reliability diagram",
        ),
    ]
    if raw_probabilities is not None:
        written.append(
            plot_reliability(
                y_true,
                raw_probabilities,
                plots_dir / PLOT_FILES["reliability_uncalibrated"],
                title="Before calibration (raw softmax)",
            )
        )
    written += [
        plot_coverage(
            y_true,
            probabilities,
            plots_dir / PLOT_FILES["coverage"],
            metrics.get("abstention"),
            dataset=dataset,
        ),
        plot_sample_predictions(
            texts,
            y_true,
            probabilities,
            labels,
            plots_dir / PLOT_FILES["sample_predictions"],
            dataset=dataset,
        ),
    ]
    return written


def plot_training_curves(
    history: dict[str, Sequence[float]], path: str | Path, metric: str = "val_loss"
) -> Path:
    """Loss and accuracy per epoch, training vs validation, with the kept epoch marked.

    Args:
        history: Keras `History.history`: `loss`, `accuracy`, `val_loss`, `val_accuracy` lists.
        path: where the PNG goes; parent directories are created.
        metric: what the run chose its kept epoch by (`kerasbert.training.recipe.kept_metric`).
    """
    if not history.get("loss"):
        raise ValueError("history has no 'loss' values; was the model trained for any epoch?")
    epoch_count = len(history["loss"])
    index = kept_index(history, metric)
    best_epoch = None if index is None else index + 1

    with _style():
        figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        panels = (("loss", "Loss (cross-entropy)"), ("accuracy", "Accuracy"))
        for axis, (key, title) in zip(axes, panels, strict=True):
            for prefix, name, colour in (("", "training", "C0"), ("val_", "validation", "C1")):
                values = history.get(prefix + key)
                if not values:
                    continue
                epochs = np.arange(1, len(values) + 1)
                axis.plot(
                    epochs,
                    values,
                    marker="o",
                    color=colour,
                    label=f"{name} (last {values[-1]:.3f})",
                )
            if best_epoch is not None:
                axis.axvline(
                    best_epoch,
                    color="grey",
                    linestyle=":",
                    label=f"kept (best {METRIC_NAMES[metric]})",
                )
            axis.set_title(title)
            axis.set_xlabel("Epoch")
            axis.set_ylabel(title.split(" ")[0])
            axis.set_xlim(0.5, epoch_count + 0.5)
            if epoch_count <= 20:
                axis.set_xticks(range(1, epoch_count + 1))
            else:
                axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            axis.legend(loc="best", fontsize="small")
        figure.suptitle("Training curves")
        return _save(figure, path)


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]] | np.ndarray,
    labels: Sequence[str],
    path: str | Path,
    title: str = "Confusion matrix",
) -> Path:
    """Heatmap of counts (annotated) shaded by each true class's share, so rare classes show too.

    Args:
        matrix: counts, rows = true class, columns = predicted class, in `labels` order.
        labels: class names.
        path: where the PNG goes.
        title: figure title; the number of texts is appended.
    """
    counts = np.asarray(matrix, dtype=np.int64)
    if counts.shape != (len(labels), len(labels)):
        raise ValueError(
            f"matrix must be {len(labels)}×{len(labels)} to match labels, got {counts.shape}."
        )
    row_totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, row_totals, out=np.zeros(counts.shape), where=row_totals > 0)
    many = len(labels) > 12
    annotations = np.array(
        [
            [
                f"{count}" if many or not total else f"{count}\n{share:.0%}"
                for count, share in zip(count_row, share_row, strict=True)
            ]
            for count_row, share_row, total in zip(counts, shares, row_totals[:, 0], strict=True)
        ]
    )
    names = [_plain(label) for label in labels]
    side = max(5.5, 0.75 * len(labels) + 3)
    with _style(grid=False):
        figure, axis = plt.subplots(figsize=(side + 1.2, side))
        sns.heatmap(
            shares,
            annot=annotations,
            fmt="",
            cmap="Blues",
            vmin=0.0,
            vmax=1.0,
            square=True,
            linewidths=0.5,
            linecolor="white",
            xticklabels=names,
            yticklabels=names,
            cbar_kws={"label": "Share of the true class (row)", "shrink": 0.8},
            annot_kws={"fontsize": 8 if many else 10},
            ax=axis,
        )
        axis.set_xlabel("Predicted label")
        axis.set_ylabel("True label")
        axis.set_title(f"{title} (n = {int(counts.sum())})")
        rotate = max(len(name) for name in names) > 6 or many
        axis.set_xticklabels(
            names, rotation=40 if rotate else 0, ha="right" if rotate else "center"
        )
        axis.set_yticklabels(names, rotation=0)
        return _save(figure, path)


def plot_per_class_metrics(
    metrics: dict[str, Any], path: str | Path, dataset: str = "the test set"
) -> Path:
    """Grouped precision / recall / F1 bars per class, with support under each class name.

    Args:
        metrics: `evaluate.compute_metrics` output (its `per_class`, and `macro_f1` if present).
        path: where the PNG goes.
        dataset: names the evaluated texts in the title.
    """
    per_class = metrics["per_class"]
    labels = list(per_class)
    scores = ("precision", "recall", "f1")
    positions = np.arange(len(labels))
    width = 0.27
    annotate = len(labels) <= 10
    with _style():
        figure, axis = plt.subplots(figsize=(max(7.0, 1.5 * len(labels) + 2), 4.8))
        for offset, score in enumerate(scores):
            values = [per_class[label][score] for label in labels]
            bars = axis.bar(
                positions + (offset - 1) * width,
                values,
                width,
                label={"f1": "F1"}.get(score, score.capitalize()),
                color=f"C{offset}",
            )
            if annotate:
                for text in axis.bar_label(bars, fmt="%.3f", fontsize=7, padding=2):
                    # Keeps each value legible where the macro-F1 line crosses it.
                    text.set_bbox({"facecolor": "white", "edgecolor": "none", "pad": 0.3})
        if "macro_f1" in metrics:
            axis.axhline(
                metrics["macro_f1"],
                color="black",
                linestyle="--",
                linewidth=1,
                zorder=0.5,
                label=f"macro F1 {metrics['macro_f1']:.3f}",
            )
        axis.set_xticks(
            positions,
            [f"{_plain(label)}\n(n={per_class[label]['support']})" for label in labels],
            rotation=0 if len(labels) <= 8 else 45,
            ha="center" if len(labels) <= 8 else "right",
        )
        # Strong models score 0.95+ everywhere, where a 0-1 axis hides every difference; start
        # the axis near the lowest score instead, and say so in the axis label.
        lowest = min(per_class[label][score] for label in labels for score in scores)
        bottom = max(0.0, np.floor(lowest * 10) / 10 - 0.1)
        # Headroom above 1.0 for the value labels.
        axis.set_ylim(bottom, 1.0 + (0.1 if annotate else 0.05) * (1 - bottom))
        axis.set_yticks(np.linspace(bottom, 1, 6))
        axis.set_xlabel("Class (number of texts)")
        axis.set_ylabel("Score" if bottom == 0 else f"Score (axis starts at {bottom:.1f})")
        axis.set_title(f"Per-class precision, recall and F1 on {_plain(dataset)}")
        axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4, frameon=False)
        return _save(figure, path)


def plot_reliability(
    y_true: np.ndarray | Sequence[int],
    probabilities: np.ndarray | Sequence[Sequence[float]],
    path: str | Path,
    num_bins: int = CALIBRATION_BINS,
    title: str = "Reliability diagram",
) -> Path:
    """Reliability diagram (accuracy vs confidence per bin) above a histogram of confidences.

    Args:
        y_true: true class ids.
        probabilities: predicted probabilities, one row per text.
        path: where the PNG goes.
        num_bins: equal-width confidence bins, as in `evaluate.calibration_bins`.
    """
    bins = calibration_bins(y_true, probabilities, num_bins)
    ece = expected_calibration_error(bins)
    lowers = np.array([item["lower"] for item in bins])
    widths = np.array([item["upper"] - item["lower"] for item in bins])
    counts = np.array([item["count"] for item in bins])
    filled = counts > 0
    accuracy = np.array([item["accuracy"] or 0.0 for item in bins])
    confidence = np.array([item["confidence"] or 0.0 for item in bins])
    probabilities = np.asarray(probabilities, dtype=np.float64)
    top = probabilities.max(axis=1)
    overall_accuracy = float((best_ids(probabilities) == np.asarray(y_true)).mean())

    with _style():
        figure, (upper, lower) = plt.subplots(
            2, 1, figsize=(6.5, 7.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.3]}
        )
        upper.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
        upper.bar(
            lowers[filled],
            accuracy[filled],
            widths[filled],
            align="edge",
            color="C0",
            edgecolor="white",
            label="accuracy in bin",
        )
        # The bin's mean confidence, joined to its accuracy: the joining line is the gap.
        centres = lowers[filled] + widths[filled] / 2
        upper.vlines(centres, accuracy[filled], confidence[filled], color="C3", linewidth=2)
        upper.plot(
            centres,
            confidence[filled],
            marker="D",
            linestyle="none",
            color="C3",
            label="mean confidence in bin",
        )
        upper.set_xlim(0, 1)
        upper.set_ylim(0, 1.02)
        upper.set_ylabel("Accuracy")
        upper.set_title(f"{title} (ECE = {ece:.3f}, n = {len(top)})", pad=24)
        upper.legend(
            loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize="x-small", frameon=False
        )

        histogram = lower.bar(lowers, counts, widths, align="edge", color="C0", edgecolor="white")
        # Counts on the bars: a bin of 3 texts next to one of 300 is otherwise invisible.
        lower.bar_label(
            histogram, labels=[str(count) if count else "" for count in counts], fontsize=7
        )
        lower.set_ylim(0, counts.max() * 1.25)
        lower.axvline(
            top.mean(), color="C3", linestyle="-", label=f"mean confidence {top.mean():.3f}"
        )
        lower.axvline(
            overall_accuracy, color="black", linestyle=":", label=f"accuracy {overall_accuracy:.3f}"
        )
        lower.set_xlabel("Confidence (top-class probability)")
        lower.set_ylabel("Texts")
        lower.legend(loc="best", fontsize="small")
        return _save(figure, path)


def plot_coverage(
    y_true: np.ndarray | Sequence[int],
    probabilities: np.ndarray,
    path: str | Path,
    abstention: dict[str, Any] | None = None,
    dataset: str = "the test set",
) -> Path:
    """Accuracy of the texts kept against the share kept, as the minimum confidence rises
    (`kerasbert.training.calibration.coverage_curve`); with `abstention` (metrics.json), the
    minimum chosen on validation marked where it falls on these texts."""
    curve = coverage_curve(y_true, probabilities)
    with _style():
        figure, axes = plt.subplots(figsize=(6.5, 4.5))
        axes.plot(curve["coverage"], curve["accuracy"], color="C0", label="accuracy of kept texts")
        chosen = abstention or {}
        if chosen.get("min_confidence") is not None and chosen.get("test_coverage") is not None:
            axes.axhline(
                chosen["target_accuracy"],
                color="grey",
                linestyle="--",
                label=f"target {chosen['target_accuracy']:.0%} (validation)",
            )
            axes.plot(
                [chosen["test_coverage"]],
                [chosen["test_accuracy"] or 0.0],
                marker="o",
                color="C3",
                linestyle="none",
                label=f"min confidence {chosen['min_confidence']:.3f}: "
                f"{chosen['test_coverage']:.0%} kept",
            )
        axes.set_xlim(0, 1.01)
        axes.set_xlabel("Coverage (share of texts given a label)")
        axes.set_ylabel("Accuracy")
        axes.set_title(f"Accuracy against coverage on {_plain(dataset)}")
        axes.legend(loc="lower left", fontsize="small")
        return _save(figure, path)


def plot_sample_predictions(
    texts: Sequence[str],
    y_true: np.ndarray | Sequence[int],
    probabilities: np.ndarray | Sequence[Sequence[float]],
    labels: Sequence[str],
    path: str | Path,
    correct: int = 6,
    wrong: int = 6,
    seed: int = 0,
    dataset: str = "the test set",
) -> Path:
    """A table of test texts with true label, prediction and its probability, right and wrong.

    The wrong rows are the most confident mistakes; the correct rows are drawn at random (with
    `seed`) so they show typical, not only easy, texts.

    Args:
        texts: the texts, aligned with `y_true` and `probabilities`.
        y_true: true class ids.
        probabilities: predicted probabilities.
        labels: class names.
        path: where the PNG goes.
        correct: how many correctly classified texts to show at most.
        wrong: how many misclassified texts to show at most.
        seed: seed of the draw of correct rows.
        dataset: names the evaluated texts in the title.
    """
    y_true = np.asarray(y_true)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if not len(texts) == len(y_true) == len(probabilities):
        raise ValueError("texts, y_true and probabilities must have the same length.")
    predicted = best_ids(probabilities)
    confidence = probabilities.max(axis=1)
    right_rows = np.flatnonzero(predicted == y_true)
    wrong_rows = np.flatnonzero(predicted != y_true)
    wrong_rows = wrong_rows[np.argsort(-confidence[wrong_rows], kind="stable")][:wrong]
    generator = np.random.default_rng(seed)
    right_rows = np.sort(generator.permutation(right_rows)[:correct])
    rows = list(right_rows) + list(wrong_rows)
    if not rows:
        raise ValueError("No texts to show.")

    cells, colours = [], []
    for row in rows:
        is_right = predicted[row] == y_true[row]
        cells.append(
            [
                "✓" if is_right else "✗",
                _snippet(texts[row]),
                _plain(labels[y_true[row]]),
                _plain(labels[predicted[row]]),
                f"{confidence[row]:.3f}",
            ]
        )
        colours.append([_CORRECT_COLOUR if is_right else _WRONG_COLOUR] * 5)

    with _style(grid=False):
        line_count = max(cell[1].count("\n") + 1 for cell in cells)
        figure, axis = plt.subplots(figsize=(14, (0.22 * line_count + 0.2) * (len(rows) + 1)))
        axis.axis("off")
        table = axis.table(
            cellText=cells,
            cellColours=colours,
            colLabels=["", "Text", "True", "Predicted", "Probability"],
            colWidths=[0.03, 0.67, 0.1, 0.1, 0.1],
            cellLoc="left",
            bbox=(0, 0, 1, 1),
        )
        table.auto_set_font_size(False)
        table.set_fontsize(9)
        for (row, column), cell in table.get_celld().items():
            cell.set_edgecolor("#bbbbbb")
            if row == 0:
                cell.set_text_props(weight="bold")
                cell.set_facecolor("#eeeeee")
            # The default padding is a tenth of the cell width: far too wide in the text column.
            cell.PAD = 0.01 if column == 1 else 0.05
            if column in (0, 4):
                cell.set_text_props(ha="center")
        axis.set_title(
            f"Sample predictions on {_plain(dataset)}: {len(right_rows)} correct (random), "
            f"{len(wrong_rows)} wrong (most confident mistakes)",
            pad=12,
        )
        return _save(figure, path)


@contextlib.contextmanager
def _style(grid: bool = True) -> Iterator[None]:
    """Seaborn's look for one figure only, leaving the caller's matplotlib settings alone."""
    settings = {
        **sns.axes_style("whitegrid" if grid else "white"),
        **sns.plotting_context("notebook"),
    }
    settings["figure.dpi"] = DPI
    with plt.rc_context(settings):
        yield


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        figure.savefig(path, dpi=DPI, bbox_inches="tight", facecolor="white")
    finally:
        plt.close(figure)
    logger.debug("Wrote %s", path)
    return path


def _snippet(text: str, width: int = 100, lines: int = 2) -> str:
    """The start of `text` on at most `lines` lines of `width` characters, ellipsised if cut."""
    flat = " ".join(text.split())
    wrapped = textwrap.wrap(flat, width=width)
    shown = wrapped[:lines]
    if len(wrapped) > lines:
        shown[-1] = shown[-1][: width - 1].rstrip() + "…"
    return _plain("\n".join(shown))


def _plain(text: str) -> str:
    # A pair of "$" (prices in news texts) would otherwise be typeset as mathematics.
    return str(text).replace("$", r"\$")
