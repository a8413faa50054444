"""Fine-tuning: `TrainConfig` in, a run directory with the fine-tuned model out.

`fit_run(config)` loads and splits the data, tokenizes it into `tf.data` batches, builds and
compiles the classifier inside the strategy's scope, fits it with Keras `fit` and callbacks, and
saves the best weights as a Hugging Face model. Evaluation and export come after it
(`kerasbert.job`).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.common.decision import sigmoid
from kerasbert.common.errors import InputError
from kerasbert.common.names import Task
from kerasbert.common.windows import check_overlap
from kerasbert.config import TrainConfig
from kerasbert.data.remote import is_remote, sync_to_remote
from kerasbert.data.splits import DataSplits, class_weights, splits_for
from kerasbert.training import checkpoint, pipeline
from kerasbert.training.calibration import calibrate
from kerasbert.training.callbacks import ValidationScore, completed_epochs, make_callbacks
from kerasbert.training.model import build_classifier, compile_classifier, fit_head
from kerasbert.training.recipe import (
    PREDICTED_METRICS,
    Recipe,
    describe_recipe,
    finish_recipe,
    plan_recipe,
)
from kerasbert.training.rundir import SPLITS, RunDir, prepare_remote_mirror
from kerasbert.training.strategy import create_strategy, precision_scope, resolve_precision
from kerasbert.training.tfkeras import keras
from kerasbert.training.thresholds import tune_thresholds

logger = logging.getLogger(__name__)


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


@dataclass
class Inputs:
    """A run's tokenized splits, label ids and the facts about them for `data_summary.json`."""

    encoded: dict[str, pipeline.Encoded]
    label_ids: dict[str, np.ndarray]
    summary: dict[str, Any]
    padding: str
    replicas: int


def fit_run(
    config: TrainConfig,
    strategy=None,
    timer: PhaseTimer | None = None,
    callbacks: Sequence[Any] = (),
    splits: DataSplits | None = None,
    objective=None,
) -> Path:
    """Fine-tune and save the model; returns the run directory.

    Every input is checked before the run directory is created, so a failed start leaves nothing
    behind. A directory holding an unfinished run with the same settings is resumed from its last
    completed epoch (`BackupAndRestore`). `timer`, if given, gets a lap per phase. `callbacks` are
    Keras callbacks run after the run's own (a sweep's pruning callback, for one). `splits`, if
    given, are `splits_for(config)` read already (the CLI reads them before TensorFlow loads).
    `objective`, if given, trains on other targets than the labels: its `fit_inputs(inputs)`
    gives the training inputs and targets, its `compile_arguments()` the loss and metrics
    (`kerasbert.training.distill.DistillationObjective`); calibration and thresholds still use
    the labels.

    Example:
    >>> fit_run(TrainConfig(data="bbc-headlines", epochs=1))  # doctest: +SKIP
    PosixPath('runs/bbc-headlines-20261202-170000')
    """
    timer = timer or PhaseTimer()
    # First: a missing TPU fails in seconds, before any data is read, and connecting to a TPU
    # resets TensorFlow's context, which must happen before other TensorFlow work.
    strategy = strategy or create_strategy(config.strategy, config.tpu)
    splits = splits if splits is not None else splits_for(config)
    model_path = checkpoint.resolve_checkpoint(config.model)
    max_positions = checkpoint.max_positions(model_path)
    if config.max_length > max_positions:
        raise InputError(
            f"--max-length {config.max_length} exceeds the {max_positions} positions of "
            f"--model {config.model}; use --max-length {max_positions} or less."
        )
    tokenizer = checkpoint.load_tokenizer(model_path)
    remote = config.output_dir if is_remote(config.output_dir) else None
    run = RunDir.for_settings(config)
    if remote:
        prepare_remote_mirror(config)
    run.check_usable(config)

    keras.utils.set_random_seed(config.seed)
    precision = resolve_precision(config.precision, strategy)
    # The precision is process-wide (policy, graph rewrite): it holds for training only. After
    # it, also when training fails, the caller's settings are back (float32 unless the caller
    # chose otherwise), in which the saved model, evaluation and the ONNX export are built.
    with precision_scope(precision):
        inputs = _prepare_inputs(config, splits, tokenizer, strategy, precision)
        inputs.summary["checkpoint"] = checkpoint.checkpoint_info(model_path)
        fit_inputs = inputs if objective is None else objective.fit_inputs(inputs)
        model = _fit(
            config,
            run,
            splits,
            fit_inputs,
            model_path,
            strategy,
            remote,
            timer,
            callbacks,
            objective,
        )
    if run.best_weights.exists():
        # Into a fresh model outside the strategy: tf-keras cannot load a .weights.h5 file into a
        # distributed model (its metrics' sync-on-read variables reject the h5 datasets).
        model = build_classifier(
            model_path,
            splits.labels,
            config.freeze_embeddings,
            _multi_label(splits),
            config.num_layers,
        )
        model.load_weights(str(run.best_weights))
    model.save_pretrained(str(run.model))
    tokenizer.save_pretrained(str(run.model))
    if _multi_label(splits):
        tune_run_thresholds(model, run, inputs, splits.labels)
    else:
        calibrate_run(model, run, inputs)
    run.drop_training_state()
    if remote:
        sync_to_remote(run.path, remote)
    timer.lap("save")
    return run.path


