"""`report.md`: one page a reader opens first, written from the files of a run directory.

It states the configuration, the data, BERT against the TF-IDF baseline, the per-class scores,
the plots and the mistakes the model was surest of, as GitHub-flavoured Markdown with relative image
links, so it renders on a code hosting site and in any Markdown viewer next to `plots/`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.common.decision import check_thresholds, label_sets
from kerasbert.common.files import read_json
from kerasbert.common.markdown import (
    at as _at,
)
from kerasbert.common.markdown import (
    code as _code,
)
from kerasbert.common.markdown import (
    escape as _escape,
)
from kerasbert.common.markdown import (
    flatten as _flatten,
)
from kerasbert.common.markdown import (
    integer as _integer,
)
from kerasbert.common.markdown import (
    number as _number,
)
from kerasbert.common.markdown import (
    signed as _signed,
)
from kerasbert.common.markdown import (
    snippet as _snippet,
)
from kerasbert.common.markdown import (
    table as _table,
)
from kerasbert.common.names import Task
from kerasbert.config import RECORD_KEYS
from kerasbert.evaluation.metrics import confident_mistakes, lift
from kerasbert.evaluation.multilabel_metrics import joined
from kerasbert.training.recipe import METRIC_NAMES, describe_recipe
from kerasbert.training.rundir import RunDir

logger = logging.getLogger(__name__)

# The settings a reader needs to judge the run; the rest are in a collapsed block.
_KEY_SETTINGS = (
    "data",
    "model",
    "max_length",
    "truncation",
    "batch_size",
    "epochs",
    "learning_rate",
    "weight_decay",
    "warmup_ratio",
    "padding",
    "strategy",
    "precision",
    "seed",
)

# (metrics.json key, row name); lower is better for the last two.
_METRIC_ROWS = (
    ("accuracy", "Accuracy"),
    ("macro_precision", "Macro precision"),
    ("macro_recall", "Macro recall"),
    ("macro_f1", "Macro F1"),
    ("weighted_f1", "Weighted F1"),
    ("log_loss", "Log loss (lower is better)"),
    ("expected_calibration_error", "Expected calibration error (lower is better)"),
)
# Multi-label runs: label sets thresholded per label; `accuracy` there is subset accuracy.
_MULTILABEL_ROWS = (
    ("micro_f1", "Micro F1"),
    ("macro_f1", "Macro F1"),
    ("weighted_f1", "Weighted F1"),
    ("samples_f1", "Samples F1"),
    ("subset_accuracy", "Subset accuracy (whole set right)"),
    ("hamming_loss", "Hamming loss (lower is better)"),
    ("macro_average_precision", "Macro average precision (no threshold)"),
    ("log_loss", "Binary log loss (lower is better)"),
)

_PLOT_TITLES = (
    ("training_curves", "Training curves"),
    ("confusion_matrix", "Confusion matrix"),
    ("per_class_metrics", "Per-class precision, recall and F1"),
    ("reliability", "Calibration"),
    ("reliability_uncalibrated", "Calibration before temperature scaling"),
    ("coverage", "Accuracy against coverage (abstaining below a minimum confidence)"),
    ("sample_predictions", "Sample predictions"),
    ("per_label_f1", "Per-label precision, recall and F1"),
    ("threshold_curves", "Per-label thresholds (validation F1 by threshold)"),
    ("label_cooccurrence", "Label co-occurrence, true and predicted"),
)
_SAMPLE_COUNT = 8


def write_report(run_dir: str | Path) -> Path:
    """Write `run_dir/report.md` from the run's JSON files and plots; return its path.

    Needs `metrics.json` and `labels.json`; `config.json`, `data_summary.json`, `history.json`,
    the test split, its probabilities and `plots/*.png` each add their section when present.
    """
    run = RunDir(run_dir)
    run_dir = run.path
    metrics = run.read_metrics()
    stored = _read_optional(run.config)
    config = {key: value for key, value in stored.items() if key not in RECORD_KEYS}
    summary = _read_optional(run.data_summary)
    history = _read_optional(run.history)
    recipe = run.read_recipe()

    sections = [
        _headline(run_dir, metrics, config),
        _configuration(config, recipe),
        _data(summary, metrics, config),
        _results(metrics),
        _calibration(metrics),
        _label_set_samples(run, metrics),
        _training(history, recipe),
        _plots(run),
        _mistakes(run, metrics),
        _explanations(run, metrics),
    ]
    path = run.report
    path.write_text(
        "\n\n".join(section for section in sections if section) + "\n", encoding="utf-8"
    )
    logger.info("Wrote %s", path)
    return path


def _headline(run_dir: Path, metrics: dict[str, Any], config: dict[str, Any]) -> str:
    lines = [f"# Run report: `{run_dir.name}`", ""]
    facts = [f"{metrics['num_examples']} test texts"]
    if "data" in config:
        facts.append(f"data `{config['data']}`")
    if "model" in config:
        facts.append(f"model `{config['model']}`")
    if metrics.get("task") == Task.MULTI_LABEL:
        lines.append(
            f"**Multi-label: test micro F1 {_number(metrics['micro_f1'])}, macro F1 "
            f"{_number(metrics['macro_f1'])}, subset accuracy {_number(metrics['accuracy'])}, "
            f"Hamming loss {_number(metrics['hamming_loss'])}** ({', '.join(facts)}; label "
            f"cardinality {_number(metrics['label_cardinality']['predicted'], 2)} predicted, "
            f"{_number(metrics['label_cardinality']['true'], 2)} true)."
        )
    else:
        lines.append(
            f"**Test accuracy {_number(metrics['accuracy'])}, "
            f"macro F1 {_number(metrics['macro_f1'])}** "
            f"({', '.join(facts)})."
        )
    baseline = metrics.get("baseline")
    if baseline:
        gains = lift(metrics, baseline)
        # Judged on the lift as printed: "+0.0000" reads as a tie, never as a win.
        shown = float(_signed(gains["macro_f1"]))
        verdict = "beats" if shown > 0 else "trails" if shown < 0 else "ties"
        accuracy = "subset accuracy" if metrics.get("task") == Task.MULTI_LABEL else "accuracy"
        lines += [
            "",
            f"BERT {verdict} the TF-IDF + logistic regression baseline on macro F1: {accuracy} "
            f"{_number(baseline['accuracy'])}, macro F1 {_number(baseline['macro_f1'])}; "
            f"lift {_signed(gains.get('accuracy'))} {accuracy}, "
            f"{_signed(gains.get('macro_f1'))} macro F1.",
        ]
    return "\n".join(lines)


def _configuration(config: dict[str, Any], recipe: dict[str, Any] | None = None) -> str:
    if not config:
        return ""
    # Settings left unset were chosen by the run's recipe from its data: show what it trained.
    chosen = recipe or {}
    shown = {
        **config,
        **{
            name: chosen.get(name)
            for name in ("epochs", "batch_size", "learning_rate")
            if config.get(name) is None
        },
    }
    rows = [(f"`{key}`", _code(shown[key])) for key in _KEY_SETTINGS if key in config]
    lines = ["## Configuration", ""]
    if recipe:
        # What the recipe chose and why (`config.json` → `recipe`).
        lines += [f"Recipe: {describe_recipe(recipe)}.", ""]
    lines += _table(("Setting", "Value"), rows)
    lines += [
        "",
        "<details><summary>All settings (<code>config.json</code>)</summary>",
        "",
        "```json",
        json.dumps(config, indent=2, ensure_ascii=False),
        "```",
        "",
        "</details>",
    ]
    return "\n".join(lines)


def _data(summary: dict[str, Any], metrics: dict[str, Any], config: dict[str, Any]) -> str:
    sizes = summary.get("split_sizes") or metrics.get("split_sizes") or {}
    class_counts = summary.get("class_counts") or {}
    if not (summary or sizes):
        return ""
    lines = ["## Data", ""]
    if summary.get("source"):
        lines += [f"Source: `{summary['source']}`.", ""]
    labels = metrics.get("labels") or summary.get("labels") or []
    splits = list(sizes) or list(class_counts)
    if splits:
        rows = []
        for split in splits:
            counts = class_counts.get(split) or {}
            total = sizes.get(split, sum(counts.values()) if counts else None)
            row = [split, _integer(total)]
            for label in labels:
                count = counts.get(label)
                share = f" ({count / total:.0%})" if count is not None and total else ""
                row.append(f"{_integer(count)}{share}")
            rows.append(row)
        if not class_counts:
            labels = []
        header = ("Split", "Texts", *(_escape(label) for label in labels))
        lines += ["Texts per split and class:", "", *_table(header, rows), ""]

    facts = []
    if summary.get("pair"):
        columns = summary.get("columns") or {}
        named = (
            f" (columns `{columns['text']}` and `{columns['text_pair']}`)"
            if columns.get("text") and columns.get("text_pair")
            else ""
        )
        facts.append(
            f"Text pairs{named}: each example is a first and a second text, read by the model "
            "together; too-long pairs lose tokens from the longer text first"
        )
    duplicates = summary.get("duplicates_dropped", metrics.get("duplicates_dropped"))
    if duplicates is not None:
        facts.append(f"Exact-duplicate texts dropped: **{_flatten(duplicates)}**")
    if summary.get("conflicting_duplicates_dropped"):
        facts.append(
            "Texts dropped because copies carried different labels: "
            f"**{_flatten(summary['conflicting_duplicates_dropped'])}**"
        )
    if summary.get("overlap_dropped"):
        facts.append(
            "Texts dropped from evaluation files because they also occur in training: "
            f"{_flatten(summary['overlap_dropped'])}"
        )
    padding = summary.get("padding") or {}
    if padding.get("mode"):
        efficiency = padding.get("train_padding_efficiency")
        detail = f", {efficiency:.0%} of training tokens are real text" if efficiency else ""
        facts.append(f"Padding: `{padding['mode']}`{detail}")
    strategy = summary.get("strategy") or {}
    if strategy.get("name"):
        facts.append(
            f"Hardware: `{strategy['name']}` with {strategy.get('replicas', '?')} replica(s), "
            f"global batch {strategy.get('global_batch_size', '?')}, "
            f"precision `{strategy.get('precision', '?')}`"
        )
    if summary.get("imbalance"):
        facts.append(_imbalance(summary["imbalance"]))
    lines += [f"- {fact}" for fact in facts]

    lengths = summary.get("token_lengths") or {}
    if lengths:
        lines += ["", *_token_lengths(lengths, config, bool(summary.get("pair")))]
    return "\n".join(lines).rstrip()


def _imbalance(imbalance: dict[str, Any]) -> str:
    """The class balance of the training split and what `--class-weight` did about it."""
    ratio = imbalance.get("largest_to_smallest")
    resolved = imbalance.get("resolved", "none")
    fact = (
        f"Class balance (training split): the largest class has {_flatten(ratio)}× the "
        f"examples of the smallest; `--class-weight {imbalance.get('class_weight', 'auto')}` "
        f"→ **{resolved}**"
    )
    weights = imbalance.get("weights")
    if resolved != "none" and weights:
        shown = ", ".join(
            f"{_escape(str(label))} {weight:.2f}" for label, weight in weights.items()
        )
        fact += f" (weights on {imbalance.get('weights_applied_to', 'the loss')}: {shown})"
    elif resolved == "none" and imbalance.get("class_weight") == "auto":
        fact += f" (weighting starts past {_flatten(imbalance.get('threshold'))}×)"
    return fact


def _label_set_samples(run: RunDir, metrics: dict[str, Any]) -> str:
    """A multi-label run's first test texts with their true and predicted label sets."""
    probabilities = run.read_test_probabilities()
    if metrics.get("task") != Task.MULTI_LABEL or probabilities is None:
        return ""
    test, labels = run.read_split("test"), metrics["labels"]
    count = min(_SAMPLE_COUNT, len(test))
    cuts = check_thresholds(metrics["thresholds"], labels)
    rows = [
        [
            _escape(_snippet(text)),
            _escape(joined(truth)),
            _escape(joined(chosen)),
            "✓" if tuple(chosen) == tuple(truth) else "✗",
            ", ".join(f"{_escape(label)} {value:.2f}" for label, value in zip(labels, row)),
        ]
        for text, truth, chosen, row in zip(
            test.display_texts()[:count],
            test.label_sets(),
            label_sets(probabilities[:count], cuts, labels),
            probabilities,
        )
    ]
    header = ("Text", "True labels", "Predicted labels", "Same set", "Probabilities")
    return "\n".join(["## Sample predictions", "", *_table(header, rows)])


