"""Texts to `tf.data` batches: tokenize once, then batch so padding costs as little as possible.

Padding modes:
- `bucket` (default on CPU/GPU): each epoch, shuffle, cut into chunks of many batches, sort each
  chunk by length, cut it into batches and shuffle the batches. Each batch is padded only to its own
  longest text, and similar lengths share a batch, so almost every processed token is real.
- `longest`: random batches padded to their own longest text (the transformers-examples way).
- `fixed`: every batch padded to `max_length` with `drop_remainder`: fully static shapes with no
  Python in the input path, which TPUs need.

Text pairs become `[CLS] first [SEP] second [SEP]` with segment ids (`token_type_ids`) 0…0 1…1,
fed in every padding mode; a pair's length, and so its bucket, is that of the whole sequence.
Which tokens of a too-long text survive is `kerasbert.common.truncation`'s rule, shared with the
exported predictor.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from kerasbert.common.decision import to_probabilities
from kerasbert.common.names import MODEL_INPUT_NAMES, PIPELINE_INPUT_NAMES, Task
from kerasbert.common.truncation import check_truncation, kept_positions
from kerasbert.common.windows import average_windows, check_overlap, split_windows
from kerasbert.training.recipe import steps_per_epoch

# Sorting within chunks of 50 batches keeps batches of near-equal length while the batches still
# differ from epoch to epoch (sorting the whole set would fix the batch contents forever).
CHUNK_BATCHES = 50


@dataclass(frozen=True)
class Encoded:
    """Token ids of each text or text pair, unpadded (built once per split).

    `token_type_ids` holds the segment ids of text pairs; None for single texts, whose segment
    ids are all 0 and which feed the model `input_ids` and `attention_mask` only.
    """

    ids: list[np.ndarray]
    pad_id: int
    max_length: int
    token_type_ids: list[np.ndarray] | None = None

    @property
    def input_names(self) -> tuple[str, ...]:
        """The model inputs each batch carries: segment ids too for text pairs."""
        return PIPELINE_INPUT_NAMES if self.token_type_ids is None else MODEL_INPUT_NAMES

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(ids) for ids in self.ids], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ids)


def encode(
    tokenizer,
    texts: list[str],
    max_length: int,
    text_pairs: list[str] | None = None,
    truncation: str = "head",
) -> Encoded:
    """Tokenize and truncate (no padding yet): the one place texts become token ids.

    Each text (with its second text, for pairs) is encoded in full with its special tokens, then
    cut to `max_length` tokens by `kerasbert.common.truncation.kept_positions`: a pair longest first,
    and each text's share by `truncation` (`head`, `tail` or `head_tail`). `head` gives exactly
    the tokenizer's own truncation.
    """
    check_truncation(truncation)
    pairs = None if text_pairs is None else list(text_pairs)
    if pairs is not None and len(pairs) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(pairs)} second texts.")
    pad_id = int(tokenizer.pad_token_id or 0)
    if not len(texts):
        return Encoded([], pad_id, max_length, None if pairs is None else [])
    batch = tokenizer(
        list(texts),
        pairs,
        truncation=False,
        padding=False,
        return_attention_mask=False,
        return_token_type_ids=pairs is not None,
        verbose=False,
    )
    ids, type_ids = [], []
    for row, row_ids in enumerate(batch["input_ids"]):
        keep = (
            kept_positions(batch.sequence_ids(row), max_length, truncation)
            if len(row_ids) > max_length
            else slice(None)
        )
        ids.append(np.asarray(row_ids, dtype=np.int32)[keep])
        if pairs is not None:
            type_ids.append(np.asarray(batch["token_type_ids"][row], dtype=np.int32)[keep])
    return Encoded(ids, pad_id, max_length, type_ids if pairs is not None else None)


def encode_windows(
    tokenizer, texts: list[str], max_length: int, overlap: int | None = None
) -> tuple[Encoded, np.ndarray]:
    """Every text as overlapping windows of at most `max_length` tokens (`kerasbert.common.windows`).

    Returns the windows, unpadded, and for each window the index of its text: the predictor's
    windows, token for token. A text that fits is one window, its `encode` ids.
    """
    prefix = tokenizer.build_inputs_with_special_tokens([])
    # BERT wraps a sequence as [CLS] ids [SEP]: the first special id goes before the text.
    prefix, suffix = prefix[:1], prefix[1:]
    room = max_length - len(prefix) - len(suffix)
    overlap = check_overlap(overlap, room)
    texts_ids = tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
    windows, owners = split_windows(texts_ids, prefix, suffix, room, overlap)
    encoded = Encoded(
        [np.asarray(ids, dtype=np.int32) for ids in windows],
        int(tokenizer.pad_token_id or 0),
        max_length,
    )
    return encoded, np.asarray(owners, dtype=np.int64)


def token_length_stats(
    tokenizer, texts: list[str], max_length: int, text_pairs: list[str] | None = None
) -> dict[str, float]:
    """Untruncated token-length percentiles (of the whole sequence, for pairs) and how many
    texts `max_length` truncates."""
    pairs = None if text_pairs is None else list(text_pairs)
    encoded = tokenizer(list(texts), pairs, truncation=False, verbose=False)
    lengths = np.array([len(ids) for ids in encoded["input_ids"]])
    stats = {f"p{q}": float(np.percentile(lengths, q)) for q in (5, 25, 50, 75, 95, 99)}
    stats.update(
        mean=float(lengths.mean()),
        max=int(lengths.max()),
        truncated=int((lengths > max_length).sum()),
        truncated_fraction=float((lengths > max_length).mean()),
        max_length=max_length,
    )
    return stats


def plan_batches(
    lengths: np.ndarray, batch_size: int, padding: str, rng: np.random.Generator | None = None
) -> list[np.ndarray]:
    """Split example indices into batches for one epoch (`rng=None`: keep order, no shuffling)."""
    order = np.arange(len(lengths)) if rng is None else rng.permutation(len(lengths))
    if padding != "bucket":
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    chunk = batch_size * CHUNK_BATCHES
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def padding_efficiency(
    lengths: np.ndarray, batches: list[np.ndarray], fixed_length: int | None = None
) -> float:
    """Real tokens ÷ processed tokens (padding included) for a batch plan."""
    real = sum(int(lengths[batch].sum()) for batch in batches)
    processed = sum(len(batch) * (fixed_length or int(lengths[batch].max())) for batch in batches)
    return real / processed if processed else 1.0


def pad_batch(encoded: Encoded, batch: np.ndarray, length: int | None = None) -> dict:
    """Pad a batch of examples to `length` (default: its longest) as int32 arrays: the model
    inputs of `encoded.input_names`, padding with segment id 0."""
    length = length or max(len(encoded.ids[i]) for i in batch)
    input_ids = np.full((len(batch), length), encoded.pad_id, dtype=np.int32)
    attention_mask = np.zeros((len(batch), length), dtype=np.int32)
    for row, index in enumerate(batch):
        ids = encoded.ids[index]
        input_ids[row, : len(ids)] = ids
        attention_mask[row, : len(ids)] = 1
    features = {"input_ids": input_ids, "attention_mask": attention_mask}
    if encoded.token_type_ids is not None:
        token_type_ids = np.zeros((len(batch), length), dtype=np.int32)
        for row, index in enumerate(batch):
            segments = encoded.token_type_ids[index]
            token_type_ids[row, : len(segments)] = segments
        features["token_type_ids"] = token_type_ids
    return features


def make_dataset(
    encoded: Encoded,
    labels: np.ndarray | None,
    batch_size: int,
    *,
    padding: str = "bucket",
    shuffle: bool = False,
    seed: int = 0,
    drop_remainder: bool = False,
    epochs: int | None = None,
    first_epoch: int = 0,
):
    """Build the `tf.data.Dataset` of `(features, labels)` (or features only) batches.

    `padding="fixed"` builds the dataset from padded tensors with static shapes (TPU-safe); the
    other modes generate batches in Python. Without `epochs`, one pass over the dataset is one
    epoch and each pass is reshuffled. With `epochs` (training), one pass yields epochs
    `first_epoch .. epochs - 1` back to back (give `fit` the `steps_per_epoch`), and epoch `e`'s
    order depends only on `seed` and `e`: a run resumed at epoch `e` sees the very batches an
    uninterrupted run would have.
    """
    from kerasbert.training.tfkeras import tf

    epoch_numbers = range(first_epoch, epochs) if epochs is not None else None
    if padding == "fixed":
        features = pad_batch(encoded, np.arange(len(encoded)), encoded.max_length)
        elements = (features, _label_tensor(labels)) if labels is not None else features
        if not shuffle:
            dataset = tf.data.Dataset.from_tensor_slices(elements)
            dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
        elif epoch_numbers is None:
            dataset = tf.data.Dataset.from_tensor_slices(elements)
            dataset = dataset.shuffle(len(encoded), seed=seed, reshuffle_each_iteration=True)
            dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
        else:
            tensors = tf.nest.map_structure(tf.constant, elements)

            def epoch_batches(epoch):
                # Stateless: the order is a function of (seed, epoch), whatever ran before.
                keys = tf.random.stateless_uniform(
                    [len(encoded)], seed=tf.stack([tf.constant(seed, tf.int64), epoch])
                )
                order = tf.data.Dataset.from_tensor_slices(tf.argsort(keys))
                return order.batch(batch_size, drop_remainder=drop_remainder)

            dataset = tf.data.Dataset.range(epoch_numbers.start, epoch_numbers.stop)
            dataset = dataset.flat_map(epoch_batches).map(
                lambda batch: tf.nest.map_structure(lambda t: tf.gather(t, batch), tensors)
            )
        return dataset.prefetch(tf.data.AUTOTUNE)

    lengths = encoded.lengths
    epoch_counter = itertools.count(first_epoch)

    def generate():
        for epoch in epoch_numbers if epoch_numbers is not None else [next(epoch_counter)]:
            rng = np.random.default_rng([seed, epoch]) if shuffle else None
            for batch in plan_batches(lengths, batch_size, padding, rng):
                if drop_remainder and len(batch) < batch_size:
                    continue
                features = pad_batch(encoded, batch)
                yield ((features, _label_tensor(labels[batch])) if labels is not None else features)

    feature_spec = {name: tf.TensorSpec((None, None), tf.int32) for name in encoded.input_names}
    signature = (
        (feature_spec, tf.TensorSpec((None, *labels.shape[1:]), _label_tensor(labels).dtype))
        if labels is not None
        else feature_spec
    )
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    steps = steps_per_epoch(len(encoded), batch_size, drop_remainder)
    dataset = dataset.apply(
        tf.data.experimental.assert_cardinality(
            steps * (len(epoch_numbers) if epoch_numbers is not None else 1)
        )
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


def _label_tensor(labels: np.ndarray) -> np.ndarray:
    """Class ids as int32; multi-label multi-hot rows (2-D) as float32, what the BCE takes."""
    return labels.astype(np.float32 if labels.ndim == 2 else np.int32)


def predict_logits(model, encoded: Encoded, batch_size: int = 64) -> np.ndarray:
    """Logits for every example, in input order; batches are length-sorted to skip padding."""
    return _map_batches(
        lambda features: model(features, training=False).logits, encoded, batch_size
    )


def pooled_features(model, encoded: Encoded, batch_size: int = 64) -> np.ndarray:
    """The encoder's pooled output (what the classification head sees), in input order."""
    return _map_batches(
        lambda features: model.bert(features, training=False).pooler_output, encoded, batch_size
    )


