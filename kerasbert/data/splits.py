"""Labelled text in, clean stratified splits out.

`splits_for(config)` reads a run's data (`kerasbert.data.readers`) as its `TrainConfig` says,
collapses exact duplicates, and makes seeded, stratified train / validation / test splits, so no
text (or text pair) sits on both sides of a split; `load_splits(data, seed=...)` is the same for a
data set named with a few settings. Data may be single texts or text pairs, with one label per
text or several (multi-label); `class_weights` says how training should weigh the classes against
imbalance.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kerasbert.common.errors import InputError
from kerasbert.common.names import Task
from kerasbert.config import CLASS_WEIGHTS, IMBALANCE_RATIO, TrainConfig
from kerasbert.data.examples import Examples
from kerasbert.data.readers import ColumnSpec, read_labelled
from kerasbert.data.stratify import stratified_sample, stratified_split

__all__ = [
    "DATA_SETTINGS",
    "DataSplits",
    "Examples",
    "class_weights",
    "imbalance",
    "load_splits",
    "splits_for",
]

logger = logging.getLogger(__name__)

# The TrainConfig settings the data stage reads besides `data`: the same values (and files) give
# the same examples in the same splits, and the same class-imbalance record.
DATA_SETTINGS = (
    "validation_data",
    "test_data",
    "text_column",
    "text_pair_column",
    "label_column",
    "label_columns",
    "multi_label",
    "label_separator",
    "validation_fraction",
    "test_fraction",
    "max_train_samples",
    "max_eval_samples",
    "seed",
    "class_weight",
)


@dataclass
class DataSplits:
    """The train/validation/test splits of one run and how they were made.

    `task` is single- or multi-label (`Task`); `pair` says the examples are text pairs;
    `stratification` how the held-out splits were drawn; `columns` how the data was read.
    """

    train: Examples
    validation: Examples
    test: Examples
    labels: list[str]
    source: str
    duplicates_dropped: int = 0
    conflicting_duplicates_dropped: int = 0
    overlap_dropped: dict[str, int] = field(default_factory=dict)
    task: Task = Task.SINGLE_LABEL
    pair: bool = False
    stratification: str = "label"
    columns: dict[str, Any] = field(default_factory=dict)
    class_weight: str = "auto"

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description for `data_summary.json` and the report."""
        return {
            "source": self.source,
            "task": self.task,
            "pair": self.pair,
            "labels": self.labels,
            "columns": self.columns,
            "split_sizes": {
                "train": len(self.train),
                "validation": len(self.validation),
                "test": len(self.test),
            },
            "class_counts": {
                "train": self.train.class_counts(),
                "validation": self.validation.class_counts(),
                "test": self.test.class_counts(),
            },
            "stratification": self.stratification,
            "imbalance": imbalance(self.train, self.labels, self.class_weight),
            "duplicates_dropped": self.duplicates_dropped,
            "conflicting_duplicates_dropped": self.conflicting_duplicates_dropped,
            "overlap_dropped": self.overlap_dropped,
        }