def _token_lengths(
    lengths: dict[str, Any], config: dict[str, Any], pair: bool = False
) -> list[str]:
    """Per-split token-length percentiles and how many texts `max_length` cut short."""
    per_split = {split: stats for split, stats in lengths.items() if isinstance(stats, dict)}
    if not per_split:
        return []
    first = next(iter(per_split.values()))
    percentiles = [key for key in first if key.startswith("p") and key[1:].isdigit()]
    columns = [*percentiles, *(key for key in ("mean", "max") if key in first)]
    rows = []
    for split, stats in per_split.items():
        row = [split, *(_flatten(stats.get(key)) for key in columns)]
        truncated = stats.get("truncated")
        fraction = stats.get("truncated_fraction")
        share = f" ({fraction:.1%})" if fraction is not None else ""
        row.append(f"{_integer(truncated)}{share}")
        rows.append(row)
    limit = first.get("max_length", config.get("max_length"))
    truncated_header = f"Truncated at {limit}" if limit else "Truncated"
    caption = (
        "Tokens per pair before truncation (both texts, [CLS] and [SEP] included):"
        if pair
        else "Tokens per text before truncation ([CLS] and [SEP] included):"
    )
    return [
        caption,
        "",
        *_table(("Split", *columns, truncated_header), rows),
    ]


