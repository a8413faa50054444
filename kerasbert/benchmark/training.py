"""Training speed: the three padding modes fine-tuned in lockstep, step by step, on one data set.

`benchmark_training` trains one model per padding mode from the same pretrained weights and fitted
head, one step of each in turn, times every step and scores each model on the test split. It
writes a run directory (`kerasbert.training.rundir.RunDir`) as the training job would: the settings as a
`TrainConfig`, labels, splits, and the first seed's bucketed model, which the benchmark exports and
serves.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.benchmark.config import MODES, BenchmarkConfig
from kerasbert.benchmark.matmul import CEILING_SIZE, bert_training_flops, dimensions, square_matmul
from kerasbert.benchmark.speed import training_figures
from kerasbert.common.names import PIPELINE_INPUT_NAMES
from kerasbert.config import TrainConfig
from kerasbert.data.splits import splits_for
from kerasbert.training import pipeline
from kerasbert.training.rundir import RunDir

logger = logging.getLogger(__name__)

# Benchmark mode name → `pipeline.make_dataset` padding mode. Fixed padding trains the very
# batches of `longest` (same random batches, same order), padded to the maximum length: the two
# differ only in padding, so their accuracies differ only by float rounding.
PADDING_OF_MODE = {"fixed": "longest", "longest": "longest", "bucketed": "bucket"}


def mode_batches(
    encoded: pipeline.Encoded, labels: np.ndarray, mode: str, config: BenchmarkConfig, seed: int
) -> list[tuple[dict[str, np.ndarray], np.ndarray]]:
    """Every training batch of `mode` over all epochs, in order, as the training job makes them.

    `fixed` is `longest`'s very batches padded to the maximum length, so the two differ only in
    padding.
    """
    dataset = pipeline.make_dataset(
        encoded,
        labels,
        config.batch_size,
        padding=PADDING_OF_MODE[mode],
        shuffle=True,
        seed=seed,
        epochs=config.epochs,
    )
    batches = list(dataset.as_numpy_iterator())
    if mode != "fixed":
        return batches
    pad_ids = {"input_ids": encoded.pad_id, "attention_mask": 0}
    return [
        (
            {
                name: np.pad(
                    values,
                    [(0, 0), (0, encoded.max_length - values.shape[1])],
                    constant_values=pad_ids[name],
                )
                for name, values in features.items()
            },
            batch_labels,
        )
        for features, batch_labels in batches
    ]


def train_step_function(model):
    """The model's Keras train step (loss, gradients, clipping, AdamW, metrics) as one
    `tf.function` traced once for every batch shape."""
    from kerasbert.training.tfkeras import tf

    signature = (
        {name: tf.TensorSpec((None, None), tf.int32) for name in PIPELINE_INPUT_NAMES},
        tf.TensorSpec((None,), tf.int32),
    )
    return tf.function(
        lambda features, labels: model.train_step((features, labels))["loss"]
    ).get_concrete_function(*signature)


def train_modes_in_lockstep(
    model_path: str,
    labels: list[str],
    encoded_train: pipeline.Encoded,
    train_labels: np.ndarray,
    encoded_test: pipeline.Encoded,
    test_labels: np.ndarray,
    config: BenchmarkConfig,
    head_features: np.ndarray,
    seed: int,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, float]]]:
    """Fine-tune one model per padding mode from the same pretrained weights, taking one step
    of each mode in turn; time every step and score each model on the test split.

    Interleaving the modes step by step gives each the same share of whatever else the machine is
    doing (on a shared VM a step's time can change for minutes at a time), so their speed ratios
    hold from run to run; run one after the other, the modes met different loads. The order
    within a round rotates, so no mode always runs right after another. The recipe is the
    training job's: AdamW with warm-up and linear decay, and the head first fitted on
    `head_features` (the pretrained pooled features of the training texts), so every mode starts
    from the same weights and only the batching differs. Returns the runs (per mode: `model`,
    `batches`, `records` of every step, test `accuracy`) and the timings of a large matmul taken
    once per round (the ceiling under the same load; under `cpu_bfloat16` also in bfloat16).
    """
    from kerasbert.training.strategy import precision_scope, resolve_precision
    from kerasbert.training.tfkeras import keras

    keras.backend.clear_session()
    # Training in the run's precision; the test split is scored after it, in the caller's.
    with precision_scope(resolve_precision(config.precision)):
        runs = {
            mode: start_mode_run(
                model_path, labels, encoded_train, train_labels, head_features, mode, config, seed
            )
            for mode in MODES
        }
        for run in runs.values():
            run["step"] = train_step_function(run["model"])
        bfloat16 = resolve_precision(config.precision) == "cpu_bfloat16"
        ceiling = step_in_lockstep(runs, num_labels=len(labels), bfloat16_ceiling=bfloat16)
    for run in runs.values():
        logits = pipeline.predict_logits(run["model"], encoded_test, batch_size=64)
        run["accuracy"] = float((logits.argmax(axis=1) == test_labels).mean())
    return runs, ceiling


def start_mode_run(
    model_path: str,
    labels: list[str],
    encoded_train: pipeline.Encoded,
    train_labels: np.ndarray,
    head_features: np.ndarray,
    mode: str,
    config: BenchmarkConfig,
    seed: int,
) -> dict[str, Any]:
    """One mode's model, compiled as the training job compiles it, with its head fitted, and
    every batch it will train on."""
    from kerasbert.training.model import build_classifier, compile_classifier, fit_head
    from kerasbert.training.tfkeras import keras

    keras.utils.set_random_seed(seed)
    model = build_classifier(model_path, labels, config.freeze_embeddings)
    batches = mode_batches(encoded_train, train_labels, mode, config, seed)
    compile_classifier(
        model,
        learning_rate=config.learning_rate,
        total_steps=len(batches),
        warmup_steps=int(TrainConfig.warmup_ratio * len(batches)),
    )
    fit_head(model, head_features, train_labels, seed)
    return {"model": model, "batches": batches, "records": []}


def step_in_lockstep(
    runs: dict[str, dict[str, Any]], num_labels: int, bfloat16_ceiling: bool = False
) -> list[dict[str, float]]:
    """Train `runs` one step of each mode per round, appending each step's record to its run;
    return the ceiling matmul's timing of every round (`seconds`, and with `bfloat16_ceiling`
    `bfloat16_seconds` of the same matmul in bfloat16)."""
    sizes = dimensions(next(iter(runs.values()))["model"].config)
    # The matmul ceiling takes a turn every round too, so the FLOP fraction compares rates
    # measured under the same load (a best-of-5 ceiling timed alone would meet a quieter machine).
    # Training in bfloat16 is measured against the bfloat16 matmul as well: against float32 alone
    # its fraction can pass 1 on a CPU with native bfloat16.
    matmuls = {"seconds": square_matmul(CEILING_SIZE)}
    if bfloat16_ceiling:
        matmuls["bfloat16_seconds"] = square_matmul(CEILING_SIZE, bfloat16=True)
    ceiling: list[dict[str, float]] = []
    rounds = max(len(run["batches"]) for run in runs.values())
    for index in range(rounds):
        record = {"flops": 2.0 * CEILING_SIZE**3}
        for key, matmul in matmuls.items():
            start = time.perf_counter()
            matmul()
            record[key] = time.perf_counter() - start
        ceiling.append(record)
        order = MODES[index % len(MODES) :] + MODES[: index % len(MODES)]
        for mode in order:
            run = runs[mode]
            if index < len(run["batches"]):
                features, batch_labels = run["batches"][index]
                record = timed_step(run["step"], features, batch_labels, sizes, num_labels)
                run["records"].append(record)
    return ceiling


def timed_step(
    step,
    features: dict[str, np.ndarray],
    labels: np.ndarray,
    sizes: dict[str, int],
    num_labels: int,
) -> dict[str, float]:
    """Run one training step and return its record: seconds, examples, real and processed
    tokens, FLOPs."""
    start = time.perf_counter()
    step(features, labels).numpy()
    seconds = time.perf_counter() - start
    batch_size, length = features["input_ids"].shape
    return {
        "seconds": seconds,
        "examples": batch_size,
        "real": int(features["attention_mask"].sum()),
        "processed": batch_size * length,
        "flops": bert_training_flops(batch_size, length, labels=num_labels, **sizes),
    }


def run_dir_for(dataset: str, work_dir: Path) -> RunDir:
    """The run directory the benchmark trains `dataset` into under `work_dir` (and where
    `--only` finds it again)."""
    return RunDir(work_dir / f"run-{Path(dataset).stem}")


def run_settings(
    dataset: str, config: BenchmarkConfig, max_length: int, run_dir: RunDir
) -> TrainConfig:
    """The training job's settings for the model the benchmark keeps: the bucketed model of the
    first seed, trained every epoch (the benchmark times every step, so nothing stops early)."""
    return TrainConfig(
        data=dataset,
        text_column=config.text_column,
        label_column=config.label_column,
        max_train_samples=config.train_samples_for(dataset),
        max_eval_samples=config.max_eval_samples,
        model=config.model,
        max_length=max_length,
        batch_size=config.batch_size,
        epochs=config.epochs,
        learning_rate=config.learning_rate,
        early_stopping_patience=0,
        freeze_embeddings=config.freeze_embeddings,
        seed=config.seed,
        padding=PADDING_OF_MODE["bucketed"],
        precision=config.precision,
        output_dir=str(run_dir.path),
        # The benchmark exports the first data set's run itself and draws no plots.
        export=False,
        plots=False,
    )


def benchmark_training(
    dataset: str, config: BenchmarkConfig, work_dir: Path
) -> tuple[dict[str, Any], RunDir]:
    """All three padding modes on one data set, once per seed; returns the figures and the run
    directory holding the first seed's bucketed model (for the export) and the splits it used."""
    from kerasbert.training import checkpoint
    from kerasbert.training.model import build_classifier
    from kerasbert.training.tfkeras import keras

    model_path = checkpoint.resolve_checkpoint(config.model)
    max_length = min(config.max_length_for(dataset), checkpoint.max_positions(model_path))
    run_dir = run_dir_for(dataset, work_dir)
    settings = run_settings(dataset, config, max_length, run_dir)
    splits = splits_for(settings)
    run_dir.path.mkdir(parents=True, exist_ok=True)
    run_dir.write_config(settings)
    run_dir.write_splits(splits)

    tokenizer = checkpoint.load_tokenizer(model_path)
    encoded_train = pipeline.encode(tokenizer, splits.train.texts, max_length)
    encoded_test = pipeline.encode(tokenizer, splits.test.texts, max_length)
    train_labels = splits.train.label_ids(splits.labels)
    test_labels = splits.test.label_ids(splits.labels)
    keras.backend.clear_session()
    head_features = pipeline.pooled_features(
        build_classifier(model_path, splits.labels), encoded_train
    )
    per_seed: list[dict[str, dict[str, Any]]] = []
    ceiling: list[dict[str, float]] = []
    for seed in config.seed_list():
        logger.info("Training %s with each padding mode in turn (seed %d) ...", dataset, seed)
        runs, seed_ceiling = train_modes_in_lockstep(
            model_path,
            splits.labels,
            encoded_train,
            train_labels,
            encoded_test,
            test_labels,
            config,
            head_features,
            seed,
        )
        if not per_seed:  # the first seed's bucketed model is exported and served
            runs["bucketed"]["model"].save_pretrained(str(run_dir.model))
            tokenizer.save_pretrained(str(run_dir.model))
        ceiling.extend(seed_ceiling)
        per_seed.append(
            {
                mode: {"records": run["records"], "accuracy": run["accuracy"]}
                for mode, run in runs.items()
            }
        )
        del runs  # the models of this seed: free them before the next seed builds three more
    return training_figures(per_seed, ceiling, encoded_train, encoded_test, config), run_dir
