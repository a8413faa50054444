"""Serving speed: TF Keras `predict` against the ONNX predictor's variants, and cold starts.

`benchmark_inference` times batch-1 latency and batch-32 throughput of every engine on the same
test texts, tokenization included, the engines taking turns (`kerasbert.benchmark.timing`).
`benchmark_cold_start` starts fresh processes that import, load and predict once, and reads
their wall-clock time and peak memory.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import kerasbert
from kerasbert.benchmark.config import BenchmarkConfig
from kerasbert.benchmark.timing import median_pass, pass_seconds, percentile_ms, time_in_turn
from kerasbert.training.rundir import RunDir

logger = logging.getLogger(__name__)

ENGINES = ("tf", "ort_fp32", "ort_optimized", "ort_int8")
ORT_VARIANTS = {"ort_fp32": "fp32", "ort_optimized": "optimized", "ort_int8": "int8"}
COLD_START_PROCESSES = ("predictor", "predictor_int8", "tf_predict")

# The child processes of the cold-start measurement. Each prints one JSON line: the wall-clock
# time at which its first prediction was done, and its peak resident memory. The peak is VmHWM of
# /proc/self/status: getrusage's ru_maxrss would report the parent's peak, inherited by fork.
PEAK_RSS_MB = "[int(line.split()[1]) / 1024 for line in open('/proc/self/status') if line.startswith('VmHWM')][0]"
PREDICTOR_CHILD = """
import json, sys, time
from kerasbert.inference.predictor import OnnxClassifier
classifier = OnnxClassifier(sys.argv[1], variant=sys.argv[2])
classifier.predict_proba([sys.argv[3]])
print(json.dumps({"done": time.time(), "peak_rss_mb": PEAK}))
""".replace("PEAK", PEAK_RSS_MB)
# What a TensorFlow-based service does: transformers on tf-keras, nothing of kerasbert's.
TF_PREDICT_CHILD = """
import json, os, sys, time
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
from transformers import AutoTokenizer, TFAutoModelForSequenceClassification
tokenizer = AutoTokenizer.from_pretrained(sys.argv[1])
model = TFAutoModelForSequenceClassification.from_pretrained(sys.argv[1])
features = tokenizer([sys.argv[3]], truncation=True, max_length=int(sys.argv[2]), return_tensors="np")
model.predict(dict(features), verbose=0)
print(json.dumps({"done": time.time(), "peak_rss_mb": PEAK}))
""".replace("PEAK", PEAK_RSS_MB)


def benchmark_inference(
    run_dir: RunDir, export_dir: Path, texts: list[str], config: BenchmarkConfig
) -> dict[str, Any]:
    """Batch-1 latency and batch-32 throughput of each engine on the same texts, end to end
    (tokenization included); the engines take turns pass by pass, `config.inference_rounds`
    passes each."""
    from kerasbert.inference.predictor import OnnxClassifier
    from kerasbert.training.checkpoint import load_trained_model

    max_length = run_dir.read_config().max_length
    singles = [[text] for text in texts[: config.latency_texts]]
    bulk = texts[: config.inference_texts]
    chunks = [bulk[i : i + config.batch_size] for i in range(0, len(bulk), config.batch_size)]

    model, tokenizer = load_trained_model(run_dir.model)

    def tf_predict(batch: list[str]) -> np.ndarray:
        features = tokenizer(
            batch, truncation=True, max_length=max_length, padding=True, return_tensors="np"
        )
        return model.predict(dict(features), batch_size=config.batch_size, verbose=0).logits

    engines: dict[str, Any] = {"tf": tf_predict}
    for engine, variant in ORT_VARIANTS.items():
        engines[engine] = OnnxClassifier(export_dir, variant=variant).predict_proba
    for function in engines.values():
        function(chunks[0])  # warm-up: first-call allocations and kernel selection
        function(singles[0])
    rounds = config.inference_rounds
    single_seconds = time_in_turn(engines, singles, rounds=rounds)
    bulk_seconds = time_in_turn(engines, chunks, rounds=rounds)
    results: dict[str, Any] = {}
    for engine in engines:
        results[engine] = {
            "batch1_p50_ms": percentile_ms(single_seconds[engine], 50),
            "batch1_p95_ms": percentile_ms(single_seconds[engine], 95),
            "batch1_seq_per_s": len(singles) / median_pass(single_seconds[engine], rounds),
            "batch32_seq_per_s": len(bulk) / median_pass(bulk_seconds[engine], rounds),
            "batch32_pass_seconds": pass_seconds(bulk_seconds[engine], rounds),
        }
        logger.info("Inference %s: %s", engine, results[engine])
    results["texts"] = {
        "batch1": len(singles),
        "batch32": len(bulk),
        "max_length": max_length,
        "rounds": rounds,
    }
    return results


def run_child(code: str, arguments: list[str]) -> dict[str, float]:
    """Run `code` in a fresh Python process; its cold start (from launch to its first prediction)
    and its peak resident memory."""
    # The checkout holding this kerasbert, so the child imports the same code uninstalled too.
    root = Path(kerasbert.__file__).resolve().parent.parent
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "TRANSFORMERS_VERBOSITY": "error",
        "HF_HUB_OFFLINE": "1",
    }
    start = time.time()
    completed = subprocess.run(
        [sys.executable, "-c", code, *arguments],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"Cold-start child failed ({completed.returncode}): {completed.stderr[-2000:]}"
        )
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    return {"cold_start_s": report["done"] - start, "peak_rss_mb": report["peak_rss_mb"]}


def measure_cold_start(code: str, arguments: list[str], runs: int) -> dict[str, Any]:
    """Median cold start and peak RSS over `runs` fresh processes; with more than one run, an
    untimed run first warms the file cache, so the figure is about the software, not the disk."""
    if runs > 1:
        run_child(code, arguments)
    samples = [run_child(code, arguments) for _ in range(runs)]
    return {
        "cold_start_s": float(np.median([sample["cold_start_s"] for sample in samples])),
        "peak_rss_mb": float(np.median([sample["peak_rss_mb"] for sample in samples])),
        "runs": samples,
    }


def benchmark_cold_start(
    run_dir: RunDir, export_dir: Path, text: str, config: BenchmarkConfig
) -> dict[str, Any]:
    """Cold start and peak memory of the ONNX predictor (fp32 and int8) and of a TensorFlow
    predict of the same model, each predicting `text` once."""
    max_length = run_dir.read_config().max_length
    runs = config.cold_start_runs
    children = {
        "predictor": (PREDICTOR_CHILD, [str(export_dir), "fp32", text], runs),
        "predictor_int8": (PREDICTOR_CHILD, [str(export_dir), "int8", text], runs),
        "tf_predict": (
            TF_PREDICT_CHILD,
            [str(run_dir.model), str(max_length), text],
            max(1, runs - 1),
        ),
    }
    results = {
        name: measure_cold_start(code, arguments, count)
        for name, (code, arguments, count) in children.items()
    }
    for name, figures in results.items():
        logger.info(
            "Cold start %s: %.2f s, %.0f MB", name, figures["cold_start_s"], figures["peak_rss_mb"]
        )
    return results