def _results(metrics: dict[str, Any]) -> str:
    baseline = metrics.get("baseline") or {}
    gains = lift(metrics, baseline) if baseline else {}
    header = ("Metric", "BERT", "TF-IDF baseline", "Lift") if baseline else ("Metric", "BERT")
    rows = []
    multi_label = metrics.get("task") == Task.MULTI_LABEL
    for key, name in _MULTILABEL_ROWS if multi_label else _METRIC_ROWS:
        if metrics.get(key) is None:
            continue
        row = [name, _number(metrics[key])]
        if baseline:
            gain = gains.get(key)
            if gain is None and baseline.get(key) is not None:
                gain = float(metrics[key]) - float(baseline[key])
            row += [_number(baseline.get(key)), _signed(gain)]
        rows.append(row)
    lines = ["## Test results", "", *_table(header, rows)]
    if baseline.get("model"):
        lines += ["", f"Baseline: {_escape(baseline['model'])}."]

    per_class_header = ["Class", "Precision", "Recall", "F1", "Support"]
    if baseline.get("per_class"):
        per_class_header.append("Baseline F1")
    per_class_rows = []
    for label, scores in metrics["per_class"].items():
        row = [
            _escape(label),
            _number(scores["precision"]),
            _number(scores["recall"]),
            _number(scores["f1"]),
            str(scores["support"]),
        ]
        if baseline.get("per_class"):
            row.append(_number(baseline["per_class"].get(label, {}).get("f1")))
        per_class_rows.append(row)
    if multi_label:
        per_class_header[0] = "Label"
        thresholds = metrics.get("thresholds") or {}
        per_class_header.append("Threshold")
        for row, label in zip(per_class_rows, metrics["per_class"]):
            row.append(_number(thresholds.get(label), 2))
        lines += [
            "",
            "Thresholds: each label's own, tuned on the validation split "
            f"({_escape(str(metrics.get('thresholds_from', 'validation')))}); "
            "support counts the test texts that carry the label.",
        ]
    title = "### Per label" if multi_label else "### Per class"
    lines += ["", title, "", *_table(per_class_header, per_class_rows)]
    lines += [
        "",
        "### Classification report",
        "",
        "```text",
        metrics["classification_report"].rstrip(),
        "```",
    ]
    return "\n".join(lines)


