"""The run directory: every file a training run writes, where it lives and how it is read back.

This module is the contract between training, evaluation, plots, the report, the export and the
benchmark. No other module spells a run directory's file names: they ask a `RunDir` for the path,
or for the file's contents, typed (`read_config` gives the run's `TrainConfig`, `read_record` what
its model classifies).

    runs/<name>/
        config.json               TrainConfig.to_dict(): every setting, so the run can be repeated;
                                  under "recipe", what the run chose for the settings left to it
                                  and why, and how training ended (kerasbert.training.recipe)
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
        calibration.json          single-label only: the temperature fitted on the validation
                                  split (kerasbert.training.calibration), NLL and ECE before and
                                  after, and the minimum confidence reaching 99% accuracy there
        model/                    save_pretrained weights and tokenizer of the fine-tuned model
        checkpoints/best.weights.h5, backup/   while training: the best epoch's weights and
                                  the resume state, both removed when the run finishes
        logs/                     TensorBoard
        plots/*.png, report.md
        explanations.jsonl, .html the test texts the report explains (its surest mistakes, the
                                  surest right answers per label): integrated gradients
        evaluation-<data>/        `kerasbert evaluate RUN --data FILE`: its metrics.json and plots/
        distill.json              a distilled student only: its teacher, layers, temperature, alpha
                                  and extra texts, and the teacher-vs-student comparison
        teacher_targets.npz       a distilled student only: the teacher's logits it trains on

Making one is this module's too: `RunDir.for_settings` names the directory a job writes,
`check_usable` refuses one that cannot be used (before any work), `prepare` creates, resumes or
replaces it, and `default_export_dir` names where its export goes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.common.decision import DEFAULT_THRESHOLD, check_temperature, check_thresholds
from kerasbert.common.errors import InputError
from kerasbert.common.files import check_replaceable, read_json, subpath, write_json
from kerasbert.common.names import Task
from kerasbert.config import RECORD_KEYS, TrainConfig
from kerasbert.data.readers import BUILTIN_DATASETS
from kerasbert.data.remote import (
    fetch_remote,
    is_remote,
    local_mirror,
    remote_exists,
    remote_is_empty,
)
from kerasbert.data.splits import DataSplits, Examples
from kerasbert.inference.exportdir import ExportDir

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
# Plot files by role, in the order the report shows them.
PLOT_FILES = {
    "training_curves": "training_curves.png",
    "confusion_matrix": "confusion_matrix.png",
    "per_class_metrics": "per_class_metrics.png",
    "reliability": "reliability.png",
    # A calibrated run: the reliability of the raw softmax, before the temperature.
    "reliability_uncalibrated": "reliability_uncalibrated.png",
    "coverage": "accuracy_coverage.png",
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
# Where runs and exports go when no directory is named (relative to the working directory).
RUNS = Path("runs")
EXPORTS = Path("exported")
# Settings that may differ when a killed run is restarted into the same directory: where its
# outputs go and which ones to make, never how it trains.
RESUMABLE_DIFFERENCES = frozenset({"output_dir", "export_dir", "overwrite", "plots", "export"})
SETTING_NAMES = frozenset(field.name for field in dataclasses.fields(TrainConfig))


@dataclass(frozen=True)
class RunRecord:
    """What a run directory says about its model, read once by `RunDir.read_record`.

    Evaluation, the export and `compare` act on this record, not on the JSON files behind it.

    Args:
        settings: the run's `TrainConfig` (`RunDir.read_config`).
        labels: the label names; index i is class id i.
        task: single-label or multi-label, as the data summary says (an older run's test split
            where it does not).
        pair: whether the model classifies text pairs (the same sources).
        label_separator: what joined several labels in one label cell of the training data
            (`--label-separator`, else the one detected); None where no separator was used.
        class_weight: "balanced" when training weighed the classes against imbalance (a baseline
            compared with it should too), else None.
        split_sizes: examples per split, or None for a run that did not record them.
        duplicates_dropped: exact duplicates collapsed before splitting, or None (likewise).
        train_windows: training windows of a run with `--long-documents windows`, else None.
    """

    settings: TrainConfig
    labels: tuple[str, ...]
    task: Task
    pair: bool
    label_separator: str | None
    class_weight: str | None
    split_sizes: Mapping[str, int] | None
    duplicates_dropped: int | None
    train_windows: int | None

    @property
    def multi_label(self) -> bool:
        return self.task is Task.MULTI_LABEL

    @property
    def train_examples(self) -> int | None:
        """Examples `fit` went through per epoch: the training windows, else the training texts."""
        return self.train_windows or (self.split_sizes or {}).get("train")


@dataclass(frozen=True)
class LabelThresholds:
    """A multi-label run's decision thresholds: tuned on its validation split (`thresholds.json`),
    or `DEFAULT_THRESHOLD` for every label of a run without them.

    Args:
        by_label: label name to threshold, as `kerasbert.json` records them.
        values: the same in label order, checked (`kerasbert.common.decision.check_thresholds`).
        tuned: whether they come from `thresholds.json`.
    """

    by_label: Mapping[str, float]
    values: np.ndarray
    tuned: bool


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

    @classmethod
    def for_settings(cls, settings: TrainConfig) -> RunDir:
        """The directory a job with `settings` writes: `--output-dir` (for a remote one, its
        local mirror, which `prepare_remote_mirror` fills), else `runs/<data>-<timestamp>`."""
        if is_remote(settings.output_dir):
            return cls(local_mirror(settings.output_dir.rstrip("/")))
        if settings.output_dir:
            return cls(settings.output_dir)
        data = settings.data
        name = data if data in BUILTIN_DATASETS else Path(data).stem
        return cls(RUNS / f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}")

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def name(self) -> str:
        """The run's name: its directory's name (exports and reports call it by this)."""
        return self.path.resolve().name

    # Paths.
    config = subpath(MARKER)
    labels = subpath("labels.json")
    data_summary = subpath("data_summary.json")
    history = subpath("history.json")
    metrics = subpath("metrics.json")
    timings = subpath("timings.json")
    test_probabilities = subpath("test_probabilities.json")
    thresholds = subpath("thresholds.json")
    calibration = subpath("calibration.json")
    model = subpath("model")
    best_weights = subpath("checkpoints", "best.weights.h5")
    backup = subpath("backup")
    logs = subpath("logs")
    plots = subpath("plots")
    report = subpath("report.md")
    distillation = subpath("distill.json")
    teacher_targets = subpath("teacher_targets.npz")
    explanations = subpath("explanations.jsonl")
    explanations_page = subpath("explanations.html")

    def split_path(self, split: str) -> Path:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")
        return self.path / "data" / f"{split}.jsonl"

    def plot(self, role: str) -> Path:
        return self.plots / {**PLOT_FILES, **MULTILABEL_PLOT_FILES}[role]

    def evaluation(self, data: str | Path) -> RunDir:
        """Where `kerasbert evaluate RUN --data FILE` writes its metrics and plots."""
        return RunDir(self.path / f"evaluation-{Path(data).stem}")

    # Checks.
    def exists(self) -> bool:
        return self.path.is_dir()

    def is_resumable(self) -> bool:
        """An unfinished run: settings written, backup of a completed epoch not yet removed."""
        return self.backup.exists() and self.config.exists()

    def drop_training_state(self) -> None:
        """Remove what only an unfinished run needs, once the kept weights are in `model/`: the
        resume backup and the best-epoch checkpoint (the weights and Adam's two moments, three
        times the size of `model/`; a sweep leaves one per trial). Both go at the same point, so
        a run killed before it still resumes with its best checkpoint."""
        shutil.rmtree(self.backup, ignore_errors=True)
        shutil.rmtree(self.best_weights.parent, ignore_errors=True)

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

    def check_usable(self, settings: TrainConfig) -> None:
        """Refuse a run directory a job with `settings` cannot use, without touching anything.

        An existing non-empty directory is refused unless it holds an unfinished run with the
        same settings (it is resumed) or `--overwrite` is given, which deletes only a kerasbert
        run directory: never the working directory, an ancestor of it, or a folder of other
        files. The export directory is checked the same way, so a clash does not surface after
        training.
        """
        existing = next(path for path in (self.path, *self.path.parents) if path.exists())
        if not existing.is_dir():
            raise InputError(
                f"Cannot create the run directory {self.path}: {existing} is a file. Choose "
                "another --output-dir."
            )
        if settings.export:
            export_dir = job_export_dir(self, settings)
            if export_dir.exists() and not settings.overwrite:
                raise InputError(
                    f"Export directory {export_dir} already exists. Choose another --export-dir, "
                    "or pass --overwrite to replace it."
                )
            if export_dir.is_dir() and any(export_dir.iterdir()):
                check_replaceable(export_dir, ExportDir.MARKER, "export", "--export-dir")
        if not self._holds_files():
            return
        if (self.path / ExportDir.MARKER).exists():
            # An export folder holds a Hugging Face config.json too, so the run marker alone
            # would let --overwrite delete it.
            raise InputError(
                f"{self.path} is an export directory (it holds {ExportDir.MARKER}), not a run "
                "directory; choose another --output-dir."
            )
        if settings.overwrite:
            check_replaceable(self.path, self.MARKER, "run", "--output-dir")
            return
        if self.is_resumable():
            differences = self._differences(settings)
            if differences:
                raise InputError(
                    f"{self.path} holds an unfinished run with different settings "
                    f"({differences}); pass the same settings to resume it, or --overwrite to "
                    "start again."
                )
            return
        raise InputError(
            f"Run directory {self.path} already exists. Choose another --output-dir, or pass "
            "--overwrite to replace it."
        )

    def _differences(self, settings: TrainConfig) -> list[str]:
        """The settings an unfinished run was started with that `settings` changes (a setting
        this version does not know counts as changed: resuming would drop it)."""
        try:
            previous, unknown = self._read_settings()
        except InputError as error:
            raise InputError(
                f"{self.path} holds an unfinished run whose settings cannot be read ({error}); "
                "pass --overwrite to start again."
            ) from error
        changed = [
            name
            for name in SETTING_NAMES - RESUMABLE_DIFFERENCES
            if getattr(previous, name) != getattr(settings, name)
        ]
        return sorted([*changed, *unknown])

    def prepare(self, settings: TrainConfig) -> None:
        """Create the run directory and write its `config.json`; resume an unfinished run (its
        settings are kept), or replace one with `--overwrite`. Checks first (`check_usable`)."""
        self.check_usable(settings)
        if self._holds_files():
            if not settings.overwrite:
                logger.warning("Resuming the unfinished run in %s from its last epoch.", self.path)
                return
            logger.warning("Removing existing run directory %s (--overwrite).", self.path)
            shutil.rmtree(self.path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as error:
            raise InputError(
                f"Cannot write the run directory {self.path}: {error.strerror}. Choose a "
                "writable --output-dir."
            ) from error
        self.write_config(settings)

    def _holds_files(self) -> bool:
        return self.path.exists() and any(self.path.iterdir())

    # Reading and writing.
    def write_config(self, settings: TrainConfig) -> None:
        write_json(self.config, settings.to_dict())

    def read_config(self) -> TrainConfig:
        """The run's settings, typed.

        A run written before a setting existed gets TrainConfig's default for it (what that
        version did). A key this version does not know (a setting since removed, or a newer
        version's) is logged and left out rather than refused: `config.json` is a record
        kerasbert wrote, not a file a user types, so it cannot hold a typo, and refusing it would
        make every older run unreadable once a setting is retired. A directory without
        `config.json` (a model evaluated on its own) gets every default.
        """
        settings, unknown = self._read_settings()
        if unknown:
            logger.warning(
                "%s has setting(s) this version of kerasbert does not know, ignored: %s.",
                self.config,
                ", ".join(unknown),
            )
        return settings

    def _read_settings(self) -> tuple[TrainConfig, list[str]]:
        """The run's settings and the names of the stored settings this version does not know."""
        if not self.config.is_file():
            return TrainConfig(), []
        try:
            values = json.loads(self.config.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"{self.config} is not valid JSON ({error}).") from error
        if not isinstance(values, dict):
            raise InputError(f"{self.config} must hold an object of settings; re-run training.")
        unknown = sorted(set(values) - SETTING_NAMES - RECORD_KEYS)
        try:
            settings = TrainConfig(**{name: values[name] for name in SETTING_NAMES & set(values)})
        except (InputError, TypeError) as error:
            raise InputError(
                f"{self.config} holds a setting this version cannot use: {error}"
            ) from error
        return settings, unknown

    def read_record(self) -> RunRecord:
        """The run's settings, labels and task, each read once and typed (see `RunRecord`)."""
        summary = self.read_data_summary()
        test = None
        if not {"task", "pair"} <= set(summary) and self.split_path("test").is_file():
            test = self.read_split(
                "test"
            )  # an older run: its test split says what the summary lacks
        if "task" in summary:
            try:
                task = Task(summary["task"])
            except ValueError as error:
                raise InputError(
                    f"{self.data_summary}: unknown task {summary['task']!r}."
                ) from error
        else:
            task = Task.MULTI_LABEL if test is not None and test.multi_label else Task.SINGLE_LABEL
        if "pair" in summary:
            pair = bool(summary["pair"])
        else:
            pair = test is not None and test.text_pairs is not None
        settings = self.read_config()
        columns = summary.get("columns") or {}
        imbalance = summary.get("imbalance") or {}
        return RunRecord(
            settings=settings,
            labels=tuple(self.read_labels()),
            task=task,
            pair=pair,
            label_separator=settings.label_separator or columns.get("label_separator"),
            class_weight="balanced" if imbalance.get("resolved") == "balanced" else None,
            split_sizes=summary.get("split_sizes"),
            duplicates_dropped=summary.get("duplicates_dropped"),
            train_windows=(summary.get("windows") or {}).get("train_windows"),
        )

    def write_labels(self, labels: Sequence[str]) -> None:
        write_json(self.labels, list(labels))

    def read_labels(self) -> list[str]:
        labels = read_json(self.labels)
        if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
            raise InputError(f"{self.labels} must hold a JSON list of label names.")
        return labels

    def write_splits(self, splits: DataSplits) -> None:
        """The labels and the three splits: exactly the data the run trains and is tested on."""
        self.write_labels(splits.labels)
        for name in SPLITS:
            self.write_split(name, getattr(splits, name))

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

    def write_recipe(self, record: dict[str, Any]) -> None:
        """Put the recipe's record (`kerasbert.training.recipe`) into `config.json`, beside the
        settings it resolved."""
        values = read_json(self.config) if self.config.is_file() else {}
        write_json(self.config, {**values, "recipe": record})

    def read_recipe(self) -> dict[str, Any] | None:
        """What the run's recipe chose and how training ended; None for a run from before the
        recipe. Runs written before the record moved to `config.json` keep it in
        `data_summary.json`."""
        values = read_json(self.config) if self.config.is_file() else {}
        return values.get("recipe") or self.read_data_summary().get("recipe") or None

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
        tuned = _read_optional_object(self.thresholds)
        if tuned is not None and not isinstance(tuned.get("thresholds"), dict):
            raise InputError(
                f"{self.thresholds} must hold an object with 'thresholds' (label: value); "
                "re-run `kerasbert train`."
            )
        return tuned

    def write_calibration(self, record: dict[str, Any]) -> None:
        """Store `kerasbert.training.calibration.calibrate` output (temperature, figures)."""
        write_json(self.calibration, record)

    def read_calibration(self) -> dict[str, Any] | None:
        """The calibration record, or None for a run without (multi-label, or older)."""
        record = _read_optional_object(self.calibration)
        if record is None:
            return None
        check_temperature(record.get("temperature"), f"{self.calibration} 'temperature'")
        return record

    def read_temperature(self) -> float:
        """The run's fitted temperature; 1 (the raw softmax) for a run without one."""
        record = self.read_calibration()
        return 1.0 if record is None else float(record["temperature"])

    def read_label_thresholds(self, labels: Sequence[str]) -> LabelThresholds:
        """A multi-label run's thresholds in `labels` order (`DEFAULT_THRESHOLD` each for a run
        without `thresholds.json`)."""
        tuned = self.read_thresholds()
        by_label = tuned["thresholds"] if tuned else dict.fromkeys(labels, DEFAULT_THRESHOLD)
        values = check_thresholds(by_label, labels, str(self.thresholds))
        return LabelThresholds(by_label, values, tuned is not None)

    def write_test_probabilities(self, probabilities: np.ndarray) -> None:
        write_json(
            self.test_probabilities, np.asarray(probabilities).round(PROBABILITY_DECIMALS).tolist()
        )

    def read_test_probabilities(self) -> np.ndarray | None:
        """The stored test probabilities (float64), or None when the run has none yet."""
        if not self.test_probabilities.is_file():
            return None
        return np.asarray(read_json(self.test_probabilities), dtype=np.float64)


def prepare_remote_mirror(settings: TrainConfig) -> Path:
    """For a remote `--output-dir`: a fresh local mirror (`RunDir.for_settings`), holding the
    remote run if it is an unfinished one to resume. A finished remote run is refused unless
    `--overwrite`; so is a remote folder of other files."""
    remote = settings.output_dir.rstrip("/")
    local = RunDir.for_settings(settings)
    shutil.rmtree(local.path, ignore_errors=True)
    has_marker = remote_exists(f"{remote}/{RunDir.MARKER}")
    if has_marker and not settings.overwrite:
        if not remote_exists(f"{remote}/{local.backup.name}"):
            raise InputError(
                f"Run directory {remote} already exists. Choose another --output-dir, or pass "
                "--overwrite to replace it."
            )
        logger.info("Fetching the unfinished run %s to resume it.", remote)
        fetch_remote(remote, local.path)
    elif not has_marker and not remote_is_empty(remote):
        raise InputError(
            f"{remote} holds other files; choose an empty or new --output-dir for the run."
        )
    return local.path


def default_export_dir(run: RunDir, settings: TrainConfig | None = None) -> Path:
    """Where a run is exported when no directory is named: `exported/<run name>`, the name of a
    remote run's URL rather than its local mirror's. `settings` are the run's
    (`run.read_config()` if not given)."""
    settings = settings if settings is not None else run.read_config()
    if is_remote(settings.output_dir):
        return EXPORTS / settings.output_dir.rstrip("/").rsplit("/", 1)[-1]
    return EXPORTS / run.name


def job_export_dir(run: RunDir, settings: TrainConfig) -> Path:
    """Where the default job exports the run: `--export-dir`, else `default_export_dir`."""
    return Path(settings.export_dir) if settings.export_dir else default_export_dir(run, settings)


def _read_optional_object(path: Path) -> dict[str, Any] | None:
    """A JSON object a run may lack (written after training, or by a later version): None when
    the file is absent, `InputError` naming it when it holds something else."""
    if not path.is_file():
        return None
    record = read_json(path)
    if not isinstance(record, dict):
        raise InputError(f"{path} must hold a JSON object; re-run `kerasbert train`.")
    return record
