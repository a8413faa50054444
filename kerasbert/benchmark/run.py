"""The whole benchmark: `run_benchmark(config)` measures everything and returns `benchmark.json`.

Training first (the matmul ceiling, every data set's padding modes, the FLOP rate at 128 tokens
and what a step is made of), then serving the model trained on the first data set: export,
inference engines, cold starts, inference by input length. Last, the targets are judged on the
figures of this same run. `--only lengths` measures inference by length alone, on the run and
export an earlier run kept in `--work-dir`.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from kerasbert.benchmark.config import FLOP_RATE_LENGTH, SHORT_TEXT_LENGTH, BenchmarkConfig
from kerasbert.benchmark.inference import benchmark_cold_start, benchmark_inference
from kerasbert.benchmark.lengths import benchmark_lengths
from kerasbert.benchmark.machine import machine_info, tensorflow_info
from kerasbert.benchmark.matmul import dimensions, measure_matmul_ceiling, measure_step_matmuls
from kerasbert.benchmark.profile import profile_training_step
from kerasbert.benchmark.targets import evaluate_targets
from kerasbert.benchmark.training import benchmark_training, run_dir_for
from kerasbert.common.errors import InputError
from kerasbert.data.readers import BUILTIN_DATASETS
from kerasbert.inference.exportdir import ExportDir
from kerasbert.training.rundir import RunDir

# Test texts the export's TensorFlow/onnxruntime parity check runs on.
PARITY_TEXTS = 64


def run_benchmark(config: BenchmarkConfig) -> dict[str, Any]:
    """Run every measurement of `config` and return the results (what `benchmark.json` holds)."""
    config = config.resolved()
    config.validate()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from kerasbert.export.export import package_versions
    from kerasbert.training.strategy import resolve_precision

    # `auto` as the training job resolves it on this machine's default device.
    config = dataclasses.replace(config, precision=resolve_precision(config.precision))
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": {"python": platform.python_version(), **package_versions()},
        "settings": dataclasses.asdict(config),
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kerasbert-benchmark-") as temporary:
        work_dir = Path(config.work_dir or temporary)
        work_dir.mkdir(parents=True, exist_ok=True)
        results["machine"].update(tensorflow_info())
        if config.only == "lengths":
            run_dir, export_dir = kept_run(config, work_dir)
            results["inference_by_length"] = benchmark_lengths(
                run_dir, export_dir, work_dir, config
            )
        else:
            results["train"], run_dirs = measure_training(config, work_dir)
            results.update(measure_serving(config, run_dirs, work_dir))
    results["machine"]["load_average_end"] = list(os.getloadavg())
    results["seconds"] = time.perf_counter() - started
    results["targets"] = evaluate_targets(results)
    return results


def dataset_name(dataset: str) -> str:
    """How results name a data set: a built-in one by its name, a file by its stem."""
    return dataset if dataset in BUILTIN_DATASETS else Path(dataset).stem


def export_dir_for(name: str, work_dir: Path) -> Path:
    """Where the benchmark exports the run of data set `name` (see `dataset_name`)."""
    return work_dir / f"export-{name}"


def kept_run(config: BenchmarkConfig, work_dir: Path) -> tuple[RunDir, Path]:
    """The first data set's run directory an earlier benchmark left in `work_dir`, and its
    export (exported now if that run stopped before its export)."""
    from kerasbert.export.export import export_run

    dataset = config.data[0]
    run_dir = run_dir_for(dataset, work_dir)
    if not (run_dir.model / "config.json").is_file():
        raise InputError(
            f"--only {config.only}: {run_dir.path} holds no trained model. Run the benchmark "
            f"with --work-dir {work_dir} (and the same first --data) first."
        )
    export_dir = export_dir_for(dataset_name(dataset), work_dir)
    if not ExportDir(export_dir).metadata.is_file():
        texts = run_dir.read_split("test").texts
        export_run(run_dir.path, export_dir, overwrite=True, parity_texts=texts[:PARITY_TEXTS])
    return run_dir, export_dir


def measure_training(
    config: BenchmarkConfig, work_dir: Path
) -> tuple[dict[str, Any], dict[str, RunDir]]:
    """The `train` figures of `benchmark.json`, and each data set's run directory."""
    train: dict[str, Any] = {"matmul_ceiling": measure_matmul_ceiling()}
    if config.precision == "cpu_bfloat16":
        # What the training's bfloat16 matmuls could reach: the ceiling of the precision that ran.
        train["bfloat16_matmul_ceiling"] = measure_matmul_ceiling(bfloat16=True)
    run_dirs = {}
    for dataset in config.data:
        name = dataset_name(dataset)
        train[name], run_dirs[name] = benchmark_training(dataset, config, work_dir)
    train.update(flop_rate_figures(train, config))
    return train, run_dirs


def bucketed_length(train: dict[str, Any]) -> int | None:
    """The mean padded length of the bucketed batches of the first data set at up to 128 tokens
    (None if there is none): the short batch the step profile looks at."""
    for modes in train.values():
        bucketed = modes.get("bucketed") if isinstance(modes, dict) else None
        if bucketed and bucketed["max_length"] <= SHORT_TEXT_LENGTH:
            length = bucketed["processed_tokens_per_s"] / bucketed["examples_per_s"]
            return max(2, round(length))
    return None


