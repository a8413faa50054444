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
