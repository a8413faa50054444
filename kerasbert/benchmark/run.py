"""The whole benchmark: `run_benchmark(config)` measures everything and returns `benchmark.json`.

Training first (the matmul ceiling, every data set's padding modes, the FLOP rate at 128 tokens
and what a step is made of), then serving the model trained on the first data set: export,
inference engines, cold starts. Last, the targets are judged on the figures of this same run.
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
from kerasbert.benchmark.machine import machine_info, tensorflow_info
from kerasbert.benchmark.matmul import dimensions, measure_matmul_ceiling, measure_step_matmuls
from kerasbert.benchmark.profile import profile_training_step
from kerasbert.benchmark.targets import evaluate_targets
from kerasbert.benchmark.training import benchmark_training
from kerasbert.readers import BUILTIN_DATASETS
from kerasbert.rundir import RunDir

# Test texts the export's TensorFlow/onnxruntime parity check runs on.
PARITY_TEXTS = 64


def run_benchmark(config: BenchmarkConfig) -> dict[str, Any]:
    """Run every measurement of `config` and return the results (what `benchmark.json` holds)."""
    config = config.resolved()
    config.validate()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from kerasbert.export import package_versions
    from kerasbert.strategy import resolve_precision

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
        results["train"], run_dirs = measure_training(config, work_dir)
        results.update(measure_serving(config, run_dirs, work_dir))
    results["machine"]["load_average_end"] = list(os.getloadavg())
    results["seconds"] = time.perf_counter() - started
    results["targets"] = evaluate_targets(results)
    return results


def dataset_name(dataset: str) -> str:
    """How results name a data set: a built-in one by its name, a file by its stem."""
    return dataset if dataset in BUILTIN_DATASETS else Path(dataset).stem


def measure_training(
    config: BenchmarkConfig, work_dir: Path
) -> tuple[dict[str, Any], dict[str, RunDir]]:
    """The `train` figures of `benchmark.json`, and each data set's run directory."""
    train: dict[str, Any] = {"matmul_ceiling": measure_matmul_ceiling()}
    if config.precision == "cpu_bfloat16":
        # What the training's bfloat16 matmuls could reach: the FLOP fraction is against the
        # float32 ceiling, as the target is stated.
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
    is: the step profile and the step's own matmuls timed alone."""
    ceiling = train["matmul_ceiling"]
    # Fixed padding at 128 against the matmul timed in the same rounds.
    at_length = [
        (modes["fixed"]["flop_rate"], modes["matmul_ceiling_same_rounds"]["flop_rate"])
        for modes in train.values()
        if isinstance(modes, dict) and modes.get("fixed", {}).get("max_length") == FLOP_RATE_LENGTH
    ]
    # The step split into forward, backward and optimizer: not in --quick, unless no data set
    # gives the rate.
    profile = None
    if not (config.quick and at_length):
        profile = profile_training_step(config, short_length=bucketed_length(train))
    if at_length:
        flop_rate, same_load_ceiling = at_length[0]
    else:
        flop_rate, same_load_ceiling = profile["flop_rate"], ceiling["flop_rate"]
    figures: dict[str, Any] = {
        "flop_rate_at_128": flop_rate,
        "flop_fraction_of_matmul_ceiling": flop_rate / same_load_ceiling,
        "flop_fraction_of_best_matmul": flop_rate / ceiling["flop_rate"],
        "matmul_ceiling_same_load": same_load_ceiling,
    }
    if "bfloat16_matmul_ceiling" in train:
        figures["flop_fraction_of_bfloat16_matmul"] = (
            flop_rate / train["bfloat16_matmul_ceiling"]["flop_rate"]
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
    from kerasbert import checkpoint

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
    `export_seconds`, `inference` and the cold starts of `benchmark.json`."""
    from kerasbert.export import export_run

    first = next(iter(run_dirs))
    run_dir = run_dirs[first]
    texts = run_dir.read_split("test").texts
    start = time.perf_counter()
    export_dir = export_run(
        run_dir.path,
        work_dir / f"export-{first}",
        overwrite=True,
        parity_texts=texts[:PARITY_TEXTS],
    )
    results: dict[str, Any] = {"export_seconds": time.perf_counter() - start}
    inference = benchmark_inference(run_dir, export_dir, texts, config)
    inference["dataset"] = first
    results["inference"] = inference
    results.update(benchmark_cold_start(run_dir, export_dir, texts[0], config))
    return results
