"""Seeded, stratified train / validation / test splits and samples of `Examples`.

Single-label data is stratified on the label. Multi-label data is stratified on each example's
label set where every set is common enough, else on each example's rarest label, else split at
random (seeded); the summary says which. Groups (examples that share a source text, as in the
built-in pair sets) stay whole on one side of a split.
"""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np

from kerasbert.common.errors import InputError
from kerasbert.data.examples import Examples
from kerasbert.data.labels import label_sort_key

logger = logging.getLogger(__name__)


def stratified_split(
    examples: Examples,
    groups: list[int] | None,
    fractions: dict[str, float],
    seed: int,
    source: str,
) -> tuple[Examples, dict[str, Examples], str]:
    """Seeded stratified held-out splits; returns train, the held-out splits, how they were drawn.

    Examples of one group (built-in sets: they share an article) stay together in one split.
    """
    from sklearn.model_selection import train_test_split

    if not fractions:
        return examples, {}, "none: validation and test files given"
    needed = 1 + len(fractions)
    if groups is None:
        units = [[index] for index in range(len(examples))]
    else:
        members: dict[int, list[int]] = {}
        for index, group in enumerate(groups):
            members.setdefault(group, []).append(index)
        units = list(members.values())
    if groups is None and not examples.multi_label:
        keys: list | None = list(examples.labels)
        counts = Counter(examples.labels)
        small = {label: count for label, count in counts.items() if count < needed}
        if small:
            raise InputError(
                f"{source}: class(es) {small} have too few examples to appear in train, "
                f"{' and '.join(fractions)} (each class needs at least {needed}). Add examples, "
                "remove the class, or pass --validation-data/--test-data."
            )
        how, strata = "label", f"{len(counts)} classes"
    else:
        if examples.multi_label:
            _check_label_counts(examples, needed, fractions, source)
        capacity = min(round(fraction * len(units)) for fraction in fractions.values())
        keys, how = _strata(examples, units, needed, capacity)
        if keys is not None:
            # Stratify on integer codes: scikit-learn would read tuples as several targets.
            codes = {key: code for code, key in enumerate(dict.fromkeys(keys))}
            keys = [codes[key] for key in keys]
        if groups is not None:
            how += "; examples sharing an article kept in one split"
        strata = f"{len(set(keys or [0]))} strata ({how})"
    classes = len(set(keys)) if keys is not None else 1
    remaining = np.arange(len(units))
    remaining_share = 1.0
    held_out = {}
    for name, fraction in fractions.items():
        size = max(classes, round(fraction / remaining_share * len(remaining)))
        if size >= len(remaining) - classes:
            raise InputError(
                f"{source} has {len(examples)} examples in {strata}: too few for a "
                f"stratified {name} split. Add data or pass --{name}-data."
            )
        stratify = [keys[unit] for unit in remaining] if keys is not None else None
        remaining, taken = train_test_split(
            remaining, test_size=size, stratify=stratify, random_state=seed
        )
        held_out[name] = taken
        remaining_share -= fraction
    if examples.multi_label:
        remaining = _cover_every_label(examples, units, remaining, held_out)

    def expand(unit_ids: np.ndarray) -> np.ndarray:
        return np.sort(np.array([index for unit in unit_ids for index in units[unit]], dtype=int))

    split = {name: examples.subset(expand(ids)) for name, ids in held_out.items()}
    return examples.subset(expand(remaining)), split, how


def _strata(
    examples: Examples, units: list[list[int]], needed: int, capacity: int
) -> tuple[list | None, str]:
    """Stratification keys per unit (an example, or a group), and what they are.

    First choice: the unit's label set, where each set has `needed` members (the rarest label of
    the unit where its set is rarer); else the rarest label of every unit; else None (a seeded
    random split). Never more strata than `capacity`, the smallest held-out split's size.
    """
    label_sets = examples.label_sets()
    signatures = [tuple(sorted(label_sets[i] for i in unit)) for unit in units]
    names = [{name for i in unit for name in label_sets[i]} for unit in units]
    per_label = Counter(name for unit_names in names for name in unit_names)
    rarest = [
        min(unit_names, key=lambda name: (per_label[name], label_sort_key(name)))
        if unit_names
        else ""
        for unit_names in names
    ]
    set_counts = Counter(signatures)
    common = [set_counts[signature] >= needed for signature in signatures]
    candidates = [
        (
            [
                sig if ok else ("rarest", label)
                for sig, ok, label in zip(signatures, common, rarest)
            ],
            "label sets" if all(common) else "label sets, the rarest label where a set is rare",
        ),
        ([("rarest", label) for label in rarest], "rarest label of each example"),
    ]
    for keys, how in candidates:
        counts = Counter(keys)
        if min(counts.values()) >= needed and len(counts) <= capacity:
            return keys, how
    return None, "random (seeded): too few examples per label set and per label to stratify"


def _check_label_counts(
    examples: Examples, needed: int, fractions: dict[str, float], source: str
) -> None:
    small = {name: count for name, count in examples.class_counts().items() if count < needed}
    if small:
        raise InputError(
            f"{source}: label(s) {small} have too few examples to appear in train, "
            f"{' and '.join(fractions)} (each label needs at least {needed}). Add examples, "
            "remove the label, or pass --validation-data/--test-data."
        )


def _cover_every_label(
    examples: Examples, units: list[list[int]], train: np.ndarray, held_out: dict[str, np.ndarray]
) -> np.ndarray:
    """Move a held-out unit into training for each label training would otherwise never see."""
    seen = {name for unit in train for i in units[unit] for name in examples.labels[i]}
    for name in examples.label_names():
        if name in seen:
            continue
        for split, ids in held_out.items():
            match = next(
                (unit for unit in ids if any(name in examples.labels[i] for i in units[unit])),
                None,
            )
            if match is not None:
                held_out[split] = ids[ids != match]
                train = np.append(train, match)
                seen |= {label for i in units[match] for label in examples.labels[i]}
                logger.info(
                    "Moved one %s example with label %r into training, which had none.", split, name
                )
                break
    return train


def stratified_sample(examples: Examples, size: int, seed: int) -> Examples:
    from sklearn.model_selection import train_test_split

    if examples.multi_label:
        units = [[index] for index in range(len(examples))]
        keys, _ = _strata(examples, units, 2, min(size, len(examples) - size))
    else:
        counts = Counter(examples.labels)
        usable = size >= len(counts) and min(counts.values()) >= 2
        keys = list(examples.labels) if usable else None
    if keys is None:
        rng = np.random.default_rng(seed)
        return examples.subset(np.sort(rng.choice(len(examples), size, replace=False)))
    codes = {key: code for code, key in enumerate(dict.fromkeys(keys))}
    stratify = keys if not examples.multi_label else [codes[key] for key in keys]
    kept, _ = train_test_split(
        np.arange(len(examples)), train_size=size, stratify=stratify, random_state=seed
    )
    return examples.subset(np.sort(kept))
