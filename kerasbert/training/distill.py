"""Distillation: a student with fewer encoder layers trained on a fine-tuned teacher run's outputs.

`fit_student(settings)` makes the student a normal run directory: its `TrainConfig` is the
teacher's with `model` set to the teacher's fine-tuned model and `num_layers` to the student's
depth, so the student starts from the teacher's embeddings, the layers
`checkpoint.select_layers` names, the pooler and the fine-tuned head, and is evaluated, exported
and served like any run. Training is `fit_run` with a `DistillationObjective`: the targets are
the teacher's logits beside the true labels, and the loss

    single-label:  T² · KL(softmax(teacher / T) ‖ softmax(student / T)) + alpha · CE(label, student)
    multi-label:   T² · BCE(sigmoid(teacher / T), student / T) + alpha · BCE(labels, student)

with the label term only where a text has labels (extra unlabelled texts teach by the teacher's
targets alone). Validation measures the student on the true labels with the label-only runs'
loss, so the epoch kept is chosen as in any run. The teacher's logits are computed once and
stored in the student's run directory (`teacher_targets.npz`), so a killed student resumes on
the very same targets. Calibration (single label) and per-label thresholds (multi-label) are
fitted on the validation split's true labels, as for any run.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.common.errors import InputError
from kerasbert.common.files import read_json, write_json
from kerasbert.common.names import Task
from kerasbert.config import DistillSettings, TrainConfig
from kerasbert.data.augment import Augmentation, augment
from kerasbert.data.splits import DataSplits, splits_for
from kerasbert.inference.textfiles import read_pairs, read_texts
from kerasbert.training import checkpoint, pipeline
from kerasbert.training.fit import Inputs, PhaseTimer, fit_run
from kerasbert.training.rundir import RunDir
from kerasbert.training.tfkeras import keras, tf

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Teacher:
    """The teacher run, read once: its directory, settings, task and depth."""

    run: RunDir
    settings: TrainConfig
    task: Task
    labels: tuple[str, ...]
    layers: int


def read_teacher(path: str | Path) -> Teacher:
    """The teacher run at `path`, refused with the reason if it cannot teach."""
    run = RunDir(path)
    if not run.config.is_file() or not (run.model / "config.json").is_file():
        raise InputError(
            f"{run.path} is not a finished kerasbert run (no config.json or model/); train the "
            "teacher first: kerasbert train --data ... --output-dir DIR."
        )
    record = run.read_record()
    if record.settings.long_documents == "windows":
        raise InputError(
            f"{run.path} was trained with --long-documents windows; distillation takes runs "
            "that truncate (one input per text)."
        )
    layers = int(read_json(run.model / "config.json")["num_hidden_layers"])
    return Teacher(run, record.settings, record.task, record.labels, layers)


def student_config(teacher: Teacher, settings: DistillSettings) -> TrainConfig:
    """The student's settings: the teacher's (same data, split seed, length, batch), starting
    from the teacher's fine-tuned model cut to `settings.layers` layers."""
    if settings.layers > teacher.layers:
        raise InputError(
            f"--layers {settings.layers}: the teacher has only {teacher.layers} encoder layers."
        )
    output_dir = settings.output_dir or f"{teacher.run.path}-distilled-{settings.layers}"
    changes: dict[str, Any] = {
        "model": str(teacher.run.model.resolve()),
        "num_layers": settings.layers,
        "output_dir": output_dir,
        "export_dir": settings.export_dir,
        "export": settings.export,
        "plots": settings.plots,
        "overwrite": settings.overwrite,
    }
    for name in ("epochs", "learning_rate", "precision"):
        if getattr(settings, name) is not None:
            changes[name] = getattr(settings, name)
    return dataclasses.replace(teacher.settings, **changes)


