"""Check distillation into fewer layers: teacher, distilled student, label-only student, per seed.

    python scripts/distill_check.py --output runs/distill                  # bbc-headlines × seeds 1 2 3, N = 3
    python scripts/distill_check.py --data bbc-pairs --seeds 1 --output runs/distill-pairs
    python scripts/distill_check.py --data bbc-multilabel --seeds 1 --output runs/distill-multilabel
    python scripts/distill_check.py --name distilled-aug --augment 4          # a variant beside the others

For every seed, in `--output`: the default job's teacher (`teacher-s<S>`, what
`python scripts/train.py --data D --seed S` trains), the label-only student of `--layers` layers
(`label-only-s<S>`, `--num-layers N` on the same data and seed) and the distilled student
(`distilled-s<S>`, `kerasbert distill teacher-s<S> --layers N`), each exported beside its run
(`<run>/export`); runs already evaluated and exported there are kept. Then each student's
comparison (`kerasbert.benchmark.distill`: the teacher's and the student's exports, int8 and fp32,
taking turns) unless its `distill.json` has one, and over the seeds: the mean test scores, the
median paired speed-ups, and whether the issue's targets hold. Prints a Markdown table and
writes `distill_check.json` into `--output`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

# The targets: (speed-up key, at least) and the largest student latency share.
TARGETS = {"int8_batch32": 1.7, "int8_full": 1.8}
LATENCY_SHARE = ("int8_batch1_p50_share", 0.65)
MACRO_F1_POINTS = 1.0


def finished(run_dir: Path) -> bool:
    return (run_dir / "metrics.json").is_file() and (
        run_dir / "export" / "kerasbert.json"
    ).is_file()


def train(data: str, seed: int, run_dir: Path, extra: dict[str, Any]) -> None:
    from kerasbert.config import TrainConfig
    from kerasbert.job import run

    run(
        TrainConfig(
            data=data,
            seed=seed,
            output_dir=str(run_dir),
            export_dir=str(run_dir / "export"),
            overwrite=True,
            **extra,
        )
    )


def distil(
    teacher: Path,
    student: Path,
    baseline: Path,
    layers: int,
    extra_data: str | None,
    augment: int | None,
):
    from kerasbert.config import DistillSettings
    from kerasbert.experiments.distill import distill

    distill(
        DistillSettings(
            teacher=str(teacher),
            layers=layers,
            data=extra_data,
            augment=augment,
            output_dir=str(student),
            export_dir=str(student / "export"),
            baseline=str(baseline),
            overwrite=True,
        )
    )


def training_leads(teacher: Path, output: Path) -> str:
    """Extra unlabelled texts for a bbc-headlines teacher: the first sentence of each of its
    training articles' first paragraph. Only training articles: a test or validation article's
    lead would let the teacher's view of that article into the student's training."""
    import csv

    from kerasbert.data.builtin import bbc_articles
    from kerasbert.training.rundir import RunDir

    run = RunDir(teacher)
    train = set(run.read_split("train").texts)
    held = {text for split in ("validation", "test") for text in run.read_split(split).texts}
    leads = [
        article.first_paragraph.split(". ")[0].strip()
        for article in bbc_articles()
        if article.headline in train and article.headline not in held
    ]
    with output.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text"])
        writer.writerows([lead] for lead in leads)
    return str(output)


def seed_figures(student: Path, baseline: Path, rounds: int, again: bool) -> dict[str, Any]:
    """A student's comparison: measured now unless stored (or `again`)."""
    from kerasbert.benchmark.distill import compare_distillation
    from kerasbert.training.distill import read_record

    stored = (read_record(student) or {}).get("comparison")
    if stored is None or again:
        stored = compare_distillation(student, baseline, rounds=rounds)
    return stored