def splits_for(config: TrainConfig) -> DataSplits:
    """Read `config.data` and return deduplicated, stratified, seeded splits: the examples a run
    with these settings trains, validates and tests on (its `DATA_SETTINGS` decide them).

    Exact duplicates (same text, same second text) are collapsed before splitting, so none sits on
    both sides of a split; with explicit validation/test files, their examples that also occur in
    training are removed (and counted). Labels are sorted (numerically when they are all
    integers). Columns are read as `kerasbert.data.readers.ColumnSpec` says.

    Example:
    >>> splits = splits_for(TrainConfig(data="bbc-headlines"))
    >>> splits.labels
    ['business', 'entertainment', 'politics', 'sport', 'tech']
    """
    data, seed = config.data, config.seed
    spec = ColumnSpec(
        config.text_column,
        config.text_pair_column,
        config.label_column,
        config.label_columns,
        config.multi_label,
        config.label_separator,
    )
    read = read_labelled(data, spec)
    examples = Examples(read.texts, read.labels, read.text_pairs)
    examples, groups, duplicates, conflicts = _deduplicate(examples, read.groups, data)
    label_names = examples.label_names()
    if len(label_names) < 2:
        if not examples.multi_label:
            raise InputError(
                f"{data} has only one class ({label_names[0]!r}); a classifier needs at least "
                "two. Check --label-column."
            )
        raise InputError(
            f"{data} uses {len(label_names)} label(s) {label_names}; multi-label data needs at "
            "least two. For one 0/1 column, use it as --label-column (two classes)."
        )

    given = _read_given_splits(
        {"validation": config.validation_data, "test": config.test_data},
        spec,
        read,
        data,
        label_names,
    )
    fractions = {
        name: fraction
        for name, fraction in (
            ("validation", config.validation_fraction),
            ("test", config.test_fraction),
        )
        if name not in given
    }
    train, held_out, stratification = stratified_split(examples, groups, fractions, seed, data)
    splits = {**held_out, **given}

    overlap = _remove_overlap(splits, list(given), examples, data)
    if config.max_train_samples is not None and config.max_train_samples < len(train):
        train = stratified_sample(train, config.max_train_samples, seed)
    if config.max_eval_samples is not None:
        for name in ("validation", "test"):
            if config.max_eval_samples < len(splits[name]):
                splits[name] = stratified_sample(splits[name], config.max_eval_samples, seed)

    logger.info(
        "Data %s: %d train / %d validation / %d test, %d %s, %d duplicate texts dropped.",
        data,
        len(train),
        len(splits["validation"]),
        len(splits["test"]),
        len(label_names),
        "labels (multi-label)" if examples.multi_label else "classes",
        duplicates,
    )
    return DataSplits(
        train=train,
        validation=splits["validation"],
        test=splits["test"],
        labels=label_names,
        source=data,
        duplicates_dropped=duplicates,
        conflicting_duplicates_dropped=conflicts,
        overlap_dropped=overlap,
        task=Task.MULTI_LABEL if examples.multi_label else Task.SINGLE_LABEL,
        pair=examples.text_pairs is not None,
        stratification=stratification,
        columns={key: value for key, value in read.columns.items() if value is not None},
        class_weight=config.class_weight,
    )


def load_splits(data: str, **settings: Any) -> DataSplits:
    """`splits_for` a run on `data` with TrainConfig's defaults but for `settings`, data settings
    by name (`DATA_SETTINGS`): how scripts and tests name a data set and, say, its seed.

    Example:
    >>> len(load_splits("bbc-headlines", seed=7, max_train_samples=100).train)
    100
    """
    unknown = sorted(set(settings) - set(DATA_SETTINGS))
    if unknown:
        raise TypeError(
            f"load_splits() takes data settings only ({', '.join(DATA_SETTINGS)}); got "
            f"{', '.join(unknown)}."
        )
    return splits_for(TrainConfig(data=data, **settings))


def _read_given_splits(
    paths: dict[str, str | None], spec: ColumnSpec, read, data: str, label_names: list[str]
) -> dict[str, Examples]:
    """The `--validation-data` / `--test-data` files, read as `--data` was: same columns, same
    label format, same layout (texts or pairs), no label it lacks."""
    given_spec = dataclasses.replace(
        spec,
        multi_label=read.multi_label,
        label_separator=read.columns.get("label_separator"),
        strict=False,
    )
    given: dict[str, Examples] = {}
    for name, path in paths.items():
        if path is None:
            continue
        other = read_labelled(path, given_spec)
        given[name] = Examples(other.texts, other.labels, other.text_pairs)
        if (other.text_pairs is None) != (read.text_pairs is None):
            kinds = ("single texts", "text pairs")
            raise InputError(
                f"{path} holds {kinds[other.text_pairs is not None]} but {data} holds "
                f"{kinds[read.text_pairs is not None]}; give files of the same layout."
            )
        _check_known_labels(given[name], label_names, path)
    return given


def _remove_overlap(
    splits: dict[str, Examples], given: list[str], examples: Examples, data: str
) -> dict[str, int]:
    """Drop from each given split the examples of `--data` (whatever split they landed in) and of
    the other given file; return how many each lost."""
    overlap = {}
    taken = set(examples.keys())
    for name in given:
        keys = splits[name].keys()
        kept = [i for i, key in enumerate(keys) if key not in taken]
        taken |= set(keys)
        overlap[name] = len(splits[name]) - len(kept)
        if overlap[name]:
            logger.warning(
                "Removed %d %s texts that also occur in %s or another split (they would inflate "
                "the scores).",
                overlap[name],
                name,
                data,
            )
            splits[name] = splits[name].subset(kept)
        if not len(splits[name]):
            raise InputError(f"The {name} file has no rows whose text is not also in {data}.")
    return overlap


