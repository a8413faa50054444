"""Tests for `kerasbert.training.pipeline`: batching plans, padding and the tf.data datasets."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_texts

from kerasbert.training import pipeline


@pytest.fixture(scope="module")
def tokenizer(tiny_checkpoint):
    from kerasbert.training.checkpoint import load_tokenizer

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
    from kerasbert.training.model import build_classifier

    model = build_classifier(str(tiny_checkpoint), ["business", "sport", "tech"])
    logits = pipeline.predict_logits(model, encoded, batch_size=7)
    for index in (0, 5, len(encoded) - 1):
        single = pipeline.pad_batch(encoded, np.array([index]))
        expected = model(single, training=False).logits.numpy()[0]
        np.testing.assert_allclose(logits[index], expected, atol=1e-5)


# Text pairs and truncation modes.
WORDS = "the a of to and in is new said on for with market bank shares profit game team".split()


@pytest.fixture(scope="module")
def pairs() -> tuple[list[str], list[str]]:
    rows = tiny_texts(10, seed=4)
    return [text for text, _ in rows[:15]], [text for text, _ in rows[15:]]


def test_pairs_get_segment_ids_and_match_the_tokenizer(tokenizer, pairs) -> None:
    texts, seconds = pairs
    encoded = pipeline.encode(tokenizer, texts, 64, seconds)
    reference = tokenizer(texts, seconds)
    assert [ids.tolist() for ids in encoded.ids] == reference["input_ids"]
    assert [types.tolist() for types in encoded.token_type_ids] == reference["token_type_ids"]
    for ids, types in zip(encoded.ids, encoded.token_type_ids, strict=True):
        first = ids.tolist().index(tokenizer.sep_token_id) + 1  # [CLS] first [SEP]
        assert types.tolist() == [0] * first + [1] * (len(ids) - first)
    assert encoded.input_names == ("input_ids", "attention_mask", "token_type_ids")
    assert pipeline.encode(tokenizer, texts, 64).token_type_ids is None


@pytest.mark.parametrize("max_length", [9, 16, 23, 30])
def test_pairs_are_cut_longest_first_like_the_tokenizer(tokenizer, pairs, max_length) -> None:
    texts, seconds = pairs
    # Short pairs, long first texts, both long, long second texts: every branch of longest_first.
    long_texts, long_seconds = [text * 3 for text in texts], [text * 3 for text in seconds]
    texts, seconds = texts + 2 * long_texts + texts, 2 * seconds + 2 * long_seconds
    encoded = pipeline.encode(tokenizer, texts, max_length, seconds)
    reference = tokenizer(texts, seconds, truncation="longest_first", max_length=max_length)
    assert [ids.tolist() for ids in encoded.ids] == reference["input_ids"]
    assert [types.tolist() for types in encoded.token_type_ids] == reference["token_type_ids"]
    assert max(len(ids) for ids in encoded.ids) == max_length


def test_truncation_modes_keep_the_right_tokens(tokenizer) -> None:
    text = " ".join(WORDS)  # 20 different words, one token each
    words = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(set(words)) == len(WORDS)
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id

    def kept(mode: str, max_length: int = 10, pair: str | None = None) -> list[int]:
        pairs = None if pair is None else [pair]
        return pipeline.encode(tokenizer, [text], max_length, pairs, mode).ids[0].tolist()

    assert kept("head") == [cls, *words[:8], sep]
    assert kept("tail") == [cls, *words[-8:], sep]
    assert kept("head_tail") == [cls, *words[:2], *words[-6:], sep]  # 8 x 128/510 = 2 head
    assert kept("head_tail", 22) == [cls, *words, sep]  # fits: nothing cut
    # A pair: longest first gives the long first text 9 of 12 tokens, the mode picks which.
    short = tokenizer("bank shares", add_special_tokens=False)["input_ids"]
    assert kept("tail", 15, "bank shares") == [cls, *words[-10:], sep, *short, sep]
    with pytest.raises(ValueError, match="truncation must be one of"):
        kept("middle")


def test_pair_length_is_the_whole_sequence_and_buckets_use_it(tokenizer, pairs) -> None:
    texts, seconds = pairs
    encoded = pipeline.encode(tokenizer, texts, 64, seconds)
    joint = [len(ids) for ids in tokenizer(texts, seconds)["input_ids"]]
    assert encoded.lengths.tolist() == joint
    labels = np.zeros(len(texts), dtype=np.int32)
    for features, _ in pipeline.make_dataset(encoded, labels, 4, padding="bucket"):
        mask = features["attention_mask"].numpy()
        assert mask.shape[1] == mask.sum(axis=1).max()  # padded to the batch's longest pair
    stats = pipeline.token_length_stats(tokenizer, texts, 30, seconds)
    assert stats["max"] == max(joint) and stats["truncated"] == sum(n > 30 for n in joint)


@pytest.mark.parametrize("padding", ["bucket", "longest", "fixed"])
def test_every_padding_mode_feeds_segment_ids_of_pairs(tokenizer, pairs, padding) -> None:
    texts, seconds = pairs
    encoded = pipeline.encode(tokenizer, texts, 48, seconds)
    labels = np.arange(len(texts)) % 2
    dataset = pipeline.make_dataset(
        encoded, labels, 4, padding=padding, shuffle=True, drop_remainder=padding == "fixed"
    )
    assert set(dataset.element_spec[0]) == {"input_ids", "attention_mask", "token_type_ids"}
    for features, _ in dataset:
        types, mask = features["token_type_ids"].numpy(), features["attention_mask"].numpy()
        assert (types[mask == 0] == 0).all() and (types.sum(axis=1) > 0).all()
        if padding == "fixed":
            assert types.shape == (4, 48)


def test_predict_logits_feeds_the_segment_ids(tiny_checkpoint, tokenizer, pairs) -> None:
    from kerasbert.training.model import build_classifier

    texts, seconds = pairs
    model = build_classifier(str(tiny_checkpoint), ["match", "mismatch"])
    encoded = pipeline.encode(tokenizer, texts, 64, seconds)
    logits = pipeline.predict_logits(model, encoded, batch_size=4)
    pooled = pipeline.pooled_features(model, encoded, batch_size=4)
    single = pipeline.pad_batch(encoded, np.array([3]))
    expected = model(single, training=False).logits.numpy()[0]
    np.testing.assert_allclose(logits[3], expected, atol=1e-5)
    np.testing.assert_allclose(pooled[3], model.bert(single).pooler_output[0], atol=1e-5)
    # Segment 0 throughout is another input: its features differ by far more than float32
    # round-off (~1e-7), though little, as the random segment embeddings are small.
    del single["token_type_ids"]
    assert np.abs(pooled[3] - model.bert(single).pooler_output[0]).max() > 1e-5
