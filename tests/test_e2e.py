"""Tests for `kerasbert.export.e2e`: `kerasbert export --with-tokenizer` writes strings-in graphs
whose logits are the predictor's, on awkward texts, cut by every truncation rule, single texts
and pairs, fp32 and int8; `kerasbert.json` records them and the model card says how to load them."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip(
    "onnxruntime_extensions",
    reason='onnxruntime-extensions (the e2e extra) is not installed: pip install "kerasbert[e2e]"',
)

from kerasbert.common.errors import InputError  # noqa: E402
from kerasbert.export.e2e import (  # noqa: E402
    CUSTOM_OP_DOMAIN,
    E2E_TOLERANCE,
    check_available,
    compare_with_predictor,
    e2e_session,
    extensions_version,
    read_wordpiece,
    write_e2e,
)
from kerasbert.inference.exportdir import E2E_FILES, ExportDir  # noqa: E402
from kerasbert.inference.predictor import OnnxClassifier  # noqa: E402

LONG = " ".join(["the markets rose sharply as investors bought shares"] * 40)
# Texts the two tokenizers must read alike: accents (stripped by the uncased vocabulary),
# punctuation, CJK (one token per character), empty and blank, a word past the 100-character
# WordPiece limit, uppercase, and texts far past max_length (truncation).
AWKWARD = [
    "Café déjà vu: naïve résumé, ÉLAN à la française, Ångström, señor, Müller!",
    "UPPERCASE HEADLINE: MARKETS RALLY 5% AS OIL FALLS",
    "Punctuation... (brackets) [square] {curly} -- dashes; 'quotes' \"double\" ?! #tag @user",
    "中文 日本語のテキスト 한 and english mixed",
    "don’t “smart quotes” — em dash … ellipsis",
    "numbers 1,234.56 and someone@example.com http://example.com/a?b=c",
    "",
    "   \t\n  ",
    "x",
    "a" * 150,
    # Words the vocabulary cannot finish: the whole word is one [UNK], not its first pieces.
    "Straße naïveté façade",
    LONG,
    LONG.upper() + " TAIL END WORDS",
]


def run_cli(*argv: str) -> int:
    from kerasbert.cli import main

    return main(list(argv))


@pytest.fixture(scope="module")
def e2e_export(tiny, tmp_path_factory) -> Path:
    """The `tiny` run exported with `kerasbert export --with-tokenizer`."""
    export_dir = tmp_path_factory.mktemp("e2e") / "tiny-e2e"
    assert (
        run_cli("export", str(tiny.run_dir), "--output", str(export_dir), "--with-tokenizer") == 0
    )
    return export_dir


@pytest.fixture(scope="module")
def e2e_pair_export(tiny_pair, tmp_path_factory) -> Path:
    from kerasbert.export.export import export_run

    export_dir = tmp_path_factory.mktemp("e2e-pair") / "pair-e2e"
    export_run(tiny_pair.run_dir, export_dir, with_tokenizer=True)
    return export_dir


def test_the_export_records_its_strings_in_graphs(e2e_export: Path, tiny) -> None:
    metadata = json.loads((e2e_export / "kerasbert.json").read_text(encoding="utf-8"))
    record = metadata["e2e"]
    assert record["files"] == E2E_FILES
    assert all((e2e_export / name).is_file() for name in E2E_FILES.values())
    assert record["inputs"] == [{"name": "text", "dtype": "string", "shape": ["batch"]}]
    assert record["outputs"] == [{"name": "logits", "dtype": "float32", "shape": ["batch", 3]}]
    assert record["custom_op_domain"] == CUSTOM_OP_DOMAIN
    assert record["onnxruntime_extensions"] == extensions_version()
    test_texts = len((tiny.run_dir / "data" / "test.jsonl").read_text().splitlines())
    for variant, figures in record["checks"].items():
        assert figures["texts"] == test_texts
        assert figures["max_abs_logit_difference"] <= E2E_TOLERANCE
        assert figures["label_agreement"] == 1.0 and figures["mismatches"] == 0, variant
    info = ExportDir(e2e_export).read_info()
    assert info.e2e is not None and info.e2e.files["int8"] == "model.e2e.int8.onnx"
    assert [tensor.name for tensor in info.e2e.inputs] == ["text"]
    assert info.e2e.domain == CUSTOM_OP_DOMAIN
    # An export without --with-tokenizer (and every export from before it) has none.
    assert ExportDir(tiny.export_dir).read_info().e2e is None
    assert not (tiny.export_dir / E2E_FILES["fp32"]).exists()


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_logits_equal_the_predictors_on_awkward_texts(e2e_export: Path, variant: str) -> None:
    figures = compare_with_predictor(e2e_export, variant, AWKWARD)
    assert figures["texts"] == len(AWKWARD)
    assert figures["mismatches"] == 0, figures["first_mismatch"]
    assert figures["max_abs_logit_difference"] <= E2E_TOLERANCE
    # The texts do reach the cut: the long ones fill max_length in the predictor's encoding.
    classifier = OnnxClassifier(e2e_export, variant="fp32")
    lengths = [len(ids) for ids in classifier._encoder.encode(AWKWARD)]
    assert lengths[-1] == lengths[-2] == classifier.max_length
    assert min(lengths) == 2  # the empty text: [CLS] [SEP]


def test_a_batch_of_mixed_lengths_is_padded_inside_the_graph(e2e_export: Path) -> None:
    session = e2e_session(e2e_export / E2E_FILES["fp32"])
    together = session.run(None, {"text": np.array(AWKWARD, dtype=object)})[0]
    alone = np.concatenate(
        [session.run(None, {"text": np.array([text], dtype=object)})[0] for text in AWKWARD]
    )
    assert together.shape == (len(AWKWARD), 3)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    empty = session.run(None, {"text": np.array([], dtype=object)})[0]
    assert empty.shape == (0, 3)


def with_truncation(export_dir: Path, truncation: str, target: Path) -> Path:
    """A copy of an export whose predictor cuts by `truncation` (its graphs are the same)."""
    shutil.copytree(export_dir, target)
    path = target / "kerasbert.json"
    metadata = json.loads(path.read_text(encoding="utf-8"))
    metadata["truncation"] = truncation
    path.write_text(json.dumps(metadata), encoding="utf-8")
    return target


def graph_for(export_dir: Path, path: Path | None = None) -> Path:
    """The strings-in graph of `export_dir`'s fp32 graph, as its `kerasbert.json` encodes."""
    info = ExportDir(export_dir).read_info()
    path = path or export_dir / "rewritten.e2e.onnx"
    write_e2e(
        export_dir / "model.onnx",
        export_dir / "tokenizer.json",
        path,
        max_length=info.max_length,
        truncation=info.truncation,
        pair=info.pair,
        pad_token_id=info.pad_token_id,
    )
    return path