def imbalance(examples: Examples, label_names: list[str], mode: str = "auto") -> dict[str, Any]:
    """How unequal the training classes are, and what `--class-weight mode` makes of it.

    `largest_to_smallest` compares the examples of the most and the least frequent label (for
    multi-label: the examples that have each label); `auto` weighs the classes past
    `IMBALANCE_RATIO`.
    """
    found = examples.class_counts()
    counts = {name: found.get(name, 0) for name in label_names}
    present = [count for count in counts.values() if count]
    ratio = max(present) / min(present) if present else 1.0
    resolved = mode if mode != "auto" else "balanced" if ratio > IMBALANCE_RATIO else "none"
    return {
        "counts": counts,
        "largest_to_smallest": round(ratio, 3),
        "threshold": IMBALANCE_RATIO,
        "class_weight": mode,
        "resolved": resolved,
    }


def class_weights(
    data: DataSplits | Examples, label_names: list[str], mode: str = "auto"
) -> dict[Any, Any] | None:
    """The loss weights training should use against class imbalance, or None for none.

    Single-label: `{class_id: weight}` for every class, scikit-learn's balanced weights
    (n / (classes × count)), for Keras `fit(class_weight=...)`. Multi-label: `{"positive": [w per
    label]}`, each label's balanced weight of its positives over that of its negatives (= its
    negatives / positives), for `tf.nn.weighted_cross_entropy_with_logits(pos_weight=...)`.
    `mode` is "balanced", "none", or "auto" (balanced past `IMBALANCE_RATIO`, see `imbalance`).
    Weights are computed on the training examples (`data.train` when given all splits).
    """
    from sklearn.utils.class_weight import compute_class_weight

    if mode not in CLASS_WEIGHTS:
        raise InputError(f"--class-weight must be one of {', '.join(CLASS_WEIGHTS)}; got {mode!r}.")
    examples = data.train if isinstance(data, DataSplits) else data
    if imbalance(examples, label_names, mode)["resolved"] == "none":
        return None
    ids = examples.label_ids(label_names)
    if not examples.multi_label:
        weights = {class_id: 1.0 for class_id in range(len(label_names))}
        present = np.unique(ids)  # a class absent from training keeps weight 1
        balanced = compute_class_weight("balanced", classes=present, y=ids)
        weights.update({int(class_id): float(w) for class_id, w in zip(present, balanced)})
        return weights
    positive = []
    for column in ids.T.astype(np.int64):
        if column.min() == column.max():  # a label on every example, or on none: nothing to weigh
            positive.append(1.0)
            continue
        negative_weight, positive_weight = compute_class_weight(
            "balanced", classes=np.array([0, 1]), y=column
        )
        positive.append(float(positive_weight / negative_weight))
    return {"positive": positive}


def _deduplicate(
    examples: Examples, groups: list[int] | None, source: str
) -> tuple[Examples, list[int] | None, int, int]:
    """Keep the first copy of each exact duplicate; drop examples whose copies disagree."""
    keys = examples.keys()
    label_sets: dict[tuple, set] = {}
    for key, label in zip(keys, examples.labels):
        label_sets.setdefault(key, set()).add(label)
    seen: set[tuple] = set()
    keep, conflicting = [], set()
    for index, key in enumerate(keys):
        if len(label_sets[key]) > 1:
            conflicting.add(key)
            continue
        if key not in seen:
            seen.add(key)
            keep.append(index)
    conflicts = sum(1 for key in keys if key in conflicting)
    duplicates = len(examples) - len(keep) - conflicts
    if duplicates:
        logger.info(
            "%s: dropped %d exact-duplicate texts (kept one copy of each).", source, duplicates
        )
    if conflicts:
        logger.warning(
            "%s: dropped %d rows whose text occurs with different labels (%d distinct texts).",
            source,
            conflicts,
            len(conflicting),
        )
    kept_groups = [groups[i] for i in keep] if groups is not None else None
    return examples.subset(keep), kept_groups, duplicates, conflicts


def _check_known_labels(examples: Examples, known: list[str], path: str) -> None:
    unseen = [name for name in examples.label_names() if name not in known]
    if unseen:
        raise InputError(
            f"{path} has label(s) {unseen} that the training data never uses; the model could "
            f"never predict them. Known labels: {known}."
        )
