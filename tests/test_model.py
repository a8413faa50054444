"""Tests for `kerasbert.training.model`: the fitted-head initialisation."""

from __future__ import annotations

import numpy as np
import pytest

from kerasbert.training.model import build_classifier, fit_head


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
