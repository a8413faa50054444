"""`BenchmarkConfig`: every benchmark setting with its default (the command line is built from it by
`kerasbert.common.settings.add_setting_flags`, as every command's is)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from kerasbert.common.errors import InputError
from kerasbert.common.settings import setting
from kerasbert.config import DEFAULT_LEARNING_RATE, PRECISIONS, TrainConfig

# The padding modes compared: every batch padded to the maximum length, random batches padded
# to their own longest text (the transformers-examples way), kerasbert's length buckets.
MODES = ("fixed", "longest", "bucketed")
# Every training precision but float16, which needs a GPU.
BENCHMARK_PRECISIONS = tuple(name for name in PRECISIONS if name != "mixed_float16")
# Full BBC articles are what 512 tokens are for; everything else is benchmarked at 128, the
# length the fixed-padding comparison and FLOP-rate target are stated at.
DEFAULT_MAX_LENGTH = {"bbc-news": 512}
FALLBACK_MAX_LENGTH = 128
FLOP_RATE_LENGTH = 128
SHORT_TEXT_LENGTH = 128
# Training batches per epoch in the full run. At up to 128 tokens, 48 batches of 32 (all of
# bbc-headlines' training split): enough training for the modes' accuracies to be compared.
# Longer texts cost several times as much per batch (attention grows with the square of the
# length), so they get the fewest batches at which the modes' accuracies move away from the
# fitted head by more than the seed alone moves them (the measurements: docs/PERFORMANCE.md).
FULL_TRAIN_BATCHES = 48
LONG_TEXT_TRAIN_BATCHES = 16
QUICK_TRAIN_BATCHES = 4
# Inference by input length (`kerasbert.benchmark.lengths`): BERT's usual lengths up to its
# longest, capped at the model's positions; --quick keeps the shortest, where a pass is cheapest.
INFERENCE_LENGTHS = (128, 256, 512)
QUICK_INFERENCE_LENGTHS = (128,)
# Single texts per engine, length and round for the batch-1 latency of that section: at 512
# tokens a TF call takes a few hundred milliseconds, so more would outlast the batch passes.
LENGTH_LATENCY_TEXTS = 8
QUICK_LENGTH_LATENCY_TEXTS = 3
# Sections `--only` can run on the run and export an earlier run left in `--work-dir`.
ONLY_SECTIONS = ("lengths",)
POSITIVE_SETTINGS = (
    "batch_size",
    "epochs",
    "max_train_samples",
    "max_eval_samples",
    "inference_texts",
    "latency_texts",
    "inference_rounds",
    "cold_start_runs",
    "max_length",
    "seeds",
)


@dataclass(frozen=True)
class BenchmarkConfig:
    """Every benchmark setting, with its default and help text (the CLI is built from these).

    Example:
    >>> BenchmarkConfig(quick=True).resolved().data
    ('bbc-headlines',)
    """

    data: tuple[str, ...] = setting(
        ("bbc-headlines", "bbc-news"),
        "Data sets to train on: built-in names or labelled files (CSV, TSV, JSONL, Parquet).",
    )
    text_column: str | None = setting(None, "Text column of --data files (default: detected).")
    label_column: str | None = setting(None, "Label column of --data files (default: detected).")
    model: str = setting("minilm", "Checkpoint: 'minilm' (packaged) or a local BERT directory.")
    quick: bool = setting(
        False, "Small samples, one epoch, bbc-headlines only: a few minutes on 2 cores."
    )
    max_length: int | None = setting(
        None, "Tokens per text; default 512 for bbc-news, 128 otherwise."
    )
    # 32 is the batch of the padding measurements and of most fine-tuning recipes.
    batch_size: int = setting(32, "Training and batch-inference batch size.")
    epochs: int | None = setting(None, "Epochs per training mode (default: 2, quick: 1).")
    max_train_samples: int | None = setting(
        None,
        f"Training examples per data set (default: {FULL_TRAIN_BATCHES} batches at up to "
        f"{SHORT_TEXT_LENGTH} tokens, {LONG_TEXT_TRAIN_BATCHES} batches at longer lengths; quick: "
        f"{QUICK_TRAIN_BATCHES} batches).",
    )
    max_eval_samples: int | None = setting(
        None, "Test examples scored per data set (default: the whole test split; quick: 64)."
    )
    inference_texts: int | None = setting(
        None, "Test texts for batch-32 inference (default 256, quick 64)."
    )
    latency_texts: int | None = setting(
        None, "Test texts sent one at a time for batch-1 latency (default 100, quick 30)."
    )
    # A shared VM's speed swings for minutes at a time: with a couple of passes per engine, one
    # slow spell decides the ratio between two engines; the median of several passes does not.
    inference_rounds: int | None = setting(
        None,
        "Passes each inference engine makes over the texts, the engines taking turns; "
        "throughput is from the median pass (default 8, quick 2).",
    )
    cold_start_runs: int | None = setting(
        None, "Fresh processes per cold-start measurement; the median counts (default 3, quick 2)."
    )
    precision: str = setting(
        "auto",
        "Training precision: fp32, mixed_bfloat16 or cpu_bfloat16; auto: as the training job "
        "(cpu_bfloat16 on a CPU with native bf16, else fp32).",
    )
    learning_rate: float = setting(
        DEFAULT_LEARNING_RATE, "Peak AdamW learning rate (the training job's default)."
    )
    freeze_embeddings: bool = setting(
        TrainConfig.freeze_embeddings,
        "Train every mode with the embedding layer fixed (the training job's "
        "--freeze-embeddings): less per-step optimizer work, which padding does not change.",
    )
    skip_tf2onnx: bool = setting(
        False,
        "Leave the tf2onnx graph out of the inference-by-length section: tf2onnx traces the "
        "model and needs tens of times its size in memory (about 6 GB for MiniLM).",
    )
    only: str | None = setting(
        None,
        "Run only this section, on the run and export an earlier benchmark kept in --work-dir "
        f"(its first --data set): {', '.join(ONLY_SECTIONS)} (inference by input length).",
    )
    seed: int = setting(42, "Seed for the split, shuffling and weight initialisation.")
    seeds: int | None = setting(
        None,
        "Training runs per mode, seeded --seed, --seed + 1, ...: accuracies are averaged over "
        "them, speeds pooled (default 3, quick 1).",
    )
    output: str = setting("benchmark.json", "Where to write the results.")
    work_dir: str | None = setting(
        None, "Keep the trained run and ONNX export here (default: a temporary directory)."
    )

    def resolved(self) -> BenchmarkConfig:
        """Fill the defaults that depend on `--quick`."""
        quick = self.quick
        defaults = {
            "epochs": 1 if quick else 2,
            # One run's test accuracy moves with the seed by more than the 0.5-point agreement
            # the target asks for (one headline is almost half a point of bbc-headlines' test
            # split): means over 3 seeds are what the agreement can be judged on.
            "seeds": 1 if quick else 3,
            # The whole test split in the full run: accuracies 0.5 points apart must be told apart.
            "max_eval_samples": 64 if quick else None,
            "inference_texts": 64 if quick else 256,
            "latency_texts": 30 if quick else 100,
            "inference_rounds": 2 if quick else 8,
            "cold_start_runs": 2 if quick else 3,
        }
        values = {
            name: getattr(self, name) if getattr(self, name) is not None else value
            for name, value in defaults.items()
        }
        data = self.data
        if quick and data == BenchmarkConfig.data:
            data = ("bbc-headlines",)
        return dataclasses.replace(self, data=tuple(data), **values)

    def validate(self) -> None:
        """Raise `InputError` naming the first setting that cannot work."""
        for name in POSITIVE_SETTINGS:
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise InputError(f"--{name.replace('_', '-')} must be a positive integer.")
        if self.precision not in BENCHMARK_PRECISIONS:
            raise InputError(f"--precision must be one of {', '.join(BENCHMARK_PRECISIONS)}.")
        if not self.data:
            raise InputError("Give at least one data set with --data.")
        if self.only is not None:
            if self.only not in ONLY_SECTIONS:
                raise InputError(f"--only must be one of {', '.join(ONLY_SECTIONS)}.")
            if self.work_dir is None:
                raise InputError(
                    f"--only {self.only} measures the run an earlier benchmark kept: give its "
                    "--work-dir (run the benchmark once with --work-dir DIR first)."
                )

    def inference_lengths(self, max_positions: int) -> list[int]:
        """The lengths of the inference-by-length section, capped at the model's positions."""
        lengths = QUICK_INFERENCE_LENGTHS if self.quick else INFERENCE_LENGTHS
        return sorted({min(length, max_positions) for length in lengths})

    def length_latency_texts(self) -> int:
        return QUICK_LENGTH_LATENCY_TEXTS if self.quick else LENGTH_LATENCY_TEXTS

    def seed_list(self) -> list[int]:
        return [self.seed + offset for offset in range(self.seeds or 1)]

    def max_length_for(self, dataset: str) -> int:
        return self.max_length or DEFAULT_MAX_LENGTH.get(dataset, FALLBACK_MAX_LENGTH)

    def train_samples_for(self, dataset: str) -> int:
        """Training examples: enough batches to time, few enough to finish on 2 cores."""
        if self.max_train_samples is not None:
            return self.max_train_samples
        if self.quick:
            return QUICK_TRAIN_BATCHES * self.batch_size
        if self.max_length_for(dataset) <= SHORT_TEXT_LENGTH:
            return FULL_TRAIN_BATCHES * self.batch_size
        return LONG_TEXT_TRAIN_BATCHES * self.batch_size