def flop_rate_figures(train: dict[str, Any], config: BenchmarkConfig) -> dict[str, Any]:
    """The training FLOP rate at 128 tokens against the matmul ceilings, and why it is what it
    is: the step profile and the step's own matmuls timed alone.

    `flop_fraction_of_matmul_ceiling` is against the float32 ceiling whatever the precision (as
    the first target was stated); `flop_fraction_of_precision_ceiling` against the ceiling of the
    precision the matmuls ran in (bfloat16 under `cpu_bfloat16`), which the targets judge.
    """
    ceiling = train["matmul_ceiling"]
    bfloat16 = "bfloat16_matmul_ceiling" in train
    # Fixed padding at 128 against the matmuls timed in the same rounds.
    at_length = [
        (
            modes["fixed"]["flop_rate"],
            modes["matmul_ceiling_same_rounds"]["flop_rate"],
            modes.get("bfloat16_matmul_ceiling_same_rounds", {}).get("flop_rate"),
        )
        for modes in train.values()
        if isinstance(modes, dict) and modes.get("fixed", {}).get("max_length") == FLOP_RATE_LENGTH
    ]
    # The step split into forward, backward and optimizer: not in --quick, unless no data set
    # gives the rate.
    profile = None
    if not (config.quick and at_length):
        profile = profile_training_step(config, short_length=bucketed_length(train))
    best_bfloat16 = train["bfloat16_matmul_ceiling"]["flop_rate"] if bfloat16 else None
    if at_length:
        flop_rate, same_load_ceiling, same_load_bfloat16 = at_length[0]
    else:
        flop_rate, same_load_ceiling = profile["flop_rate"], ceiling["flop_rate"]
        same_load_bfloat16 = best_bfloat16
    figures: dict[str, Any] = {
        "flop_rate_at_128": flop_rate,
        "flop_fraction_of_matmul_ceiling": flop_rate / same_load_ceiling,
        "flop_fraction_of_best_matmul": flop_rate / ceiling["flop_rate"],
        "matmul_ceiling_same_load": same_load_ceiling,
    }
    if bfloat16:
        figures["flop_fraction_of_bfloat16_matmul"] = flop_rate / best_bfloat16
        figures["bfloat16_matmul_ceiling_same_load"] = same_load_bfloat16 or best_bfloat16
    precision_ceiling = {
        "precision": "bfloat16" if bfloat16 else "float32",
        "flop_rate_same_load": figures.get("bfloat16_matmul_ceiling_same_load", same_load_ceiling),
        "best_flop_rate": best_bfloat16 if bfloat16 else ceiling["flop_rate"],
    }
    figures["precision_ceiling"] = precision_ceiling
    figures["flop_fraction_of_precision_ceiling"] = (
        flop_rate / precision_ceiling["flop_rate_same_load"]
    )
    if profile is not None:
        figures["step_profile"] = profile
    # Against the ceiling of the matmuls' own precision.
    same_precision = train.get("bfloat16_matmul_ceiling", ceiling)
    figures["step_matmuls"] = step_matmul_figures(config, flop_rate, same_precision["flop_rate"])
    return figures


def step_matmul_figures(
    config: BenchmarkConfig, step_flop_rate: float, ceiling_flop_rate: float
) -> dict[str, Any]:
    """How fast the step's matmuls run alone, at the step's shapes and precision: against the
    ceiling, and as the share of the step's time they take."""
    from kerasbert.training import checkpoint

    settings = checkpoint.load_bert_config(checkpoint.resolve_checkpoint(config.model))
    matmuls = measure_step_matmuls(
        **dimensions(settings),
        heads=settings.num_attention_heads,
        batch=config.batch_size,
        length=min(FLOP_RATE_LENGTH, settings.max_position_embeddings),
        bfloat16=config.precision == "cpu_bfloat16",
    )
    matmuls["fraction_of_matmul_ceiling"] = matmuls["flop_rate"] / ceiling_flop_rate
    matmuls["share_of_step_time"] = step_flop_rate / matmuls["flop_rate"]
    return matmuls


def measure_serving(
    config: BenchmarkConfig, run_dirs: dict[str, RunDir], work_dir: Path
) -> dict[str, Any]:
    """Export the model trained on the first data set and serve it on that set's test texts:
    `export_seconds`, `inference`, the cold starts and `inference_by_length` of
    `benchmark.json`."""
    from kerasbert.export.export import export_run

    first = next(iter(run_dirs))
    run_dir = run_dirs[first]
    texts = run_dir.read_split("test").texts
    start = time.perf_counter()
    export_dir = export_run(
        run_dir.path,
        export_dir_for(first, work_dir),
        overwrite=True,
        parity_texts=texts[:PARITY_TEXTS],
    )
    results: dict[str, Any] = {"export_seconds": time.perf_counter() - start}
    inference = benchmark_inference(run_dir, export_dir, texts, config)
    inference["dataset"] = first
    results["inference"] = inference
    results.update(benchmark_cold_start(run_dir, export_dir, texts[0], config))
    results["inference_by_length"] = benchmark_lengths(run_dir, export_dir, work_dir, config)
    return results
