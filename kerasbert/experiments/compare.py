"""`compare_runs`: one table (Markdown and CSV) and a few plots over many run directories.

    kerasbert compare runs/* --output comparison

Runs are grouped by what their test metrics depend on: data set, task, labels and the test split
itself (a fingerprint of its texts and labels). Test metrics of different groups are never put on
one scale: the table names each run's group, the notes say what differs between groups, and the
plots draw each group in its own colour and panel.
"""

from __future__ import annotations

import csv
import dataclasses
import glob
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerasbert.common.errors import InputError
from kerasbert.config import TrainConfig
from kerasbert.experiments.runinfo import SINGLE_LABEL, RunInfo, read_run_info

logger = logging.getLogger(__name__)

# Settings that say where a run wrote its files or what it wrote, not how it trained; the data
# set is a column of its own.
NOT_COMPARED = {
    "output_dir",
    "export_dir",
    "overwrite",
    "plots",
    "export",
    "data",
    "validation_data",
    "test_data",
}
TABLE_FILE, CSV_FILE = "compare.md", "compare.csv"
GROUP_NAMES = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Markdown formats of the figure columns; settings to 3 significant digits (3e-05, 0.109, 32).
CELL_FORMATS = {
    "objective": ".4f",
    "val_loss": ".4f",
    "val_accuracy": ".4f",
    "test_accuracy": ".4f",
    "test_macro_f1": ".4f",
    "lift_points": "+.2f",
    "train_seconds": ".1f",
    "examples_per_second": ".0f",
    "model_mb": ".1f",
    "int8_delta_points": "+.2f",
}


@dataclass
class Comparison:
    """What `compare_runs` found and wrote.

    `rows` hold raw values by column (None where a run has no such figure); `notes` say, in
    sentences, what cannot be compared; `files` are the table and plot files written.
    """

    runs: list[RunInfo]
    groups: dict[str, list[RunInfo]]
    varying: list[str]
    columns: list[str]
    rows: list[dict[str, Any]]
    notes: list[str]
    files: list[Path] = field(default_factory=list)

    def markdown(self) -> str:
        """The table as Markdown, followed by the notes."""
        lines = [
            "| " + " | ".join(self.columns) + " |",
            "|" + "|".join("---" for _ in self.columns) + "|",
        ]
        for row in self.rows:
            cells = (_shown(name, row.get(name)) for name in self.columns)
            lines.append("| " + " | ".join(cells) + " |")
        if self.notes:
            lines += ["", *[f"- {note}" for note in self.notes]]
        return "\n".join(lines) + "\n"


def expand_run_paths(patterns: Iterable[str | Path]) -> list[Path]:
    """Run directories from paths and globs (`runs/*`, quoted so the shell leaves it), in order.

    A glob keeps only the directories it matches; a path named outright must be a directory.
    """
    paths: list[Path] = []
    for pattern in patterns:
        text = str(pattern)
        if glob.has_magic(text):
            matches = sorted(Path(match) for match in glob.glob(text) if Path(match).is_dir())
            if not matches:
                raise InputError(f"{text} matches no directories; pass run directories.")
            paths += matches
        elif not Path(text).is_dir():
            raise InputError(f"{text} is not a directory; pass run directories to compare.")
        else:
            paths.append(Path(text))
    unique = list(dict.fromkeys(path.resolve() for path in paths))
    if not unique:
        raise InputError("Give at least one run directory to compare.")
    return unique


def compare_runs(
    run_dirs: Sequence[str | Path],
    output: str | Path | None = None,
    extra: Mapping[Path, Mapping[str, Any]] | None = None,
    plots: bool = True,
) -> Comparison:
    """Compare run directories: write `compare.md`, `compare.csv` and plots to `output`.

    Args:
        run_dirs: run directories or globs (see `expand_run_paths`).
        output: where the table and plots go; nothing is written if None.
        extra: leading columns per run directory (a sweep's trial number, state, objective).
        plots: also draw the figures (`kerasbert.experiments.compareplots`).

    Raises:
        InputError: a path is not a kerasbert run directory (all such paths are named).
    """
    paths = expand_run_paths(run_dirs)
    runs, refused = [], []
    for path in paths:
        try:
            runs.append(read_run_info(path))
        except InputError as error:
            refused.append(str(error))
    if refused:
        raise InputError(" ".join(refused))
    groups = group_runs(runs)
    varying = varying_settings(runs)
    extra = {Path(key).resolve(): value for key, value in (extra or {}).items()}
    columns, rows = table(runs, groups, varying, extra)
    comparison = Comparison(runs, groups, varying, columns, rows, comparison_notes(runs, groups))
    if output is not None:
        comparison.files = write_comparison(comparison, Path(output), plots)
    return comparison


def group_runs(runs: Sequence[RunInfo]) -> dict[str, list[RunInfo]]:
    """Runs whose test metrics share a scale: same data, task, labels and test split."""
    keyed: dict[tuple, list[RunInfo]] = {}
    for run in runs:
        key = (run.data, run.task, tuple(run.labels), run.test_fingerprint)
        keyed.setdefault(key, []).append(run)
    if len(keyed) > len(GROUP_NAMES):
        raise InputError(f"{len(keyed)} groups of incomparable runs; compare fewer at a time.")
    return dict(zip(GROUP_NAMES, keyed.values()))


