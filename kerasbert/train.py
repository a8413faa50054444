"""The training job: `TrainConfig` in, a complete run directory out.

`run(config)` is the whole job users start with `python scripts/train.py` or `kerasbert train`:
load and split the data, fine-tune with Keras `fit` and callbacks inside the strategy's scope,
evaluate on the test split against a TF-IDF baseline, write plots and `report.md`, export to ONNX
and check the exported predictor. `fit_run` stops after the fine-tuned model is saved.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert import data as data_module
from kerasbert.config import TrainConfig
from kerasbert.errors import InputError
from kerasbert.evaluate import evaluate_run
from kerasbert.files import (
    check_replaceable,
    fetch_remote,
    is_remote,
    local_mirror,
    sync_to_remote,
    write_json,
)

logger = logging.getLogger(__name__)

# Settings that may differ when a killed run is restarted into the same directory.
RESUMABLE_DIFFERENCES = {"output_dir", "export_dir", "overwrite", "plots", "export"}


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


class PhaseTimer:
    """Wall time per phase of the job: `lap(name)` books the time since the previous lap."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self._last
        self._last = now

    @property
    def total(self) -> float:
        """Seconds from the timer's creation to the last lap: every phase, nothing between."""
        return sum(self.seconds.values())


def run(config: TrainConfig, strategy=None) -> RunResult:
    """Train, evaluate, report and export: the default job."""
    timer = PhaseTimer()
    run_dir = fit_run(config, strategy, timer)
    metrics = evaluate_run(run_dir, plots=config.plots)
    if is_remote(config.output_dir):
        sync_to_remote(run_dir, config.output_dir)
    timer.lap("evaluate")
    export_dir, samples = None, []
    if config.export:
        export_dir, samples = export_and_check(run_dir, config)
        timer.lap("export")
    write_json(run_dir / "timings.json", {"total": timer.total, **timer.seconds})
    if is_remote(config.output_dir):
        sync_to_remote(run_dir, config.output_dir)
    return RunResult(
        run_dir, metrics, timer.total, export_dir, samples, config.output_dir, timer.seconds
    )


