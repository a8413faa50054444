"""Tests for `kerasbert.export.export` on a tiny random BERT exported once per session."""

from __future__ import annotations

import datetime
import json
import logging
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from tiny_export_fixtures import LABELS, MAX_LENGTH, split_texts

from kerasbert.common.errors import InputError
from kerasbert.common.names import MODEL_INPUT_NAMES
from kerasbert.export import export, parity
from kerasbert.export.export import export_run
from kerasbert.export.parity import PARITY_SINGLE_EXAMPLES, ParityError, check_parity, compare_int8
from kerasbert.inference.exportdir import ONNX_LABELS_KEY, ExportDir, GraphTensor
from kerasbert.inference.predictor import OnnxClassifier


@pytest.fixture(scope="module")
def tensorflow_model(tiny: tuple[Path, Path]):
    from transformers import AutoTokenizer, TFAutoModelForSequenceClassification

    run_dir, _ = tiny
    model = TFAutoModelForSequenceClassification.from_pretrained(str(run_dir / "model"))
    tokenizer = AutoTokenizer.from_pretrained(str(run_dir / "model"))
    return model, tokenizer


def test_export_directory_holds_every_file(tiny: tuple[Path, Path]) -> None:
    _, export_dir = tiny
    names = sorted(path.name for path in export_dir.iterdir())
    assert names == [
        "README.md",
        "config.json",
        "kerasbert.json",
        "model.int8.onnx",
        "model.onnx",
        "model.optimized.onnx",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    assert not list(export_dir.parent.glob(".tiny-run.*")), "staging directory left behind"


def test_metadata_records_labels_settings_and_provenance(tiny: tuple[Path, Path]) -> None:
    run_dir, export_dir = tiny
    metadata = json.loads((export_dir / "kerasbert.json").read_text(encoding="utf-8"))
    assert metadata["schema_version"] == 1
    assert metadata["labels"] == LABELS
    assert metadata["max_length"] == MAX_LENGTH
    assert metadata["lowercase"] is True
    assert metadata["pad_token_id"] == 0
    assert metadata["opset"] == export.DEFAULT_OPSET
    assert metadata["inputs"] == [
        {"name": name, "dtype": "int64", "shape": ["batch", "sequence"]}
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    assert metadata["outputs"] == [
        {"name": "logits", "dtype": "float32", "shape": ["batch", len(LABELS)]}
    ]
    assert metadata["output"] == "logits"  # the output's name alone, as older exports had it
    assert metadata["source"]["checkpoint"] == "tiny-random-bert"
    # The source run by name, not by this machine's path: the export ships to other machines.
    assert metadata["source"]["run"] == run_dir.resolve().name
    assert str(run_dir.resolve()) not in json.dumps(metadata)
    assert metadata["versions"]["tensorflow"].startswith("2.")
    assert metadata["versions"]["onnxruntime"]
    created = datetime.datetime.fromisoformat(metadata["created"])
    assert created.tzinfo is not None
    assert metadata["files"]["model.onnx"] == (export_dir / "model.onnx").stat().st_size


def test_int8_weights_fit_in_7_bits_so_no_cpu_saturates(tiny: tuple[Path, Path]) -> None:
    # CPUs without VNNI multiply uint8 activations by int8 weights in 16-bit pair sums, which
    # saturate with full-range weights; onnxruntime's reduced range, [-64, 64], keeps every sum
    # within 2 * 255 * 64 = 32,640 on every CPU.
    _, export_dir = tiny
    metadata = json.loads((export_dir / "kerasbert.json").read_text(encoding="utf-8"))
    assert metadata["quantization"]["reduce_range"] is True
    int8 = onnx.load(str(export_dir / "model.int8.onnx"))
    weights = [
        onnx.numpy_helper.to_array(tensor)
        for tensor in int8.graph.initializer
        if tensor.data_type == onnx.TensorProto.INT8 and tensor.dims and len(tensor.dims) == 2
    ]
    assert len(weights) >= 8  # Q/K/V, attention output, intermediate, output in 2 layers
    assert all(-64 <= weight.min() and weight.max() <= 64 for weight in weights)


def test_default_export_is_the_fused_graph(tiny: tuple[Path, Path]) -> None:
    _, export_dir = tiny
    graph = json.loads((export_dir / "kerasbert.json").read_text(encoding="utf-8"))["graph"]
    assert graph["converter"] == "fused" and graph["fallbacks"] == []
    # Recorded, not timed: a warm TensorFlow can write the tiny graph in under the 5 ms that rounds to 0.0.
    assert isinstance(graph["conversion_seconds"], float) and graph["conversion_seconds"] >= 0
    # Two layers: one fused attention (the last from the first token only), one bias GELU and
    # two skip layer norms each.
    assert graph["contrib_op_counts"] == {
        "Attention": 1,
        "BiasGelu": 2,
        "EmbedLayerNormalization": 1,
        "MultiHeadAttention": 1,
        "SkipLayerNormalization": 4,
    }
    fp32 = onnx.load(str(export_dir / "model.onnx"))
    counts = Counter(node.op_type for node in fp32.graph.node)
    assert counts["Attention"] == 1 and counts["MultiHeadAttention"] == 1


def test_fused_and_tf2onnx_exports_agree(tiny, tiny_tf2onnx) -> None:
    run_dir, fused_dir = tiny
    _, tf2onnx_dir = tiny_tf2onnx
    texts = split_texts(run_dir)
    fused = OnnxClassifier(fused_dir, variant="fp32").predict_proba(texts)
    traced = OnnxClassifier(tf2onnx_dir, variant="fp32").predict_proba(texts)
    np.testing.assert_allclose(fused, traced, atol=1e-5)
    metadata = json.loads((tf2onnx_dir / "kerasbert.json").read_text(encoding="utf-8"))
    assert metadata["graph"]["converter"] == "tf2onnx"


def test_a_fused_graph_that_fails_parity_falls_back_to_plain(tiny, tmp_path, monkeypatch) -> None:
    """The parity gate, not trust: a fused graph with one wrong weight is not exported."""
    run_dir, _ = tiny
    real_convert = export.convert

    def convert_with_a_wrong_fused_weight(model, path, converter="fused", **kwargs):
        facts = real_convert(model, path, converter, **kwargs)
        if converter == "fused":
            wrong = onnx.load(str(path))
            weight = next(item for item in wrong.graph.initializer if "output.weight" in item.name)
            values = 2.0 * onnx.numpy_helper.to_array(weight)  # attention output, doubled
            weight.CopyFrom(onnx.numpy_helper.from_array(values.astype(np.float32), weight.name))
            onnx.save(wrong, str(path))
        return facts

    monkeypatch.setattr(export, "convert", convert_with_a_wrong_fused_weight)
    export_dir = export_run(run_dir, tmp_path / "export")
    metadata = json.loads((export_dir / "kerasbert.json").read_text(encoding="utf-8"))
    assert metadata["graph"]["converter"] == "plain"
    assert len(metadata["graph"]["fallbacks"]) == 1
    assert metadata["graph"]["fallbacks"][0].startswith("fused:")
    assert metadata["parity"]["fp32"]["max_abs_diff"] <= 1e-4
    _assert_int64_inputs(export_dir)


def _assert_int64_inputs(export_dir: Path) -> None:
    """Every graph of the export takes int64 [batch, sequence] inputs, as Hugging Face clients
    send them, returns float32 logits, and kerasbert.json records exactly that."""
    info = ExportDir(export_dir).read_info()
    for name in ("model.onnx", "model.optimized.onnx", "model.int8.onnx"):
        model = onnx.load(str(export_dir / name))
        inputs = {
            graph_input.name: graph_input.type.tensor_type for graph_input in model.graph.input
        }
        assert sorted(inputs) == ["attention_mask", "input_ids", "token_type_ids"]
        for tensor_type in inputs.values():
            assert tensor_type.elem_type == onnx.TensorProto.INT64
            assert [dim.dim_param for dim in tensor_type.shape.dim] == ["batch", "sequence"]
        (output,) = model.graph.output
        assert (output.name, output.type.tensor_type.elem_type) == (
            "logits",
            onnx.TensorProto.FLOAT,
        )
        declared = [
            GraphTensor(name, "int64", tuple(dim.dim_param for dim in tensor_type.shape.dim))
            for name, tensor_type in inputs.items()
        ]
        assert list(info.inputs) == declared
        assert info.outputs == (GraphTensor("logits", "float32", ("batch", len(info.labels))),)


def test_onnx_models_take_int64_dynamic_inputs_and_carry_labels(tiny: tuple[Path, Path]) -> None:
    _, export_dir = tiny
    _assert_int64_inputs(export_dir)
    for name in ("model.onnx", "model.optimized.onnx", "model.int8.onnx"):
        model = onnx.load(str(export_dir / name))
        properties = {entry.key: entry.value for entry in model.metadata_props}
        assert json.loads(properties[ONNX_LABELS_KEY]) == LABELS
    fp32 = onnx.load(str(export_dir / "model.onnx"))
    assert fp32.opset_import[0].version == export.DEFAULT_OPSET


def test_tf2onnx_export_takes_int64_inputs(tiny_tf2onnx: tuple[Path, Path]) -> None:
    _assert_int64_inputs(tiny_tf2onnx[1])


def test_tf2onnx_graph_has_no_erfc(tiny_tf2onnx: tuple[Path, Path]) -> None:
    _, export_dir = tiny_tf2onnx
    fp32 = onnx.load(str(export_dir / "model.onnx"))
    op_types = {node.op_type for node in fp32.graph.node}
    assert "Erf" in op_types and "Erfc" not in op_types  # TF's Erfc became 1 - Erf


def test_graph_is_rewritten_into_the_forms_onnxruntime_fuses(tiny_tf2onnx) -> None:
    _, export_dir = tiny_tf2onnx
    metadata = json.loads((export_dir / "kerasbert.json").read_text(encoding="utf-8"))
    optimization = metadata["optimization"]
    # The tiny BERT has 2 layers: 2 layer norms each plus the embeddings'. tf2onnx already
    # writes its feed-forward layers as 3-D MatMuls; the query, key and value layers it
    # flattens to 2-D (MiniLM: all 36 dense layers).
    assert optimization["graph_rewrites"] == {"layer_norm": 5, "gelu": 2, "tensordot": 6}
    fp32 = onnx.load(str(export_dir / "model.onnx"))
    op_counts = Counter(node.op_type for node in fp32.graph.node)
    assert op_counts["LayerNormalization"] == 5
    assert op_counts["GlobalAveragePool"] == 0 and op_counts["Neg"] == 0
    producers = {name: node for node in fp32.graph.node for name in node.output}
    weights = {each.name for each in fp32.graph.initializer}
    for node in fp32.graph.node:
        if node.op_type == "MatMul" and node.input[1] in weights:
            source = producers.get(node.input[0])
            assert source is None or source.op_type != "Reshape" or "attention" in source.name
    optimized = onnx.load(str(export_dir / "model.optimized.onnx"))
    optimized_ops = {node.op_type for node in optimized.graph.node}
    assert "FusedMatMul" in optimized_ops and optimized_ops & {"Gelu", "BiasGelu"}
    assert set(optimization["fused_ops"]) == optimized_ops - set(op_counts)


def test_parity_figures_recorded_within_tolerance(tiny: tuple[Path, Path]) -> None:
    _, export_dir = tiny
    parity = json.loads((export_dir / "kerasbert.json").read_text(encoding="utf-8"))["parity"]
    for variant in ("fp32", "optimized"):
        figures = parity[variant]
        assert figures["max_abs_diff"] <= 1e-4
        assert figures["argmax_mismatches"] == 0
        assert figures["by_batch_size"]["1"]["examples"] == PARITY_SINGLE_EXAMPLES
        assert figures["by_batch_size"]["32"]["examples"] == 42


def test_onnx_matches_tensorflow_on_held_out_texts(
    tiny: tuple[Path, Path], tensorflow_model
) -> None:
    """Recompute parity independently, and check the predictor agrees with TF to the example."""
    run_dir, export_dir = tiny
    model, tokenizer = tensorflow_model
    texts = split_texts(run_dir)
    tokens = tokenizer(
        texts, truncation=True, max_length=MAX_LENGTH, padding=True, return_tensors="np"
    )
    expected = model({key: value.astype(np.int32) for key, value in tokens.items()}).logits.numpy()
    assert np.abs(expected).max() > 0.5, "logits too small for parity to mean anything"

    for variant in ("fp32", "optimized"):
        classifier = OnnxClassifier(export_dir, variant=variant)
        probabilities = classifier.predict_proba(texts)
        shifted = np.exp(expected - expected.max(axis=1, keepdims=True))
        np.testing.assert_allclose(
            probabilities, shifted / shifted.sum(1, keepdims=True), atol=1e-5
        )
        assert classifier.predict(texts) == [LABELS[index] for index in expected.argmax(axis=1)]


def test_check_parity_raises_on_disagreement(tiny: tuple[Path, Path], tensorflow_model) -> None:
    run_dir, export_dir = tiny
    _, tokenizer = tensorflow_model
    texts = split_texts(run_dir)[:3]
    batches = parity.encode_for_parity(tokenizer, texts, MAX_LENGTH, MODEL_INPUT_NAMES)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(export_dir / "model.onnx"))
    # The parity batches are TensorFlow's int32; the graph takes int64.
    logits = [
        session.run(["logits"], {name: value.astype(np.int64) for name, value in feeds.items()})[0]
        for _, feeds in batches
    ]
    assert check_parity(export_dir / "model.onnx", batches, logits)["max_abs_diff"] == 0.0
    shifted = [value + 1e-3 for value in logits]
    with pytest.raises(ParityError, match="does not match TensorFlow"):
        check_parity(export_dir / "model.onnx", batches, shifted)


def test_int8_figures_match_the_predictors(tiny: tuple[Path, Path]) -> None:
    run_dir, export_dir = tiny
    int8 = json.loads((export_dir / "kerasbert.json").read_text(encoding="utf-8"))["int8"]
    lines = (run_dir / "data" / "test.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    truth = [record["label"] for record in records]
    for variant in ("fp32", "int8"):
        predicted = OnnxClassifier(export_dir, variant=variant).predict(
            [record["text"] for record in records]
        )
        accuracy = np.mean([guess == label for guess, label in zip(predicted, truth, strict=True)])
        assert int8[variant]["accuracy"] == pytest.approx(accuracy)
    drop = 100 * (int8["fp32"]["accuracy"] - int8["int8"]["accuracy"])
    assert int8["accuracy_drop_points"] == pytest.approx(drop, abs=1e-3)
    assert int8["examples"] == len(records)
    assert int8["drop_exceeds_threshold"] == (
        max(int8["accuracy_drop_points"], int8["macro_f1_drop_points"]) > 1.0
    )
    assert (export_dir / "model.int8.onnx").stat().st_size > 0


def test_compare_int8_flags_a_large_drop(caplog: pytest.LogCaptureFixture) -> None:
    truth = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    fp32 = np.eye(3)[truth]
    int8 = fp32.copy()
    int8[0] = [0.0, 1.0, 0.0]  # one of ten examples flips: a 10-point accuracy drop
    with caplog.at_level(logging.WARNING, logger="kerasbert.export.export"):
        result = compare_int8(truth, fp32, int8, threshold=1.0)
    assert result["fp32"]["accuracy"] == 1.0
    assert result["int8"]["accuracy"] == pytest.approx(0.9)
    assert result["accuracy_drop_points"] == pytest.approx(10.0)
    assert result["prediction_agreement"] == pytest.approx(0.9)
    assert result["drop_exceeds_threshold"] is True
    assert "int8 model loses 10.00 accuracy points" in caplog.text
    assert compare_int8(truth, fp32, int8, threshold=20.0)["drop_exceeds_threshold"] is False


def test_existing_target_is_refused_without_overwrite(tiny: tuple[Path, Path]) -> None:
    run_dir, export_dir = tiny
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_run(run_dir, export_dir)


def test_interrupted_export_leaves_no_partial_directory(
    tiny: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir, _ = tiny
    target = tmp_path / "out"

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated crash during quantization")

    monkeypatch.setattr(export, "quantize_int8", fail)
    with pytest.raises(RuntimeError, match="simulated crash"):
        export_run(run_dir, target)
    assert list(tmp_path.iterdir()) == [], "a failed export must leave nothing behind"

    # With --overwrite, a failure keeps the previous export intact...
    target.mkdir()
    (target / "previous.txt").write_text("old export", encoding="utf-8")
    with pytest.raises(InputError, match="not a kerasbert export directory"):
        export_run(run_dir, target, overwrite=True)  # --overwrite never deletes foreign folders
    (target / "kerasbert.json").write_text("{}", encoding="utf-8")
    with pytest.raises(RuntimeError, match="simulated crash"):
        export_run(run_dir, target, overwrite=True)
    assert [path.name for path in tmp_path.iterdir()] == ["out"]
    assert (target / "previous.txt").read_text(encoding="utf-8") == "old export"

    # ...and a success replaces it whole.
    monkeypatch.undo()
    assert export_run(run_dir, target, overwrite=True) == target
    assert not (target / "previous.txt").exists()
    assert (target / "model.int8.onnx").is_file()
    assert [path.name for path in tmp_path.iterdir()] == ["out"]


def test_incomplete_run_directory_is_refused(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, _ = tiny
    broken = tmp_path / "broken-run"
    shutil.copytree(run_dir, broken)
    (broken / "labels.json").unlink()
    with pytest.raises(FileNotFoundError, match="labels.json"):
        export_run(broken, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export_run(tmp_path / "no-such-run", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_default_target_is_exported_run_name(
    tiny: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir, _ = tiny
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exported" / run_dir.name).mkdir(parents=True)
    with pytest.raises(FileExistsError, match=f"exported/{run_dir.name}"):
        export_run(run_dir)


def test_spread_by_length_keeps_short_and_long_texts_in_order() -> None:
    from kerasbert.export.parity import spread_by_length

    texts = [f"text {'x' * length}" for length in (50, 3, 80, 10, 1, 65)]
    picked = spread_by_length(texts, 3)
    assert picked == [texts[2], texts[3], texts[4]]  # longest, middle, shortest; input order
    assert spread_by_length(texts, 10) == texts


def test_predictor_must_agree_with_the_runs_tensorflow_predictions(
    tiny: tuple[Path, Path], tmp_path: Path
) -> None:
    run_dir, export_dir = tiny
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    classifier = OnnxClassifier(export_dir, variant="fp32")
    probabilities = classifier.predict_proba(split_texts(run_dir))
    (copy / "test_probabilities.json").write_text(json.dumps(probabilities.tolist()))
    metadata_dir = export_run(copy, tmp_path / "agree")
    agreement = json.loads((metadata_dir / "kerasbert.json").read_text())["predictor_vs_tensorflow"]
    assert agreement["examples"] == len(probabilities) and agreement["different_predictions"] == 0
    flipped = np.roll(probabilities, 1, axis=1)  # every argmax moves to another class
    (copy / "test_probabilities.json").write_text(json.dumps(flipped.tolist()))
    with pytest.raises(ParityError, match="disagrees with TensorFlow"):
        export_run(copy, tmp_path / "disagree")
    assert not (tmp_path / "disagree").exists()


@pytest.fixture(scope="module")
def pair_export(tiny_pair) -> tuple[Path, Path]:
    return tiny_pair


def test_metadata_says_how_to_encode_the_inputs(tiny, pair_export) -> None:
    single = json.loads((tiny[1] / "kerasbert.json").read_text(encoding="utf-8"))
    pairs = json.loads((pair_export[1] / "kerasbert.json").read_text(encoding="utf-8"))
    assert (single["pair"], single["truncation"]) == (False, "head")
    assert (pairs["pair"], pairs["truncation"]) == (True, "head")
    assert list(pairs)[list(pairs).index("max_length") + 1 :][:2] == ["pair", "truncation"]


def test_a_run_from_before_a_setting_existed_exports_with_its_default(tiny) -> None:
    """The tiny run's config.json names only the model and max_length, as an older version's
    lacked the settings added since: the export encodes as TrainConfig's defaults say."""
    from kerasbert.config import TrainConfig

    run_dir, export_dir = tiny
    stored = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    assert not {"truncation", "long_documents", "window_overlap", "seed"} & set(stored)
    metadata = json.loads((export_dir / "kerasbert.json").read_text(encoding="utf-8"))
    defaults = TrainConfig()
    assert (metadata["truncation"], metadata["long_documents"], metadata["window_overlap"]) == (
        defaults.truncation,
        defaults.long_documents,
        defaults.window_overlap,
    )
    assert (metadata["max_length"], metadata["task"]) == (stored["max_length"], "single_label")


def test_pair_export_is_checked_on_the_test_pairs(pair_export) -> None:
    from kerasbert.training.rundir import RunDir

    run_dir, export_dir = pair_export
    metadata = json.loads((export_dir / "kerasbert.json").read_text(encoding="utf-8"))
    test_size = len(RunDir(run_dir).read_split("test"))
    for variant in ("fp32", "optimized"):
        figures = metadata["parity"][variant]
        assert figures["max_abs_diff"] <= 1e-4 and figures["argmax_mismatches"] == 0
        assert figures["by_batch_size"]["1"]["examples"] == PARITY_SINGLE_EXAMPLES
        assert figures["by_batch_size"]["32"]["examples"] == test_size
    agreement = metadata["predictor_vs_tensorflow"]
    assert agreement == {**agreement, "examples": test_size, "different_predictions": 0}
    assert metadata["int8"]["examples"] == test_size


def test_parity_batches_carry_the_pairs_segment_ids(pair_export) -> None:
    """The parity check feeds real pairs: segment ids 1 on the second text, as in training."""
    from transformers import AutoTokenizer, TFAutoModelForSequenceClassification

    from kerasbert.training.rundir import RunDir

    run_dir, export_dir = pair_export
    test = RunDir(run_dir).read_split("test")
    tokenizer = AutoTokenizer.from_pretrained(str(run_dir / "model"))
    model = TFAutoModelForSequenceClassification.from_pretrained(str(run_dir / "model"))
    batches = parity.encode_for_parity(
        tokenizer, test.texts, 32, MODEL_INPUT_NAMES, test.text_pairs
    )
    for _, feeds in batches:
        types, mask = feeds["token_type_ids"], feeds["attention_mask"]
        assert (types.sum(axis=1) > 0).all() and (types[mask == 0] == 0).all()
    expected = [parity.tensorflow_logits(model, feeds) for _, feeds in batches]
    check_parity(export_dir / "model.onnx", batches, expected)
    # Without the segment ids the model reads other inputs: TF's logits move.
    flat = [dict(feeds, token_type_ids=np.zeros_like(feeds["input_ids"])) for _, feeds in batches]
    moved = max(
        np.abs(parity.tensorflow_logits(model, feeds) - logits).max()
        for feeds, logits in zip(flat, expected, strict=True)
    )
    assert moved > 1e-3
