"""Teacher against student: the table at the end of `kerasbert distill`.

`compare_distillation(student)` reads the student run's `distill.json` for its teacher, puts the
teacher, the distilled student, a label-only student of the same depth (when given) and the
TF-IDF baseline side by side — test accuracy and macro-F1 (micro-F1, macro-F1 and subset accuracy
for multi-label), the int8 export's accuracy change, the exported models' sizes — and times the
teacher's and the student's exports, int8 and fp32, taking turns in this process
(`kerasbert.benchmark.timing`): batches of 32 test texts and single test texts through the
predictor (tokenization included), and full batches of `max_length` tokens straight into the
graphs. The figures go into `distill.json` (`comparison`) and the student's `report.md`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.benchmark.lengths import feeds_of, fill_rows, onnxruntime_calls
from kerasbert.benchmark.timing import (
    median_pass,
    paired_ratios,
    pass_seconds,
    percentile_ms,
    round_medians,
    time_in_turn,
)
from kerasbert.common.errors import InputError
from kerasbert.common.markdown import table
from kerasbert.common.names import Task
from kerasbert.inference.exportdir import ExportDir
from kerasbert.training.distill import read_record, write_record
from kerasbert.training.rundir import RunDir, default_export_dir

logger = logging.getLogger(__name__)

BATCH = 32
# Single texts per round for the batch-1 latency, and full-length batches per round.
SINGLES = 48
FULL_BATCHES = 3
DEFAULT_ROUNDS = 5
VARIANTS = ("int8", "fp32")
REPORT_HEADING = "## Teacher and student"
# Speed columns as (figure, variant); the label-only student runs the distilled one's graph.
SPEED_COLUMNS = (
    ("batch32_texts_per_s", "int8"),
    ("batch32_texts_per_s", "fp32"),
    ("full_texts_per_s", "int8"),
    ("full_texts_per_s", "fp32"),
    ("batch1_p50_ms", "int8"),
    ("batch1_p50_ms", "fp32"),
)


def compare_distillation(
    student_dir: str | Path, baseline_dir: str | Path | None = None, rounds: int = DEFAULT_ROUNDS
) -> dict[str, Any]:
    """Measure and write the comparison of a distilled run (see the module docstring); returns
    it as stored in `distill.json`."""
    student = RunDir(student_dir)
    record = read_record(student.path)
    if not record or "distillation" not in record:
        raise InputError(f"{student.path} is not a distilled run (no distill.json).")
    distillation = record["distillation"]
    teacher = RunDir(distillation["teacher"]["run"])
    baseline_dir = baseline_dir or distillation.get("baseline")
    runs = {"teacher": teacher, "distilled": student}
    if baseline_dir:
        runs["label-only"] = RunDir(baseline_dir)
    entries = {name: _run_figures(run) for name, run in runs.items()}
    _check_same_test(runs)
    test = student.read_split("test")
    inputs = list(test.texts) if test.text_pairs is None else list(zip(test.texts, test.text_pairs))
    exports = {name: entries[name]["export"] for name in ("teacher", "distilled")}
    speed = measure_speed(exports, inputs, test.texts, rounds)
    for name, figures in speed["engines"].items():
        model, variant = name.rsplit("_", 1)
        entries[model].setdefault("speed", {})[variant] = figures
    metrics = student.read_metrics()
    entries["tf-idf"] = {"metrics": _scores(metrics.get("baseline") or {}, _task(metrics))}
    comparison = {
        "task": _task(metrics),
        "models": entries,
        "speedups": speed["speedups"],
        "timing": speed["timing"],
        "markdown": markdown(entries, speed["speedups"], _task(metrics)),
    }
    write_record(student.path, {"comparison": comparison})
    add_to_report(student, comparison["markdown"])
    return comparison


def add_to_report(run: RunDir, table_markdown: str) -> None:
    """Put the comparison at the end of the run's `report.md`, replacing an earlier one."""
    report = run.report.read_text(encoding="utf-8") if run.report.is_file() else ""
    kept = report.split(REPORT_HEADING)[0].rstrip()
    section = f"{REPORT_HEADING}\n\n{table_markdown}\n"
    run.report.write_text(f"{kept}\n\n{section}" if kept else section, encoding="utf-8")