def fit_run(config: TrainConfig, strategy=None, timer: PhaseTimer | None = None) -> Path:
    """Fine-tune and save the model; returns the run directory.

    Every input is checked before the run directory is created, so a failed start leaves nothing
    behind. A directory holding an unfinished run with the same settings is resumed from its last
    completed epoch (`BackupAndRestore`). `timer`, if given, gets a lap per phase.
    """
    timer = timer or PhaseTimer()
    from kerasbert import checkpoint, pipeline
    from kerasbert.strategy import apply_precision, create_strategy, resolve_precision

    # First: a missing TPU fails in seconds, before any data is read, and connecting to a TPU
    # resets TensorFlow's context, which must happen before other TensorFlow work.
    strategy = strategy or create_strategy(config.strategy, config.tpu)
    splits = data_module.load_splits(
        config.data,
        validation_data=config.validation_data,
        test_data=config.test_data,
        text_column=config.text_column,
        label_column=config.label_column,
        validation_fraction=config.validation_fraction,
        test_fraction=config.test_fraction,
        max_train_samples=config.max_train_samples,
        max_eval_samples=config.max_eval_samples,
        seed=config.seed,
    )
    model_path = checkpoint.resolve_checkpoint(config.model)
    max_positions = checkpoint.max_positions(model_path)
    if config.max_length > max_positions:
        raise InputError(
            f"--max-length {config.max_length} exceeds the {max_positions} positions of "
            f"--model {config.model}; use --max-length {max_positions} or less."
        )
    tokenizer = checkpoint.load_tokenizer(model_path)
    remote = config.output_dir if is_remote(config.output_dir) else None
    run_dir = check_run_dir(config, prepare_remote_mirror(config) if remote else None)

    from kerasbert.callbacks import completed_epochs, make_callbacks
    from kerasbert.model import build_classifier, compile_classifier, fit_head, keras

    keras.utils.set_random_seed(config.seed)
    precision = resolve_precision(config.precision, strategy)
    apply_precision(precision)
    try:
        replicas = strategy.num_replicas_in_sync
        global_batch = config.batch_size * replicas
        # Fixed shapes with dropped remainders are what TPUs compile; CPU/GPU skip padding instead.
        padding = "fixed" if type(strategy).__name__.startswith("TPU") else config.padding
        drop_remainder = padding == "fixed"

        encoded = {
            name: pipeline.encode(tokenizer, getattr(splits, name).texts, config.max_length)
            for name in ("train", "validation", "test")
        }
        label_ids = {name: getattr(splits, name).label_ids(splits.labels) for name in encoded}
        train_batches = pipeline.plan_batches(
            encoded["train"].lengths, global_batch, padding, np.random.default_rng(config.seed)
        )
        summary = splits.summary()
        summary["token_lengths"] = {
            name: pipeline.token_length_stats(
                tokenizer, getattr(splits, name).texts, config.max_length
            )
            for name in ("train", "test")
        }
        summary["padding"] = {
            "mode": padding,
            "train_padding_efficiency": pipeline.padding_efficiency(
                encoded["train"].lengths,
                train_batches,
                config.max_length if padding == "fixed" else None,
            ),
        }
        summary["strategy"] = {
            "name": type(strategy).__name__,
            "replicas": replicas,
            "global_batch_size": global_batch,
            "precision": precision,
        }
        summary["checkpoint"] = checkpoint.checkpoint_info(model_path)

        # A resumed run continues with the data order of its next epoch (BackupAndRestore brings
        # back the weights, the optimizer and the epoch).
        completed = completed_epochs(run_dir / "backup")
        steps_per_epoch = pipeline.steps_per_epoch(
            len(encoded["train"]), global_batch, drop_remainder
        )
        train_data = pipeline.make_dataset(
            encoded["train"],
            label_ids["train"],
            global_batch,
            padding=padding,
            shuffle=True,
            seed=config.seed,
            drop_remainder=drop_remainder,
            epochs=config.epochs,
            first_epoch=completed,
        )
        validation_data = pipeline.make_dataset(
            encoded["validation"], label_ids["validation"], global_batch, padding=padding
        )
        total_steps = steps_per_epoch * config.epochs
        with strategy.scope():
            model = build_classifier(model_path, splits.labels, config.freeze_embeddings)
            compile_classifier(
                model,
                learning_rate=config.learning_rate,
                total_steps=total_steps,
                warmup_steps=int(config.warmup_ratio * total_steps),
                weight_decay=config.weight_decay,
                jit_compile=config.jit_compile,
            )

        timer.lap("prepare")
        if config.fit_head and not completed:  # a resumed run restores the trained head
            accuracy = fit_head(
                model,
                pipeline.pooled_features(model, encoded["train"]),
                label_ids["train"],
                config.seed,
            )
            logger.info("Head fitted on pretrained features: training accuracy %.3f.", accuracy)
            timer.lap("fit_head")

        # Only now, with the weights loaded, is every input known to work: a failed start above
        # leaves no directory behind.
        run_dir = prepare_run_dir(config, run_dir)
        write_json(run_dir / "data_summary.json", summary)
        write_json(run_dir / "labels.json", splits.labels)
        for name in encoded:
            data_module.write_jsonl(getattr(splits, name), run_dir / "data" / f"{name}.jsonl")

        logger.info(
            "Training %s on %d examples (%d steps/epoch, global batch %d, %s padding at %.0f%% "
            "efficiency).",
            config.model,
            len(encoded["train"]),
            steps_per_epoch,
            global_batch,
            padding,
            100 * summary["padding"]["train_padding_efficiency"],
        )
        model.fit(
            train_data,
            validation_data=validation_data,
            epochs=config.epochs,
            steps_per_epoch=steps_per_epoch,
            callbacks=make_callbacks(run_dir, config.early_stopping_patience, remote, completed),
            verbose=1 if sys.stdout.isatty() else 2,
        )
        timer.lap("train")
    finally:
        # Evaluation and the ONNX export build models afresh; they must build them in float32,
        # and run them with float32 matmuls (also when training failed: the settings are global).
        apply_precision("fp32")
    best = run_dir / "checkpoints" / "best.weights.h5"
    if best.exists():
        # Into a fresh model outside the strategy: tf-keras cannot load a .weights.h5 file into a
        # distributed model (its metrics' sync-on-read variables reject the h5 datasets).
        model = build_classifier(model_path, splits.labels, config.freeze_embeddings)
        model.load_weights(str(best))
    model.save_pretrained(str(run_dir / "model"))
    tokenizer.save_pretrained(str(run_dir / "model"))
    shutil.rmtree(run_dir / "backup", ignore_errors=True)
    if remote:
        sync_to_remote(run_dir, remote)
    timer.lap("save")
    return run_dir


def prepare_remote_mirror(config: TrainConfig) -> Path:
    """For a remote `--output-dir`: a fresh local mirror, holding the remote run if it is an
    unfinished one to resume. A finished remote run is refused unless `--overwrite`."""
    from tensorflow.io import gfile

    remote = config.output_dir.rstrip("/")
    local = local_mirror(remote)
    shutil.rmtree(local, ignore_errors=True)
    if gfile.exists(f"{remote}/config.json") and not config.overwrite:
        if not gfile.exists(f"{remote}/backup"):
            raise InputError(
                f"Run directory {remote} already exists. Choose another --output-dir, or pass "
                "--overwrite to replace it."
            )
        logger.info("Fetching the unfinished run %s to resume it.", remote)
        fetch_remote(remote, local)
    elif (
        gfile.exists(remote) and gfile.listdir(remote) and not gfile.exists(f"{remote}/config.json")
    ):
        raise InputError(
            f"{remote} holds other files; choose an empty or new --output-dir for the run."
        )
    return local


