"""Check `--class-weight` on real imbalanced data: a long-tailed BBC set, trained with and without.

    python scripts/imbalance_check.py --output runs/imbalance-check                # ~15 min
    python scripts/imbalance_check.py --output runs/imbalance-check --data bbc-news

No built-in set is imbalanced (BBC's five classes hold 386 to 511 articles), so this keeps a
seeded, shrinking share of each class (`--keep`, largest first: 100% of the first class down to
6% of the last, a 15× long tail as in many real label sets), writes it as a CSV a user could
have brought, and trains on it twice with the same seed and split: `--class-weight none` and
`--class-weight auto` (which weighs the classes: the tail is past the 3× threshold). Both are
scored on the same held-out test split, whose classes keep the tail's proportions, next to the
TF-IDF baseline weighted as the run was. Prints a Markdown table (accuracy, macro-F1, the rarest
class' recall and F1, the baseline's) and writes `imbalance_check.json` and the CSV in `--output`.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Share of each class kept, in the order of the shuffled class names: a long tail.
DEFAULT_KEEP = (1.0, 0.5, 0.25, 0.12, 0.065)
# The subset's own seed: the same texts on every machine, whatever the run's --seed.
SUBSET_SEED = 23


def write_long_tail(data: str, keep: tuple[float, ...], path: Path) -> dict[str, int]:
    """Write a long-tailed subset of a single-label built-in set as CSV; return its class counts."""
    from kerasbert.data.builtin import read_bbc

    if data not in ("bbc-news", "bbc-headlines"):
        raise SystemExit(f"--data must be bbc-news or bbc-headlines (single-label), got {data!r}")
    texts, labels = read_bbc(headlines=data == "bbc-headlines")
    rng = random.Random(SUBSET_SEED)
    classes = sorted(set(labels))
    rng.shuffle(classes)
    if len(keep) != len(classes):
        raise SystemExit(f"--keep needs {len(classes)} shares, one per class; got {len(keep)}")
    rows = []
    for name, share in zip(classes, keep):
        members = [text for text, label in zip(texts, labels) if label == name]
        rng.shuffle(members)
        rows += [(text, name) for text in members[: max(1, round(share * len(members)))]]
    rng.shuffle(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    counts = Counter(label for _, label in rows)
    return {name: counts[name] for name in classes}


def check(csv_path: Path, counts: dict[str, int], output: Path, seed: int) -> list[dict[str, Any]]:
    """Train on the CSV with and without class weights; one row of figures per run."""
    from kerasbert.config import TrainConfig
    from kerasbert.job import run
    from kerasbert.training.rundir import RunDir

    rarest = min(counts, key=counts.get)
    rows = []
    for mode in ("none", "auto"):
        run_dir = output / f"class-weight-{mode}"
        config = TrainConfig(
            data=str(csv_path),
            class_weight=mode,
            seed=seed,
            output_dir=str(run_dir),
            export=False,
            overwrite=True,
        )
        result = run(config)
        metrics = result.metrics
        imbalance = RunDir(run_dir).read_data_summary().get("imbalance", {})
        rarest_scores = metrics["per_class"][rarest]
        rows.append(
            {
                "class_weight": mode,
                "applied": imbalance.get("resolved"),
                "largest_to_smallest": imbalance.get("largest_to_smallest"),
                "test_examples": metrics["num_examples"],
                "accuracy": metrics["accuracy"],
                "macro_f1": metrics["macro_f1"],
                "rarest_class": rarest,
                "rarest_support": rarest_scores["support"],
                "rarest_recall": rarest_scores["recall"],
                "rarest_f1": rarest_scores["f1"],
                "baseline_accuracy": metrics["baseline"]["accuracy"],
                "baseline_macro_f1": metrics["baseline"]["macro_f1"],
                "seconds": round(result.seconds, 1),
            }
        )
        print(_table(rows[-1:]), flush=True)
    return rows


def _table(rows: list[dict[str, Any]]) -> str:
    from kerasbert.common.markdown import number, table

    header = ["--class-weight", "applied", "accuracy", "macro-F1",
              "rarest class recall / F1 (support)",
              "TF-IDF acc / macro-F1 (weighted as the run)", "seconds"]  # fmt: skip
    cells = [
        [
            row["class_weight"],
            row["applied"],
            number(row["accuracy"]),
            number(row["macro_f1"]),
            f"{row['rarest_class']}: {number(row['rarest_recall'])} / "
            f"{number(row['rarest_f1'])} ({row['rarest_support']})",
            f"{number(row['baseline_accuracy'])} / {number(row['baseline_macro_f1'])}",
            str(row["seconds"]),
        ]
        for row in rows
    ]
    return "\n".join(table(header, cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, required=True, help="Folder for the CSV and runs.")
    parser.add_argument("--data", default="bbc-headlines", help="bbc-headlines or bbc-news.")
    parser.add_argument(
        "--keep",
        type=float,
        nargs="+",
        default=list(DEFAULT_KEEP),
        help="Share of each class kept, one per class (default: %(default)s).",
    )
    parser.add_argument("--seed", type=int, default=42, help="The runs' seed (split and training).")
    args = parser.parse_args(argv)
    from kerasbert.common.logs import setup_logging

    setup_logging()
    csv_path = args.output / f"{args.data}-long-tail.csv"
    counts = write_long_tail(args.data, tuple(args.keep), csv_path)
    print(f"{csv_path}: {sum(counts.values())} texts, {counts}", flush=True)
    rows = check(csv_path, counts, args.output, args.seed)
    (args.output / "imbalance_check.json").write_text(
        json.dumps({"counts": counts, "runs": rows}, indent=2), encoding="utf-8"
    )
    print(_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
