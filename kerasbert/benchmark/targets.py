"""The issue's targets as data, and the one function that judges a run's figures against them.

Each `Target` names a figure of `benchmark.json` by its path (or the ratio of two figures, or the
spread of several), the comparison and the threshold. A `{dataset}` part of a path stands for each
data set trained on; such targets are judged once per data set, named `<data set>.<name>`. A
target whose figures a run did not measure is left out of that run's `targets`; one that holds
only for some runs (`when`: training in bfloat16, say) is reported in the others as not judged.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kerasbert.benchmark.config import MODES

DATASET = "{dataset}"
COMPARISONS = {">=": operator.ge, "<=": operator.le}


@dataclass(frozen=True)
class Ratio:
    """One figure divided by another."""

    numerator: Metric
    denominator: Metric


@dataclass(frozen=True)
class Spread:
    """The largest of several figures minus the smallest, times `scale`."""

    paths: tuple[str, ...]
    scale: float = 1.0


# A figure's path in the results, dot-separated ("predictor.cold_start_s"), or a `Ratio` or
# `Spread` of figures.
Metric = str | Ratio | Spread


@dataclass(frozen=True)
class Target:
    """One target: `metric` compared with `threshold` by `comparison` (">=" or "<=").

    Args:
        name: the key in `benchmark.json`'s `targets` (prefixed by the data set when per data set).
        metric: the figure judged (see `Metric`).
        comparison: ">=" (at least `threshold`) or "<=" (at most).
        threshold: the value the issue asks for.
        description: what the target says, in words.
        datasets: for a per-data-set target, the data sets it is judged on (None: every one).
        unjudged_when_quick: why a `--quick` run cannot judge it (empty: it can).
        when: `(path, value)`: judged only in runs whose results hold `value` at `path`; in
            other runs reported with `judged: false` and why.
    """

    name: str
    metric: Metric
    comparison: str
    threshold: float
    description: str
    datasets: tuple[str, ...] | None = None
    unjudged_when_quick: str = ""
    when: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if self.comparison not in COMPARISONS:
            raise ValueError(
                f"Target {self.name!r}: comparison must be one of {', '.join(COMPARISONS)}, "
                f"got {self.comparison!r}."
            )

    @property
    def per_dataset(self) -> bool:
        """Judged once per data set: the metric reads a `{dataset}` path."""
        return any(DATASET in path.split(".") for path in metric_paths(self.metric))


def _mode_path(mode: str, figure: str) -> str:
    return f"train.{DATASET}.{mode}.{figure}"


def _bucketed_over(mode: str, figure: str) -> Ratio:
    return Ratio(_mode_path("bucketed", figure), _mode_path(mode, figure))


def _at_length(length: int, figure: str) -> str:
    return f"inference_by_length.lengths.{length}.{figure}"


# The training's matmuls ran in this precision (`train.precision_ceiling.precision`).
_TRAINED_IN = "train.precision_ceiling.precision"


TARGETS: tuple[Target, ...] = (
    Target(
        "bucketed_speedup_over_efficiency_gain",
        Ratio(
            _bucketed_over("longest", "examples_per_s"),
            _bucketed_over("longest", "padding_efficiency"),
        ),
        ">=",
        0.8,
        "Bucketing turns at least 80% of its padding-efficiency gain over per-batch-longest "
        "padding into training speed.",
    ),
    Target(
        "bucketed_vs_longest",
        _bucketed_over("longest", "examples_per_s"),
        ">=",
        1.3,
        "Bucketed training at least 1.3x as fast as per-batch-longest padding on headlines.",
        datasets=("bbc-headlines",),
    ),
    Target(
        "bucketed_vs_fixed",
        _bucketed_over("fixed", "examples_per_s"),
        ">=",
        5.0,
        "Bucketed training at least 5x as fast as fixed padding to 128 tokens on headlines.",
        datasets=("bbc-headlines",),
    ),
    Target(
        "accuracy_spread_points",
        Spread(tuple(_mode_path(mode, "accuracy") for mode in MODES), scale=100),
        "<=",
        0.5,
        "The padding modes' test accuracies within 0.5 points: padding must not change what is "
        "learned.",
        unjudged_when_quick="--quick trains too little to compare accuracies",
    ),
    Target(
        "int8_vs_tf_batch32",
        Ratio("inference.ort_int8.batch32_seq_per_s", "inference.tf.batch32_seq_per_s"),
        ">=",
        2.5,
        "The int8 ONNX predictor serves batches of 32 at least 2.5x as fast as TF Keras predict.",
    ),
    Target(
        "int8_vs_ort_fp32_batch32",
        Ratio("inference.ort_int8.batch32_seq_per_s", "inference.ort_fp32.batch32_seq_per_s"),
        ">=",
        1.8,
        "Quantizing to int8 makes batch-32 serving at least 1.8x as fast as ORT float32.",
    ),
    Target(
        "predictor_cold_start_s",
        "predictor.cold_start_s",
        "<=",
        1.0,
        "A new process imports the predictor, loads the model and predicts within a second.",
    ),
    Target(
        "predictor_peak_rss_mb",
        "predictor.peak_rss_mb",
        "<=",
        300,
        "The predictor process peaks under 300 MB of resident memory.",
    ),
    Target(
        "train_flop_fraction_of_matmul_ceiling",
        "train.flop_fraction_of_precision_ceiling",
        ">=",
        0.7,
        "Training at 128 tokens in float32 reaches 70% of the FLOP rate of a large float32 matmul.",
        when=(_TRAINED_IN, "float32"),
    ),
    Target(
        "train_flop_fraction_of_bfloat16_ceiling",
        "train.flop_fraction_of_precision_ceiling",
        ">=",
        0.6,
        "Training at 128 tokens in bfloat16 reaches 60% of the FLOP rate of a large bfloat16 "
        "matmul (against float32's, bfloat16 training could pass 100%).",
        when=(_TRAINED_IN, "bfloat16"),
    ),
    *(
        Target(
            f"fused_fp32_fraction_of_matmul_ceiling_{length}",
            _at_length(length, "batched.fused_fp32.fraction_of_matmul_ceiling"),
            ">=",
            0.75,
            f"The fused fp32 graph runs full-length batches of {length} tokens at 75% of the "
            "FLOP rate of a large float32 matmul timed in the same rounds.",
        )
        for length in (128, 256, 512)
    ),
    Target(
        "fused_vs_plain_fp32_512",
        _at_length(512, "ratios.fused_vs_plain_fp32.median"),
        ">=",
        1.2,
        "At 512 tokens the fused fp32 graph serves full batches 1.2x as fast as the plain one.",
    ),
    Target(
        "fused_vs_plain_int8_512",
        _at_length(512, "ratios.fused_vs_plain_int8.median"),
        ">=",
        1.15,
        "At 512 tokens the fused int8 graph serves full batches 1.15x as fast as the plain int8.",
    ),
    Target(
        "fused_vs_plain_batch1_p50_512",
        _at_length(512, "batch1_p50_ratios.fused_vs_plain_fp32.median"),
        ">=",
        1.3,
        "At 512 tokens the fused fp32 graph's batch-1 p50 latency is 1.3x better than the plain "
        "graph's.",
    ),
    # The same three at 512 against the tf2onnx graph: the export before the fused graph, the
    # "unfused" graph of the table (the plain graph above is the stricter reference:
    # onnxruntime fuses all of it but attention at load time).
    *(
        Target(
            f"fused_vs_tf2onnx_{name}_512",
            _at_length(512, f"{figure}.fused_vs_tf2onnx_{precision}.median"),
            ">=",
            threshold,
            f"At 512 tokens the fused {precision} graph is {threshold:g}x as fast as the tf2onnx "
            f"graph ({words}).",
        )
        for name, figure, precision, threshold, words in (
            ("fp32", "ratios", "fp32", 1.2, "full batches"),
            ("int8", "ratios", "int8", 1.15, "full batches"),
            ("batch1_p50", "batch1_p50_ratios", "fp32", 1.3, "batch-1 p50 latency"),
        )
    ),
    *(
        Target(
            f"headlines_fused_vs_tf2onnx_{figure}_{precision}",
            f"inference_by_length.headlines.{figure}.fused_vs_tf2onnx_{precision}.median",
            ">=",
            1.0,
            f"On real headlines ({words}) the fused {precision} graph is no slower than the "
            "tf2onnx graph kerasbert exported before it.",
        )
        for figure, words in (("ratios", "batches of 32"), ("batch1_p50_ratios", "batch-1 p50"))
        for precision in ("fp32", "int8")
    ),
)


def metric_paths(metric: Metric) -> list[str]:
    """Every figure path `metric` reads."""
    if isinstance(metric, str):
        return [metric]
    if isinstance(metric, Ratio):
        return metric_paths(metric.numerator) + metric_paths(metric.denominator)
    return list(metric.paths)


def training_datasets(results: dict[str, Any]) -> list[str]:
    """The data sets of `results["train"]` with figures for every padding mode."""
    return [
        name
        for name, figures in results.get("train", {}).items()
        if isinstance(figures, dict) and all(mode in figures for mode in MODES)
    ]


def lookup(results: dict[str, Any], path: str, dataset: str | None = None) -> Any:
    """The value at dot-separated `path` (its `{dataset}` part replaced by `dataset`), or None
    where the results have none."""
    value: Any = results
    for key in path.split("."):
        key = dataset if key == DATASET else key
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def figure(results: dict[str, Any], path: str, dataset: str | None = None) -> float | None:
    """The number at `path` (see `lookup`), or None where the results have none."""
    value = lookup(results, path, dataset)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def metric_value(
    results: dict[str, Any], metric: Metric, dataset: str | None = None
) -> float | None:
    """The value of `metric` in `results` (None if a figure it needs is missing)."""
    if isinstance(metric, str):
        return figure(results, metric, dataset)
    if isinstance(metric, Ratio):
        numerator = metric_value(results, metric.numerator, dataset)
        denominator = metric_value(results, metric.denominator, dataset)
        if numerator is None or not denominator:
            return None
        return numerator / denominator
    values = [figure(results, path, dataset) for path in metric.paths]
    if any(value is None for value in values):
        return None
    return metric.scale * (max(values) - min(values))


def judge(
    target: Target, value: float, quick: bool, results: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One target's entry in `benchmark.json`: value, wanted and met (and why it is not judged)."""
    entry: dict[str, Any] = {
        "value": round(float(value), 4),
        "target": f"{target.comparison} {target.threshold:g}",
        "met": bool(COMPARISONS[target.comparison](value, target.threshold)),
    }
    if target.when is not None:
        path, wanted = target.when
        found = lookup(results or {}, path)
        if found != wanted:
            entry.update(judged=False, why=f"holds where {path} is {wanted}; this run: {found}")
    if quick and target.unjudged_when_quick:
        entry.update(judged=False, why=target.unjudged_when_quick)
    return entry


def evaluate_targets(
    results: dict[str, Any], targets: Sequence[Target] = TARGETS
) -> dict[str, Any]:
    """Check `targets` against the figures of one run; each entry has value, target and met.

    Per-data-set targets come first, data set by data set, then the others in `targets` order.
    """
    quick = bool(results.get("settings", {}).get("quick", False))
    judged: dict[str, Any] = {}
    cases = [
        (f"{dataset}.{target.name}", target, dataset)
        for dataset in training_datasets(results)
        for target in targets
        if target.per_dataset and (target.datasets is None or dataset in target.datasets)
    ]
    cases += [(target.name, target, None) for target in targets if not target.per_dataset]
    for name, target, dataset in cases:
        value = metric_value(results, target.metric, dataset)
        if value is not None and math.isfinite(value):
            judged[name] = judge(target, value, quick, results)
    return judged
