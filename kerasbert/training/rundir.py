"""The run directory: every file a training run writes, where it lives and how it is read back.

This module is the contract between training, evaluation, plots, the report, the export and the
benchmark. No other module spells a run directory's file names: they ask a `RunDir` for the path,
or for the file's contents.

    runs/<name>/
        config.json               TrainConfig.to_dict(): every setting, so the run can be repeated
        labels.json               label names; index i is class id i
        data_summary.json         split sizes, class counts, duplicates, token lengths, strategy
        data/{train,validation,test}.jsonl   the exact splits, one example per line: {"text",
                                  "label"}, with "text_pair" for text pairs, and "labels" (a list)
                                  instead of "label" for multi-label data
        history.json              per-epoch Keras history, epoch times, learning rate
        metrics.json              test metrics (kerasbert.evaluation.metrics) with the baseline and lift
        timings.json              seconds of the whole job and of each phase
        test_probabilities.json   per-class probabilities of the test split, in data/test.jsonl order
                                  (multi-label: one sigmoid probability per label)
        thresholds.json           multi-label only: per-label thresholds tuned on the validation
                                  split, with the F1-vs-threshold curves behind them
        model/                    save_pretrained weights and tokenizer of the fine-tuned model
        checkpoints/best.weights.h5, backup/ (resume), logs/ (TensorBoard)
        plots/*.png, report.md
        evaluation-<data>/        `kerasbert evaluate RUN --data FILE`: its metrics.json and plots/
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.common.errors import InputError
from kerasbert.common.files import read_json, write_json
from kerasbert.data.splits import Examples

SPLITS = ("train", "validation", "test")
# Plot files by role, in the order the report shows them.
PLOT_FILES = {
    "training_curves": "training_curves.png",
    "confusion_matrix": "confusion_matrix.png",
    "per_class_metrics": "per_class_metrics.png",
    "reliability": "reliability.png",
    "sample_predictions": "sample_predictions.png",
}
# A multi-label run's plots (kerasbert.evaluation.plots_multilabel), beside its training curves, instead of
# the confusion matrix, per-class bars, calibration and sample predictions.
MULTILABEL_PLOT_FILES = {
    "per_label_f1": "per_label_f1.png",
    "threshold_curves": "threshold_curves.png",
    "label_cooccurrence": "label_cooccurrence.png",
}
# Test probabilities are stored to 6 decimals: enough to compare predictors, small on disk.
PROBABILITY_DECIMALS = 6


class RunDir:
    """A run directory (see the module docstring): its paths, and its files read and written.

    Args:
        path: the directory; it need not exist yet.

    Example:
    >>> run = RunDir("runs/bbc-news-20261126-101500")
    >>> run.split_path("test").as_posix()
    'runs/bbc-news-20261126-101500/data/test.jsonl'
    """

    # The file whose presence makes a directory a kerasbert run (for --overwrite's guard).
    MARKER = "config.json"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def name(self) -> str:
        """The run's name: its directory's name (exports and reports call it by this)."""
        return self.path.resolve().name

    # Paths.
    @property
    def config(self) -> Path:
        return self.path / self.MARKER

    @property
    def labels(self) -> Path:
        return self.path / "labels.json"

    @property
    def data_summary(self) -> Path:
        return self.path / "data_summary.json"

    def split_path(self, split: str) -> Path:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")
        return self.path / "data" / f"{split}.jsonl"

    @property
    def history(self) -> Path:
        return self.path / "history.json"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.json"

    @property
    def timings(self) -> Path:
        return self.path / "timings.json"

    @property
    def test_probabilities(self) -> Path:
        return self.path / "test_probabilities.json"

    @property
    def thresholds(self) -> Path:
        return self.path / "thresholds.json"

    @property
    def model(self) -> Path:
        return self.path / "model"

    @property
    def best_weights(self) -> Path:
        return self.path / "checkpoints" / "best.weights.h5"

    @property
    def backup(self) -> Path:
        return self.path / "backup"

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    def plot(self, role: str) -> Path:
        return self.plots / {**PLOT_FILES, **MULTILABEL_PLOT_FILES}[role]

    @property
    def report(self) -> Path:
        return self.path / "report.md"

    def evaluation(self, data: str | Path) -> RunDir:
        """Where `kerasbert evaluate RUN --data FILE` writes its metrics and plots."""
        return RunDir(self.path / f"evaluation-{Path(data).stem}")

    # Checks.
    def exists(self) -> bool:
        return self.path.is_dir()

    def is_resumable(self) -> bool:
        """An unfinished run: settings written, backup of a completed epoch not yet removed."""
        return self.backup.exists() and self.config.exists()

    def require(self, *paths: Path) -> None:
        """Raise `FileNotFoundError` naming every missing file of `paths` (all of this run)."""
        if not self.exists():
            raise FileNotFoundError(
                f"Run directory {self.path} does not exist; pass one written by `kerasbert train`."
            )
        missing = [path.relative_to(self.path).as_posix() for path in paths if not path.exists()]
        if missing:
            raise FileNotFoundError(
                f"Run directory {self.path} lacks {', '.join(missing)}; was training interrupted? "
                "Re-run `kerasbert train`."
            )

    # Reading and writing.
    def write_config(self, settings: dict[str, Any]) -> None:
        write_json(self.config, settings)

    def read_config(self) -> dict[str, Any]:
        """The run's settings; {} for a directory without them (a model evaluated on its own)."""
        if not self.config.is_file():
            return {}
        try:
            return json.loads(self.config.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"{self.config} is not valid JSON ({error}).") from error

    def write_labels(self, labels: Sequence[str]) -> None:
        write_json(self.labels, list(labels))

    def read_labels(self) -> list[str]:
        labels = read_json(self.labels)
        if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
            raise InputError(f"{self.labels} must hold a JSON list of label names.")
        return labels

    def write_split(self, split: str, examples: Examples) -> None:
        """Write a split, one example per line: exactly the examples the run used.

        `{"text", "label"}`; with text pairs also `"text_pair"`; multi-label examples carry
        `"labels"` (a list of label names, possibly empty) instead of `"label"`.
        """
        path = self.split_path(split)
        path.parent.mkdir(parents=True, exist_ok=True)
        pairs = examples.text_pairs
        label_key = "labels" if examples.multi_label else "label"
        with path.open("w", encoding="utf-8") as file:
            for index, (text, label) in enumerate(zip(examples.texts, examples.labels)):
                row = {"text": text}
                if pairs is not None:
                    row["text_pair"] = pairs[index]
                row[label_key] = list(label) if examples.multi_label else label
                file.write(json.dumps(row, ensure_ascii=False) + "\n")

    def read_split(self, split: str) -> Examples:
        """A split written by `write_split`, in any of its forms (pairs, multi-label or neither)."""
        path = self.split_path(split)
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} does not exist; is this a complete kerasbert run directory?"
            )
        texts, pairs, labels = [], [], []
        with path.open(encoding="utf-8") as file:
            for number, line in enumerate(file, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    texts.append(row["text"])
                    labels.append(tuple(row["labels"]) if "labels" in row else row["label"])
                except (json.JSONDecodeError, KeyError, TypeError) as error:
                    raise InputError(
                        f"{path} line {number} is not a kerasbert example ({error!r}); the run "
                        "directory is damaged: re-run `kerasbert train`."
                    ) from error
                pairs.append(row.get("text_pair"))
        has_pair = [pair is not None for pair in pairs]
        if any(has_pair) and not all(has_pair):
            raise InputError(f'{path}: some lines have a "text_pair" and others not.')
        try:
            return Examples(texts, labels, pairs if any(has_pair) else None)
        except ValueError as error:
            raise InputError(f"{path}: {error}") from error

    def write_data_summary(self, summary: dict[str, Any]) -> None:
        write_json(self.data_summary, summary)

    def read_data_summary(self) -> dict[str, Any]:
        return read_json(self.data_summary) if self.data_summary.is_file() else {}

    def read_history(self) -> dict[str, list] | None:
        return read_json(self.history) if self.history.is_file() else None

    def write_history(self, history: dict[str, list]) -> None:
        write_json(self.history, history)

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        write_json(self.metrics, metrics)

    def read_metrics(self) -> dict[str, Any]:
        return read_json(self.metrics)

    def write_timings(self, seconds: dict[str, float]) -> None:
        write_json(self.timings, seconds)

    def write_thresholds(self, tuned: dict[str, Any]) -> None:
        """Store `kerasbert.training.thresholds.tune_thresholds` output (thresholds by label, curves)."""
        write_json(self.thresholds, tuned)

    def read_thresholds(self) -> dict[str, Any] | None:
        """The tuned thresholds record, or None for a run without (single-label, or older)."""
        if not self.thresholds.is_file():
            return None
        tuned = read_json(self.thresholds)
        if not isinstance(tuned, dict) or not isinstance(tuned.get("thresholds"), dict):
            raise InputError(
                f"{self.thresholds} must hold an object with 'thresholds' (label: value); "
                "re-run `kerasbert train`."
            )
        return tuned

    def write_test_probabilities(self, probabilities: np.ndarray) -> None:
        write_json(
            self.test_probabilities, np.asarray(probabilities).round(PROBABILITY_DECIMALS).tolist()
        )

    def read_test_probabilities(self) -> np.ndarray | None:
        """The stored test probabilities (float64), or None when the run has none yet."""
        if not self.test_probabilities.is_file():
            return None
        return np.asarray(read_json(self.test_probabilities), dtype=np.float64)
