"""Check the default recipe against today's default and a 12-trial sweep on five built-in tasks.

    python scripts/recipe_check.py --output runs/recipe-check                       # everything
    python scripts/recipe_check.py --output runs/recipe-check --tasks headlines-500 --arms default old
    python scripts/recipe_check.py --output runs/recipe-check --table               # print only
    python scripts/recipe_check.py --output runs/a --table --include runs/b         # two pieces

For every task this trains, on the same split and scored on the same held-out test split:
- `default`: the default recipe (epochs from the token budget, batch and peak rate by steps per
  epoch, the kept epoch and early stopping by validation macro-F1 / micro-F1), seeds 42, 43, 44;
- `old`: the recipe before it, by explicit flags: `--epochs max(2, min(10, ceil(90 / steps per
  epoch))) --early-stopping-metric val_loss --batch-size 32 --learning-rate 8e-5`, seeds 42, 43,
  44;
- `sweep`: `kerasbert.experiments.sweep.run_sweep` with 12 trials over learning rate, epochs,
  warm-up and batch size, one sweep per seed (every trial of a sweep trains at its seed), its
  best trial by validation loss scored on the test split;
- `sweep-metric`: the same sweeps with the sweep's default objective (`auto`: the metric the
  trials keep their epoch by, macro-F1 or micro-F1), its best trial scored on the test split;
- `sweep-params` (after the seed-42 `sweep`, in the same `--output`): that sweep's best trial's
  settings as flags at every seed, to tell a better setting from a lucky seed.
The split seed is held at 42 for all three (`--seed` moves the data order and initialisation);
each arm's seeds differ only in training. Every finished run is a row in `recipe_check.json` in
`--output`; started again, the script skips the rows it has, so it can run in pieces. Prints the
Markdown table of docs/PERFORMANCE.md ("The default recipe").
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from statistics import mean, stdev
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

# name: (data, max_train_samples, what it is)
TASKS = {
    "headlines-500": ("bbc-headlines", 500, "bbc-headlines, 500 training headlines"),
    # The set holds 2,096 distinct headlines: its training split (70%) is 1,467; 2,000 would
    # leave too few for validation and test.
    "headlines-all": ("bbc-headlines", None, "bbc-headlines, all 1,467 training headlines"),
    "pairs": ("bbc-pairs", None, "bbc-pairs, all 2,884 training pairs"),
    "multilabel": ("bbc-multilabel", None, "bbc-multilabel, 1,401 training texts"),
    "imbalanced": ("imbalanced", None, "bbc-headlines, long tail 100%…6.5% per class"),
}
ARMS = ("default", "old", "sweep", "sweep-metric", "sweep-params")
SWEEPS = {"sweep": "val_loss", "sweep-metric": "auto"}  # arm: the sweep's objective
SEEDS = (42, 43, 44)
ROWS = "recipe_check.json"  # in --output: one row per finished (task, arm, seed)
SPLIT_SEED = 42
SWEEP_TRIALS = 12
SWEEP_SPACE = {
    "learning_rate": {"low": 2.0e-5, "high": 2.0e-4, "log": True},
    "epochs": {"low": 2, "high": 10},
    "warmup_ratio": {"low": 0.0, "high": 0.2},
    "batch_size": [16, 32],
}
# Today's default before this recipe: at least 90 optimizer steps, 2 to 10 epochs, batch 32 and
# peak rate 8e-5 whatever the set's size.
OLD_MIN_STEPS, OLD_MIN_EPOCHS, OLD_MAX_EPOCHS = 90, 2, 10
OLD_BATCH_SIZE, OLD_LEARNING_RATE = 32, 8e-5


def old_epochs(train_examples: int, batch_size: int = OLD_BATCH_SIZE) -> int:
    """The epochs the old rule planned for `train_examples` texts."""
    steps = math.ceil(train_examples / batch_size)
    return max(OLD_MIN_EPOCHS, min(OLD_MAX_EPOCHS, math.ceil(OLD_MIN_STEPS / steps)))


def task_settings(task: str, output: Path) -> dict[str, Any]:
    """The `TrainConfig` settings of `task` (writing the imbalanced CSV on first use)."""
    data, size, _ = TASKS[task]
    if data == "imbalanced":
        from imbalance_check import DEFAULT_KEEP, write_long_tail

        path = output / "imbalanced-headlines.csv"
        if not path.exists():
            write_long_tail("bbc-headlines", DEFAULT_KEEP, path)
        data = str(path)
    return {"data": data, "max_train_samples": size, "export": False, "plots": False}


def run_arm(
    task: str, arm: str, seed: int, output: Path, trials: int = SWEEP_TRIALS
) -> dict[str, Any]:
    """Train (or sweep, `trials` trials) one row and return it."""
    from kerasbert.config import TrainConfig
    from kerasbert.training.rundir import RunDir

    settings = task_settings(task, output)
    started = time.perf_counter()
    if arm in SWEEPS:
        return _sweep(task, arm, settings, output, seed, started, trials)
    from kerasbert.data.splits import splits_for
    from kerasbert.job import run

    # Every seed trains on the split of SPLIT_SEED: the seeds differ in training only.
    splits = splits_for(TrainConfig(**settings, seed=SPLIT_SEED))
    extra: dict[str, Any] = {}
    if arm == "sweep-params":
        [sweep] = [
            row
            for row in read_rows(output)
            if (row["task"], row["arm"], row["seed"]) == (task, "sweep", SPLIT_SEED)
        ]
        extra = dict(sweep["params"])
    if arm == "old":
        extra = {
            "epochs": old_epochs(len(splits.train.texts)),
            "early_stopping_metric": "val_loss",
            "batch_size": OLD_BATCH_SIZE,
            "learning_rate": OLD_LEARNING_RATE,
        }
    run_dir = output / "runs" / f"{task}-{arm}-{seed}"
    config = TrainConfig(**settings, **extra, seed=seed, output_dir=str(run_dir), overwrite=True)
    run(config, splits=splits)
    return _row(task, arm, seed, RunDir(run_dir), time.perf_counter() - started, extra)


def _sweep(
    task: str,
    arm: str,
    settings: dict[str, Any],
    output: Path,
    seed: int,
    started: float,
    trials: int,
) -> dict[str, Any]:
    from kerasbert.experiments.space import parse_sweep_spec
    from kerasbert.experiments.sweep import run_sweep
    from kerasbert.training.rundir import RunDir

    base = {key: value for key, value in settings.items() if key not in ("export", "plots")}
    spec = parse_sweep_spec(
        {
            "base": {**base, "seed": seed},
            "space": SWEEP_SPACE,
            "budget": {"trials": trials},
            "objective": SWEEPS[arm],
            # The same sampler at every seed: its first proposals repeat, trained at this seed.
            "seed": 0,
            "export": False,
        },
        source=f"the {task} sweep",
    )
    # The seed-42 sweep's folder keeps the name it had when the check ran one sweep per task.
    folder = task if arm == "sweep" else f"{task}-metric"
    folder = folder if seed == SPLIT_SEED else f"{folder}-seed{seed}"
    result = run_sweep(spec, output / "sweeps" / folder)
    if result.best is None:
        raise RuntimeError(f"No trial of the {task} sweep completed.")
    row = _row(task, arm, seed, RunDir(result.best["run_dir"]), time.perf_counter() - started)
    row["params"] = result.best["params"]
    row["trials"] = result.counts
    row["trials_planned"] = trials
    return row


def _row(task, arm, seed, run, seconds, extra=None) -> dict[str, Any]:
    metrics = run.read_metrics()
    recipe = run.read_recipe() or {}
    headline = "micro_f1" if "micro_f1" in metrics else "macro_f1"
    return {
        "task": task,
        "arm": arm,
        "seed": seed,
        "flags": extra or {},
        "metric": headline,
        "test": metrics[headline],
        "accuracy": metrics.get("accuracy"),
        "baseline": metrics["baseline"][headline],
        "epochs": recipe.get("epochs"),
        "batch_size": recipe.get("batch_size"),
        "learning_rate": recipe.get("learning_rate"),
        "epochs_trained": recipe.get("epochs_trained"),
        "kept_epoch": recipe.get("kept_epoch"),
        "recipe": recipe.get("ended"),
        "seconds": round(seconds, 1),
        "run_dir": run.path.as_posix(),
    }


def summarise(rows: list[dict[str, Any]]) -> str:
    """The Markdown table: per task and arm, mean ± sd test metric over the seeds run."""
    lines = [
        "| task | metric | default recipe | today's default (old) | sweep best trial by validation "
        "loss, a sweep per seed | sweep best trial by the runs' metric, a sweep per seed | the "
        "loss sweep's best settings (seed 42), 3 seeds | default − loss sweep | default − metric "
        "sweep | default − its settings | default epochs run / planned → kept | TF-IDF |",
        "|---|---|---|---|---|---|---|---:|---:|---:|---|---:|",
    ]
    for task in TASKS:
        mine = [row for row in rows if row["task"] == task]
        if not mine:
            continue
        cells, means = [], {}
        for arm in ARMS:
            values = [row["test"] for row in mine if row["arm"] == arm]
            means[arm] = mean(values) if values else None
            cells.append(_cell(values))
        for arm in SWEEPS:
            sweeps = [row for row in mine if row["arm"] == arm]
            if sweeps:
                complete = sum(row["trials"].get("complete", 0) for row in sweeps)
                pruned = sum(row["trials"].get("pruned", 0) for row in sweeps)
                planned = sum(row.get("trials_planned", SWEEP_TRIALS) for row in sweeps)
                cells[ARMS.index(arm)] += f"; {complete} complete + {pruned} pruned of {planned}"
        gaps = [
            f"{100 * (means['default'] - means[arm]):+.2f} pt"
            if means["default"] is not None and means[arm] is not None
            else "not run"
            for arm in ("sweep", "sweep-metric", "sweep-params")
        ]
        runs = [row for row in mine if row["arm"] == "default"]
        epochs = ", ".join(
            f"{row['epochs_trained']}/{row['epochs']}→{row['kept_epoch']}" for row in runs
        )
        lines.append(
            f"| {TASKS[task][2]} | {mine[0]['metric']} | {' | '.join(cells)} | {' | '.join(gaps)} | "
            f"{epochs or '–'} | {mine[0]['baseline']:.4f} |"
        )
    return "\n".join(lines)


def read_rows(folder: Path) -> list[dict[str, Any]]:
    """The rows in `folder`'s `recipe_check.json` (none if it has none yet)."""
    path = folder / ROWS
    return json.loads(path.read_text()) if path.exists() else []