def _calibration(metrics: dict[str, Any]) -> str:
    """Temperature scaling's figures before and after, and the abstention chosen on validation."""
    calibration = metrics.get("calibration")
    if not calibration:
        return ""
    validation, test = calibration.get("validation") or {}, calibration["test"]
    rows = [
        [
            "Expected calibration error",
            _number(validation.get("ece_before")),
            _number(validation.get("ece_after")),
            _number(test["ece_before"]),
            _number(test["ece_after"]),
        ],
        [
            "Negative log-likelihood",
            _number(validation.get("nll_before")),
            _number(validation.get("nll_after")),
            _number(test["nll_before"]),
            _number(test["nll_after"]),
        ],
    ]
    header = ("Measure", "Validation before", "after", "Test before", "after")
    lines = [
        "## Calibration and abstention",
        "",
        f"Temperature scaling: the logits are divided by T = {calibration['temperature']:.4f}, "
        "fitted on the validation split (lowest negative log-likelihood). No label changes; "
        "the probabilities above, the export and the predictor are the calibrated ones.",
        "",
        *_table(header, rows),
    ]
    abstention = metrics.get("abstention") or {}
    target = abstention.get("target_accuracy")
    if target is None:
        return "\n".join(lines)
    if abstention.get("min_confidence") is None:
        lines += [
            "",
            f"No minimum confidence reaches {target:.0%} accuracy on the validation split.",
        ]
        return "\n".join(lines)
    lines += [
        "",
        f"Abstaining below a confidence of {abstention['min_confidence']:.4f} reaches "
        f"{abstention['validation_accuracy']:.1%} accuracy on the validation split (target "
        f"{target:.0%}) keeping {abstention['validation_coverage']:.1%} of its texts; on the "
        f"test split it keeps {abstention['test_coverage']:.1%} at "
        + (
            "no accuracy (none kept)"
            if abstention.get("test_accuracy") is None
            else f"{abstention['test_accuracy']:.1%} accuracy"
        )
        + f" (`kerasbert predict --min-confidence {abstention['min_confidence']:.4f}`).",
    ]
    return "\n".join(lines)


