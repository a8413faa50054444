"""`TrainConfig`: every training setting in one place, with its default and the reason for it.

The CLI, `scripts/train.py` and JSON/YAML config files all build this one dataclass; the run
directory stores it as `config.json`, so a run can always be repeated exactly.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerasbert.common.errors import InputError
from kerasbert.common.settings import setting
from kerasbert.common.truncation import TRUNCATIONS
from kerasbert.common.windows import LONG_DOCUMENTS

PADDING_MODES = ("bucket", "longest", "fixed")
STRATEGIES = ("auto", "cpu", "gpu", "mirrored", "tpu", "multiworker")
PRECISIONS = ("auto", "fp32", "mixed_float16", "mixed_bfloat16", "cpu_bfloat16")
CLASS_WEIGHTS = ("auto", "balanced", "none")
# --class-weight auto weights the classes only past this largest/smallest training-count ratio.
# Up to 3:1 the smallest class still holds a quarter of a two-class set, and plain cross-entropy
# learns it; reweighting there mostly trades accuracy on the large classes for little recall.
# Beyond it the gradient is dominated by the large classes and the small ones' recall suffers.
# The BBC sets (largest/smallest under 1.4) stay unweighted, as before the setting existed.
IMBALANCE_RATIO = 3.0


# Without --epochs a run plans as many epochs as fit a budget of training tokens (one epoch's
# tokens after truncation, summed over its examples), within these bounds. Tokens, not examples or
# steps: a step's compute grows with its tokens, so the budget buys more passes over short texts
# (cheap) than over long ones. Two epochs of the default job's 1,489 articles at 128 tokens fill
# it, and so keep its time; a few thousand headlines get up to ten; large sets stay at two.
MIN_AUTO_EPOCHS = 2
MAX_AUTO_EPOCHS = 10
TOKEN_BUDGET = 350_000
# Without --batch-size: 32 examples per replica, which halves against 16 how often the AdamW update
# touches all the weights (it dominates a CPU step) at the same accuracy once an epoch has enough
# steps. A set whose epoch would take fewer than MIN_EPOCH_STEPS steps at that batch trains at
# SMALL_SET_BATCH_SIZE instead: a few hundred texts need more, smaller updates per pass to move
# from the fitted head. Without --learning-rate the peak rate is DEFAULT_LEARNING_RATE at batch 32
# and scales linearly with the batch the recipe picks: the same rate per example, so the small
# batch's noisier steps are not also larger ones. docs/PERFORMANCE.md ("The default recipe") has
# the sweep and the check behind both.
DEFAULT_BATCH_SIZE = 32
SMALL_SET_BATCH_SIZE = 16
MIN_EPOCH_STEPS = 32
DEFAULT_LEARNING_RATE = 8e-5
EARLY_STOPPING_METRICS = ("auto", "val_loss", "val_accuracy", "val_macro_f1", "val_micro_f1")
# Keys of a run's config.json that record what the run made of its settings rather than being
# settings: given back as --config, that file repeats the run, which plans its recipe again.
RECORD_KEYS = frozenset({"recipe"})


@dataclass(frozen=True)
class TrainConfig:
    """All settings of one fine-tuning run.

    Args are the fields below; each carries its help text in `metadata["help"]`.

    Example:
    >>> config = TrainConfig(data="bbc-headlines", epochs=3)
    >>> config.max_length
    128
    """

    # Data.
    data: str = setting(
        "bbc-news",
        "Built-in data set (bbc-news, bbc-headlines, bbc-pairs, bbc-multilabel) or a "
        "CSV/TSV/JSONL/Parquet file or a folder with one sub-folder of .txt files per class.",
    )
    validation_data: str | None = setting(
        None, "Validation file; without it a stratified split of --data is used."
    )
    test_data: str | None = setting(
        None, "Test file; without it a stratified split of --data is used."
    )
    text_column: str | None = setting(
        None, "Text column; auto-detected from common names if unset."
    )
    text_pair_column: str | None = setting(
        None,
        "Second text of sentence-pair data (e.g. sentence2, hypothesis); unset: detected when no "
        "--text-column is named and exactly one common pair (sentence1/sentence2, "
        "question/sentence, premise/hypothesis, text_a/text_b, question1/question2, "
        "query/document, text/text_pair) is present.",
    )
    label_column: str | None = setting(
        None, "Label column; auto-detected from common names if unset."
    )
    label_columns: str | None = setting(
        None,
        "Multi-label data as 0/1 columns, comma-separated (e.g. toxic,obscene,insult); each "
        "value must be 0, 1, true or false. Not with --label-column.",
    )
    # None means "detect". Annotated `bool` so that the CLI, which builds --flag/--no-flag pairs
    # for `bool` fields, offers --multi-label and --no-multi-label; leaving both out keeps None.
    multi_label: bool = setting(
        None,
        "Several labels per text (--multi-label) or exactly one (--no-multi-label); unset: "
        "detected from JSON lists of labels, --label-columns, or label cells split by a "
        "separator (see --label-separator) in more than one row in 20.",
    )
    label_separator: str | None = setting(
        None,
        "Separator of several labels in one label cell (e.g. '|' in sport|tech); unset: "
        "detected among , ; | (the detected one is logged).",
    )
    class_weight: str = setting(
        "auto",
        "Loss weights against class imbalance: balanced (sklearn's n / (classes x count); for "
        "multi-label, a positive weight per label: negatives / positives), none, or auto: "
        f"balanced when the largest class has more than {IMBALANCE_RATIO:g} times the training "
        "examples of the smallest, else none.",
    )
    validation_fraction: float = setting(
        0.1, "Share of --data held out for validation when no file."
    )
    test_fraction: float = setting(0.2, "Share of --data held out for testing when no file.")
    max_train_samples: int | None = setting(
        None, "Use at most this many training examples (stratified), for quick runs."
    )
    max_eval_samples: int | None = setting(
        None, "Use at most this many validation and test examples each (stratified)."
    )

    # Model.
    model: str = setting(
        "minilm",
        "'minilm' (the packaged all-MiniLM-L6-v2, offline), a local Hugging Face BERT-family "
        "directory, or a hub id (needs network).",
    )
    # Fewer layers run proportionally faster on CPU. The first layer (it reads the embeddings)
    # and the last (the pooler and a fine-tuned head read it) are kept: see select_layers.
    num_layers: int | None = setting(
        None,
        "Keep only this many of the checkpoint's encoder layers: the first, the last and the "
        "rest evenly spaced between (of 6: layers 0, 2, 5 for 3; 0, 5 for 2); unset: all.",
    )
    # 128 tokens holds the headline and lead paragraphs of a BBC article, which carry the topic;
    # longer sequences cost quadratically more attention compute for < 0.5 point of accuracy.
    max_length: int = setting(128, "Truncate texts to this many tokens (including [CLS]/[SEP]).")
    truncation: str = setting(
        "head",
        "Which tokens of a text longer than --max-length to keep: head (the first; news and "
        "reviews state their topic first), tail (the last), or head_tail (the start and the "
        "end, which together carry the most of a long document; Sun et al., 2019).",
    )
    long_documents: str = setting(
        "truncate",
        "truncate (each text cut to --max-length by --truncation) or windows (texts longer than "
        "--max-length become overlapping windows: training gives every window its text's label, "
        "evaluation and the exported predictor average the windows' probabilities). Single "
        "texts only.",
    )
    window_overlap: int | None = setting(
        None, "Tokens shared by neighbouring windows; default a quarter of a window."
    )

    # Optimisation: within the usual BERT fine-tuning ranges (Devlin et al., 2019). Left unset,
    # batch and peak rate follow the rule at DEFAULT_BATCH_SIZE above (`kerasbert.training.recipe`
    # records which applied). docs/PERFORMANCE.md has the figures.
    batch_size: int | None = setting(
        None,
        f"Examples per replica per step; the global batch is this × replicas. Default "
        f"{DEFAULT_BATCH_SIZE}, or {SMALL_SET_BATCH_SIZE} when an epoch at {DEFAULT_BATCH_SIZE} "
        f"would take fewer than {MIN_EPOCH_STEPS} steps.",
    )
    # Two epochs from a fitted head reach what three from a random head do on bbc-news; smaller
    # and shorter sets need more passes to move from the head's start. The epoch kept is the best
    # by the validation metric (--early-stopping-metric), so extra epochs cannot overfit the
    # model that is kept, only cost time.
    epochs: int | None = setting(
        None,
        f"Maximum epochs; default: as many as fit --token-budget training tokens, at least "
        f"{MIN_AUTO_EPOCHS} and at most {MAX_AUTO_EPOCHS}. Early stopping may end sooner.",
    )
    token_budget: int = setting(
        TOKEN_BUDGET,
        "Without --epochs: plan ceil(budget / tokens of one epoch) epochs (within the bounds "
        "above).",
    )
    learning_rate: float | None = setting(
        None,
        f"Peak AdamW learning rate after warm-up. Default {DEFAULT_LEARNING_RATE:g} at batch "
        f"{DEFAULT_BATCH_SIZE}, scaled linearly when the recipe picks the batch "
        f"({DEFAULT_LEARNING_RATE * SMALL_SET_BATCH_SIZE / DEFAULT_BATCH_SIZE:g} at "
        f"{SMALL_SET_BATCH_SIZE}).",
    )
    weight_decay: float = setting(
        0.01, "AdamW decoupled weight decay (not applied to LayerNorm/bias)."
    )
    warmup_ratio: float = setting(0.1, "Share of the training steps spent warming up linearly.")
    early_stopping_patience: int = setting(
        2,
        "Stop after this many epochs without a better --early-stopping-metric; 0 disables (the "
        "best epoch is still the one kept).",
    )
    # The metric the user reads, not the loss: past the first epochs validation loss often climbs
    # (growing confidence on the few mistakes) while accuracy and F1 still rise.
    early_stopping_metric: str = setting(
        "auto",
        "What picks the kept epoch and stops training: auto (single-label: validation macro-F1; "
        "multi-label: validation micro-F1 at 0.5 thresholds), val_loss, val_accuracy, "
        "val_macro_f1 or val_micro_f1.",
    )
    # Pretrained embeddings need little change for topic classification. Freezing them saves less
    # than it would with plain AdamW: FusedAdamW's Adam step already skips the word-embedding rows
    # no batch has reached; weight decay of all 30k rows and the reached rows' update remain.
    freeze_embeddings: bool = setting(
        False, "Keep the pretrained embedding layer fixed (faster steps, fewer trainable weights)."
    )
    fit_head: bool = setting(
        True,
        "Start from a head fitted by logistic regression on the pretrained features "
        "(one extra forward pass over the training set) instead of a random one; a "
        "fine-tuned checkpoint's own head with as many labels as the data is kept instead.",
    )
    seed: int = setting(42, "Seed for the split, shuffling and weight initialisation.")

    # Input pipeline.
    padding: str = setting(
        "bucket",
        "bucket: batches of similar lengths, padded to their own longest (fastest on CPU/GPU); "
        "longest: random batches padded to their longest; fixed: pad all to --max-length (TPU).",
    )

    # Hardware.
    strategy: str = setting("auto", "Distribution strategy: " + ", ".join(STRATEGIES) + ".")
    precision: str = setting(
        "auto",
        "fp32, mixed_float16, mixed_bfloat16 or cpu_bfloat16 (bf16 matmuls by TensorFlow's "
        "oneDNN graph rewrite, float32 layers); auto: bf16 on TPU, fp16 on GPU, cpu_bfloat16 on "
        "a CPU with native bf16 (AMX, AVX512-BF16), else fp32.",
    )
    jit_compile: bool = setting(False, "Compile the train step with XLA.")
    tpu: str | None = setting(
        None, "TPU name or grpc:// address for --strategy tpu (Colab: unset)."
    )

    # Outputs.
    output_dir: str | None = setting(
        None, "Run directory; default runs/<data>-<timestamp>. Local path or gs://bucket/path."
    )
    export_dir: str | None = setting(
        None, "Where the ONNX export goes; default exported/<run-name>."
    )
    export: bool = setting(True, "Export to ONNX (fp32 + int8) and verify parity after training.")
    export_with_tokenizer: bool = setting(
        False,
        "Also export model.e2e.onnx and model.e2e.int8.onnx: raw strings in, logits out, the "
        'tokenizer inside (onnxruntime-extensions; pip install "kerasbert[e2e]").',
    )
    plots: bool = setting(True, "Write the plots and report.md after evaluation.")
    overwrite: bool = setting(
        False, "Replace an existing run/export directory instead of refusing."
    )

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise `ValueError` naming the first setting that cannot work, and how to fix it."""
        positive_ints = ("max_length", "batch_size", "epochs", "token_budget")
        for name in positive_ints:
            value = getattr(self, name)
            if name in ("epochs", "batch_size") and value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise InputError(f"--{_flag(name)} must be a positive integer, got {value!r}.")
        if self.max_length < 8:
            raise InputError(f"--max-length {self.max_length} is too short; use at least 8 tokens.")
        for name in ("max_train_samples", "max_eval_samples", "num_layers"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise InputError(f"--{_flag(name)} must be a positive integer, got {value!r}.")
        if self.learning_rate is not None and not (
            isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0
        ):
            raise InputError(f"--learning-rate must be > 0, got {self.learning_rate!r}.")
        if self.weight_decay < 0:
            raise InputError(f"--weight-decay must be >= 0, got {self.weight_decay!r}.")
        if not 0 <= self.warmup_ratio < 1:
            raise InputError(f"--warmup-ratio must be in [0, 1), got {self.warmup_ratio!r}.")
        if self.early_stopping_patience < 0:
            raise InputError("--early-stopping-patience must be >= 0.")
        for name in ("validation_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise InputError(f"--{_flag(name)} must be between 0 and 1, got {value!r}.")
        if self.validation_fraction + self.test_fraction >= 0.9:
            raise InputError(
                "--validation-fraction + --test-fraction leave under 10% for training; lower them."
            )
        choices = {
            "padding": PADDING_MODES,
            "strategy": STRATEGIES,
            "precision": PRECISIONS,
            "truncation": TRUNCATIONS,
            "long_documents": LONG_DOCUMENTS,
            "class_weight": CLASS_WEIGHTS,
            "early_stopping_metric": EARLY_STOPPING_METRICS,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise InputError(
                    f"--{_flag(name)} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}."
                )

        if self.long_documents == "windows" and self.text_pair_column is not None:
            raise InputError(
                "--long-documents windows splits single texts; text pairs are truncated "
                "(--truncation). Drop one of --long-documents and --text-pair-column."
            )
        room = self.max_length - 2
        if self.window_overlap is not None and not 0 <= self.window_overlap < room:
            raise InputError(
                f"--window-overlap must be in [0, {room}) for --max-length {self.max_length} "
                f"(windows of {room} text tokens); got {self.window_overlap}."
            )

        self._validate_columns()

    def _validate_columns(self) -> None:
        """Column settings that contradict each other, refused before any data is read."""
        if self.multi_label not in (None, True, False):
            raise InputError(
                f"--multi-label must be true, false or unset; got {self.multi_label!r}."
            )
        for name in ("text_column", "text_pair_column", "label_column", "label_columns"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise InputError(f"--{_flag(name)} must be a column name; got {value!r}.")
        if self.text_pair_column is not None and self.text_pair_column == self.text_column:
            raise InputError(
                f"--text-pair-column and --text-column are both {self.text_column!r}; the second "
                "text must come from another column."
            )
        if self.label_columns is not None:
            if self.label_column is not None:
                raise InputError(
                    "--label-columns (0/1 columns, multi-label) and --label-column (one label "
                    "column) exclude each other; give one of them."
                )
            names = [name.strip() for name in self.label_columns.split(",")]
            if "" in names:
                raise InputError(
                    f"--label-columns {self.label_columns!r} has an empty name; give names "
                    "separated by single commas, e.g. toxic,obscene,insult."
                )
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise InputError(f"--label-columns names {repeated} more than once.")
        if self.label_separator is not None and (
            not isinstance(self.label_separator, str) or not self.label_separator.strip()
        ):
            raise InputError(
                f"--label-separator must be a visible character such as , ; or |; got "
                f"{self.label_separator!r}."
            )
        if self.multi_label is False:
            given = [
                f"--{_flag(name)}"
                for name in ("label_columns", "label_separator")
                if getattr(self, name) is not None
            ]
            if given:
                raise InputError(
                    f"--no-multi-label contradicts {' and '.join(given)}, which read several "
                    "labels per text; drop one of them."
                )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> TrainConfig:
        """Build from a mapping, refusing unknown keys by name (a typo must not be ignored)."""
        if not isinstance(values, dict):
            raise InputError(f"{source} must hold a mapping of setting names to values.")
        known = {f.name for f in dataclasses.fields(cls)}
        normalised = {
            key.replace("-", "_"): value for key, value in values.items() if key not in RECORD_KEYS
        }
        unknown = sorted(set(normalised) - known)
        if unknown:
            raise InputError(
                f"{source} has unknown setting(s): {', '.join(unknown)}. "
                f"Known settings: {', '.join(sorted(known))}."
            )
        return cls(**normalised)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        """Read a `.json`, `.yaml` or `.yml` config file."""
        return cls.from_dict(read_config_file(path), source=str(path))


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a JSON or YAML config file into a dict, with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Config file {path} does not exist (or is a directory).")
    text = path.read_text(encoding="utf-8-sig")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            values = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            values = yaml.safe_load(text)
        else:
            raise InputError(
                f"Config file {path} must end in .json, .yaml or .yml, not {suffix or 'nothing'!r}."
            )
    except (json.JSONDecodeError, ImportError) as error:
        raise InputError(f"Could not parse config file {path}: {error}") from error
    except Exception as error:  # yaml.YAMLError has no stable import path without pyyaml
        if type(error).__module__.startswith("yaml"):
            raise InputError(f"Could not parse config file {path}: {error}") from error
        raise
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise InputError(f"Config file {path} must hold a mapping of setting names to values.")
    return values


def _flag(name: str) -> str:
    return name.replace("_", "-")


def planned_epochs(config: TrainConfig, epoch_tokens: int) -> int:
    """The epochs a run plans: `--epochs` if given, else ceil(`--token-budget` / `epoch_tokens`),
    the tokens of one training epoch, within `MIN_AUTO_EPOCHS`..`MAX_AUTO_EPOCHS`.

    >>> planned_epochs(TrainConfig(), 1489 * 128)  # the default job: bbc-news articles
    2
    >>> planned_epochs(TrainConfig(), 2000 * 24)  # 2,000 headlines
    8
    >>> planned_epochs(TrainConfig(), 60_000 * 24)  # 60,000 short texts
    2
    >>> planned_epochs(TrainConfig(epochs=1), 500 * 24)
    1
    """
    if config.epochs is not None:
        return config.epochs
    needed = -(-config.token_budget // max(epoch_tokens, 1))
    return max(MIN_AUTO_EPOCHS, min(MAX_AUTO_EPOCHS, needed))


@dataclass(frozen=True)
class DistillSettings:
    """How to distil a teacher run into a student with fewer layers.

    Example:
    >>> DistillSettings(teacher="runs/bbc-headlines-1", layers=3).temperature
    2.0
    """

    teacher: str = setting(None, "The teacher: a finished run directory of `kerasbert train`.")
    layers: int = setting(3, "Encoder layers of the student (checkpoint.select_layers picks them).")
    # Softer targets show the student how the teacher ranks the wrong classes, which labels
    # alone never say; 2 keeps the top class clearly ahead for 5 classes (Hinton et al., 2015).
    temperature: float = setting(2.0, "Softmax (or sigmoid) temperature of the teacher's targets.")
    alpha: float = setting(
        0.5, "Weight of the true-label loss beside the soft-target loss (texts with labels)."
    )
    data: str | None = setting(
        None,
        "Extra unlabelled texts (CSV/TSV/JSONL/TXT/Parquet, read like `kerasbert predict "
        "--input`) that the teacher labels for the student; texts also in the run's splits are "
        "dropped.",
    )
    text_column: str | None = setting(None, "Text column of --data; detected if unset.")
    text_pair_column: str | None = setting(None, "Second text column of --data (pair runs).")
    augment: int | None = setting(
        None,
        "Changed copies of each training text (words masked, swapped, cut) that the teacher "
        "labels for the student; default: 4 where an epoch is short enough that the copies fit "
        "the recipe's token budget, else 0 (see kerasbert.training.distill.augment_copies).",
    )
    epochs: int | None = setting(
        None, "Maximum epochs of the student; default the teacher's setting."
    )
    learning_rate: float | None = setting(
        None, "Peak learning rate of the student; default the teacher's."
    )
    output_dir: str | None = setting(
        None, "The student's run directory; default <teacher>-distilled-<layers>."
    )
    export_dir: str | None = setting(
        None, "Where the student's ONNX export goes; default exported/<student run name>."
    )
    baseline: str | None = setting(
        None,
        "A label-only run with the student's layers (`kerasbert train --num-layers N`) to put "
        "in the comparison.",
    )
    compare: bool = setting(True, "Time teacher and student and write the comparison table.")
    export: bool = setting(True, "Export the student to ONNX and check its predictor.")
    plots: bool = setting(True, "Write the student's plots and report.md.")
    overwrite: bool = setting(False, "Replace an existing student run/export directory.")
    precision: str | None = setting(
        None, "The student's training precision; default the teacher's setting."
    )

    def __post_init__(self) -> None:
        if not self.teacher:
            raise InputError("Name the teacher run: kerasbert distill RUN --layers N.")
        if not isinstance(self.layers, int) or self.layers <= 0:
            raise InputError(f"--layers must be a positive integer, got {self.layers!r}.")
        if not self.temperature > 0:
            raise InputError(f"--temperature must be > 0, got {self.temperature!r}.")
        if not self.alpha >= 0:
            raise InputError(f"--alpha must be >= 0, got {self.alpha!r}.")
        if self.augment is not None and (not isinstance(self.augment, int) or self.augment < 0):
            raise InputError(f"--augment must be a whole number >= 0, got {self.augment!r}.")