def merge_rows(folders: list[Path]) -> list[dict[str, Any]]:
    """The rows of the folders' `recipe_check.json`; a (task, arm) pair comes from the first
    folder that has it, so a re-run arm (a new default rule) replaces the older rows whole."""
    rows: list[dict[str, Any]] = []
    for folder in folders:
        found = read_rows(folder)
        have = {(row["task"], row["arm"]) for row in rows}
        rows += [row for row in found if (row["task"], row["arm"]) not in have]
    return rows


def _cell(values: list[float]) -> str:
    if not values:
        return "not run"
    if len(values) == 1:
        return f"{values[0]:.4f} (1 run)"
    return f"{mean(values):.4f} ± {stdev(values):.4f} ({len(values)})"


def check(
    output: Path,
    tasks: list[str],
    arms: list[str],
    seeds: list[int],
    trials: int = SWEEP_TRIALS,
) -> list[dict[str, Any]]:
    """Run every missing (task, arm, seed) row, saving the rows after each; return them all."""
    rows = read_rows(output)
    done = {(row["task"], row["arm"], row["seed"]) for row in rows}
    for task in tasks:
        for arm in arms:
            for seed in seeds:
                if (task, arm, seed) in done:
                    continue
                print(f"== {task} {arm} seed {seed}", flush=True)
                row = run_arm(task, arm, seed, output, trials)
                # Read again before writing: another piece of the check may share `output`.
                rows = [*read_rows(output), row]
                (output / ROWS).write_text(json.dumps(rows, indent=2), encoding="utf-8")
                print(summarise(rows), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, required=True, help="Folder for runs and JSON.")
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument(
        "--sweep-trials", type=int, default=SWEEP_TRIALS, help="Trials per sweep (the check: 12)."
    )
    parser.add_argument("--table", action="store_true", help="Print the table of the rows run.")
    parser.add_argument(
        "--include",
        nargs="*",
        type=Path,
        default=[],
        help="With --table: also the rows of these --output folders (pieces run side by side), "
        "for the (task, arm) pairs that --output, or a folder named before, does not have.",
    )
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    if args.table:
        print(summarise(merge_rows([args.output, *args.include])))
        return 0
    from kerasbert.common.logs import setup_logging

    setup_logging()
    rows = check(args.output, args.tasks, args.arms, args.seeds, args.sweep_trials)
    print(summarise(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
