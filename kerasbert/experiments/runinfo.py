"""`RunInfo`: what `compare` needs to know about one run directory, read through `RunDir`.

Settings, task, the test split's fingerprint, the best validation epoch, test metrics when the run
has been evaluated, cost (training seconds, examples per second, model size), the int8 delta
from the run's export, when there is one, and the model's layers and, for a distilled student,
its teacher. Every field is optional but the settings: a sweep's
trials are never evaluated on the test split, and an older run may lack newer files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerasbert.common.errors import InputError
from kerasbert.config import TrainConfig
from kerasbert.inference.exportdir import ExportDir, ExportInfo
from kerasbert.training.recipe import kept_index, kept_metric
from kerasbert.training.rundir import RunDir, default_export_dir

SINGLE_LABEL, PAIRS, MULTI_LABEL = "single-label", "text pairs", "multi-label"
# The number a task is judged by, first key present in metrics.json wins. Pairs are balanced
# match/mismatch decisions, where macro-F1 weighs both answers alike; multi-label runs are judged
# over all (text, label) decisions, which micro-F1 counts, falling back to what the run wrote.
HEADLINE_METRICS = {
    SINGLE_LABEL: ("accuracy",),
    PAIRS: ("macro_f1", "accuracy"),
    MULTI_LABEL: ("micro_f1", "samples_f1", "macro_f1", "subset_accuracy", "accuracy"),
}
# Files holding a model's weights inside `RunDir.model` (save_pretrained's names).
WEIGHT_SUFFIXES = (".h5", ".safetensors", ".bin")
# Digits of the test split's fingerprint shown to users: enough to tell splits apart at a glance.
FINGERPRINT_DIGITS = 12


@dataclass
class RunInfo:
    """One run as `compare` sees it; `None` where the run has no such record."""

    path: Path
    name: str
    settings: TrainConfig
    data: str
    task: str
    labels: list[str]
    test_fingerprint: str
    test_size: int
    history: dict[str, list] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None
    train_examples: int | None = None
    export: ExportInfo | None = None
    model_bytes: int | None = None
    # Encoder layers of the trained model, and for a distilled student its teacher run's name.
    layers: int | None = None
    distilled_from: str | None = None
    # What the run picked its kept epoch by (`kerasbert.training.recipe.kept_metric`).
    kept_metric: str = "val_loss"

    @property
    def best_epoch(self) -> int | None:
        """Index of the epoch the run kept (best `kept_metric`), as training chose it."""
        return kept_index(self.history, self.kept_metric)

    def validation(self, key: str) -> float | None:
        """`history[key]` at the kept epoch (e.g. `val_loss`, `val_accuracy`)."""
        best = self.best_epoch
        values = self.history.get(key) or []
        return values[best] if best is not None and best < len(values) else None

    @property
    def train_seconds(self) -> float | None:
        seconds = self.history.get("epoch_seconds")
        return float(sum(seconds)) if seconds else None

    @property
    def examples_per_second(self) -> float | None:
        """Training examples through `fit` per second, its validation passes included."""
        seconds, epochs = self.train_seconds, len(self.history.get("epoch", []))
        if not seconds or not self.train_examples:
            return None
        return self.train_examples * epochs / seconds

    def setting(self, name: str) -> Any:
        """The run's value of the `TrainConfig` field `name`."""
        return getattr(self.settings, name)

    def metric(self, key: str) -> float | None:
        return None if self.metrics is None else self.metrics.get(key)

    @property
    def headline(self) -> tuple[str, float] | None:
        """(name, value) of the task's headline metric on the test split, if evaluated."""
        for key in HEADLINE_METRICS[self.task]:
            value = self.metric(key)
            if isinstance(value, (int, float)):
                return key, float(value)
        return None

    @property
    def int8_delta(self) -> float | None:
        """int8 minus fp32 test accuracy, in points, from the export's `kerasbert.json`."""
        drop = None if self.export is None else self.export.int8_accuracy_drop_points
        return None if drop is None else -drop


def read_run_info(path: str | Path) -> RunInfo:
    """Read one run directory for `compare`.

    Raises:
        InputError: `path` is not a kerasbert run directory (no `config.json`), or the run never
            got as far as writing its splits (it was stopped before its first epoch).
    """
    run = RunDir(path)
    if not run.config.is_file():
        raise InputError(
            f"{run.path} is not a kerasbert run directory (no {run.config.name}); pass "
            "directories written by `kerasbert train` or `kerasbert sweep`."
        )
    if not run.labels.is_file() or not run.split_path("test").is_file():
        raise InputError(
            f"{run.path} is an unfinished run (no labels or test split yet); finish it with the "
            "same command, or leave it out."
        )
    record = run.read_record()
    test = run.read_split("test")
    return RunInfo(
        path=run.path,
        name=run.name,
        settings=record.settings,
        data=_data_name(record.settings),
        task=MULTI_LABEL if record.multi_label else PAIRS if record.pair else SINGLE_LABEL,
        labels=list(record.labels),
        test_fingerprint=fingerprint(test),
        test_size=len(test),
        history=run.read_history() or {},
        metrics=run.read_metrics() if run.metrics.is_file() else None,
        train_examples=record.train_examples,
        export=_export_metadata(run, record.settings),
        model_bytes=_model_bytes(run),
        layers=_layers(run),
        distilled_from=_teacher(run),
        kept_metric=kept_metric(run.read_recipe()),
    )


def fingerprint(examples) -> str:
    """A hash of a split's texts, second texts and labels, independent of their order."""
    pairs = examples.text_pairs or [None] * len(examples)
    rows = sorted(
        json.dumps([text, pair, label], ensure_ascii=False)
        for text, pair, label in zip(examples.texts, pairs, examples.labels)
    )
    digest = hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()
    return digest[:FINGERPRINT_DIGITS]


def _data_name(settings: TrainConfig) -> str:
    """The data set by name: a built-in's name or a file's name (with its given splits)."""
    names = [settings.data, settings.validation_data, settings.test_data]
    shown = [Path(str(name)).name for name in names if name]
    return " + ".join(shown) or "?"


def _export_metadata(run: RunDir, settings: TrainConfig) -> ExportInfo | None:
    """The run's export's `kerasbert.json`: `export_dir` from its settings, else the default
    export directory (`kerasbert.training.rundir.default_export_dir`)."""
    candidates = [Path(settings.export_dir)] if settings.export_dir else []
    candidates.append(default_export_dir(run, settings))
    for directory in candidates:
        export = ExportDir(directory)
        if export.metadata.is_file():
            try:
                info = export.read_info()
            except InputError:
                continue
            # exported/<name> may belong to another run of the same name: trust it only if it
            # says it came from this one.
            if info.source_run in (None, run.name):
                return info
    return None


def _model_bytes(run: RunDir) -> int | None:
    if not run.model.is_dir():
        return None
    sizes = [path.stat().st_size for path in run.model.iterdir() if path.suffix in WEIGHT_SUFFIXES]
    return sum(sizes) if sizes else None


def _layers(run: RunDir) -> int | None:
    config = run.model / "config.json"
    if not config.is_file():
        return None
    return json.loads(config.read_text(encoding="utf-8")).get("num_hidden_layers")


def _teacher(run: RunDir) -> str | None:
    """The teacher run's name of a distilled student (`distill.json`), else None."""
    if not run.distillation.is_file():
        return None
    record = json.loads(run.distillation.read_text(encoding="utf-8"))
    teacher = (record.get("distillation") or {}).get("teacher") or {}
    return Path(teacher["run"]).name if teacher.get("run") else None
