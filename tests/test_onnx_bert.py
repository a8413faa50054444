"""Tests for `kerasbert.export.onnx_bert` on a tiny random BERT: onnxruntime against TensorFlow."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pytest
from tiny_export_fixtures import as_int32_graph, input_casts

from kerasbert.common.errors import InputError
from kerasbert.common.names import MODEL_INPUT_NAMES
from kerasbert.export.onnx_bert import build_onnx

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

LAYERS = 2
LABELS = 3
VOCABULARY = 60
WIDTH = 12
# Float32 round-off between the two runtimes is ~1e-6 here; a wrong op or mask moves logits by
# 1e-2 or more.
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def tiny_model() -> Any:
    import tensorflow as tf
    from transformers import BertConfig, TFBertForSequenceClassification

    tf.random.set_seed(0)
    config = BertConfig(
        vocab_size=VOCABULARY,
        hidden_size=32,
        num_hidden_layers=LAYERS,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        type_vocab_size=2,
        num_labels=LABELS,
        # Ten times BERT's 0.02, so the logits spread and a wrong op cannot hide near zero.
        initializer_range=0.2,
    )
    model = TFBertForSequenceClassification(config)
    model(model.dummy_inputs, training=False)
    return model


@pytest.fixture(scope="module")
def graphs(tiny_model: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("onnx-bert")
    built = {}
    for form, fused in (("fused", True), ("plain", False)):
        path = directory / f"{form}.onnx"
        built[form] = (path, build_onnx(tiny_model, path, fused=fused))
    return built


def _batch(case: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    sizes = {"right_padded": 5, "left_padded": 5, "single": 1, "pairs": 4}
    # int64, as Hugging Face clients send ids; TensorFlow takes them too.
    input_ids = rng.integers(5, VOCABULARY, size=(sizes[case], WIDTH), dtype=np.int64)
    token_type_ids = np.zeros_like(input_ids)
    lengths = np.array([WIDTH, 9, 4, 1, 7])[: sizes[case]]
    attention_mask = (np.arange(WIDTH)[None, :] < lengths[:, None]).astype(np.int64)
    if case == "left_padded":
        attention_mask = attention_mask[:, ::-1].copy()
    elif case == "single":
        attention_mask = np.ones_like(input_ids)
    elif case == "pairs":
        token_type_ids[:, WIDTH // 2 :] = 1  # first segment, then second, then padding
    feeds = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "token_type_ids": token_type_ids,
    }
    return {name: feeds[name] for name in MODEL_INPUT_NAMES}


def _session(path: Path) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _onnx_logits(path: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    return _session(path).run(["logits"], feeds)[0]


@pytest.mark.parametrize("case", ["right_padded", "left_padded", "single", "pairs"])
@pytest.mark.parametrize("form", ["fused", "plain"])
def test_logits_match_tensorflow(
    tiny_model: Any, graphs: dict[str, Any], form: str, case: str
) -> None:
    feeds = _batch(case)
    expected = tiny_model(feeds, training=False).logits.numpy()
    actual = _onnx_logits(graphs[form][0], feeds)
    assert actual.shape == (len(feeds["input_ids"]), LABELS)
    assert np.abs(expected).max() > 0.1, "logits near zero would hide a wrong graph"
    assert np.abs(actual - expected).max() <= TOLERANCE


def test_padding_token_ids_do_not_change_logits(graphs: dict[str, Any]) -> None:
    # Right padding only: with left padding BERT's pooler reads column 0, a padding token,
    # in TensorFlow as here, so its id rightly changes the logits.
    feeds = _batch("right_padded")
    changed = dict(feeds, input_ids=np.where(feeds["attention_mask"] == 1, feeds["input_ids"], 7))
    for path, _ in graphs.values():
        difference = _onnx_logits(path, feeds) - _onnx_logits(path, changed)
        assert np.abs(difference).max() <= TOLERANCE


def test_fused_graph_has_one_attention_kernel_per_layer(graphs: dict[str, Any]) -> None:
    path, facts = graphs["fused"]
    counts = Counter(node.op_type for node in onnx.load(str(path)).graph.node)
    # The last layer attends from the first token only (what the classifier reads).
    assert counts["Attention"] == LAYERS - 1 and counts["MultiHeadAttention"] == 1
    assert facts["form"] == "fused"
    assert facts["contrib_op_counts"] == {
        "Attention": LAYERS - 1,
        "MultiHeadAttention": 1,
        "BiasGelu": LAYERS,
        "EmbedLayerNormalization": 1,
        "SkipLayerNormalization": 2 * LAYERS,
    }
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [(each.name, each.type, each.shape) for each in session.get_inputs()] == [
        (name, "tensor(int64)", ["batch", "sequence"]) for name in MODEL_INPUT_NAMES
    ]
    assert facts["inputs"] == list(MODEL_INPUT_NAMES)
    # A fixed class count lets the predictor check its labels without running the model.
    assert session.get_outputs()[0].shape == ["batch", LABELS]


def test_only_the_fused_kernels_get_their_ids_cast_to_int32(graphs: dict[str, Any]) -> None:
    """EmbedLayerNormalization and the attention kernels take int32; the plain graph's Gathers
    and mask arithmetic read the int64 inputs directly."""
    for form, consumers in (
        ("fused", {"EmbedLayerNormalization", "Attention", "MultiHeadAttention"}),
        ("plain", set()),
    ):
        graph = onnx.load(str(graphs[form][0])).graph
        assert {each.type.tensor_type.elem_type for each in graph.input} == {onnx.TensorProto.INT64}
        casts = input_casts(graph)
        assert sorted(casts.values()) == (sorted(MODEL_INPUT_NAMES) if consumers else [])
        readers = {node.op_type for node in graph.node if set(node.input) & set(casts)}
        assert readers == consumers


@pytest.mark.parametrize("form", ["fused", "plain"])
def test_int64_graph_equals_the_int32_graph_exactly(
    graphs: dict[str, Any], form: str, tmp_path: Path
) -> None:
    """The same graph with int32 inputs, as exports were before, gives the same logits to the
    bit, in fp32 and int8; and the quantizer's copy keeps the int64 inputs."""
    from kerasbert.export.convert import quantize_int8

    path = graphs[form][0]
    int8_path = tmp_path / "int8.onnx"
    quantize_int8(path, int8_path)
    pairs = [
        (path, as_int32_graph(path, tmp_path / "int32.onnx")),
        (int8_path, as_int32_graph(int8_path, tmp_path / "int8.int32.onnx")),
    ]
    for new, old in pairs:
        types = {each.type for each in _session(old).get_inputs()}
        assert types == {"tensor(int32)"}
        assert {each.type for each in _session(new).get_inputs()} == {"tensor(int64)"}
        for case in ("right_padded", "left_padded", "single", "pairs"):
            feeds = _batch(case)
            as_int32 = {name: value.astype(np.int32) for name, value in feeds.items()}
            np.testing.assert_array_equal(_onnx_logits(new, feeds), _onnx_logits(old, as_int32))


