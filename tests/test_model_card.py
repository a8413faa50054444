"""Tests for `kerasbert.export.model_card`: every export's README.md, its front matter and the
figures, thresholds and calling conventions it states."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx
import pytest
import yaml
from onnx.helper import tensor_dtype_to_np_dtype

from kerasbert.config import TrainConfig
from kerasbert.export.model_card import base_model, data_language, write_model_card
from kerasbert.inference.exportdir import ExportDir
from kerasbert.training.rundir import RunDir


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def split_card(export_dir: Path) -> tuple[dict, str]:
    """The card's front matter (parsed) and its Markdown body."""
    text = (export_dir / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    matter, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(matter), body.lstrip("\n")


def index_metrics(matter: dict) -> dict[str, float]:
    """The model-index figures by name."""
    (entry,) = matter["model-index"]
    (result,) = entry["results"]
    assert result["dataset"]["split"] == "test"
    return {metric["name"]: metric["value"] for metric in result["metrics"]}


def test_every_export_writes_a_card_with_hub_front_matter(tiny) -> None:
    _, export_dir = tiny
    metadata = read(export_dir / "kerasbert.json")
    matter, body = split_card(export_dir)
    assert matter["pipeline_tag"] == "text-classification"
    assert matter["library_name"] == "transformers.js"
    assert {"onnx", "kerasbert", "text-classification"} <= set(matter["tags"])
    assert matter["labels"] == metadata["labels"]
    # The tiny run's checkpoint is a local folder, not a Hub id; it has no metrics.json.
    assert "base_model" not in matter
    assert "model-index" not in matter
    assert body.startswith(f"# {export_dir.name}\n")
    assert "metrics.json" in body


def assert_rows_give_the_graphs_dtypes(card: str, export_dir: Path) -> None:
    """Each input and output of the fp32 graph has a row in `card` with its declared dtype."""
    graph = onnx.load(str(export_dir / "model.onnx"), load_external_data=False).graph
    for value in [*graph.input, *graph.output]:
        dtype = tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type).name
        row = next(line for line in card.splitlines() if line.startswith(f"| `{value.name}`"))
        assert f"| {dtype} |" in row, row


def test_the_card_gives_each_inputs_dtype_as_the_graph_declares_it(tiny) -> None:
    _, export_dir = tiny
    _, body = split_card(export_dir)
    assert_rows_give_the_graphs_dtypes(body, export_dir)


def test_a_single_label_card_says_softmax_truncation_and_how_to_load_it(tiny) -> None:
    _, export_dir = tiny
    metadata = read(export_dir / "kerasbert.json")
    _, body = split_card(export_dir)
    max_length = metadata["max_length"]
    assert "softmax" in body and "argmax" in body and "sigmoid" not in body
    assert f"its first {max_length - 2} text tokens and its final `[SEP]`" in body
    # transformers.js: the documented options for this flat folder, offline.
    assert "env.allowRemoteModels = false;" in body
    assert 'subfolder: "",' in body
    recommended = "model" if metadata["int8"]["drop_exceeds_threshold"] else "model.int8"
    assert f'model_file_name: "{recommended}",' in body and 'dtype: "fp32",' in body
    assert "drops" in body or "dropping" in body
    assert "from kerasbert import OnnxClassifier" in body
    assert f"kerasbert predict {export_dir.name}" in body
    assert "/v1/classify" in body and '"texts"' in body


def test_a_cards_figures_are_the_runs_metrics(tiny_pair) -> None:
    run_dir, export_dir = tiny_pair
    metrics = read(RunDir(run_dir).metrics)
    matter, body = split_card(export_dir)
    assert index_metrics(matter) == {
        "Accuracy": metrics["accuracy"],
        "Macro-F1": metrics["macro_f1"],
    }
    accuracy_row = next(line for line in body.splitlines() if line.startswith("| accuracy |"))
    assert accuracy_row == (
        f"| accuracy | {metrics['accuracy']:.4f} | {metrics['baseline']['accuracy']:.4f} |"
    )
    int8 = read(export_dir / "kerasbert.json")["int8"]
    assert f"accuracy {int8['int8']['accuracy']:.4f} vs {int8['fp32']['accuracy']:.4f}" in body


def test_a_pair_exports_card_explains_pairs(tiny_pair) -> None:
    _, export_dir = tiny_pair
    _, body = split_card(export_dir)
    assert "`[CLS] a [SEP] b [SEP]`" in body
    assert "1 for the second text" in body
    assert "text_pair:" in body and "{text, text_pair}" in body
    assert '{"pairs": [["' in body
    assert "longest first" in body
    assert "(texts, text_pairs, truncation=True" in body


