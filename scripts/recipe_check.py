"""Check the default recipe away from the data set it was tuned on: two epochs vs the adaptive one.

    python scripts/recipe_check.py --output runs/recipe-check            # the grid below, ~30 min
    python scripts/recipe_check.py --output runs/recipe-check --grid bbc-headlines:128

The defaults (learning rate 8e-5, batch 32, two epochs) were tuned on bbc-news. Without
`--epochs`, a run on a small training set trains for at least `--min-steps` optimizer steps.
For each data set and training-set size of the grid this trains twice on the same split, with
`--epochs 2` and with the adaptive default, and scores both on the held-out test split next to
the TF-IDF baseline. Prints a Markdown table and writes `recipe_check.json` in `--output`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Small training sets of each built-in task; bbc-news itself is where the defaults were tuned.
DEFAULT_GRID = (
    "bbc-headlines:128",
    "bbc-headlines:256",
    "bbc-pairs:400",
    "bbc-multilabel:400",
)


def check(grid: list[str], output: Path, seed: int = 42) -> list[dict[str, Any]]:
    """Train every grid entry twice (two epochs, adaptive) and return one row per run."""
    from kerasbert.config import TrainConfig
    from kerasbert.job import run
    from kerasbert.training.rundir import RunDir

    rows = []
    for entry in grid:
        data, _, size = entry.partition(":")
        for label, epochs in (("2 epochs", 2), ("adaptive", None)):
            run_dir = output / f"{data}-{size}-{'e2' if epochs else 'auto'}"
            config = TrainConfig(
                data=data,
                max_train_samples=int(size) if size else None,
                epochs=epochs,
                seed=seed,
                output_dir=str(run_dir),
                export=False,
                plots=False,
                overwrite=True,
            )
            result = run(config)
            metrics = result.metrics
            schedule = RunDir(run_dir).read_data_summary()["schedule"]
            trained = len((RunDir(run_dir).read_history() or {}).get("loss", []))
            headline = "micro_f1" if "micro_f1" in metrics else "macro_f1"
            rows.append(
                {
                    "data": data,
                    "train_examples": int(size) if size else None,
                    "recipe": label,
                    "epochs": schedule["epochs"],
                    "epochs_trained": trained,
                    "steps_trained": trained * schedule["steps_per_epoch"],
                    "headline_metric": headline,
                    "model": metrics[headline],
                    "accuracy": metrics.get("accuracy", metrics.get("subset_accuracy")),
                    "baseline": metrics["baseline"][headline],
                    "seconds": round(result.seconds, 1),
                }
            )
            print(_table(rows[-1:]), flush=True)
    return rows


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| data | train | recipe | epochs planned / run | steps run | metric | BERT | TF-IDF | seconds |",
        "|---|---:|---|---:|---:|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['data']} | {row['train_examples']} | {row['recipe']} | "
            f"{row['epochs']} / {row['epochs_trained']} | {row['steps_trained']} | "
            f"{row['headline_metric']} | {row['model']:.4f} | "
            f"{row['baseline']:.4f} | {row['seconds']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, required=True, help="Folder for the runs.")
    parser.add_argument(
        "--grid", nargs="+", default=list(DEFAULT_GRID), help="DATA:TRAIN_EXAMPLES entries."
    )
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    from kerasbert.common.logs import setup_logging

    setup_logging()
    args.output.mkdir(parents=True, exist_ok=True)
    rows = check(args.grid, args.output, args.seed)
    (args.output / "recipe_check.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    print(_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
