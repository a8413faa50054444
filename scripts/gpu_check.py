"""Training throughput on this machine's accelerator: fp32 vs mixed_float16 vs mixed_float16 + XLA.

    python scripts/gpu_check.py                         # MiniLM on BBC News, batch 32 x 128 tokens
    python scripts/gpu_check.py --batch-size 64 --steps 50
    python scripts/gpu_check.py --variants fp32,mixed_bfloat16,mixed_bfloat16+xla
    python scripts/gpu_check.py --model TINY_DIR --data tiny.csv --steps 2   # a CPU smoke run

Each variant builds the classifier afresh under its precision policy, trains `--warmup-steps`
(graph tracing, XLA compilation, autotuning: not timed), then times `--steps` training steps of
fixed-length batches (the same shapes for every variant, so XLA compiles once). Prints a table of
examples/s and real (non-padding) tokens/s, and the speed-up over the first variant.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_VARIANTS = "fp32,mixed_float16,mixed_float16+xla"


@dataclass(frozen=True)
class Throughput:
    """One variant's measured training speed."""

    variant: str
    examples_per_second: float
    tokens_per_second: float
    final_loss: float


def measure_training_throughput(
    variants: list[str],
    *,
    model: str = "minilm",
    data: str = "bbc-news",
    batch_size: int = 32,
    max_length: int = 128,
    steps: int = 30,
    warmup_steps: int = 5,
    strategy_name: str = "auto",
) -> list[Throughput]:
    """Train each variant (`PRECISION` or `PRECISION+xla`) for `steps` timed steps."""
    import numpy as np

    from kerasbert.data import splits as data_module
    from kerasbert.training import checkpoint, pipeline
    from kerasbert.training.model import build_classifier, compile_classifier
    from kerasbert.training.strategy import apply_precision, create_strategy

    strategy = create_strategy(strategy_name)
    global_batch = batch_size * strategy.num_replicas_in_sync
    model_path = checkpoint.resolve_checkpoint(model)
    tokenizer = checkpoint.load_tokenizer(model_path)
    splits = data_module.load_splits(data, validation_fraction=0.1, test_fraction=0.1, seed=0)
    encoded = pipeline.encode(tokenizer, splits.train.texts, max_length)
    labels = splits.train.label_ids(splits.labels)
    if len(encoded) < global_batch:
        raise ValueError(
            f"--data has {len(encoded)} training texts; need a batch of {global_batch}."
        )
    dataset = pipeline.make_dataset(
        encoded, labels, global_batch, padding="fixed", shuffle=True, drop_remainder=True
    ).repeat()
    # Batches are drawn at random, so the real-token count per example is the set's mean.
    tokens_per_example = float(np.mean(encoded.lengths))

    results = []
    for variant in variants:
        precision, _, suffix = variant.partition("+")
        apply_precision(precision)
        with strategy.scope():
            classifier = build_classifier(model_path, splits.labels)
            compile_classifier(
                classifier,
                learning_rate=2e-5,
                total_steps=warmup_steps + steps,
                warmup_steps=0,
                jit_compile=suffix == "xla",
            )
        classifier.fit(dataset, steps_per_epoch=warmup_steps, epochs=1, verbose=0)
        start = time.perf_counter()
        history = classifier.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
        examples = steps * global_batch
        results.append(
            Throughput(
                variant=variant,
                examples_per_second=examples / seconds,
                tokens_per_second=examples * tokens_per_example / seconds,
                final_loss=float(history.history["loss"][-1]),
            )
        )
        del classifier
    apply_precision("fp32")
    return results


def format_table(results: list[Throughput]) -> str:
    """A Markdown table of the results, with the speed-up over the first row."""
    lines = [
        "| variant | examples/s | tokens/s | speed-up | loss |",
        "|---|---:|---:|---:|---:|",
    ]
    for result in results:
        speedup = result.examples_per_second / results[0].examples_per_second
        lines.append(
            f"| {result.variant} | {result.examples_per_second:,.1f} | "
            f"{result.tokens_per_second:,.0f} | {speedup:.2f}x | {result.final_loss:.4f} |"
        )
    return "\n".join(lines)


def device_description() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "no GPU (CPU only)"
    names = [
        tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name) for gpu in gpus
    ]
    return ", ".join(names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm", help="Checkpoint (default: minilm).")
    parser.add_argument("--data", default="bbc-news", help="Training texts (default: bbc-news).")
    parser.add_argument("--batch-size", type=int, default=32, help="Examples per replica.")
    parser.add_argument("--max-length", type=int, default=128, help="Tokens per example (fixed).")
    parser.add_argument("--steps", type=int, default=30, help="Timed training steps per variant.")
    parser.add_argument("--warmup-steps", type=int, default=5, help="Untimed steps first.")
    parser.add_argument("--strategy", default="auto", help="As kerasbert train --strategy.")
    parser.add_argument(
        "--variants",
        default=DEFAULT_VARIANTS,
        help=f"Comma-separated PRECISION or PRECISION+xla (default: {DEFAULT_VARIANTS}).",
    )
    args = parser.parse_args(argv)
    variants = [variant.strip() for variant in args.variants.split(",") if variant.strip()]
    allowed = ("fp32", "mixed_float16", "mixed_bfloat16")
    bad = [variant for variant in variants if variant.partition("+")[0] not in allowed
           or variant.partition("+")[2] not in ("", "xla")]  # fmt: skip
    if bad or not variants:
        parser.error(f"--variants: use {', '.join(allowed)}, each optionally +xla; got {bad}.")
    results = measure_training_throughput(
        variants,
        model=args.model,
        data=args.data,
        batch_size=args.batch_size,
        max_length=args.max_length,
        steps=args.steps,
        warmup_steps=args.warmup_steps,
        strategy_name=args.strategy,
    )
    print(f"\nDevice: {device_description()}; batch {args.batch_size} x {args.max_length} tokens.")
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