def fit_student(
    settings: DistillSettings,
    strategy=None,
    timer: PhaseTimer | None = None,
    callbacks=(),
) -> Path:
    """Train the student run (see the module docstring); returns its run directory.

    A student directory holding an unfinished run with the same settings resumes, on the teacher
    targets stored in it.
    """
    teacher = read_teacher(settings.teacher)
    config = student_config(teacher, settings)
    splits = splits_for(config)
    _check_same_splits(teacher, splits)
    student = RunDir.for_settings(config)
    seen = {key for name in ("train", "validation", "test") for key in getattr(splits, name).keys()}
    # One tokenizer (the teacher's, which the student inherits) and one encoding of each text,
    # for the copies' token count and the teacher's targets alike.
    tokenizer = checkpoint.load_tokenizer(config.model)
    train = splits.train
    encoded = {"train": _encode(tokenizer, config, train.texts, train.text_pairs)}
    from_data = extra_texts(settings, splits, seen) if settings.data else None
    epoch_tokens = int(np.sum(encoded["train"].lengths))
    augmented = augmented_texts(settings, config, splits, seen, tokenizer, epoch_tokens)
    extra = _join(from_data, augmented)
    if extra is not None:
        extra["encoded"] = encoded["extra"] = _encode(
            tokenizer, config, extra["texts"], extra["pairs"]
        )
    targets = _stored_targets(student, config, encoded)
    if targets is None:
        targets = teacher_targets(teacher, encoded)
    layer_map = checkpoint.select_layers(teacher.layers, settings.layers)
    record = {
        "teacher": {"run": str(teacher.run.path.resolve()), "layers": teacher.layers},
        "layers": settings.layers,
        "layer_map": layer_map,
        "temperature": settings.temperature,
        "alpha": settings.alpha,
        "extra_data": None
        if from_data is None
        else {"path": str(settings.data), **{key: from_data[key] for key in ("read", "kept")}},
        "augmentation": augmented["record"] if augmented else {"copies": 0},
        "baseline": settings.baseline,
    }
    objective = DistillationObjective(
        targets,
        None if extra is None else extra["encoded"],
        len(splits.labels),
        settings.temperature,
        settings.alpha,
        splits.task == Task.MULTI_LABEL,
    )
    store = StoreDistillation(student, targets, record)
    return fit_run(
        config,
        strategy,
        timer,
        callbacks=[store, *callbacks],
        splits=splits,
        objective=objective,
    )


def _check_same_splits(teacher: Teacher, splits: DataSplits) -> None:
    """The student must be tested on the teacher's test split and trained on its training split:
    anything else would let the teacher's targets leak test texts or compare different tests."""
    for name in ("train", "validation", "test"):
        stored = teacher.run.read_split(name)
        if stored.keys() != getattr(splits, name).keys():
            raise InputError(
                f"The {name} split of {teacher.run.path} no longer comes out of its settings "
                f"(data {teacher.settings.data!r} changed?); distil from a run of the current data."
            )


def extra_texts(settings: DistillSettings, splits: DataSplits, seen: set) -> dict[str, Any]:
    """The extra texts of `settings.data`, read by the predictor's reader, without exact
    duplicates and without any text (or pair) in `seen` (the run's splits): a test or validation
    text among them would leak the teacher's view of it into training, a training text would
    count twice. Returns the texts (and pairs), how many were read and kept; adds them to `seen`."""
    pair = splits.train.text_pairs is not None
    if pair:
        texts, pairs = read_pairs(settings.data, settings.text_column, settings.text_pair_column)
    else:
        texts, pairs = read_texts(settings.data, settings.text_column), None
    keep = _unseen(texts, pairs, seen)
    if not keep:
        raise InputError(
            f"--data {settings.data}: every text is already in the run's splits (or empty); give "
            "other texts."
        )
    logger.info(
        "Extra texts from %s: %d read, %d kept (duplicates and texts of the run's splits dropped).",
        settings.data,
        len(texts),
        len(keep),
    )
    return _kept(texts, pairs, keep)


def _unseen(texts: list[str], pairs: list[str] | None, seen: set) -> list[int]:
    """Indices of the texts (pairs) not in `seen`, first occurrences only; adds them to `seen`."""
    keep = []
    for index, key in enumerate(zip(texts, pairs or [None] * len(texts))):
        if key not in seen:
            seen.add(key)
            keep.append(index)
    return keep


