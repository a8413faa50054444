"""Temperature scaling and abstention: `kerasbert.training.calibration`, the decision rule's
temperature and minimum confidence, and both through the export's predictor, `kerasbert predict`
and a real `kerasbert serve` process."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from tiny_export_fixtures import split_texts

from kerasbert.common.decision import abstain, softmax, to_probabilities
from kerasbert.common.errors import InputError
from kerasbert.common.names import Task
from kerasbert.inference.exportdir import ExportInfo
from kerasbert.inference.predictor import OnnxClassifier
from kerasbert.training.calibration import (
    calibrate,
    confidence_for_accuracy,
    coverage_curve,
    fit_temperature,
    kept_accuracy,
    negative_log_likelihood,
)

SEED = 11


def _sampled(temperature: float, count: int = 4000, classes: int = 4):
    """Logits whose labels are drawn from softmax(logits), then multiplied by `temperature`: the
    temperature that undoes it is `temperature`."""
    rng = np.random.default_rng(SEED)
    logits = rng.normal(scale=1.5, size=(count, classes))
    probabilities = softmax(logits)
    labels = np.array([rng.choice(classes, p=row) for row in probabilities])
    return logits * temperature, labels


@pytest.mark.parametrize("temperature", [3.0, 0.5])
def test_fit_recovers_a_known_temperature(temperature: float) -> None:
    logits, labels = _sampled(temperature)
    fitted = fit_temperature(logits, labels)
    assert abs(fitted - temperature) / temperature < 0.05


def test_calibration_keeps_every_label_and_lowers_validation_nll() -> None:
    logits, labels = _sampled(3.0)
    record = calibrate(logits, labels)
    before = to_probabilities(logits, Task.SINGLE_LABEL)
    after = to_probabilities(logits, Task.SINGLE_LABEL, record["temperature"])
    assert (before.argmax(axis=1) == after.argmax(axis=1)).all()
    figures = record["validation"]
    assert figures["nll_after"] < figures["nll_before"]
    assert figures["ece_after"] < figures["ece_before"]
    assert figures["nll_after"] == pytest.approx(negative_log_likelihood(after, labels))
    assert record["method"] == "temperature" and record["examples"] == len(labels)


def test_decision_rule_divides_single_label_logits_only() -> None:
    logits = np.array([[2.0, 0.0, -1.0]])
    assert np.array_equal(to_probabilities(logits, "single_label", 2.0), softmax(logits / 2.0))
    with pytest.raises(ValueError, match="multi-label"):
        to_probabilities(logits, "multi_label", 2.0)
    for bad in (0, -1.0, float("nan"), True, "2"):
        with pytest.raises(InputError, match="temperature"):
            to_probabilities(logits, "single_label", bad)


def test_coverage_curve_on_a_hand_made_example() -> None:
    # Top probabilities 0.9 (right), 0.8 (wrong), 0.8 (right), 0.6 (right), 0.5 (wrong).
    probabilities = np.array(
        [[0.9, 0.1], [0.2, 0.8], [0.8, 0.2], [0.4, 0.6], [0.5, 0.5]], dtype=np.float64
    )
    truth = np.array([0, 0, 0, 1, 1])
    curve = coverage_curve(truth, probabilities)
    # The two texts at 0.8 are kept or dropped together: one point for both.
    assert curve["min_confidence"] == [0.9, 0.8, 0.6, 0.5]
    assert curve["coverage"] == pytest.approx([0.2, 0.6, 0.8, 1.0])
    assert curve["accuracy"] == pytest.approx([1.0, 2 / 3, 3 / 4, 3 / 5])
    assert confidence_for_accuracy(truth, probabilities, 0.7) == {
        "target_accuracy": 0.7,
        "min_confidence": 0.6,
        "coverage": pytest.approx(0.8),
        "accuracy": pytest.approx(0.75),
    }
    assert confidence_for_accuracy(truth, probabilities, 1.0)["min_confidence"] == 0.9
    assert kept_accuracy(truth, probabilities, 0.8) == {
        "min_confidence": 0.8,
        "coverage": pytest.approx(0.6),
        "accuracy": pytest.approx(2 / 3),
    }
    assert abstain(["a", "b", "a", "b", "a"], probabilities, 0.8) == ["a", "b", "a", None, None]


def _calibrated_copy(export_dir: Path, target: Path, temperature: float | None) -> Path:
    """The export with `calibration` in its kerasbert.json, as `export_run` writes for a run
    with `calibration.json`; with None, without the key, as exports before calibration."""
    shutil.copytree(export_dir, target)
    metadata_path = target / "kerasbert.json"
    metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    metadata.pop("calibration")
    if temperature is not None:
        metadata["calibration"] = {"method": "temperature", "temperature": temperature}
    metadata_path.write_text(json.dumps(metadata), encoding="utf-8")
    return target


def test_predictor_applies_the_exports_temperature_exactly(tiny, tmp_path: Path) -> None:
    texts = split_texts(tiny.run_dir)[:10]
    raw = OnnxClassifier(tiny.export_dir, variant="fp32")
    # A run without calibration.json exports `calibration: null`.
    assert raw.metadata["calibration"] is None and raw.temperature == 1.0
    calibrated = OnnxClassifier(
        _calibrated_copy(tiny.export_dir, tmp_path / "calibrated", 2.5), variant="fp32"
    )
    assert calibrated.info.temperature == 2.5
    logits = raw._logits(*raw._encoder.encode_segments(texts))
    # The predictor answers float32, as before calibration.
    assert np.array_equal(raw.predict_proba(texts), softmax(logits).astype(np.float32))
    expected = softmax(logits.astype(np.float64) / 2.5).astype(np.float32)
    assert np.array_equal(calibrated.predict_proba(texts), expected)
    assert calibrated.predict(texts) == raw.predict(texts)
    old = OnnxClassifier(_calibrated_copy(tiny.export_dir, tmp_path / "old", None), variant="fp32")
    assert old.temperature == 1.0
    assert np.array_equal(old.predict_proba(texts), raw.predict_proba(texts))


def test_a_bad_calibration_record_is_refused() -> None:
    base = {"schema_version": 1, "labels": ["a", "b"], "max_length": 16, "pad_token_id": 0}
    for calibration, field in (
        ({"method": "temperature", "temperature": 0}, "calibration.temperature"),
        ({"method": "platt", "temperature": 2.0}, "calibration.method"),
    ):
        with pytest.raises(InputError, match=field):
            ExportInfo.from_metadata(
                {**base, "schema_version": _schema(), "calibration": calibration}
            )


def _schema() -> int:
    from kerasbert.inference.exportdir import SCHEMA_VERSION

    return SCHEMA_VERSION


def test_predictor_abstains_below_min_confidence(tiny) -> None:
    texts = split_texts(tiny.run_dir)[:12]
    classifier = OnnxClassifier(tiny.export_dir, variant="fp32")
    probabilities = classifier.predict_proba(texts)
    top = probabilities.max(axis=1)
    cut = float(np.median(top))
    expected = [
        label if confidence >= cut else None
        for label, confidence in zip(classifier.predict(texts), top)
    ]
    assert None in expected and any(label is not None for label in expected)
    abstaining = OnnxClassifier(tiny.export_dir, variant="fp32", min_confidence=cut)
    scores = abstaining.classify(texts)
    assert scores.labels == expected
    assert np.array_equal(scores.probabilities, probabilities)
    assert abstaining.predict(texts) == expected
    # A per-call override, both ways.
    assert abstaining.predict(texts, min_confidence=None) == classifier.predict(texts)
    assert classifier.predict(texts, min_confidence=cut) == expected
    # top k is unchanged by abstention.
    assert abstaining.predict_topk(texts, 2) == classifier.predict_topk(texts, 2)
    for bad in (1.5, -0.1, "0.5", True):
        with pytest.raises(InputError, match="min_confidence"):
            OnnxClassifier(tiny.export_dir, variant="fp32", min_confidence=bad)


def test_cli_predict_min_confidence(tiny, tmp_path: Path, capsys) -> None:
    from kerasbert.cli import main

    texts = split_texts(tiny.run_dir)[:12]
    classifier = OnnxClassifier(tiny.export_dir, variant="fp32")
    top = classifier.predict_proba(texts).max(axis=1)
    cut = float(np.median(top))
    source = tmp_path / "texts.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text"])
        writer.writerows([text] for text in texts)
    output = tmp_path / "predictions.csv"
    flags = ["--variant", "fp32", "--min-confidence", str(cut)]
    assert (
        main(
            [
                "predict",
                str(tiny.export_dir),
                "--input",
                str(source),
                "--output",
                str(output),
                *flags,
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(output.open(encoding="utf-8")))
    assert [row["abstained"] for row in rows] == [str(value < cut) for value in top]
    assert [row["label"] == "" for row in rows] == [bool(value < cut) for value in top]
    capsys.readouterr()
    assert main(["predict", str(tiny.export_dir), texts[int(top.argmin())], *flags]) == 0
    # One line: label, probability, then the text (which may hold line breaks itself).
    label, probability, _ = capsys.readouterr().out.split("\t", 2)
    assert label == "" and float(probability) == pytest.approx(top.min(), abs=1e-4)


def test_min_confidence_is_refused_for_multi_label(tiny_multilabel) -> None:
    with pytest.raises(InputError, match="single-label"):
        OnnxClassifier(tiny_multilabel.export_dir, min_confidence=0.5)


def test_a_trained_run_is_calibrated_and_its_export_records_it(tiny_pair) -> None:
    record = json.loads((tiny_pair.run_dir / "calibration.json").read_text(encoding="utf-8"))
    assert record["temperature"] > 0
    assert record["validation"]["nll_after"] <= record["validation"]["nll_before"] + 1e-12
    metadata = json.loads((tiny_pair.export_dir / "kerasbert.json").read_text(encoding="utf-8"))
    assert metadata["calibration"] == {
        "method": "temperature",
        "temperature": record["temperature"],
    }
    # The export's own check compared calibrated probabilities with calibrated ones.
    assert metadata["predictor_vs_tensorflow"]["max_abs_probability_diff"] < 1e-4
    assert OnnxClassifier(tiny_pair.export_dir).temperature == record["temperature"]


def test_server_abstains_per_request(tiny) -> None:
    pytest.importorskip("fastapi", reason="the serve extra is not installed")
    httpx = pytest.importorskip("httpx", reason="the serve extra is not installed")
    from kerasbert.benchmark.load import ServerProcess

    texts = split_texts(tiny.run_dir)[:4]
    offline = OnnxClassifier(tiny.export_dir, variant="fp32")
    probabilities = offline.predict_proba(texts)
    cut = float(np.median(probabilities.max(axis=1)))
    with ServerProcess(tiny.export_dir, ["--variant", "fp32"]) as server:
        url = server.url + "/v1/classify"
        answer = httpx.post(url, json={"texts": texts, "min_confidence": cut})
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert [result["label"] for result in results] == offline.predict(texts, min_confidence=cut)
        assert None in [result["label"] for result in results]
        for result, row in zip(results, probabilities):
            assert list(result["probabilities"].values()) == pytest.approx(row.tolist(), abs=1e-6)
        for bad in (1.5, "0.5", -1):
            refused = httpx.post(url, json={"texts": texts, "min_confidence": bad})
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["field"] == "min_confidence"