def _map_batches(function, encoded: Encoded, batch_size: int) -> np.ndarray:
    from kerasbert.training.tfkeras import tf

    forward = tf.function(
        function,
        input_signature=[
            {name: tf.TensorSpec((None, None), tf.int32) for name in encoded.input_names}
        ],
        reduce_retracing=True,
    )
    order = np.argsort(encoded.lengths, kind="stable")
    outputs = None
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        values = forward(pad_batch(encoded, batch)).numpy()
        if outputs is None:
            outputs = np.zeros((len(encoded), values.shape[1]), dtype=np.float32)
        outputs[batch] = values
    return outputs


def predict_probabilities(
    model,
    tokenizer,
    texts: list[str],
    max_length: int,
    batch_size: int = 64,
    text_pairs: list[str] | None = None,
    truncation: str = "head",
    windows: bool = False,
    window_overlap: int | None = None,
    multi_label: bool = False,
    temperature: float = 1.0,
) -> np.ndarray:
    """Softmax probabilities for raw texts (or text pairs), in input order; with `windows`,
    each text's mean over its windows; for `multi_label`, one sigmoid probability per label.
    A single-label run's `temperature` divides the logits first (calibration).

    Logits become probabilities by `kerasbert.common.decision`, as in the exported predictor.
    """
    task = Task.MULTI_LABEL if multi_label else Task.SINGLE_LABEL
    if windows:
        encoded, owners = encode_windows(tokenizer, texts, max_length, window_overlap)
        window_logits = predict_logits(model, encoded, batch_size)
        window_probabilities = to_probabilities(window_logits, task, temperature)
        return average_windows(window_probabilities, owners, len(texts))
    encoded = encode(tokenizer, texts, max_length, text_pairs, truncation)
    return to_probabilities(predict_logits(model, encoded, batch_size), task, temperature)