def check_run_dir(config: TrainConfig, run_dir: Path | None = None) -> Path:
    """Refuse a run directory that cannot be used, without touching anything; return its path.

    An existing non-empty directory is refused unless it holds an unfinished run with the same
    settings (it is resumed) or `--overwrite` is given, which deletes only a kerasbert run
    directory: never the working directory, an ancestor of it, or a folder of other files. The
    export directory is checked the same way, so a clash does not surface after training.
    """
    run_dir = Path(run_dir or config.output_dir or default_run_dir(config.data))
    existing = next(path for path in (run_dir, *run_dir.parents) if path.exists())
    if not existing.is_dir():
        raise InputError(
            f"Cannot create the run directory {run_dir}: {existing} is a file. Choose another "
            "--output-dir."
        )
    if config.export:
        export_dir = default_export_dir(config, run_dir)
        if export_dir.exists() and not config.overwrite:
            raise InputError(
                f"Export directory {export_dir} already exists. Choose another --export-dir, or "
                "pass --overwrite to replace it."
            )
        if export_dir.is_dir() and any(export_dir.iterdir()):
            check_replaceable(export_dir, "kerasbert.json", "export", "--export-dir")
    if not (run_dir.exists() and any(run_dir.iterdir())):
        return run_dir
    if config.overwrite:
        check_replaceable(run_dir, "config.json", "run", "--output-dir")
        return run_dir
    if (run_dir / "backup").exists() and (run_dir / "config.json").exists():
        try:
            previous = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            previous = {}
        differences = sorted(
            key
            for key, value in config.to_dict().items()
            if key not in RESUMABLE_DIFFERENCES and previous.get(key) != value
        )
        if differences:
            raise InputError(
                f"{run_dir} holds an unfinished run with different settings ({differences}); "
                "pass the same settings to resume it, or --overwrite to start again."
            )
        return run_dir
    raise InputError(
        f"Run directory {run_dir} already exists. Choose another --output-dir, or pass "
        "--overwrite to replace it."
    )


def prepare_run_dir(config: TrainConfig, run_dir: Path | None = None) -> Path:
    """Create the run directory, resume an unfinished one, or replace one with `--overwrite`."""
    run_dir = check_run_dir(config, run_dir)
    if run_dir.exists() and any(run_dir.iterdir()):
        if not config.overwrite:
            logger.warning("Resuming the unfinished run in %s from its last epoch.", run_dir)
            return run_dir
        logger.warning("Removing existing run directory %s (--overwrite).", run_dir)
        shutil.rmtree(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise InputError(
            f"Cannot write the run directory {run_dir}: {error.strerror}. Choose a writable "
            "--output-dir."
        ) from error
    write_json(run_dir / "config.json", config.to_dict())
    return run_dir


def default_run_dir(data: str) -> Path:
    name = Path(data).stem if data not in data_module.BUILTIN_DATASETS else data
    return Path("runs") / f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def default_export_dir(config: TrainConfig, run_dir: Path) -> Path:
    """`--export-dir`, else `exported/<run name>` (a remote run's name, not its local mirror's)."""
    if config.export_dir:
        return Path(config.export_dir)
    name = (
        config.output_dir.rstrip("/").rsplit("/", 1)[-1] if is_remote(config.output_dir) else None
    )
    return Path("exported") / (name or run_dir.resolve().name)


def export_and_check(run_dir: Path, config: TrainConfig) -> tuple[Path, list[dict[str, Any]]]:
    """Export to ONNX and predict three test texts with the exported predictor."""
    from kerasbert.export import export_run
    from kerasbert.predictor import OnnxClassifier

    export_dir = export_run(
        run_dir, default_export_dir(config, run_dir), overwrite=config.overwrite
    )
    classifier = OnnxClassifier(export_dir)
    test = data_module.read_jsonl(run_dir / "data" / "test.jsonl")
    # The first test text of three different classes: a sample that shows more than one label.
    first_of_class = {label: index for index, label in reversed(list(enumerate(test.labels)))}
    picks = sorted(first_of_class.values())[:3]
    probabilities = classifier.predict_proba([test.texts[index] for index in picks])
    samples = [
        {
            "text": test.texts[index],
            "true": test.labels[index],
            "predicted": classifier.labels[int(row.argmax())],
            "probability": float(row.max()),
        }
        for index, row in zip(picks, probabilities)
    ]
    return export_dir, samples