def test_a_multi_label_card_lists_thresholds_and_says_sigmoid(tiny_multilabel) -> None:
    run_dir, export_dir = tiny_multilabel
    metadata = read(export_dir / "kerasbert.json")
    metrics = read(RunDir(run_dir).metrics)
    matter, body = split_card(export_dir)
    assert index_metrics(matter) == {
        "Subset accuracy": metrics["subset_accuracy"],
        "Micro-F1": metrics["micro_f1"],
        "Macro-F1": metrics["macro_f1"],
    }
    assert "sigmoid" in body and "softmax" not in body
    assert "multi_label_classification" in body
    for label, threshold in metadata["thresholds"].items():
        assert f"| {label} | {threshold:.4g} |" in body, label
    micro = next(line for line in body.splitlines() if line.startswith("| micro-F1 |"))
    assert micro == (
        f"| micro-F1 | {metrics['micro_f1']:.4f} | {metrics['baseline']['micro_f1']:.4f} |"
    )


def edited_card(tiny, tmp_path: Path, dropped: tuple[str, ...] = (), **changes) -> str:
    """The card of a copy of the tiny export whose kerasbert.json has `changes` and lacks the
    keys `dropped`."""
    run_dir, export_dir = tiny
    export = ExportDir(tmp_path / "copy")
    shutil.copytree(export_dir, export.path)
    metadata = read(export.metadata)
    for key in dropped:
        metadata.pop(key, None)
    for key, value in changes.items():
        if isinstance(value, dict):
            metadata[key] = {**(metadata.get(key) or {}), **value}
        else:
            metadata[key] = value
    export.metadata.write_text(json.dumps(metadata), encoding="utf-8")
    write_model_card(RunDir(run_dir), export, name="news")
    return export.model_card.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("exceeds", "variant", "file_name"), [(True, "fp32", "model"), (False, "int8", "model.int8")]
)
def test_a_card_loads_the_variant_the_predictor_recommends(
    tiny, tmp_path, exceeds, variant, file_name
) -> None:
    card = edited_card(tiny, tmp_path, int8={"drop_exceeds_threshold": exceeds})
    assert f"the predictor uses {variant}" in card.lower()
    assert f'model_file_name: "{file_name}",' in card
    assert "# news\n" in card and 'OnnxClassifier("news")' in card


def test_an_export_that_records_no_inputs_is_described_from_its_graph(tiny, tmp_path) -> None:
    card = edited_card(tiny, tmp_path, dropped=("inputs", "outputs", "output"))
    assert_rows_give_the_graphs_dtypes(card, tiny.export_dir)


def test_a_windows_card_describes_the_windows(tiny, tmp_path) -> None:
    card = edited_card(tiny, tmp_path, long_documents="windows", window_overlap=4)
    room = read(tiny.export_dir / "kerasbert.json")["max_length"] - 2
    assert f"windows of {room} text tokens" in card
    assert f"step by {room - 4} tokens (4 shared by neighbours)" in card
    assert "mean of its windows' probabilities" in card


@pytest.mark.parametrize(
    ("checkpoint", "expected"),
    [
        ("minilm", "sentence-transformers/all-MiniLM-L6-v2"),
        ("google-bert/bert-base-uncased", "google-bert/bert-base-uncased"),
        # A bare name may as well be a local folder's; a path is never a Hub id.
        ("bert-base-uncased", None),
        ("/data/checkpoints/bert", None),
        (None, None),
    ],
)
def test_base_model_is_a_hub_id_or_nothing(checkpoint, expected) -> None:
    assert base_model(checkpoint) == expected


def test_a_local_folder_named_like_a_hub_id_is_not_one(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "owner" / "model").mkdir(parents=True)
    assert base_model("owner/model") is None


def test_the_language_is_known_for_built_in_data_only() -> None:
    assert data_language(TrainConfig(data="bbc-news")) == "en"
    assert data_language(TrainConfig(data="reviews.csv")) is None
    assert data_language(TrainConfig(data="bbc-news", test_data="other.csv")) is None


def test_a_calibrated_cards_any_language_steps_divide_by_the_temperature(tiny, tmp_path) -> None:
    card = edited_card(tiny, tmp_path, calibration={"method": "temperature", "temperature": 1.7})
    steps = card.split("4. Run the model, then decide:", 1)[1].split("\n", 1)[0]
    assert "softmax over `logits / 1.7`" in steps
    plain = edited_card(tiny, tmp_path / "plain")
    assert "logits /" not in plain.split("4. Run the model, then decide:", 1)[1].split("\n", 1)[0]