def _prepare_inputs(config, splits: DataSplits, tokenizer, strategy, precision: str) -> Inputs:
    """Tokenize every split once and describe the data, padding and hardware of the run."""
    replicas = strategy.num_replicas_in_sync
    # Fixed shapes with dropped remainders are what TPUs compile; CPU/GPU skip padding instead.
    padding = "fixed" if type(strategy).__name__.startswith("TPU") else config.padding
    encoded = {
        name: pipeline.encode(
            tokenizer,
            getattr(splits, name).texts,
            config.max_length,
            getattr(splits, name).text_pairs,
            config.truncation,
        )
        for name in SPLITS
    }
    label_ids = {name: getattr(splits, name).label_ids(splits.labels) for name in SPLITS}
    if config.long_documents == "windows":
        # Every window is an example with its document's label; validation loss is per window
        # too, while evaluation averages each document's windows.
        for name in ("train", "validation"):
            encoded[name], owners = pipeline.encode_windows(
                tokenizer, getattr(splits, name).texts, config.max_length, config.window_overlap
            )
            label_ids[name] = label_ids[name][owners]
    windows = {name: len(encoded[name]) for name in ("train", "validation")}
    summary = splits.summary()
    summary["token_lengths"] = {
        name: pipeline.token_length_stats(
            tokenizer,
            getattr(splits, name).texts,
            config.max_length,
            getattr(splits, name).text_pairs,
        )
        for name in ("train", "test")
    }
    summary["padding"] = {"mode": padding}
    if config.long_documents == "windows":
        specials = len(tokenizer.build_inputs_with_special_tokens([]))
        summary["windows"] = {
            "overlap": check_overlap(config.window_overlap, config.max_length - specials),
            **{f"{name}_windows": count for name, count in windows.items()},
        }
    summary["strategy"] = {
        "name": type(strategy).__name__,
        "replicas": replicas,
        "precision": precision,
    }
    return Inputs(encoded, label_ids, summary, padding, replicas)


def _fit(
    config,
    run: RunDir,
    splits,
    inputs: Inputs,
    model_path,
    strategy,
    remote,
    timer,
    extra=(),
    objective=None,
):
    """Build, compile, fit the head, write the run's records, and train with Keras `fit`."""
    # A resumed run continues with the data order of its next epoch (BackupAndRestore brings
    # back the weights, the optimizer and the epoch).
    completed = completed_epochs(run.backup)
    train = inputs.encoded["train"]
    multi_label = _multi_label(splits)
    # A resumed run trains to the plan it started with, read back from its record.
    previous = run.read_recipe() if completed else None
    train_data, validation_data, recipe = _datasets(
        config, inputs, completed, multi_label, previous
    )
    logger.info("Recipe: %s.", describe_recipe(recipe.to_dict()))
    # Distillation's soft targets already carry the teacher's view of every class.
    weights = None if objective else loss_weights(splits, config.class_weight, inputs.summary)
    with strategy.scope():
        model = build_classifier(
            model_path, splits.labels, config.freeze_embeddings, multi_label, config.num_layers
        )
        compile_classifier(
            model,
            learning_rate=recipe.learning_rate,
            total_steps=recipe.total_steps,
            warmup_steps=recipe.warmup_steps,
            weight_decay=config.weight_decay,
            jit_compile=config.jit_compile,
            multi_label=multi_label,
            positive_weights=weights["positive"] if multi_label and weights else None,
            **({} if objective is None else objective.compile_arguments()),
        )
    timer.lap("prepare")
    if model.kept_head:
        logger.info("Starting from the checkpoint's own head: --fit-head does not replace it.")
    elif config.fit_head and not completed:  # a resumed run restores the trained head
        accuracy = fit_head(
            model,
            pipeline.pooled_features(model, train),
            inputs.label_ids["train"],
            config.seed,
            balanced=weights is not None,
        )
        logger.info("Head fitted on pretrained features: training accuracy %.3f.", accuracy)
        timer.lap("fit_head")

    # Only now, with the weights loaded, is every input known to work: a failed start above
    # leaves no directory behind.
    run.prepare(config)
    run.write_recipe(recipe.to_dict())
    run.write_data_summary(inputs.summary)
    run.write_splits(splits)
    logger.info(
        "Training %s on %d examples (%d steps/epoch, global batch %d, %s padding at %.0f%% "
        "efficiency).",
        config.model,
        len(train),
        recipe.steps_per_epoch,
        recipe.batch_size * inputs.replicas,
        inputs.padding,
        100 * inputs.summary["padding"]["train_padding_efficiency"],
    )
    model.fit(
        train_data,
        validation_data=validation_data,
        epochs=recipe.epochs,
        steps_per_epoch=recipe.steps_per_epoch,
        # Single label: Keras turns the class weights into per-example weights of the loss.
        class_weight=weights if weights and not multi_label else None,
        callbacks=[
            *make_callbacks(
                run,
                recipe.patience,
                remote,
                completed,
                monitor=recipe.metric,
                score=ValidationScore(
                    inputs.encoded["validation"], inputs.label_ids["validation"], recipe.metric
                )
                if recipe.metric in PREDICTED_METRICS
                else None,
            ),
            *extra,
        ],
        verbose=1 if sys.stdout.isatty() else 2,
    )
    timer.lap("train")
    record = finish_recipe(recipe, run.read_history() or {})
    run.write_recipe(record)
    logger.info("Recipe: %s.", describe_recipe(record))
    return model


