"""Tests for `kerasbert.training.checkpoint`: the packaged MiniLM, local folders, fine-tuned heads
kept or replaced, and bad `--model` values."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from conftest import VOCAB, save_tiny_bert, tiny_config, tiny_texts, write_csv

from kerasbert.common.errors import InputError
from kerasbert.training import checkpoint


@pytest.mark.slow  # the real MiniLM checkpoint
def test_packaged_minilm_loads_without_torch() -> None:
    from safetensors.numpy import load_file

    path = checkpoint.resolve_checkpoint("minilm")
    model = checkpoint.load_classifier(path, ["a", "b", "c"])
    assert model.config.num_hidden_layers == 6 and model.config.hidden_size == 384
    assert model.config.id2label == {0: "a", 1: "b", 2: "c"}
    state = load_file(f"{path}/model.safetensors")
    embeddings = model.bert.embeddings.weight.numpy()
    np.testing.assert_array_equal(embeddings, state["embeddings.word_embeddings.weight"])
    query = model.bert.encoder.layer[0].attention.self_attention.query.kernel.numpy()
    np.testing.assert_array_equal(query, state["encoder.layer.0.attention.self.query.weight"].T)
    assert checkpoint.max_positions(path) == 512


def test_local_tf_checkpoint(tiny_checkpoint) -> None:
    model = checkpoint.load_classifier(str(tiny_checkpoint), ["x", "y"])
    assert model.config.num_labels == 2 and model.config.hidden_size == 16


def test_not_a_bert_checkpoint(tmp_path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(InputError, match="is a 'gpt2' model"):
        checkpoint.load_bert_config(str(tmp_path))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="has no config.json"):
        checkpoint.load_bert_config(str(empty))
    with pytest.raises(InputError, match="no such directory"):
        checkpoint.resolve_checkpoint("./missing/model")


SENTIMENT = ["negative", "positive"]


def _sentiment_checkpoint(directory: Path, file_format: str) -> tuple[Path, dict[str, np.ndarray]]:
    """A tiny 2-label `TFBertForSequenceClassification` with a known, non-zero head, saved as TF
    `tf_model.h5` or as PyTorch-named `model.safetensors` (written with safetensors.numpy, as the
    hub hands them out); returns the folder and the saved weights by PyTorch name."""
    from safetensors.numpy import save_file
    from transformers import TFBertForSequenceClassification
    from transformers.modeling_tf_pytorch_utils import (
        TransposeType,
        convert_tf_weight_name_to_pt_weight_name,
    )

    save_tiny_bert(directory, VOCAB, SENTIMENT, seed=0)
    model = TFBertForSequenceClassification.from_pretrained(str(directory))
    rng = np.random.default_rng(0)
    # Random init leaves the bias at zero: a non-zero head tells "kept" from "new".
    for weight in model.classifier.weights:
        weight.assign(rng.normal(0.0, 0.5, size=weight.shape).astype(np.float32))
    state = {}
    for weight in model.weights:
        name, transpose = convert_tf_weight_name_to_pt_weight_name(
            weight.name, tf_weight_shape=weight.shape
        )
        value = weight.numpy()
        state[name] = value.T.copy() if transpose is TransposeType.SIMPLE else value
    if file_format == "h5":
        model.save_pretrained(str(directory))
    else:
        (directory / "tf_model.h5").unlink()
        save_file(state, str(directory / "model.safetensors"))
    return directory, state


@pytest.fixture(scope="module", params=["h5", "safetensors"])
def sentiment_checkpoint(request, tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    return _sentiment_checkpoint(tmp_path_factory.mktemp("sentiment"), request.param)


def _encoder_state(model) -> dict[str, np.ndarray]:
    from transformers.modeling_tf_pytorch_utils import (
        TransposeType,
        convert_tf_weight_name_to_pt_weight_name,
    )

    state = {}
    for weight in model.bert.weights:
        name, transpose = convert_tf_weight_name_to_pt_weight_name(
            weight.name, tf_weight_shape=weight.shape
        )
        value = weight.numpy()
        state[name] = value.T if transpose is TransposeType.SIMPLE else value
    return state


def test_fine_tuned_checkpoint_gets_a_new_head_for_other_labels(sentiment_checkpoint, caplog):
    folder, saved = sentiment_checkpoint
    with caplog.at_level(logging.INFO, logger=checkpoint.__name__):
        model = checkpoint.load_classifier(str(folder), ["a", "b", "c"])
    encoder = _encoder_state(model)
    assert len(encoder) == len([name for name in saved if "classifier" not in name])
    for name, value in encoder.items():
        np.testing.assert_array_equal(value, saved[name], err_msg=name)
    assert model.classifier.kernel.shape == (16, 3)
    assert model.classifier.bias.shape == (3,)
    assert model.config.id2label == {0: "a", 1: "b", 2: "c"}
    assert "classification head has 2 labels and the data 3, so the head is new" in caplog.text


def test_fine_tuned_checkpoint_keeps_a_head_of_the_same_size(sentiment_checkpoint, caplog):
    folder, saved = sentiment_checkpoint
    with caplog.at_level(logging.INFO, logger=checkpoint.__name__):
        model = checkpoint.load_classifier(str(folder), ["bad", "good"])
    np.testing.assert_array_equal(model.classifier.kernel.numpy().T, saved["classifier.weight"])
    np.testing.assert_array_equal(model.classifier.bias.numpy(), saved["classifier.bias"])
    assert np.abs(saved["classifier.bias"]).min() > 0
    assert "kept its classification head (2 labels" in caplog.text
    assert "head is new" not in caplog.text


def test_two_label_checkpoint_fine_tunes_on_three_classes(
    sentiment_checkpoint, tiny_csv, tmp_path, caplog
):
    from kerasbert.training.fit import fit_run
    from kerasbert.training.rundir import RunDir

    folder, _ = sentiment_checkpoint
    config = tiny_config(folder, tiny_csv, tmp_path / "run", epochs=1, precision="fp32", seed=0)
    with caplog.at_level(logging.INFO, logger="kerasbert"):
        run = RunDir(fit_run(config))
    assert "head is new" in caplog.text and "Head fitted on pretrained features" in caplog.text
    assert run.read_labels() == ["business", "sport", "tech"]
    model, _ = checkpoint.load_trained_model(run.path / "model")
    assert model.config.num_labels == 3 and model.classifier.bias.shape == (3,)
    losses = run.read_history()["loss"]
    assert len(losses) == 1 and np.isfinite(losses[0])


def test_checkpoint_head_of_the_same_size_is_where_fitting_starts(
    sentiment_checkpoint, tmp_path, caplog
):
    """A kept head is not replaced by the logistic-regression probe (`--fit-head`): with a
    learning rate too small to move it, the trained head is the checkpoint's."""
    from kerasbert.training.fit import fit_run

    folder, saved = sentiment_checkpoint
    two_classes = [row for row in tiny_texts(20) if row[1] != "tech"]
    data = write_csv(tmp_path / "two.csv", two_classes)
    config = tiny_config(
        folder, data, tmp_path / "run", epochs=1, learning_rate=1e-9, precision="fp32", seed=0
    )
    with caplog.at_level(logging.INFO, logger="kerasbert"):
        run_dir = fit_run(config)
    assert "Starting from the checkpoint's own head" in caplog.text
    assert "Head fitted on pretrained features" not in caplog.text
    model, _ = checkpoint.load_trained_model(run_dir / "model")
    kernel = model.classifier.kernel.numpy().T
    np.testing.assert_allclose(kernel, saved["classifier.weight"], atol=1e-5)
    np.testing.assert_allclose(model.classifier.bias.numpy(), saved["classifier.bias"], atol=1e-5)
