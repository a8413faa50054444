"""Plots: every figure is written, is a real PNG of readable size, and is not blank."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image

from kerasbert.evaluation import plots
from kerasbert.evaluation.metrics import compute_metrics, confident_mistakes, lift
from kerasbert.training.rundir import PLOT_FILES

LABELS = ["business", "sport", "tech"]


def make_run_dir(root: Path, examples: int = 90, seed: int = 0) -> Path:
    """A run directory as `train.train` writes it (docs/DESIGN.md), with synthetic predictions.

    The "model" is right about 80% of the time and the baseline about 70%, so every plot and
    report section has both correct and wrong predictions to show.
    """
    rng = np.random.default_rng(seed)
    run_dir = root / "run"
    (run_dir / "data").mkdir(parents=True)
    y_true = np.arange(examples) % len(LABELS)
    texts = [
        f"Text {index} about {LABELS[label]}: costs $5 and $10 | a pipe, *stars* and <b>tags</b>."
        for index, label in enumerate(y_true)
    ]

    def predictions(accuracy: float) -> np.ndarray:
        guessed = np.where(rng.random(examples) < accuracy, y_true, rng.integers(0, 3, examples))
        logits = rng.normal(0, 1, (examples, len(LABELS)))
        logits[np.arange(examples), guessed] += rng.uniform(0.5, 4, examples)
        exponentials = np.exp(logits)
        return exponentials / exponentials.sum(axis=1, keepdims=True)

    probabilities = predictions(0.8)
    metrics = compute_metrics(y_true, probabilities, LABELS)
    metrics["baseline"] = compute_metrics(y_true, predictions(0.7), LABELS)
    metrics["lift"] = lift(metrics, metrics["baseline"])
    metrics["split_sizes"] = {"train": 300, "validation": 40, "test": examples}
    metrics["duplicates_dropped"] = 7
    metrics["confident_mistakes"] = confident_mistakes(texts, y_true, probabilities, LABELS)

    def write(name: str, value: object) -> None:
        (run_dir / name).write_text(json.dumps(value, indent=2), encoding="utf-8")

    with (run_dir / "data" / "test.jsonl").open("w", encoding="utf-8") as file:
        for text, label in zip(texts, y_true, strict=True):
            file.write(json.dumps({"text": text, "label": LABELS[label]}) + "\n")
    write("metrics.json", metrics)
    write("labels.json", LABELS)
    write("test_probabilities.json", probabilities.tolist())
    write(
        "history.json",
        {
            "loss": [1.0, 0.6, 0.4],
            "accuracy": [0.5, 0.75, 0.85],
            "val_loss": [0.8, 0.55, 0.6],
            "val_accuracy": [0.6, 0.8, 0.78],
            "learning_rate": [4e-5, 2e-5, 0.0],
            "epoch_seconds": [12.5, 11.0, 11.2],
        },
    )
    write(
        "config.json",
        {"data": "tiny.csv", "model": "minilm", "max_length": 64, "batch_size": 8, "epochs": 3},
    )
    write(
        "data_summary.json",
        {
            "source": "tiny.csv",
            "split_sizes": metrics["split_sizes"],
            "class_counts": {"test": {label: examples // 3 for label in LABELS}},
            "duplicates_dropped": 7,
            "token_lengths": {
                "test": {"p50": 20.0, "p95": 70.0, "max": 90, "truncated": 4, "max_length": 64}
            },
        },
    )
    return run_dir


def assert_readable_png(path: Path, min_width: int = 500, min_height: int = 300) -> None:
    """A valid PNG of a readable size whose pixels are not all one colour."""
    assert path.is_file() and path.suffix == ".png"
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= min_width and image.height >= min_height
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 5, f"{path.name} is (nearly) blank"
    # Light background with dark text and lines, not a solid block of colour.
    assert (pixels > 200).mean() > 0.1 and (pixels < 100).mean() > 0.002


def test_write_plots_writes_six_readable_pngs(tmp_path: Path) -> None:
    run_dir = make_run_dir(tmp_path)
    written = plots.write_plots(run_dir)
    # Without the probabilities before calibration there is no "before" reliability diagram.
    assert [path.name for path in written] == [
        name for role, name in PLOT_FILES.items() if role != "reliability_uncalibrated"
    ]
    for path in written:
        assert path.parent == run_dir / "plots"
        assert_readable_png(path)


def test_write_plots_of_a_calibrated_run_adds_the_reliability_before(tmp_path: Path) -> None:
    run_dir = make_run_dir(tmp_path)
    calibrated = np.asarray(json.loads((run_dir / "test_probabilities.json").read_text()))
    # The raw softmax of a temperature of 2: softmax(2 log p), sharper than the calibrated one.
    sharper = calibrated**2 / (calibrated**2).sum(axis=1, keepdims=True)
    written = plots.write_plots(run_dir, sharper)
    assert [path.name for path in written] == list(PLOT_FILES.values())
    assert_readable_png(run_dir / "plots" / PLOT_FILES["reliability_uncalibrated"])


def test_write_plots_without_history_skips_training_curves(tmp_path: Path) -> None:
    run_dir = make_run_dir(tmp_path)
    (run_dir / "history.json").unlink()
    written = plots.write_plots(run_dir)
    assert PLOT_FILES["training_curves"] not in [path.name for path in written]
    assert len(written) == 5


def test_write_plots_refuses_mismatched_probabilities(tmp_path: Path) -> None:
    run_dir = make_run_dir(tmp_path)
    probabilities = json.loads((run_dir / "test_probabilities.json").read_text())
    (run_dir / "test_probabilities.json").write_text(json.dumps(probabilities[:-1]))
    with pytest.raises(ValueError, match="inconsistent"):
        plots.write_plots(run_dir)


def test_confusion_matrix_many_classes_and_long_names(tmp_path: Path) -> None:
    labels = [f"class_with_a_long_name_{index}" for index in range(15)]
    matrix = np.diag(np.full(15, 9)) + 1
    path = plots.plot_confusion_matrix(matrix, labels, tmp_path / "cm.png")
    assert_readable_png(path, min_width=1000, min_height=1000)


def test_confusion_matrix_rejects_wrong_shape(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="3×3"):
        plots.plot_confusion_matrix([[1, 2], [3, 4]], LABELS, tmp_path / "cm.png")


def test_training_curves_single_epoch_without_validation(tmp_path: Path) -> None:
    path = plots.plot_training_curves({"loss": [0.7], "accuracy": [0.6]}, tmp_path / "t.png")
    assert_readable_png(path)


def test_training_curves_reject_empty_history(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loss"):
        plots.plot_training_curves({}, tmp_path / "t.png")


def test_reliability_and_samples_when_every_prediction_is_right(tmp_path: Path) -> None:
    y_true = np.array([0, 1, 2, 0])
    probabilities = np.eye(3)[y_true] * 0.9 + 0.1 / 3
    assert_readable_png(plots.plot_reliability(y_true, probabilities, tmp_path / "r.png"))
    path = plots.plot_sample_predictions(
        ["a", "b", "c", "d"], y_true, probabilities, LABELS, tmp_path / "s.png"
    )
    assert_readable_png(path, min_height=150)


def test_plotting_leaves_global_matplotlib_settings_alone(tmp_path: Path) -> None:
    before = dict(matplotlib.rcParams)
    make_run_dir(tmp_path)
    plots.write_plots(tmp_path / "run")
    assert matplotlib.get_backend().lower() == "agg"
    changed = {key for key, value in matplotlib.rcParams.items() if before.get(key) != value}
    assert not changed