def _training(history: dict[str, Any], recipe: dict[str, Any] | None = None) -> str:
    if not history.get("loss"):
        return ""
    columns = [
        ("loss", "Loss"),
        ("accuracy", "Accuracy"),
        ("val_loss", "Val. loss"),
        ("val_accuracy", "Val. accuracy"),
        ("val_macro_f1", "Val. macro-F1"),
        ("val_micro_f1", "Val. micro-F1"),
        ("epoch_seconds", "Seconds"),
    ]
    columns = [(key, name) for key, name in columns if history.get(key)]
    rows = [
        [
            str(epoch + 1),
            *(
                f"{_at(history[key], epoch):.0f}"
                if key == "epoch_seconds" and _at(history[key], epoch) is not None
                else _number(_at(history[key], epoch))
                for key, _ in columns
            ),
        ]
        for epoch in range(len(history["loss"]))
    ]
    lines = ["## Training", "", *_table(("Epoch", *(name for _, name in columns)), rows)]
    if recipe and recipe.get("kept_epoch"):
        lines += [
            "",
            f"Kept: epoch {recipe['kept_epoch']} (best {METRIC_NAMES[recipe['metric']]}).",
        ]
    elif history.get("val_loss"):
        best = int(np.argmin(history["val_loss"])) + 1
        lines += ["", f"Lowest validation loss after epoch {best}."]
    return "\n".join(lines)


def _plots(run: RunDir) -> str:
    lines = ["## Plots"]
    for role, title in _PLOT_TITLES:
        path = run.plot(role)
        if path.is_file():
            lines += [
                "",
                f"### {title}",
                "",
                f"![{title}]({path.relative_to(run.path).as_posix()})",
            ]
    return "\n".join(lines) if len(lines) > 1 else ""