@pytest.mark.parametrize("truncation", ["tail", "head_tail"])
def test_every_truncation_rule_is_the_predictors(
    e2e_export: Path, truncation: str, tmp_path: Path
) -> None:
    export_dir = with_truncation(e2e_export, truncation, tmp_path / truncation)
    texts = [*AWKWARD, " ".join(f"word{index}" for index in range(300))]
    figures = compare_with_predictor(export_dir, "fp32", texts, graph_for(export_dir))
    assert figures["mismatches"] == 0, figures["first_mismatch"]


def test_a_tf2onnx_graph_takes_the_tokenizer_too(tiny_tf2onnx, tmp_path: Path) -> None:
    graph = graph_for(tiny_tf2onnx.export_dir, tmp_path / "model.e2e.onnx")
    figures = compare_with_predictor(tiny_tf2onnx.export_dir, "fp32", AWKWARD, graph)
    assert figures["mismatches"] == 0, figures["first_mismatch"]


def pair_inputs() -> list[tuple[str, str]]:
    short, medium = "the team won", " ".join(["the club signed a new player"] * 3)
    return [
        ("", ""),
        ("", LONG),
        (LONG, ""),
        (short, LONG),
        (LONG, short),
        (medium, LONG),
        (LONG, LONG.upper()),
        (AWKWARD[0], AWKWARD[3]),
        (medium, medium),
    ]


