"""Tests for `kerasbert.common.windows` and the windowed mode through training, export and predictor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import LEARNABLE_SETTINGS, tiny_config

from kerasbert.common.errors import InputError
from kerasbert.common.windows import (
    average_windows,
    check_long_documents,
    check_overlap,
    split_windows,
    window_spans,
)


def test_spans_step_by_room_minus_overlap_and_end_at_the_text_end() -> None:
    assert window_spans(10, 4, 1) == [(0, 4), (3, 7), (6, 10)]
    assert window_spans(11, 4, 1) == [(0, 4), (3, 7), (6, 10), (9, 11)]
    assert window_spans(4, 4, 0) == [(0, 4)]
    assert window_spans(0, 4, 1) == [(0, 0)]  # an empty text is one window of specials only
    for length in range(1, 60):
        spans = window_spans(length, 7, 2)
        covered = sorted({position for start, end in spans for position in range(start, end)})
        assert covered == list(range(length))
        assert all(end - start <= 7 for start, end in spans)
        assert all(b[0] - a[0] == 5 for a, b in zip(spans, spans[1:]))


def test_split_windows_wraps_each_window_and_names_its_text() -> None:
    windows, owners = split_windows([[1, 2, 3, 4, 5], [9]], [100], [101], room=3, overlap=1)
    assert windows == [[100, 1, 2, 3, 101], [100, 3, 4, 5, 101], [100, 9, 101]]
    assert owners == [0, 0, 1]


def test_average_windows_is_each_texts_mean() -> None:
    probabilities = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]], dtype=np.float32)
    averaged = average_windows(probabilities, [0, 0, 1], 2)
    np.testing.assert_allclose(averaged, [[0.7, 0.3], [0.2, 0.8]], atol=1e-6)
    with pytest.raises(ValueError):
        average_windows(probabilities, [0, 0, 2], 3)  # text 1 has no window


def test_bad_settings_name_the_choices() -> None:
    with pytest.raises(InputError, match="truncate, windows"):
        check_long_documents("slide")
    with pytest.raises(InputError, match=r"\[0, 10\)"):
        check_overlap(10, 10)
    assert check_overlap(None, 126) == 31


def test_config_refuses_windows_for_pairs_and_overlaps_that_do_not_fit(tmp_path) -> None:
    from kerasbert.config import TrainConfig

    with pytest.raises(InputError, match="--long-documents windows splits single texts"):
        TrainConfig(long_documents="windows", text_pair_column="b", text_column="a")
    with pytest.raises(InputError, match="--window-overlap must be in"):
        TrainConfig(long_documents="windows", max_length=32, window_overlap=30)
    with pytest.raises(InputError, match="--long-documents must be one of"):
        TrainConfig(long_documents="sliding")


def test_training_side_windows_are_the_predictors(tiny_checkpoint) -> None:
    from transformers import AutoTokenizer

    from kerasbert.inference.predictor import TextEncoder
    from kerasbert.training.pipeline import encode_windows

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_checkpoint))
    texts = [
        "the market said the bank shares profit is new " * 6,
        "game",
        "",
        "team win match on the web . " * 9,
    ]
    encoded, owners = encode_windows(tokenizer, texts, max_length=12, overlap=3)
    encoder = TextEncoder(tiny_checkpoint / "tokenizer.json", 12)
    expected, expected_owners = encoder.encode_windows(texts, overlap=3)
    assert [ids.tolist() for ids in encoded.ids] == expected
    assert owners.tolist() == expected_owners
    assert owners.tolist().count(0) > 3 and owners.tolist().count(1) == 1


@pytest.fixture(scope="module")
def windowed_run(learnable_checkpoint, keyword_csv, tmp_path_factory) -> tuple[Path, Path]:
    """A run trained on windows of 12 tokens (the keyword texts are up to ~35 tokens), exported."""
    from kerasbert.evaluation.evaluate import evaluate_run
    from kerasbert.export.export import export_run
    from kerasbert.training.fit import fit_run

    base = tmp_path_factory.mktemp("windows")
    config = tiny_config(
        learnable_checkpoint,
        keyword_csv,
        base / "run",
        max_length=12,
        long_documents="windows",
        epochs=4,
        **LEARNABLE_SETTINGS,
    )
    run_dir = fit_run(config)
    evaluate_run(run_dir, plots=False)
    export_dir = export_run(run_dir, base / "export")
    return run_dir, Path(export_dir)


def test_windowed_run_trains_on_windows_and_predicts_their_mean(windowed_run) -> None:
    from kerasbert.inference.predictor import OnnxClassifier
    from kerasbert.training.rundir import RunDir

    run_dir, export_dir = windowed_run
    run = RunDir(run_dir)
    summary = run.read_data_summary()
    train_texts = len(run.read_split("train").texts)
    assert summary["windows"]["train_windows"] > 1.5 * train_texts
    metrics = run.read_metrics()
    # Each window holds at most 10 text tokens, so many hold no keyword; the mean over windows
    # still finds the class.
    assert metrics["accuracy"] > 0.8

    metadata = json.loads((export_dir / "kerasbert.json").read_text(encoding="utf-8"))
    assert metadata["long_documents"] == "windows"
    classifier = OnnxClassifier(export_dir, variant="fp32")
    assert classifier.long_documents is True
    test = run.read_split("test")
    onnx_probabilities = classifier.predict_proba(test.texts)
    tf_probabilities = np.asarray(run.read_test_probabilities(), dtype=np.float32)
    np.testing.assert_allclose(onnx_probabilities, tf_probabilities, atol=1e-4)
    truncating = OnnxClassifier(export_dir, variant="fp32", long_documents=False)
    assert not np.allclose(truncating.predict_proba(test.texts), onnx_probabilities, atol=1e-3)


def test_predict_cli_follows_the_export_unless_told(windowed_run, capsys) -> None:
    from kerasbert.cli import main
    from kerasbert.inference.predictor import OnnxClassifier

    _, export_dir = windowed_run
    text = "the market said the new bank shares profit . " * 4 + "the team win the game . " * 3
    for flag, windows in ((None, True), ("truncate", False), ("windows", True)):
        argv = ["predict", str(export_dir), text, "--variant", "fp32"]
        assert main(argv + (["--long-documents", flag] if flag else [])) == 0
        label, probability, _ = capsys.readouterr().out.strip().split("\t")
        expected = OnnxClassifier(export_dir, variant="fp32", long_documents=windows)
        row = expected.predict_proba([text])[0]
        assert label == expected.labels[int(row.argmax())]
        assert abs(float(probability) - float(row.max())) < 1e-4