def varying_settings(runs: Sequence[RunInfo]) -> list[str]:
    """Training settings whose values differ between runs, in `TrainConfig` order."""
    names = [setting.name for setting in dataclasses.fields(TrainConfig)]
    return [
        name
        for name in names
        if name not in NOT_COMPARED and len({repr(run.setting(name)) for run in runs}) > 1
    ]


def describe_group(runs: Sequence[RunInfo]) -> str:
    first = runs[0]
    return (
        f"{first.data}, {first.task}, {len(first.labels)} labels, test split of "
        f"{first.test_size} examples #{first.test_fingerprint}"
    )


def comparison_notes(runs: Sequence[RunInfo], groups: Mapping[str, list[RunInfo]]) -> list[str]:
    """Sentences saying what the table cannot compare, and why."""
    notes = []
    if len(groups) > 1:
        aspects = {
            "data set": {run.data for run in runs},
            "task": {run.task for run in runs},
            "labels": {tuple(run.labels) for run in runs},
            "test split": {run.test_fingerprint for run in runs},
        }
        differ = [name for name, values in aspects.items() if len(values) > 1]
        notes.append(
            f"These runs fall into {len(groups)} groups whose test metrics cannot be compared "
            f"with each other: they differ in {_join(differ)}. Compare runs only within a group; "
            "the plots draw each group apart."
        )
        for name, members in groups.items():
            listed = ", ".join(run.name for run in members)
            notes.append(f"Group {name} ({listed}): {describe_group(members)}.")
    unevaluated = [run.name for run in runs if run.metrics is None]
    if unevaluated:
        notes.append(
            f"Not evaluated on their test split, so compared by validation only: "
            f"{', '.join(unevaluated)}."
        )
    return notes


def table(
    runs: Sequence[RunInfo],
    groups: Mapping[str, list[RunInfo]],
    varying: Sequence[str],
    extra: Mapping[Path, Mapping[str, Any]],
) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and one row of raw values per run (None where a run lacks the figure)."""
    group_of = {id(run): name for name, members in groups.items() for run in members}
    extra_columns = list(dict.fromkeys(key for value in extra.values() for key in value))
    several = len(groups) > 1
    headline = any(run.task != SINGLE_LABEL for run in runs)
    rows = []
    for run in runs:
        metrics = run.metrics or {}
        lift = (metrics.get("lift") or {}).get("accuracy")
        row: dict[str, Any] = dict(extra.get(run.path.resolve(), {}))
        row["run"] = run.name
        if several:
            row |= {"group": group_of[id(run)], "data": run.data, "task": run.task}
        row |= {name: _setting(name, run.setting(name)) for name in varying}
        if any(other.distilled_from or other.setting("num_layers") for other in runs):
            row |= {"layers": run.layers, "distilled_from": run.distilled_from}
        row |= {
            "epochs_trained": len(run.history.get("epoch", [])) or None,
            "val_loss": run.validation("val_loss"),
            "val_accuracy": run.validation("val_accuracy"),
            "test_accuracy": run.metric("accuracy"),
            "test_macro_f1": run.metric("macro_f1"),
        }
        if headline:
            best = run.headline
            row["headline"] = None if best is None else f"{best[0]} {best[1]:.4f}"
        row |= {
            "lift_points": None if lift is None else 100 * lift,
            "train_seconds": run.train_seconds,
            "examples_per_second": run.examples_per_second,
            "model_mb": None if run.model_bytes is None else run.model_bytes / 1e6,
            "int8_delta_points": run.int8_delta,
        }
        rows.append(row)
    columns = [
        *extra_columns,
        *dict.fromkeys(key for row in rows for key in row if key not in extra_columns),
    ]
    return columns, rows


def write_comparison(comparison: Comparison, output: Path, plots: bool = True) -> list[Path]:
    """Write the Markdown table (with its notes), the CSV and the plots into `output`."""
    output.mkdir(parents=True, exist_ok=True)
    markdown = output / TABLE_FILE
    markdown.write_text(comparison.markdown(), encoding="utf-8")
    table_csv = output / CSV_FILE
    with table_csv.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=comparison.columns)
        writer.writeheader()
        for row in comparison.rows:
            writer.writerow({key: "" if value is None else value for key, value in row.items()})
    files = [markdown, table_csv]
    if plots:
        from kerasbert.experiments.compareplots import write_comparison_plots

        files += write_comparison_plots(comparison.groups, comparison.varying, output)
    logger.info("Comparison of %d runs written to %s", len(comparison.runs), output)
    return files


def _setting(name: str, value: Any) -> Any:
    # A checkpoint is known by its folder's name; the full path only widens the table. A run's
    # fine-tuned model (a student's start) is known by its run's name.
    if name == "model" and isinstance(value, str):
        path = Path(value)
        if path.name == "model" and (path.parent / "config.json").is_file():
            return path.parent.name
        return path.name or value
    return value


def _shown(column: str, value: Any) -> str:
    """A cell of the Markdown table: figures to the digits that mean something, settings as given."""
    if value is None:
        return ""
    if isinstance(value, float) and not isinstance(value, bool):
        style = CELL_FORMATS.get(column, ".3g")
        return format(value + 0.0 if round(value, 6) else 0.0, style)  # no "-0.00"
    return str(value).replace("|", "\\|")


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