def test_a_graph_that_breaks_the_interface_is_refused(
    graphs: dict[str, Any], tmp_path: Path
) -> None:
    from kerasbert.export.convert import quantize_int8
    from kerasbert.export.signature import SignatureError

    old = as_int32_graph(graphs["fused"][0], tmp_path / "int32.onnx")
    with pytest.raises(SignatureError, match="onnxruntime's int8 quantizer wrote int8.onnx"):
        quantize_int8(old, tmp_path / "int8.onnx")


def test_plain_graph_uses_standard_ops_only(graphs: dict[str, Any]) -> None:
    path, facts = graphs["plain"]
    model = onnx.load(str(path))
    assert {node.domain for node in model.graph.node} == {""}
    assert all(onnx.defs.has(node.op_type) for node in model.graph.node)
    assert facts["contrib_op_counts"] == {}
    assert facts["op_counts"]["Softmax"] == LAYERS
    assert facts["parameters"] == graphs["fused"][1]["parameters"]


def test_int8_fused_graph_quantizes_attention_and_keeps_predictions(
    graphs: dict[str, Any], tmp_path: Path
) -> None:
    from kerasbert.export.convert import quantize_int8

    int8_path = tmp_path / "fused.int8.onnx"
    quantize_int8(graphs["fused"][0], int8_path)
    op_types = {node.op_type for node in onnx.load(str(int8_path)).graph.node}
    assert {"QAttention", "MatMulInteger"} <= op_types
    assert "Attention" not in op_types
    for case in ("right_padded", "left_padded", "pairs"):
        feeds = _batch(case)
        fp32 = _onnx_logits(graphs["fused"][0], feeds)
        int8 = _onnx_logits(int8_path, feeds)
        assert np.abs(int8 - fp32).max() <= 0.1 * np.abs(fp32).max()


def test_external_data_gives_the_same_logits(
    tiny_model: Any, graphs: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "external.onnx"
    facts = build_onnx(tiny_model, path, external_data=True)
    assert facts["external_data"]
    # Tensors under 1 kB stay in the graph file.
    data_bytes = (tmp_path / "external.onnx.data").stat().st_size
    assert data_bytes > 0.9 * facts["weight_bytes"]
    assert facts["file_bytes"] == path.stat().st_size + data_bytes
    feeds = _batch("right_padded")
    np.testing.assert_array_equal(
        _onnx_logits(path, feeds), _onnx_logits(graphs["fused"][0], feeds)
    )


def test_refuses_what_it_cannot_express(
    tiny_model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InputError, match="opset"):
        build_onnx(tiny_model, tmp_path / "old.onnx", opset=13)
    with pytest.raises(InputError, match="TFBertForSequenceClassification"):
        build_onnx(object(), tmp_path / "object.onnx")
    monkeypatch.setattr(tiny_model.config, "hidden_act", "gelu_new")
    with pytest.raises(InputError, match="gelu_new"):
        build_onnx(tiny_model, tmp_path / "tanh-gelu.onnx")
    assert not list(tmp_path.iterdir())


def test_declared_shapes_let_onnxruntime_reuse_buffers_silently(graphs, capfd) -> None:
    """Wrong declared shapes (the first-token layer's rows) make onnxruntime print a warning per
    buffer on every call whose sequence length changes."""
    for path, _ in graphs.values():
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        for length in (WIDTH, 3, WIDTH, 5):
            feeds = _batch("right_padded")
            session.run(["logits"], {name: value[:, :length] for name, value in feeds.items()})
    assert "Shape mismatch" not in capfd.readouterr().err
