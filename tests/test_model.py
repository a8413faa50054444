"""Tests for `kerasbert.model`: the learning-rate schedule and the fitted-head initialisation."""

from __future__ import annotations

import numpy as np
import pytest

from kerasbert.model import WarmupLinearDecay, build_classifier, fit_head


def test_schedule_warms_up_then_decays_to_zero() -> None:
    schedule = WarmupLinearDecay(1e-4, total_steps=100, warmup_steps=10)
    rates = [float(schedule(step)) for step in (0, 5, 10, 55, 100, 120)]
    assert rates == pytest.approx([0.0, 5e-5, 1e-4, 5e-5, 0.0, 0.0], abs=1e-9)


@pytest.mark.parametrize("labels", [["a", "b", "c"], ["neg", "pos"]])
def test_fit_head_makes_the_head_predict_like_the_probe(tiny_checkpoint, labels) -> None:
    from sklearn.linear_model import LogisticRegression

    model = build_classifier(str(tiny_checkpoint), labels)
    rng = np.random.default_rng(0)
    targets = np.arange(90) % len(labels)
    features = rng.normal(size=(90, 16)).astype(np.float32) + targets[:, None]  # separable-ish
    accuracy = fit_head(model, features, targets)
    probe = LogisticRegression(max_iter=2000, random_state=0).fit(features, targets)
    logits = model.classifier(features).numpy()
    assert accuracy == pytest.approx(probe.score(features, targets))
    assert (logits.argmax(axis=1) == probe.predict(features)).all()


def test_fused_adamw_updates_like_tf_keras_adamw(tiny_checkpoint) -> None:
    """Same weights after several steps, embedding table (a sparse gradient) and excluded
    LayerNorm/bias variables included, with weight decay and clipping on."""
    import tensorflow as tf

    from kerasbert.model import NO_DECAY, FusedAdamW, keras

    rng = np.random.default_rng(0)
    features = {
        "input_ids": rng.integers(5, 30, (8, 12)).astype(np.int32),
        "attention_mask": np.ones((8, 12), np.int32),
    }
    labels = (np.arange(8) % 3).astype(np.int32)
    loss_of = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    weights = {}
    for name, optimizer_class in (("tf_keras", keras.optimizers.AdamW), ("fused", FusedAdamW)):
        keras.utils.set_random_seed(0)
        model = build_classifier(
            str(tiny_checkpoint),
            ["a", "b", "c"],
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
        )
        optimizer = optimizer_class(learning_rate=1e-2, weight_decay=0.1, clipnorm=1.0)
        optimizer.exclude_from_weight_decay(var_names=NO_DECAY)
        for _ in range(5):
            with tf.GradientTape() as tape:
                loss = loss_of(labels, model(features, training=True).logits)
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        # Keys without the model's own name, which gets a suffix for the second model.
        weights[name] = {
            variable.name.split("/", 1)[1]: variable.numpy()
            for variable in model.trainable_variables
        }
        if name == "fused":
            assert any(isinstance(gradient, tf.IndexedSlices) for gradient in gradients)
    assert weights["fused"].keys() == weights["tf_keras"].keys()
    moved = 0
    for key, reference in weights["tf_keras"].items():
        # Float rounding differs between the two kernels and grows over steps at this large
        # learning rate; a wrong update (say, no bias correction) is off by far more than 0.1%.
        np.testing.assert_allclose(
            weights["fused"][key], reference, rtol=1e-3, atol=1e-5, err_msg=key
        )
        moved += not np.allclose(reference, 0)
    assert moved > 10
