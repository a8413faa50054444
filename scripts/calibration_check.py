"""Check temperature scaling across data sets and seeds: test ECE and log loss before and after.

    python scripts/calibration_check.py --output runs/calibration-check        # bbc-news, bbc-headlines × 3 seeds
    python scripts/calibration_check.py --data bbc-headlines --seeds 1 --output runs/calibration-check

Trains the default recipe (`kerasbert.job.run`, no export) for every data set and seed into
`--output/<data>-seed<S>`, skipping runs already evaluated there, then reads each run's
`metrics.json`: the temperature fitted on validation, the test split's expected calibration error
and log loss with the raw softmax and with the temperature (one positive scalar keeps each row's
order, so the accuracy is the run's either way), and the abstention point (the
confidence reaching 99% accuracy on validation, the coverage and accuracy it keeps on test).
Prints a Markdown table with the mean of each data set and writes `calibration_check.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def train(data: str, seed: int, run_dir: Path) -> None:
    from kerasbert.config import TrainConfig
    from kerasbert.job import run

    run(
        TrainConfig(
            data=data,
            seed=seed,
            output_dir=str(run_dir),
            export=False,
            plots=False,
            overwrite=True,
        )
    )


def row(data: str, seed: int, run_dir: Path) -> dict[str, Any]:
    """One run's calibration figures from its `metrics.json`."""
    from kerasbert.training.rundir import RunDir

    metrics = RunDir(run_dir).read_metrics()
    calibration = metrics["calibration"]
    abstention = metrics.get("abstention", {})
    test = calibration["test"]
    return {
        "data": data,
        "seed": seed,
        "run": str(run_dir),
        "temperature": calibration["temperature"],
        "ece_before": test["ece_before"],
        "ece_after": test["ece_after"],
        "nll_before": test["nll_before"],
        "nll_after": test["nll_after"],
        "accuracy": metrics["accuracy"],
        "abstain_below": abstention.get("min_confidence"),
        "test_coverage": abstention.get("test_coverage"),
        "test_accuracy_kept": abstention.get("test_accuracy"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=["bbc-news", "bbc-headlines"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--output", type=Path, default=Path("runs/calibration-check"))
    args = parser.parse_args(argv)

    rows = []
    for data in args.data:
        for seed in args.seeds:
            run_dir = args.output / f"{data}-seed{seed}"
            if not (run_dir / "metrics.json").is_file():
                train(data, seed, run_dir)
            rows.append(row(data, seed, run_dir))
            print(json.dumps(rows[-1]), flush=True)
    (args.output / "calibration_check.json").write_text(json.dumps(rows, indent=2) + "\n")

    print()
    print(
        "| data | seed | temperature | test ECE before → after | test log loss before → after "
        "| accuracy | abstain below | test coverage / accuracy kept |"
    )
    print("|---|---|---:|---|---|---:|---:|---|")
    for data in args.data:
        group = [item for item in rows if item["data"] == data]
        for item in group + [_mean(group)]:
            coverage = (
                f"{item['test_coverage']:.1%} / {item['test_accuracy_kept']:.2%}"
                if item["test_coverage"] is not None
                else "–"
            )
            below = f"{item['abstain_below']:.3f}" if item["abstain_below"] is not None else "–"
            print(
                f"| {data} | {item['seed']} | {item['temperature']:.3f} | "
                f"{item['ece_before']:.4f} → {item['ece_after']:.4f} | "
                f"{item['nll_before']:.4f} → {item['nll_after']:.4f} | "
                f"{item['accuracy']:.4f} | {below} | {coverage} |"
            )
    print(f"\nWrote {args.output / 'calibration_check.json'}")
    return 0


def _mean(group: list[dict[str, Any]]) -> dict[str, Any]:
    mean: dict[str, Any] = {"seed": "mean"}
    for key in (
        "accuracy",
        "temperature",
        "ece_before",
        "ece_after",
        "nll_before",
        "nll_after",
        "abstain_below",
        "test_coverage",
        "test_accuracy_kept",
    ):
        values = [item[key] for item in group if item[key] is not None]
        mean[key] = float(np.mean(values)) if values else None
    return mean


if __name__ == "__main__":
    sys.exit(main())