def _run_figures(run: RunDir) -> dict[str, Any]:
    if not run.metrics.is_file():
        raise InputError(f"{run.path} has not been evaluated (no metrics.json).")
    settings = run.read_config()
    export = Path(settings.export_dir) if settings.export_dir else default_export_dir(run, settings)
    info = ExportDir(export).read_info()
    metrics = run.read_metrics()
    layers = json.loads((run.model / "config.json").read_text(encoding="utf-8"))
    return {
        "run": str(run.path),
        "export": str(export),
        "layers": int(layers["num_hidden_layers"]),
        "metrics": _scores(metrics, _task(metrics)),
        "graph": info.metadata.get("graph", {}).get("form"),
        "int8_delta_points": None
        if info.int8_accuracy_drop_points is None
        else -info.int8_accuracy_drop_points,
        "size_mb": {
            variant: ExportDir(export).model_path(variant).stat().st_size / 1e6
            for variant in VARIANTS
        },
    }


def _task(metrics: dict[str, Any]) -> str:
    return metrics.get("task") or Task.SINGLE_LABEL.value


def _scores(metrics: dict[str, Any], task: str) -> dict[str, float | None]:
    keys = (
        ("micro_f1", "macro_f1", "subset_accuracy")
        if task == Task.MULTI_LABEL
        else ("accuracy", "macro_f1")
    )
    return {key: metrics.get(key) for key in keys}


def _check_same_test(runs: dict[str, RunDir]) -> None:
    """Every model must have been tested on the same texts, or its figures are not comparable."""
    keys = {name: run.read_split("test").keys() for name, run in runs.items()}
    first = keys["teacher"]
    differ = [name for name, value in keys.items() if value != first]
    if differ:
        raise InputError(
            f"{', '.join(differ)}: tested on another test split than the teacher; compare runs "
            "of the same data, seed and fractions."
        )


