"""The default job: fine-tune, evaluate, report, export and check the exported predictor.

`run(config)` is what users start with `python scripts/train.py` or `kerasbert train`; each step is
a function of its own module (`training.fit.fit_run`, `evaluation.evaluate.evaluate_run`,
`export.export.export_run`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerasbert.config import TrainConfig
from kerasbert.data.remote import is_remote, sync_to_remote
from kerasbert.data.splits import DataSplits
from kerasbert.evaluation.evaluate import evaluate_run
from kerasbert.evaluation.multilabel_metrics import joined
from kerasbert.export.e2e import check_available
from kerasbert.export.export import export_run
from kerasbert.inference.predictor import OnnxClassifier
from kerasbert.training.fit import PhaseTimer, fit_run
from kerasbert.training.rundir import RunDir, job_export_dir


@dataclass
class RunResult:
    """What a finished job produced."""

    run_dir: Path
    metrics: dict[str, Any]
    seconds: float
    export_dir: Path | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    output_dir: str | None = None
    # Seconds per phase, in order: prepare, fit_head, train, save, evaluate, export.
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def location(self) -> str:
        """Where the run lives for the user: the remote URL, else the local directory."""
        return self.output_dir if is_remote(self.output_dir) else str(self.run_dir)


def run(config: TrainConfig, strategy=None, splits: DataSplits | None = None) -> RunResult:
    """Train, evaluate, report and export: the default job. `splits`: as for `fit_run`.

    Example:
    >>> result = run(TrainConfig(data="bbc-headlines"))  # doctest: +SKIP
    >>> result.metrics["accuracy"]  # doctest: +SKIP
    0.9141
    """
    if config.export and config.export_with_tokenizer:
        # Before training, not after it: the extra missing or a windows run would stop the export.
        check_available(None, config.long_documents)
    timer = PhaseTimer()
    run_dir = fit_run(config, strategy, timer, splits=splits)
    metrics = evaluate_run(run_dir, plots=config.plots)
    if is_remote(config.output_dir):
        sync_to_remote(run_dir, config.output_dir)
    timer.lap("evaluate")
    export_dir, samples = None, []
    if config.export:
        export_dir, samples = export_and_check(run_dir, config)
        timer.lap("export")
    RunDir(run_dir).write_timings({"total": timer.total, **timer.seconds})
    if is_remote(config.output_dir):
        sync_to_remote(run_dir, config.output_dir)
    return RunResult(
        run_dir, metrics, timer.total, export_dir, samples, config.output_dir, timer.seconds
    )


def export_and_check(run_dir: Path, config: TrainConfig) -> tuple[Path, list[dict[str, Any]]]:
    """Export to ONNX and predict three test texts (or text pairs) with the exported predictor.

    Each sample holds `text` (and `text_pair` for pairs), `true`, `predicted` and `probability`.
    """
    export_dir = export_run(
        run_dir,
        job_export_dir(RunDir(run_dir), config),
        overwrite=config.overwrite,
        with_tokenizer=config.export_with_tokenizer,
    )
    classifier = OnnxClassifier(export_dir)
    test = RunDir(run_dir).read_split("test")
    # The first test text of three different classes: a sample that shows more than one label.
    first_of_class = {label: index for index, label in reversed(list(enumerate(test.labels)))}
    picks = sorted(first_of_class.values())[:3]
    pairs = test.text_pairs
    inputs = [
        test.texts[index] if pairs is None else (test.texts[index], pairs[index]) for index in picks
    ]
    scores = classifier.classify(inputs)
    probabilities = scores.probabilities
    # Multi-label: the label sets (joined for people) and the surest label's probability.
    predicted = (
        [joined(labels) for labels in scores.labels] if classifier.multi_label else scores.labels
    )
    samples = [
        {
            "text": test.texts[index],
            **({"text_pair": pairs[index]} if pairs is not None else {}),
            "true": joined(test.labels[index]) if test.multi_label else test.labels[index],
            "predicted": label,
            "probability": float(row.max()),
        }
        for index, row, label in zip(picks, probabilities, predicted)
    ]
    return export_dir, samples
