"""Integrated gradients of a run's TensorFlow model: which words moved a label's logit.

The path runs from a baseline to the text in the space of word embeddings: the baseline puts the
`[PAD]` embedding at every word-piece position and keeps `[CLS]`, `[SEP]`, the positions and the
segment embeddings, so it differs from the text only in which words are there. Along `steps`
straight-line points (all of them one batch) the gradient of the label's logit is averaged by the
trapezoid rule; a word piece's attribution is (its embedding - the baseline's) · that average, and
a word's is the sum of its pieces'. The scores then add up to logit(text) - logit(baseline)
(completeness); each `Attribution.completeness_error` says how far the sum is from that, relative,
so a caller can raise `steps` where it is large.

The words, their spans and the returned `Explanation`s are those of occlusion
(`kerasbert.inference.explain`), so the command line and the pages show both alike.

Example:
>>> explanation = integrated_gradients("runs/bbc-news", ["Shares rose."])[0]  # doctest: +SKIP
>>> explanation.top(1), explanation.attributions[0].completeness_error       # doctest: +SKIP
([('shares', 2.31)], 0.004)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kerasbert.common.decision import to_probabilities
from kerasbert.common.errors import InputError
from kerasbert.inference.explain import (
    INTEGRATED_GRADIENTS,
    Attribution,
    Explanation,
    WordEncoder,
    WordEncoding,
    check_requested,
    chosen_labels,
)
from kerasbert.training.rundir import RunDir, RunRecord

logger = logging.getLogger(__name__)

# Points on the path from the baseline to the text; 32 keeps the tiny and MiniLM runs' sums
# within a few per cent of the logit difference while staying one small batch per text.
DEFAULT_STEPS = 32


def integrated_gradients(
    run_dir: str | Path,
    texts: Sequence[str],
    text_pairs: Sequence[str] | None = None,
    labels: str | Sequence[str] | None = None,
    steps: int = DEFAULT_STEPS,
) -> list[Explanation]:
    """Integrated-gradients attributions of each text (or pair) with a run's saved model.

    Args:
        run_dir: a directory written by `kerasbert train`.
        texts: the texts (the first texts of pairs).
        text_pairs: the second texts, for a run trained on pairs; None otherwise.
        labels: the label(s) to explain; default what the model decided (multi-label: each label
            of the predicted set, else the most probable).
        steps: intervals of the path integral; more makes the sum of scores closer to the logit
            difference.

    Raises:
        FileNotFoundError: `run_dir` holds no saved model.
        InputError: pairs for a single-text run (or the reverse), an unknown label, or
            `steps` below 1.
    """
    if not isinstance(steps, int) or steps < 1:
        raise InputError(f"steps must be a positive integer, got {steps!r}.")
    run = RunDir(run_dir)
    if not run.model.is_dir():
        raise FileNotFoundError(f"{run.model} does not exist; {run.path} holds no saved model.")
    record = run.read_record()
    if record.pair != (text_pairs is not None):
        raise InputError(
            f"run {run.name} classifies {'text pairs' if record.pair else 'single texts'}; "
            f"give {'a second text for every text' if record.pair else 'single texts'}."
        )
    requested = check_requested(labels, list(record.labels))
    from kerasbert.training.checkpoint import load_trained_model

    model, _ = load_trained_model(run.model)
    return explain_with_model(model, run, record, texts, text_pairs, requested, steps)


def explain_with_model(
    model,
    run: RunDir,
    record: RunRecord,
    texts: Sequence[str],
    text_pairs: Sequence[str] | None = None,
    requested: Sequence[str] = (),
    steps: int = DEFAULT_STEPS,
) -> list[Explanation]:
    """`integrated_gradients` with the run's model already loaded (the evaluation job has it):
    `requested` are checked label names, empty for what the model decided."""
    label_names = list(record.labels)
    thresholds = run.read_label_thresholds(label_names).values if record.multi_label else None
    # The probabilities shown are the calibrated ones the run answers with (argmax unchanged).
    calibration = None if record.multi_label else run.read_calibration()
    temperature = 1.0 if calibration is None else float(calibration["temperature"])
    settings = record.settings
    encoder = WordEncoder.from_file(
        run.model / "tokenizer.json", settings.max_length, settings.truncation
    )

    def choose(probabilities: np.ndarray) -> list[int]:
        return chosen_labels(probabilities, label_names, record.task, thresholds, requested)

    explanations = []
    for index, encoding in enumerate(encoder.encode(texts, text_pairs)):
        logits, gradients, difference = _path_gradients(
            model, encoding, encoder.pad_id, steps, record.task, choose
        )
        probabilities = to_probabilities(logits[-1:], record.task, temperature)[0]
        attributions = []
        for label, label_gradients in gradients.items():
            per_token = _integrate(label_gradients, difference)
            scores = tuple(
                float(sum(per_token[position] for position in word.positions))
                for word in encoding.words
            )
            expected = float(logits[-1, label] - logits[0, label])
            error = abs(float(per_token.sum()) - expected) / max(abs(expected), 1e-6)
            attributions.append(
                Attribution(label_names[label], float(probabilities[label]), scores, error)
            )
        explanations.append(
            Explanation(
                texts[index],
                None if text_pairs is None else text_pairs[index],
                encoding.words,
                tuple(attributions),
                INTEGRATED_GRADIENTS,
            )
        )
    return explanations


def _path_gradients(
    model, encoding: WordEncoding, pad_id: int, steps: int, task, choose
) -> tuple[np.ndarray, dict[int, np.ndarray], np.ndarray]:
    """Along the path from the baseline (alpha 0) to the text (alpha 1): the logits `(steps + 1,
    labels)`, for each label `choose` picks from the text's probabilities the gradient of its
    logit by the embeddings `(steps + 1, tokens, hidden)`, and the text's embeddings minus the
    baseline's `(tokens, hidden)`."""
    from kerasbert.training.tfkeras import tf

    ids = np.asarray(encoding.ids, dtype=np.int32)
    baseline_ids = ids.copy()
    for word in encoding.words:
        baseline_ids[list(word.positions)] = pad_id
    table = model.bert.embeddings.weight
    text = tf.gather(table, ids)
    baseline = tf.gather(table, baseline_ids)
    alphas = tf.reshape(tf.linspace(0.0, 1.0, steps + 1), (-1, 1, 1))
    path = baseline[None] + alphas * (text - baseline)[None]
    count = steps + 1
    segments = tf.tile(tf.constant([encoding.segments], dtype=tf.int32), (count, 1))
    mask = tf.ones_like(segments)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(path)
        features = {"inputs_embeds": path, "attention_mask": mask, "token_type_ids": segments}
        logits = model(features, training=False).logits
        # Each point's logit depends on that point's embeddings only, so the gradient of a
        # label's sum over the points is every point's own gradient.
        sums = [tf.reduce_sum(logits[:, label]) for label in range(logits.shape[-1])]
    values = logits.numpy()
    # Only the labels explained pay for a backward pass (one, not one per class, for a
    # single-label model).
    chosen = choose(to_probabilities(values[-1:], task)[0])
    gradients = {label: tape.gradient(sums[label], path).numpy() for label in chosen}
    del tape
    return values, gradients, (text - baseline).numpy()


def _integrate(gradients: np.ndarray, difference: np.ndarray) -> np.ndarray:
    """Per token: (text - baseline) · the trapezoid-rule mean of the gradients along the path."""
    mean = (gradients[:-1] + gradients[1:]).mean(axis=0) / 2
    return (difference * mean).sum(axis=-1)


__all__ = ["DEFAULT_STEPS", "explain_with_model", "integrated_gradients"]