def summary(comparisons: list[dict[str, Any]]) -> dict[str, Any]:
    """Means of the scores per model, medians of the speed-ups, and the targets' verdicts."""
    models = ("teacher", "distilled", "label-only", "tf-idf")
    task = comparisons[0]["task"]
    score = "micro_f1" if task == "multi_label" else "macro_f1"
    means = {}
    for model in models:
        present = [c["models"][model] for c in comparisons if model in c["models"]]
        if not present:
            continue
        keys = present[0]["metrics"]
        means[model] = {
            "metrics": {
                key: float(np.mean([entry["metrics"][key] for entry in present])) for key in keys
            }
        }
        deltas = [entry["int8_delta_points"] for entry in present if "int8_delta_points" in entry]
        if deltas and None not in deltas:
            means[model]["int8_delta_points"] = float(np.mean(deltas))
        for key in ("layers", "size_mb"):
            if key in present[0]:
                means[model][key] = present[0][key]
        if "speed" in present[0]:
            means[model]["speed"] = {
                variant: {
                    figure: float(np.median([entry["speed"][variant][figure] for entry in present]))
                    for figure in present[0]["speed"][variant]
                }
                for variant in present[0]["speed"]
            }
    speedups = {
        name: float(np.median([c["speedups"][name]["median"] for c in comparisons]))
        for name in comparisons[0]["speedups"]
    }
    gap = 100 * (means["teacher"]["metrics"][score] - means["distilled"]["metrics"][score])
    checks = {
        f"{score} within {MACRO_F1_POINTS} point of the teacher": gap <= MACRO_F1_POINTS,
        **{f"{name} >= {least}x": speedups[name] >= least for name, least in TARGETS.items()},
        f"{LATENCY_SHARE[0]} <= {LATENCY_SHARE[1]}": speedups[LATENCY_SHARE[0]] <= LATENCY_SHARE[1],
    }
    if "label-only" in means:
        checks[f"{score} above the label-only student"] = (
            means["distilled"]["metrics"][score] > means["label-only"]["metrics"][score]
        )
    return {
        "score": score,
        "seeds": len(comparisons),
        "means": means,
        "teacher_gap_points": gap,
        "speedups": speedups,
        "checks": checks,
    }


def markdown(result: dict[str, Any]) -> str:
    from kerasbert.benchmark.distill import markdown as table

    lines = [
        table(result["means"], {}, result["task"]).split("\n\n")[0],
        "",
        f"Means over {result['seeds']} seed(s) (speeds: medians). Distilled student against the "
        "teacher, paired speed-ups (median over seeds): "
        + ", ".join(f"{name} {value:.2f}" for name, value in result["speedups"].items()),
        "",
        *(f"- {'PASS' if held else 'FAIL'}: {name}" for name, held in result["checks"].items()),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="bbc-headlines")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--output", default="runs/distill")
    parser.add_argument(
        "--extra-data",
        help="Extra unlabelled texts for `distill --data`: a file, or 'leads' (bbc-headlines: the "
        "first sentence of each training article; students then go to distilled-leads-s<S>).",
    )
    parser.add_argument(
        "--augment",
        type=int,
        help="Changed copies of each training text (`distill --augment`; default: distill's).",
    )
    parser.add_argument(
        "--name",
        help="Name the students <name>-s<S> and the summary distill_check_<name>.json, to keep "
        "a variant beside the default students (default: distilled, or distilled-leads).",
    )
    parser.add_argument(
        "--max-train-samples", type=int, help="Fewer training texts, for a quick check."
    )
    parser.add_argument(
        "--max-eval-samples", type=int, help="Fewer validation and test texts, for a quick check."
    )
    parser.add_argument("--epochs", type=int, help="Epochs of every run (default: the recipe's).")
    parser.add_argument("--rounds", type=int, default=5, help="Timing rounds per comparison.")
    parser.add_argument(
        "--again", action="store_true", help="Measure each comparison again even if stored."
    )
    args = parser.parse_args(argv)

    from kerasbert.common.logs import setup_logging

    setup_logging()
    output = Path(args.output)
    quick = ("max_train_samples", "max_eval_samples", "epochs")
    extra = {name: getattr(args, name) for name in quick if getattr(args, name)}
    name = args.name or ("distilled-leads" if args.extra_data == "leads" else "distilled")
    comparisons = []
    for seed in args.seeds:
        teacher = output / f"teacher-s{seed}"
        baseline = output / f"label-only-s{seed}"
        leads = args.extra_data == "leads"
        student = output / f"{name}-s{seed}"
        if not finished(teacher):
            train(args.data, seed, teacher, extra)
        if not finished(baseline):
            train(args.data, seed, baseline, {**extra, "num_layers": args.layers})
        if not finished(student):
            extra_data = (
                training_leads(teacher, output / f"leads-s{seed}.csv") if leads else args.extra_data
            )
            distil(teacher, student, baseline, args.layers, extra_data, args.augment)
        comparisons.append(seed_figures(student, baseline, args.rounds, args.again))
    result = {
        "data": args.data,
        "layers": args.layers,
        "task": comparisons[0]["task"],
        **summary(comparisons),
        "per_seed": [
            {"seed": seed, "markdown": comparison["markdown"]}
            for seed, comparison in zip(args.seeds, comparisons)
        ],
    }
    # A variant's students are summed up apart from the default ones beside them.
    variant = name.removeprefix("distilled").lstrip("-")
    summary_file = output / (f"distill_check_{variant}.json" if variant else "distill_check.json")
    summary_file.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(markdown(result))
    print(f"\nWritten {summary_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