def _mistakes(run: RunDir, metrics: dict[str, Any], k: int = 10) -> str:
    mistakes = metrics.get("confident_mistakes")
    probabilities = run.read_test_probabilities()
    if mistakes is None and run.split_path("test").is_file() and probabilities is not None:
        test = run.read_split("test")
        mistakes = confident_mistakes(
            test.display_texts(),
            test.label_ids(metrics["labels"]),
            probabilities,
            metrics["labels"],
            k=k,
        )
    if mistakes is None:
        return ""
    if not mistakes:
        return "## Most confident mistakes\n\nNone: every test text was classified correctly."
    rows = [
        [
            str(position),
            _escape(_snippet(item["text"])),
            _escape(item["true_label"]),
            _escape(item["predicted_label"]),
            _number(item["confidence"], 3),
        ]
        for position, item in enumerate(mistakes[:k], start=1)
    ]
    lines = [
        "## Most confident mistakes",
        "",
        "The wrong predictions the model was surest of; often mislabelled or ambiguous texts.",
        "",
        *_table(("#", "Text", "True", "Predicted", "Probability"), rows),
    ]
    return "\n".join(lines)


# Words of an explained text shown in the report: the strongest for the label and against it.
_SUPPORTING_WORDS = 6
_OPPOSING_WORDS = 3
_BOLD_WORDS = 3


def _explanations(run: RunDir, metrics: dict[str, Any]) -> str:
    summary = metrics.get("explanations")
    if not summary or not summary.get("texts") or not run.explanations.is_file():
        return ""
    items = [
        json.loads(line)
        for line in run.explanations.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    lines = [
        "## Why: the words behind a few predictions",
        "",
        f"Integrated gradients ({summary['steps']} steps) on the fine-tuned model for the "
        f"{summary['mistakes']} surest mistakes and the surest right answers per label; "
        "**bold** words pushed the model towards the label it gave, the numbers are each "
        "word's share of that label's logit. The sums match the logit difference within "
        f"{summary['completeness_tolerance']:.0%} for "
        f"{summary['completeness_within_tolerance']:.0%} of them (largest gap "
        f"{summary['completeness_error_max']:.1%}). Every word highlighted: "
        f"[{run.explanations_page.name}]({run.explanations_page.name}).",
    ]
    for item in items:
        truth = ", ".join(item["true"]) or "no label"
        for attribution in item["attributions"]:
            scores = attribution["scores"]
            words = [word["text"] for word in item["words"]]
            order = sorted(range(len(scores)), key=lambda index: -scores[index])
            support = [index for index in order[:_SUPPORTING_WORDS] if scores[index] > 0]
            against = [index for index in order[::-1][:_OPPOSING_WORDS] if scores[index] < 0]
            kind = "mistake" if item["kind"] == "mistake" else "right"
            lines += [
                "",
                f"**{_escape(attribution['label'])}** "
                f"({attribution['probability']:.3f}) · {kind}, true {_escape(truth)} · "
                f"test text {item['index']}",
                "",
                "> " + _bolded(item, set(support[:_BOLD_WORDS])),
                "",
                "for: "
                + ", ".join(f"{_escape(words[i])} {scores[i]:+.2f}" for i in support)
                + (
                    " · against: "
                    + ", ".join(f"{_escape(words[i])} {scores[i]:+.2f}" for i in against)
                    if against
                    else ""
                ),
            ]
    return "\n".join(lines)


def _bolded(item: dict[str, Any], bold: set[int], limit: int = 60) -> str:
    """The explained words of the first text, the first `limit` of them, `bold` ones in bold."""
    words = [word for word in item["words"] if word["segment"] == 0][:limit]
    parts = [
        f"**{_escape(word['text'])}**" if index in bold else _escape(word["text"])
        for index, word in enumerate(words)
    ]
    more = " …" if len(words) < sum(word["segment"] == 0 for word in item["words"]) else ""
    return " ".join(parts) + more


def _read_optional(path: Path) -> dict[str, Any]:
    if not path.is_file():
        logger.info("%s is missing; its report section is left out.", path)
        return {}
    value = read_json(path)
    return value if isinstance(value, dict) else {}