def _datasets(
    config, inputs: Inputs, completed: int, multi_label: bool, previous: dict | None = None
) -> tuple[Any, Any, Recipe]:
    """The training and validation `tf.data` pipelines, and the recipe they run
    (`plan_recipe`; `previous`: a resumed run's record).

    Returns (train data, validation data, recipe).
    """
    drop_remainder = inputs.padding == "fixed"
    train = inputs.encoded["train"]
    # Planned on the examples the run trains on (distillation may have added copies).
    recipe = plan_recipe(
        config,
        len(train),
        int(np.sum(train.lengths)),
        multi_label,
        previous,
        inputs.replicas,
        drop_remainder,
    )
    global_batch = recipe.batch_size * inputs.replicas
    inputs.summary["strategy"]["global_batch_size"] = global_batch
    inputs.summary["padding"]["train_padding_efficiency"] = pipeline.padding_efficiency(
        train.lengths,
        pipeline.plan_batches(
            train.lengths, global_batch, inputs.padding, np.random.default_rng(config.seed)
        ),
        config.max_length if inputs.padding == "fixed" else None,
    )
    train_data = pipeline.make_dataset(
        train,
        inputs.label_ids["train"],
        global_batch,
        padding=inputs.padding,
        shuffle=True,
        seed=config.seed,
        drop_remainder=drop_remainder,
        epochs=recipe.epochs,
        first_epoch=completed,
    )
    validation_data = pipeline.make_dataset(
        inputs.encoded["validation"],
        inputs.label_ids["validation"],
        global_batch,
        padding=inputs.padding,
    )
    return train_data, validation_data, recipe


def _multi_label(splits: DataSplits) -> bool:
    return splits.task == Task.MULTI_LABEL


def loss_weights(
    splits: DataSplits, mode: str, summary: dict[str, Any] | None = None
) -> dict[Any, Any] | None:
    """The run's weights against imbalance (`kerasbert.data.splits.class_weights`), recorded in the
    data summary's `imbalance` next to the counts they answer: `{class id: weight}` for Keras
    `fit`, or `{"positive": [w per label]}` for the multi-label loss; None for none."""
    weights = class_weights(splits, splits.labels, mode)
    if summary is not None:
        applied = (
            None
            if weights is None
            else dict(zip(splits.labels, weights["positive"]))
            if "positive" in weights
            else {splits.labels[class_id]: weight for class_id, weight in weights.items()}
        )
        summary.setdefault("imbalance", {})["weights"] = applied
        summary["imbalance"]["weights_applied_to"] = (
            None
            if weights is None
            else "positive examples of each label (weighted binary cross-entropy)"
            if "positive" in weights
            else "each training example by its class (Keras class_weight)"
        )
    if weights is not None:
        logger.info("Class weights against imbalance (--class-weight %s): %s", mode, weights)
    return weights


def tune_run_thresholds(model, run: RunDir, inputs: Inputs, labels: list[str]) -> dict[str, Any]:
    """Tune a multi-label run's per-label thresholds on its validation split and store them."""
    probabilities = sigmoid(pipeline.predict_logits(model, inputs.encoded["validation"]))
    tuned = tune_thresholds(inputs.label_ids["validation"], probabilities, labels)
    run.write_thresholds(tuned)
    logger.info("Per-label thresholds tuned on the validation split: %s", tuned["thresholds"])
    return tuned


def calibrate_run(model, run: RunDir, inputs: Inputs) -> dict[str, Any]:
    """Fit a single-label run's temperature on its validation split and store it: the same
    examples as the validation loss (a window each with `--long-documents windows`). Without
    validation examples there is nothing to fit on: the run keeps the raw softmax."""
    if not len(inputs.label_ids["validation"]):
        logger.warning("No validation examples: the probabilities stay uncalibrated.")
        return {}
    logits = pipeline.predict_logits(model, inputs.encoded["validation"])
    record = calibrate(logits, inputs.label_ids["validation"])
    run.write_calibration(record)
    figures = record["validation"]
    logger.info(
        "Temperature %.3f fitted on the validation split: NLL %.4f -> %.4f, ECE %.4f -> %.4f",
        record["temperature"],
        figures["nll_before"],
        figures["nll_after"],
        figures["ece_before"],
        figures["ece_after"],
    )
    return record