@pytest.mark.parametrize("truncation", ["head", "tail", "head_tail"])
def test_a_pairs_graph_takes_two_strings_and_cuts_longest_first(
    e2e_pair_export: Path, truncation: str, tmp_path: Path
) -> None:
    info = ExportDir(e2e_pair_export).read_info()
    assert [tensor.name for tensor in info.e2e.inputs] == ["text", "text_pair"]
    export_dir = with_truncation(e2e_pair_export, truncation, tmp_path / truncation)
    inputs = pair_inputs()
    figures = compare_with_predictor(export_dir, "fp32", inputs, graph_for(export_dir))
    assert figures["mismatches"] == 0, figures["first_mismatch"]
    assert figures["max_abs_logit_difference"] <= E2E_TOLERANCE
    if truncation == "head":
        assert compare_with_predictor(e2e_pair_export, "int8", inputs)["mismatches"] == 0


def test_the_model_card_shows_how_to_load_it(e2e_export: Path, e2e_pair_export: Path, tiny) -> None:
    card = (e2e_export / "README.md").read_text(encoding="utf-8")
    for needed in (
        "model.e2e.onnx",
        "model.e2e.int8.onnx",
        "options.register_custom_ops_library(get_library_path())",
        "options.RegisterOrtExtensions();",
        "options.registerCustomOpLibrary(OrtxPackage.getLibraryPath());",
        f"`{CUSTOM_OP_DOMAIN}`",
        extensions_version(),
        "Hangul",
    ):
        assert needed in card, needed
    assert '"text_pair": np.array' in (e2e_pair_export / "README.md").read_text(encoding="utf-8")
    assert "model.e2e.onnx" not in (tiny.export_dir / "README.md").read_text(encoding="utf-8")


def test_refusals_name_the_setting_and_the_fix(tiny, tmp_path: Path, monkeypatch) -> None:
    tokenizer = tiny.export_dir / "tokenizer.json"
    with pytest.raises(InputError, match="long_documents 'windows'"):
        check_available(tokenizer, "windows")
    spec = json.loads(tokenizer.read_text(encoding="utf-8"))
    spec["model"] = {"type": "BPE", "vocab": {}, "merges": []}
    other = tmp_path / "tokenizer.json"
    other.write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(InputError, match="WordPiece tokenizer only.*'BPE'"):
        read_wordpiece(other)
    # The extra missing: the import fails, as it does where onnxruntime-extensions is absent.
    monkeypatch.setitem(sys.modules, "onnxruntime_extensions", None)
    with pytest.raises(InputError, match=r'pip install "kerasbert\[e2e\]"'):
        check_available(tokenizer, "truncate")


def test_the_default_job_exports_them_when_asked(tiny_checkpoint, tiny_csv, tmp_path: Path) -> None:
    from conftest import tiny_config

    from kerasbert.job import run

    # A windows run is refused before any training, not after it.
    refused = tmp_path / "windows-run"
    windows = dict(long_documents="windows", export=True, export_with_tokenizer=True)
    with pytest.raises(InputError, match="long_documents 'windows'"):
        run(tiny_config(tiny_checkpoint, tiny_csv, refused, **windows))
    assert not refused.exists()

    export_dir = tmp_path / "exported"
    result = run(
        tiny_config(
            tiny_checkpoint,
            tiny_csv,
            tmp_path / "run",
            epochs=1,
            export=True,
            export_dir=str(export_dir),
            export_with_tokenizer=True,
        )
    )
    assert result.export_dir == export_dir
    info = ExportDir(export_dir).read_info()
    assert info.e2e is not None
    assert all((export_dir / name).is_file() for name in info.e2e.files.values())
    checks = info.metadata["e2e"]["checks"]
    assert {variant: figures["mismatches"] for variant, figures in checks.items()} == {
        "fp32": 0,
        "int8": 0,
    }
