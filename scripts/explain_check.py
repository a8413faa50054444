"""Check the word attributions on real runs: integrated gradients add up, occlusion answers fast.

    python scripts/explain_check.py runs/bbc-headlines runs/bbc-news --output runs/explain-check
    python scripts/explain_check.py runs/bbc-headlines --limit 100 --rounds 3

For every run (written by `kerasbert train`):
- integrated gradients (`kerasbert.evaluation.attributions`, the run's TensorFlow model) on its
  test texts (`--limit` of them): the share whose word scores add up to the logit difference
  within 5% (completeness), the largest gap, and the seconds per text;
- occlusion (`OnnxClassifier.explain`, TensorFlow-free) on the run's export (`exported/<run>`, or
  `--export` for a single run), one text per call as an app asks, int8 and fp32 taking turns per
  text for `--rounds` rounds: p50/p95 seconds per text and the forward passes it cost.
Prints a Markdown table and writes `explain_check.json` in `--output`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

COMPLETENESS_TOLERANCE = 0.05


def completeness(run_dir: Path, limit: int | None, steps: int) -> dict[str, Any]:
    """Integrated gradients over the run's test texts: how many add up, and how fast."""
    from kerasbert.evaluation.attributions import explain_with_model
    from kerasbert.training.checkpoint import load_trained_model
    from kerasbert.training.rundir import RunDir

    run = RunDir(run_dir)
    record = run.read_record()
    test = run.read_split("test")
    count = len(test.texts) if limit is None else min(limit, len(test.texts))
    pairs = None if test.text_pairs is None else test.text_pairs[:count]
    model, _ = load_trained_model(run.model)
    explain_with_model(model, run, record, test.texts[:1], None if pairs is None else pairs[:1])
    start = time.perf_counter()
    explanations = explain_with_model(model, run, record, test.texts[:count], pairs, steps=steps)
    seconds = time.perf_counter() - start
    errors = np.array(
        [item.completeness_error for each in explanations for item in each.attributions]
    )
    return {
        "texts": count,
        "steps": steps,
        "within_5pct": float(np.mean(errors <= COMPLETENESS_TOLERANCE)),
        "median_error": float(np.median(errors)),
        "max_error": float(errors.max()),
        "seconds_per_text": seconds / count,
    }


def occlusion_speed(
    export_dir: Path, texts: list[str], pairs: list[str] | None, rounds: int
) -> dict[str, Any]:
    """Seconds per single-text `explain` call, int8 and fp32 taking turns text by text."""
    from kerasbert.inference.predictor import OnnxClassifier

    classifiers = {
        variant: OnnxClassifier(export_dir, variant=variant) for variant in ("int8", "fp32")
    }
    seconds: dict[str, list[float]] = {variant: [] for variant in classifiers}
    passes = []
    for classifier in classifiers.values():  # warm-up: sessions' first runs allocate
        classifier.explain([(texts[0], pairs[0])] if pairs else texts[:1])
    for _ in range(rounds):
        for index, text in enumerate(texts):
            item = [(text, pairs[index])] if pairs else [text]
            for variant, classifier in classifiers.items():
                start = time.perf_counter()
                explanation = classifier.explain(item)[0]
                seconds[variant].append(time.perf_counter() - start)
            passes.append(len(explanation.words) + 1)
    result: dict[str, Any] = {
        "texts": len(texts),
        "rounds": rounds,
        "mean_forward_passes": float(np.mean(passes)),
        "max_forward_passes": int(max(passes)),
    }
    for variant, values in seconds.items():
        result[variant] = {
            "p50_s": float(np.percentile(values, 50)),
            "p95_s": float(np.percentile(values, 95)),
            "max_s": float(max(values)),
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="Run directories (kerasbert train).")
    parser.add_argument("--export", type=Path, help="The export of a single run given.")
    parser.add_argument("--limit", type=int, help="Test texts per run (default: all).")
    parser.add_argument("--steps", type=int, default=32, help="Integrated gradients' steps.")
    parser.add_argument("--rounds", type=int, default=1, help="Occlusion timing rounds.")
    parser.add_argument("--output", type=Path, default=Path("runs/explain-check"))
    args = parser.parse_args(argv)
    if args.export is not None and len(args.runs) != 1:
        parser.error("--export names the export of one run; give one run with it.")

    from kerasbert.training.rundir import RunDir, default_export_dir

    rows = []
    for run_dir in args.runs:
        run = RunDir(run_dir)
        test = run.read_split("test")
        count = len(test.texts) if args.limit is None else min(args.limit, len(test.texts))
        export_dir = args.export or default_export_dir(run)
        row = {
            "run": str(run_dir),
            "export": str(export_dir),
            "integrated_gradients": completeness(run_dir, args.limit, args.steps),
            "occlusion": occlusion_speed(
                export_dir,
                test.texts[:count],
                None if test.text_pairs is None else test.text_pairs[:count],
                args.rounds,
            ),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)

    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "explain_check.json").write_text(json.dumps(rows, indent=2) + "\n")
    print()
    print(
        "| run | IG texts | IG within 5% | IG max gap | IG s/text | occlusion passes/text "
        "(mean, max) | int8 p50 / p95 s | fp32 p50 / p95 s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        ig, occ = row["integrated_gradients"], row["occlusion"]
        print(
            f"| {Path(row['run']).name} | {ig['texts']} | {ig['within_5pct']:.1%} | "
            f"{ig['max_error']:.1%} | {ig['seconds_per_text']:.2f} | "
            f"{occ['mean_forward_passes']:.1f}, {occ['max_forward_passes']} | "
            f"{occ['int8']['p50_s']:.3f} / {occ['int8']['p95_s']:.3f} | "
            f"{occ['fp32']['p50_s']:.3f} / {occ['fp32']['p95_s']:.3f} |"
        )
    print(f"\nWrote {args.output / 'explain_check.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
