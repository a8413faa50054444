"""Tests for `kerasbert.training.optimizer`: the learning-rate schedule, and `FusedAdamW` against tf-keras
AdamW (same weights after several steps) and across a checkpoint."""

from __future__ import annotations

import numpy as np
import pytest

from kerasbert.training.model import build_classifier
from kerasbert.training.optimizer import WarmupLinearDecay


def test_schedule_warms_up_then_decays_to_zero() -> None:
    schedule = WarmupLinearDecay(1e-4, total_steps=100, warmup_steps=10)
    rates = [float(schedule(step)) for step in (0, 5, 10, 55, 100, 120)]
    assert rates == pytest.approx([0.0, 5e-5, 1e-4, 5e-5, 0.0, 0.0], abs=1e-9)


def _train_steps(model, optimizer, batches) -> None:
    from kerasbert.training.tfkeras import keras, tf

    loss_of = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for features, labels in batches:
        with tf.GradientTape() as tape:
            loss = loss_of(labels, model(features, training=True).logits)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))


def _batches(steps: int, seed: int = 0) -> list:
    """Batches over different tokens: some embedding rows get a gradient at one step and not the
    next (so their moments carry them), tokens 0-4 and 30-33 never appear (so only decay moves
    them)."""
    rng = np.random.default_rng(seed)
    batches = []
    for step in range(steps):
        low = 5 + 5 * (step % 3)
        features = {
            "input_ids": rng.integers(low, low + 15, (8, 12)).astype(np.int32),
            "attention_mask": np.ones((8, 12), np.int32),
        }
        batches.append((features, (np.arange(8) % 3).astype(np.int32)))
    return batches


def _tiny_model(tiny_checkpoint):
    from kerasbert.training.tfkeras import keras

    keras.utils.set_random_seed(0)
    return build_classifier(
        str(tiny_checkpoint),
        ["a", "b", "c"],
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )


def _weights(model) -> dict:
    # Keys without the model's own name, which gets a suffix for every later model.
    return {variable.name.split("/", 1)[1]: variable.numpy() for variable in model.variables}


@pytest.fixture
def small_tables(monkeypatch):
    """The tiny checkpoint's 34-row word and 64-row position tables count as embedding tables."""
    import kerasbert.training.optimizer

    monkeypatch.setattr(kerasbert.training.optimizer, "TABLE_MIN_ROWS", 32)


def test_fused_adamw_updates_like_tf_keras_adamw(tiny_checkpoint, small_tables) -> None:
    """Same weights after several steps, embedding tables (sparse gradients, updated by rows)
    and excluded LayerNorm/bias variables included, with weight decay and clipping on."""
    from kerasbert.training.optimizer import NO_DECAY, FusedAdamW
    from kerasbert.training.tfkeras import keras

    batches = _batches(6)
    weights, optimizers = {}, {}
    for name, optimizer_class in (("tf_keras", keras.optimizers.AdamW), ("fused", FusedAdamW)):
        model = _tiny_model(tiny_checkpoint)
        initial = _weights(model)
        # At clipnorm 0.03 five of the 25 gradients are clipped each step, the rest pass as they are.
        optimizer = optimizer_class(learning_rate=1e-2, weight_decay=0.1, clipnorm=0.03)
        optimizer.exclude_from_weight_decay(var_names=NO_DECAY)
        _train_steps(model, optimizer, batches)
        weights[name], optimizers[name] = _weights(model), optimizer
    assert weights["fused"].keys() == weights["tf_keras"].keys()
    moved = 0
    for key, reference in weights["tf_keras"].items():
        # Float rounding differs between the kernels and grows over steps at this large learning
        # rate (one CI run saw 2 of 544 word-embedding weights 6e-5 apart, and the CPU kernels do
        # not round the same way every run); a wrong update (no bias correction, a row left out,
        # a wrong clipping scale) is off by far more and fails at this tolerance.
        np.testing.assert_allclose(
            weights["fused"][key], reference, rtol=1e-3, atol=1e-4, err_msg=key
        )
        moved += not np.allclose(reference, initial[key])
    assert moved > 10

    # The word table was updated by rows: flagged are exactly the tokens the batches contain,
    # and a row no batch contains was only decayed, six times by (1 - lr * wd).
    (flags,) = [
        variable.numpy()
        for variable in optimizers["fused"].variables()
        if "moved_rows" in variable.name and "word_embeddings" in variable.name
    ]
    seen = np.unique(np.concatenate([features["input_ids"].ravel() for features, _ in batches]))
    assert np.flatnonzero(flags).tolist() == seen.tolist()
    assert seen.max() < 30
    (word,) = [key for key in weights["fused"] if "word_embeddings" in key]
    np.testing.assert_allclose(
        weights["fused"][word][30:], initial[word][30:] * (1 - 1e-3) ** 6, rtol=1e-6
    )


def test_fused_adamw_resumes_from_a_checkpoint(tiny_checkpoint, small_tables, tmp_path) -> None:
    """Three steps, a checkpoint, three more equals six straight, whether or not the checkpoint
    holds the moved-row flags (an optimizer saved with `row_updates=False` has none: the flags
    are recovered from the restored moments)."""
    import tensorflow as tf

    from kerasbert.training.optimizer import FusedAdamW

    batches = _batches(6)

    def optimizer(row_updates=True):
        return FusedAdamW(learning_rate=1e-2, weight_decay=0.1, row_updates=row_updates)

    model = _tiny_model(tiny_checkpoint)
    straight = optimizer()
    _train_steps(model, straight, batches)
    expected = _weights(model)
    assert any("moved_rows" in variable.name for variable in straight.variables())

    for saved_with_flags in (True, False):
        model, first = _tiny_model(tiny_checkpoint), optimizer(row_updates=saved_with_flags)
        _train_steps(model, first, batches[:3])
        path = tf.train.Checkpoint(model=model, optimizer=first).save(
            str(tmp_path / f"flags-{saved_with_flags}" / "ckpt")
        )
        model, second = _tiny_model(tiny_checkpoint), optimizer()
        # The optimizer's variables are created (and restored) at its first step.
        restored = tf.train.Checkpoint(model=model, optimizer=second).restore(path)
        _train_steps(model, second, batches[3:])
        if saved_with_flags:
            restored.assert_consumed()
        resumed = _weights(model)
        for key, value in expected.items():
            np.testing.assert_allclose(
                resumed[key], value, rtol=1e-5, atol=1e-7, err_msg=f"{key} ({saved_with_flags=})"
            )
