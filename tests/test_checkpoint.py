"""Tests for `kerasbert.training.checkpoint`: the packaged MiniLM, local folders and bad `--model` values."""

from __future__ import annotations

import json

import numpy as np
import pytest

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