def _kept(texts: list[str], pairs: list[str] | None, keep: list[int]) -> dict[str, Any]:
    """The texts (pairs) at `keep`, with how many were read and kept."""
    return {
        "texts": [texts[index] for index in keep],
        "pairs": None if pairs is None else [pairs[index] for index in keep],
        "read": len(texts),
        "kept": len(keep),
    }


def augment_copies(settings: DistillSettings, config: TrainConfig, epoch_tokens: int) -> int:
    """`--augment`, or by default 4 copies where the training split and 4 copies of it hold no
    more tokens than the recipe's token budget (short texts, few of them: where the teacher's
    targets on the training texts alone teach least and an epoch is cheap), else as many as fit,
    down to none: copies never make a large set's epochs longer."""
    if settings.augment is not None:
        return settings.augment
    return int(min(4, max(0, config.token_budget // max(epoch_tokens, 1) - 1)))


def augmented_texts(
    settings: DistillSettings,
    config: TrainConfig,
    splits: DataSplits,
    seen: set,
    tokenizer,
    epoch_tokens: int,
) -> dict[str, Any] | None:
    """Changed copies of the training texts (`kerasbert.data.augment`) not in `seen`, in the
    shape of `extra_texts`' answer plus the record of how they were made; None for no copies.
    `epoch_tokens`: the training split's tokens (`augment_copies`)."""
    train = splits.train
    copies = augment_copies(settings, config, epoch_tokens)
    if copies == 0:
        return None
    augmentation = Augmentation(copies)
    mask = tokenizer.mask_token or tokenizer.unk_token
    texts, pairs = augment(train.texts, train.text_pairs, augmentation, mask, config.seed)
    keep = _unseen(texts, pairs, seen)
    logger.info(
        "Augmentation: %d changed copies of each of %d training texts, %d kept (the teacher "
        "labels them).",
        copies,
        len(train),
        len(keep),
    )
    return {
        **_kept(texts, pairs, keep),
        "record": {
            **dataclasses.asdict(augmentation),
            "source": "--augment" if settings.augment is not None else "auto",
            "texts": len(keep),
        },
    }


def _join(first: dict[str, Any] | None, second: dict[str, Any] | None) -> dict[str, Any] | None:
    """The extra texts of `--data` followed by the augmented copies (either may be None)."""
    if first is None or second is None:
        return first or second
    pairs = None if first["pairs"] is None else [*first["pairs"], *second["pairs"]]
    return {
        **first,
        "texts": [*first["texts"], *second["texts"]],
        "pairs": pairs,
        "kept": first["kept"] + second["kept"],
    }


def teacher_targets(
    teacher: Teacher, encoded: dict[str, pipeline.Encoded]
) -> dict[str, np.ndarray]:
    """The teacher's logits on the encoded training split (and extra texts), tokenized as the
    student will be, predicted in float32."""
    from kerasbert.training.checkpoint import load_trained_model

    model, _ = load_trained_model(teacher.run.model)
    targets = {name: pipeline.predict_logits(model, inputs) for name, inputs in encoded.items()}
    logger.info(
        "Teacher targets: %s.", ", ".join(f"{name} {len(value)}" for name, value in targets.items())
    )
    return targets


def _encode(tokenizer, config: TrainConfig, texts: list[str], pairs: list[str] | None):
    return pipeline.encode(tokenizer, texts, config.max_length, pairs, config.truncation)


def _stored_targets(
    student: RunDir, config: TrainConfig, encoded: dict[str, pipeline.Encoded]
) -> dict[str, np.ndarray] | None:
    """The teacher targets of an unfinished student run that will resume, else None."""
    path = student.teacher_targets
    if config.overwrite or not student.is_resumable() or not path.is_file():
        return None
    with np.load(path) as stored:
        targets = {name: stored[name] for name in stored.files}
    expected = {name: len(inputs) for name, inputs in encoded.items()}
    if {name: len(targets.get(name, ())) for name in expected} != expected:
        raise InputError(
            f"{path} holds teacher targets for other texts than this run's; pass --overwrite to "
            "start the student again."
        )
    logger.info("Resuming on the teacher targets stored in %s.", path)
    return targets


class DistillationObjective:
    """What `fit_run` trains the student on (see the module docstring).

    Each target row is `[teacher logits (K), label one-hot or multi-hot (K), has labels (1)]`; the
    extra texts are appended to the training split with `has labels` 0.
    """

    def __init__(
        self,
        targets: dict[str, np.ndarray],
        extra: pipeline.Encoded | None,
        num_labels: int,
        temperature: float,
        alpha: float,
        multi_label: bool,
    ) -> None:
        self.targets = targets
        self.extra = extra
        self.num_labels = num_labels
        self.temperature = temperature
        self.alpha = alpha
        self.multi_label = multi_label

    def fit_inputs(self, inputs: Inputs) -> Inputs:
        """The run's inputs with the teacher's targets beside the training labels. Validation keeps
        its labels alone: the kept epoch is the one best on the true labels, as in any run."""
        encoded = dict(inputs.encoded)
        label_ids = dict(inputs.label_ids)
        label_ids["train"] = self._rows(self.targets["train"], inputs.label_ids["train"], True)
        if self.extra is not None:
            encoded["train"] = _concatenate(inputs.encoded["train"], self.extra)
            unlabelled = np.zeros((len(self.extra), self.num_labels))
            extra_rows = self._rows(self.targets["extra"], unlabelled, False)
            label_ids["train"] = np.concatenate([label_ids["train"], extra_rows])
        return dataclasses.replace(inputs, encoded=encoded, label_ids=label_ids)

    def _rows(self, logits: np.ndarray, labels: np.ndarray, labelled: bool) -> np.ndarray:
        if labels.ndim == 1:
            labels = np.eye(self.num_labels)[labels]
        has_labels = np.full((len(logits), 1), 1.0 if labelled else 0.0)
        return np.concatenate([logits, labels, has_labels], axis=1).astype(np.float32)

    def compile_arguments(self) -> dict[str, Any]:
        """The loss and metrics `compile_classifier` uses instead of the label-only ones."""
        loss = DistillationLoss(self.num_labels, self.temperature, self.alpha, self.multi_label)
        return {"loss": loss, "metrics": [LabelAccuracy(self.num_labels, self.multi_label)]}


def _concatenate(first: pipeline.Encoded, second: pipeline.Encoded) -> pipeline.Encoded:
    types = None
    if first.token_type_ids is not None:
        types = [*first.token_type_ids, *second.token_type_ids]
    return pipeline.Encoded([*first.ids, *second.ids], first.pad_id, first.max_length, types)


class DistillationLoss(keras.losses.Loss):
    """The soft-target loss at `temperature` (scaled by its square, so that its gradients keep
    their size as the temperature changes) plus `alpha` times the label loss where labels exist.

    `y_true` rows are `DistillationObjective`'s; `y_pred` the student's logits.
    """

    def __init__(
        self,
        num_labels: int,
        temperature: float,
        alpha: float,
        multi_label: bool,
        name: str = "distillation",
    ):
        super().__init__(name=name)
        self.num_labels = num_labels
        self.temperature = float(temperature)
        self.alpha = float(alpha)
        self.multi_label = multi_label

    def call(self, y_true, y_pred):
        logits = tf.cast(y_pred, tf.float32)
        if not _is_distillation_target(y_true, self.num_labels):
            return _label_loss(y_true, logits, self.multi_label)
        teacher, labels, has_labels = _split_targets(y_true, self.num_labels)
        scale = self.temperature
        if self.multi_label:
            soft = tf.reduce_mean(
                tf.nn.sigmoid_cross_entropy_with_logits(
                    labels=tf.sigmoid(teacher / scale), logits=logits / scale
                ),
                axis=-1,
            )
            hard = tf.reduce_mean(
                tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits), axis=-1
            )
        else:
            teacher_log = tf.nn.log_softmax(teacher / scale)
            soft = tf.reduce_sum(
                tf.exp(teacher_log) * (teacher_log - tf.nn.log_softmax(logits / scale)), axis=-1
            )
            hard = tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        return scale * scale * soft + self.alpha * has_labels * hard

    def get_config(self):
        return {
            **super().get_config(),
            "num_labels": self.num_labels,
            "temperature": self.temperature,
            "alpha": self.alpha,
            "multi_label": self.multi_label,
        }


class LabelAccuracy(keras.metrics.Mean):
    """Accuracy against the true labels (inside distillation targets: over labelled texts only):
    argmax for single-label, per-label at logit 0 (probability 0.5) for multi-label, as the
    label-only runs' `accuracy`."""

    def __init__(self, num_labels: int, multi_label: bool, name: str = "accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_labels = num_labels
        self.multi_label = multi_label

    def update_state(self, y_true, y_pred, sample_weight=None):
        logits = tf.cast(y_pred, tf.float32)
        if _is_distillation_target(y_true, self.num_labels):
            _, labels, has_labels = _split_targets(y_true, self.num_labels)
        else:
            labels, has_labels = _label_rows(y_true, self.num_labels, self.multi_label), None
        if self.multi_label:
            hits = tf.reduce_mean(tf.cast(tf.equal(logits > 0, labels > 0.5), tf.float32), -1)
        else:
            hits = tf.cast(tf.equal(tf.argmax(logits, -1), tf.argmax(labels, -1)), tf.float32)
        return super().update_state(hits, sample_weight=has_labels)

    def get_config(self):
        return {
            **super().get_config(),
            "num_labels": self.num_labels,
            "multi_label": self.multi_label,
        }


def _is_distillation_target(y_true, num_labels: int) -> bool:
    """Training batches carry `DistillationObjective` rows; validation batches the labels."""
    shape = tuple(y_true.shape)
    return len(shape) == 2 and shape[-1] == 2 * num_labels + 1


def _label_rows(y_true, num_labels: int, multi_label: bool):
    if multi_label:
        return tf.cast(y_true, tf.float32)
    return tf.one_hot(tf.cast(tf.reshape(y_true, [-1]), tf.int32), num_labels)


def _label_loss(y_true, logits, multi_label: bool):
    """The label-only runs' loss (unweighted): what validation measures a student by."""
    labels = _label_rows(y_true, logits.shape[-1], multi_label)
    if multi_label:
        cells = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
        return tf.reduce_mean(cells, axis=-1)
    return tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def _split_targets(y_true, num_labels: int):
    y_true = tf.cast(y_true, tf.float32)
    return (
        y_true[:, :num_labels],
        y_true[:, num_labels : 2 * num_labels],
        y_true[:, 2 * num_labels],
    )


class StoreDistillation(keras.callbacks.Callback):
    """Write the teacher targets and the distillation record into the student's run directory
    once `fit_run` has created it (before the first epoch), unless a resumed run has them."""

    def __init__(self, run: RunDir, targets: dict[str, np.ndarray], record: dict[str, Any]):
        super().__init__()
        self.run = run
        self.targets = targets
        self.record = record

    def on_train_begin(self, logs=None):
        path = self.run.teacher_targets
        if not path.is_file():
            temporary = path.with_suffix(".partial.npz")
            np.savez(temporary, **self.targets)
            temporary.replace(path)
        write_record(self.run.path, {"distillation": self.record})


def read_record(run_dir: str | Path) -> dict[str, Any] | None:
    """A run's `distill.json` (how it was distilled, and the comparison), None for other runs."""
    path = RunDir(run_dir).distillation
    return read_json(path) if path.is_file() else None


def write_record(run_dir: str | Path, sections: dict[str, Any]) -> None:
    """Set `sections` (e.g. `distillation`, `comparison`) of a run's `distill.json`."""
    write_json(RunDir(run_dir).distillation, {**(read_record(run_dir) or {}), **sections})