def measure_speed(
    exports: dict[str, str | Path], inputs: list[Any], texts: list[str], rounds: int
) -> dict[str, Any]:
    """Batch-32 and batch-1 speed on `inputs` through the predictor, and full-length batch-32
    speed in the graphs, of every export × `VARIANTS`, all taking turns; with the student's
    speed-ups over the teacher paired round by round (names `distilled`, `teacher`)."""
    from kerasbert.inference.predictor import OnnxClassifier
    from kerasbert.training.checkpoint import load_tokenizer

    predict, graphs = {}, {}
    for name, export in exports.items():
        for variant in VARIANTS:
            engine = f"{name}_{variant}"
            predict[engine] = OnnxClassifier(export, variant=variant).predict_proba
            graphs[engine] = ExportDir(export).model_path(variant)
    graph_calls = onnxruntime_calls(graphs)
    max_length = ExportDir(next(iter(exports.values()))).read_info().max_length
    tokenizer = load_tokenizer(str(next(iter(exports.values()))))
    full = feeds_of(fill_rows(tokenizer, texts, max_length, BATCH))
    batches = [inputs[index : index + BATCH] for index in range(0, len(inputs), BATCH)]
    singles = [[item] for item in inputs[:SINGLES]]
    for engine in predict:  # first calls allocate and pack weights
        predict[engine](batches[0])
        predict[engine](singles[0])
        graph_calls[engine](full)
    logger.info("Timing %s, %d rounds ...", ", ".join(predict), rounds)
    batch_seconds = time_in_turn(predict, batches, rounds=rounds)
    single_seconds = time_in_turn(predict, singles, rounds=rounds)
    full_seconds = time_in_turn(graph_calls, [full] * FULL_BATCHES, rounds=rounds)
    engines = {
        engine: {
            "batch32_texts_per_s": len(inputs) / median_pass(batch_seconds[engine], rounds),
            "full_texts_per_s": BATCH * FULL_BATCHES / median_pass(full_seconds[engine], rounds),
            "batch1_p50_ms": percentile_ms(single_seconds[engine], 50),
            "batch1_p95_ms": percentile_ms(single_seconds[engine], 95),
        }
        for engine in predict
    }
    pairs = {variant: (f"distilled_{variant}", f"teacher_{variant}") for variant in VARIANTS}
    passes = {
        name: {engine: pass_seconds(values, rounds) for engine, values in seconds.items()}
        for name, seconds in (("batch32", batch_seconds), ("full", full_seconds))
    }
    single_p50 = {
        engine: round_medians(values, rounds) for engine, values in single_seconds.items()
    }
    speedups = {}
    for variant in VARIANTS:
        for name, seconds in passes.items():
            speedups[f"{variant}_{name}"] = paired_ratios(seconds, {"x": pairs[variant]})["x"]
        # Latency as a share of the teacher's: the inverse of the paired speed-up.
        latency = paired_ratios(single_p50, {"x": pairs[variant]})["x"]
        speedups[f"{variant}_batch1_p50_share"] = {
            "median": 1.0 / latency["median"],
            "pairs": [round(1.0 / value, 3) for value in latency["pairs"]],
        }
    for name, figures in speedups.items():
        logger.info("Student vs teacher, %s: %.2f", name, figures["median"])
    timing = {
        "rounds": rounds,
        "test_texts": len(inputs),
        "singles": len(singles),
        "full_batches": FULL_BATCHES,
        "full_length": int(max_length),
        "mean_tokens_per_test_text": float(
            np.mean([len(ids) for ids in tokenizer(texts[: len(inputs)])["input_ids"]])
        ),
    }
    return {"engines": engines, "speedups": speedups, "timing": timing}


def markdown(entries: dict[str, Any], speedups: dict[str, Any], task: str) -> str:
    """The comparison as a Markdown table, with the student's paired speed-ups under it."""
    score_names = (
        ("micro-F1 %", "macro-F1 %", "subset acc. %")
        if task == Task.MULTI_LABEL
        else ("accuracy %", "macro-F1 %")
    )
    header = [
        "model",
        "layers",
        *score_names,
        "int8 Δ (pts)",
        "MB int8 / fp32",
        "int8 b32 texts/s",
        "fp32 b32 texts/s",
        "int8 full texts/s",
        "fp32 full texts/s",
        "int8 b1 p50 ms",
        "fp32 b1 p50 ms",
    ]
    rows = []
    for name, entry in entries.items():
        scores = [_cell(value) for value in entry["metrics"].values()]
        speed = entry.get("speed")
        if speed:
            timed = [
                f"{speed[variant][figure]:.{_digits(figure)}f}" for figure, variant in SPEED_COLUMNS
            ]
        else:
            same = "as distilled" if name == "label-only" else "—"
            timed = [same] * len(SPEED_COLUMNS)
        delta = entry.get("int8_delta_points")
        size = entry.get("size_mb")
        rows.append(
            [
                name,
                str(entry.get("layers", "—")),
                *scores,
                "—" if delta is None else f"{delta:+.2f}",
                "—" if not size else f"{size['int8']:.1f} / {size['fp32']:.1f}",
                *timed,
            ]
        )
    lines = table(header, rows)
    lines += [
        "",
        "Distilled student against the teacher, paired round by round (median): "
        + ", ".join(
            f"{name.replace('_', ' ')} {figures['median']:.2f}×"
            for name, figures in speedups.items()
        )
        + " (batch1 p50 share: the student's latency as a share of the teacher's).",
    ]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def _digits(figure: str) -> int:
    return 1 if figure.endswith("_ms") else 0
