"""Tests for `kerasbert.pipeline`: batching plans, padding and the tf.data datasets."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_texts

from kerasbert import pipeline


@pytest.fixture(scope="module")
def tokenizer(tiny_checkpoint):
    from kerasbert.checkpoint import load_tokenizer

    return load_tokenizer(str(tiny_checkpoint))


@pytest.fixture(scope="module")
def encoded(tokenizer):
    return pipeline.encode(tokenizer, [text for text, _ in tiny_texts(40)], max_length=40)


def test_encode_truncates_and_keeps_special_tokens(tokenizer, encoded) -> None:
    assert encoded.lengths.max() <= 40 and encoded.lengths.min() >= 5
    reference = tokenizer("the market is new .")["input_ids"]
    assert pipeline.encode(tokenizer, ["the market is new ."], 24).ids[0].tolist() == reference
    long = pipeline.encode(tokenizer, ["the " * 100], 24).ids[0]
    assert len(long) == 24 and long[-1] == tokenizer.sep_token_id
    assert all(ids[0] == tokenizer.cls_token_id for ids in encoded.ids)


@pytest.mark.parametrize("padding", ["bucket", "longest"])
def test_plan_covers_every_example_once(encoded, padding: str) -> None:
    batches = pipeline.plan_batches(encoded.lengths, 16, padding, np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(encoded)))
    assert all(len(batch) <= 16 for batch in batches)


def test_bucketing_wastes_less_than_random_batches(encoded) -> None:
    lengths = encoded.lengths
    rng = np.random.default_rng(0)
    bucket = pipeline.padding_efficiency(lengths, pipeline.plan_batches(lengths, 8, "bucket", rng))
    longest = pipeline.padding_efficiency(
        lengths, pipeline.plan_batches(lengths, 8, "longest", rng)
    )
    fixed = pipeline.padding_efficiency(
        lengths, pipeline.plan_batches(lengths, 8, "longest", rng), fixed_length=40
    )
    assert bucket > 0.95 and bucket > longest > fixed
    assert fixed == pytest.approx(lengths.sum() / (len(lengths) * 40))


def test_epochs_reshuffle_and_seed_repeats(encoded) -> None:
    labels = np.arange(len(encoded)) % 3
    dataset = pipeline.make_dataset(encoded, labels, 8, shuffle=True, seed=3)
    first = np.concatenate([y.numpy() for _, y in dataset])
    second = np.concatenate([y.numpy() for _, y in dataset])
    again = pipeline.make_dataset(encoded, labels, 8, shuffle=True, seed=3)
    assert not np.array_equal(first, second)
    assert np.array_equal(first, np.concatenate([y.numpy() for _, y in again]))
    assert sorted(first.tolist()) == sorted(labels.tolist())


@pytest.mark.parametrize("padding", ["bucket", "longest", "fixed"])
def test_epoch_order_depends_only_on_seed_and_epoch(encoded, padding) -> None:
    """What resuming relies on: epochs 2-3 of a run started at epoch 2 are those of a full run."""
    labels = np.arange(len(encoded))

    def epochs(first_epoch: int) -> list[np.ndarray]:
        dataset = pipeline.make_dataset(
            encoded, labels, 8, padding=padding, shuffle=True, seed=3, epochs=4,
            first_epoch=first_epoch, drop_remainder=padding == "fixed",
        )  # fmt: skip
        order = np.concatenate([y.numpy() for _, y in dataset])
        return np.split(order, 4 - first_epoch)

    full, resumed = epochs(0), epochs(2)
    assert len(full) == 4 and all(len(epoch) == len(full[0]) for epoch in full)
    assert all(len(set(epoch.tolist())) == len(epoch) for epoch in full)  # no repeats in an epoch
    assert not np.array_equal(full[0], full[1])
    assert np.array_equal(np.concatenate(full[2:]), np.concatenate(resumed))


def test_batches_pad_to_their_own_longest(encoded) -> None:
    labels = np.zeros(len(encoded), dtype=np.int32)
    for features, _ in pipeline.make_dataset(encoded, labels, 8, padding="bucket"):
        mask = features["attention_mask"].numpy()
        assert mask.shape[1] == mask.sum(axis=1).max()
        ids = features["input_ids"].numpy()
        assert (ids[mask == 0] == encoded.pad_id).all()


def test_fixed_mode_has_static_shapes(encoded) -> None:
    labels = np.zeros(len(encoded), dtype=np.int32)
    dataset = pipeline.make_dataset(encoded, labels, 8, padding="fixed", drop_remainder=True)
    features_spec, label_spec = dataset.element_spec
    assert features_spec["input_ids"].shape.as_list() == [8, 40]
    assert label_spec.shape.as_list() == [8]
    assert sum(1 for _ in dataset) == len(encoded) // 8


def test_token_length_stats(tokenizer) -> None:
    stats = pipeline.token_length_stats(tokenizer, ["the market"] * 3 + ["the " * 50], 16)
    assert stats["truncated"] == 1 and stats["max"] == 52 and stats["p50"] == 4


def test_predict_logits_keeps_input_order(tiny_checkpoint, tokenizer, encoded) -> None:
    from kerasbert.model import build_classifier

    model = build_classifier(str(tiny_checkpoint), ["business", "sport", "tech"])
    logits = pipeline.predict_logits(model, encoded, batch_size=7)
    for index in (0, 5, len(encoded) - 1):
        single = pipeline.pad_batch(encoded, np.array([index]))
        expected = model(single, training=False).logits.numpy()[0]
        np.testing.assert_allclose(logits[index], expected, atol=1e-5)
