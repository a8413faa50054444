"""Tests for `kerasbert.inference.raydata`: the predictor inside Ray Data, on a local Ray cluster.

Ray is in the test extra, so this runs in CI; it is skipped (saying so) only where Ray Data is
not installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tiny_export_fixtures import split_texts

from kerasbert.inference.predictor import OnnxClassifier
from kerasbert.inference.raydata import BatchClassifier, classify_dataset


@pytest.fixture(scope="module")
def texts(tiny: tuple[Path, Path]) -> list[str]:
    return split_texts(tiny[0])


def test_batch_classifier_adds_predictions_to_a_numpy_batch(
    tiny: tuple[Path, Path], texts: list[str]
) -> None:
    batch = {"id": np.arange(len(texts)), "body": np.array(texts + [None], dtype=object)[:-1]}
    batch["body"][3] = None  # a null is a text without words
    output = BatchClassifier(tiny[1], text_column="body", variant="fp32")(batch)
    classifier = OnnxClassifier(tiny[1], variant="fp32")
    expected = classifier.predict_proba(["" if t is None else t for t in batch["body"]])
    np.testing.assert_array_equal(output["id"], batch["id"])
    assert list(output["label"]) == [classifier.labels[i] for i in expected.argmax(1)]
    np.testing.assert_allclose(output["probability"], expected.max(1), rtol=1e-6)
    with pytest.raises(KeyError, match="no column 'text'"):
        BatchClassifier(tiny[1])(batch)


@pytest.mark.slow  # starts a local Ray cluster (several processes)
def test_classify_dataset_on_a_local_ray_cluster(tiny: tuple[Path, Path], texts: list[str]) -> None:
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'kerasbert[ray]')")
    pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install 'ray[data]')")
    rows = [{"id": index, "text": texts[index % len(texts)]} for index in range(300)]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        dataset = ray.data.from_items(rows, override_num_blocks=6)
        predictions = classify_dataset(dataset, tiny[1], variant="fp32", workers=2, batch_size=64)
        written = sorted(predictions.take_all(), key=lambda row: row["id"])
    finally:
        ray.shutdown()
    classifier = OnnxClassifier(tiny[1], variant="fp32")
    expected = classifier.predict_proba([row["text"] for row in rows])
    assert [row["id"] for row in written] == list(range(300))
    assert [row["text"] for row in written] == [row["text"] for row in rows]
    assert [row["label"] for row in written] == [classifier.labels[i] for i in expected.argmax(1)]
    np.testing.assert_allclose([row["probability"] for row in written], expected.max(1), rtol=1e-6)
