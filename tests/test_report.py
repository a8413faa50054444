"""report.md: the numbers are those of metrics.json, the plots are linked, the tables render."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_plots import make_run_dir

from kerasbert.evaluation import plots
from kerasbert.evaluation.report import write_report
from kerasbert.training.rundir import PLOT_FILES


def table_rows(report: str, first_cell: str) -> list[list[str]]:
    """Cells of the Markdown table rows whose first cell is `first_cell`."""
    rows = []
    for line in report.splitlines():
        if line.startswith(f"| {first_cell} |"):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


@pytest.fixture(scope="module")
def plotted_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run directory with its plots, shared by the tests that only read it."""
    run_dir = make_run_dir(tmp_path_factory.mktemp("plotted"))
    plots.write_plots(run_dir)
    return run_dir


def test_report_numbers_match_metrics_json(plotted_run: Path) -> None:
    run_dir = plotted_run
    report = write_report(run_dir).read_text(encoding="utf-8")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    baseline = metrics["baseline"]

    [accuracy] = table_rows(report, "Accuracy")
    assert accuracy == [
        "Accuracy",
        f"{metrics['accuracy']:.4f}",
        f"{baseline['accuracy']:.4f}",
        f"{metrics['accuracy'] - baseline['accuracy']:+.4f}",
    ]
    [macro_f1] = table_rows(report, "Macro F1")
    assert macro_f1[1:3] == [f"{metrics['macro_f1']:.4f}", f"{baseline['macro_f1']:.4f}"]
    for label, scores in metrics["per_class"].items():
        [row] = table_rows(report, label)
        assert row[1:5] == [
            f"{scores['precision']:.4f}",
            f"{scores['recall']:.4f}",
            f"{scores['f1']:.4f}",
            str(scores["support"]),
        ]
    assert metrics["classification_report"].strip() in report
    assert f"**Test accuracy {metrics['accuracy']:.4f}" in report


def test_report_embeds_every_plot_with_a_relative_link(plotted_run: Path) -> None:
    run_dir = plotted_run
    report = write_report(run_dir).read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", report)
    # Every plot the run has, in PLOT_FILES order (no "before calibration" diagram: uncalibrated).
    assert links == [
        f"plots/{name}" for role, name in PLOT_FILES.items() if role != "reliability_uncalibrated"
    ]
    assert all((run_dir / link).is_file() for link in links)


def test_report_lists_confident_mistakes_in_a_well_formed_table(tmp_path: Path) -> None:
    run_dir = make_run_dir(tmp_path)
    report = write_report(run_dir).read_text(encoding="utf-8")
    mistakes = json.loads((run_dir / "metrics.json").read_text())["confident_mistakes"]
    section = report.split("## Most confident mistakes", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == len(mistakes) == 10
    for row, mistake in zip(rows, mistakes, strict=True):
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]]
        assert len(cells) == 5, "a pipe in the text must not add a column"
        assert cells[2:] == [
            mistake["true_label"],
            mistake["predicted_label"],
            f"{mistake['confidence']:.3f}",
        ]
    assert "<b>" not in report, "raw HTML from the data must be escaped"


def test_report_computes_mistakes_from_the_test_split_when_metrics_lack_them(
    tmp_path: Path,
) -> None:
    run_dir = make_run_dir(tmp_path)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    expected = metrics.pop("confident_mistakes")
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    report = write_report(run_dir).read_text(encoding="utf-8")
    assert f"{expected[0]['confidence']:.3f}" in report.split("## Most confident mistakes")[1]


def test_report_shows_the_data_summary(tmp_path: Path) -> None:
    run_dir = make_run_dir(tmp_path)
    report = write_report(run_dir).read_text(encoding="utf-8")
    assert "Exact-duplicate texts dropped: **7**" in report
    [test_sizes] = table_rows(report, "test")[:1]
    assert test_sizes[:3] == ["test", "90", "30 (33%)"]
    assert "| Split | p50 | p95 | max | Truncated at 64 |" in report
    assert table_rows(report, "test")[1] == ["test", "20", "70", "90", "4"]


def test_report_tolerates_a_minimal_run_directory(tmp_path: Path) -> None:
    run_dir = make_run_dir(tmp_path)
    for name in ("config.json", "data_summary.json", "history.json", "test_probabilities.json"):
        (run_dir / name).unlink()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("baseline", "lift", "confident_mistakes"):
        metrics.pop(key)
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    report = write_report(run_dir).read_text(encoding="utf-8")
    assert f"{metrics['accuracy']:.4f}" in report
    assert "baseline" not in report.lower()
    assert "## Plots" not in report


@pytest.mark.parametrize(
    "macro_f1_lift, verdict",
    [(0.05, "beats"), (0.00004, "ties"), (0.0, "ties"), (-0.00004, "ties"), (-0.05, "trails")],
)
def test_verdict_on_the_baseline_follows_the_lift_as_printed(
    tmp_path: Path, macro_f1_lift: float, verdict: str
) -> None:
    run_dir = make_run_dir(tmp_path)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["baseline"]["macro_f1"] = metrics["macro_f1"] - macro_f1_lift
    metrics["baseline"]["accuracy"] = metrics["accuracy"]
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    report = write_report(run_dir).read_text(encoding="utf-8")
    [sentence] = [line for line in report.splitlines() if "logistic regression baseline" in line]
    assert sentence.startswith(f"BERT {verdict} the TF-IDF + logistic regression baseline on ")
    assert f"lift +0.0000 accuracy, {macro_f1_lift:+.4f} macro F1." in sentence


def test_report_shows_the_words_behind_explained_texts_escaped_and_linked(tmp_path: Path) -> None:
    run_dir = make_run_dir(tmp_path)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["explanations"] = {
        "method": "integrated_gradients",
        "steps": 32,
        "texts": 1,
        "mistakes": 1,
        "completeness_tolerance": 0.05,
        "completeness_within_tolerance": 1.0,
        "completeness_error_max": 0.012,
        "seconds": 1.0,
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    words = ["Shares", "<b>rose</b>", "after", "the", "match"]
    record = {
        "index": 3,
        "kind": "mistake",
        "true": ["business"],
        "predicted": ["sport"],
        "confidence": 0.91,
        "text": " ".join(words),
        "text_pair": None,
        "method": "integrated_gradients",
        "words": [{"text": word, "start": 0, "end": 0, "segment": 0} for word in words],
        "attributions": [
            {
                "label": "sport",
                "probability": 0.91,
                "scores": [-0.5, 0.1, 0.0, 0.05, 2.0],
                "completeness_error": 0.01,
            }
        ],
    }
    (run_dir / "explanations.jsonl").write_text(json.dumps(record) + "\n")
    section = write_report(run_dir).read_text("utf-8").split("## Why:", 1)[1]
    assert "(explanations.html)" in section and "1.2%" in section
    assert "**sport** (0.910) · mistake, true business · test text 3" in section
    # The three strongest supporting words in bold, raw HTML escaped, the opposing word listed.
    assert "> Shares **\\<b\\>rose\\</b\\>** after **the** **match**" in section
    assert (
        "for: match +2.00, \\<b\\>rose\\</b\\> +0.10, the +0.05 · against: Shares -0.50" in section
    )
