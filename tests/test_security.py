"""Security: no pickle in saved artifacts, no remote or stray code ever runs, and kerasbert writes
and deletes only inside its own run and export directories.

One full `kerasbert train` (tiny checkpoint, with plots and the ONNX export) runs on data whose
labels look like paths, from a checkpoint folder that carries custom code which must never run.
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import pickletools
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import tiny_texts, write_csv

from kerasbert.cli import main
from kerasbert.inference.predictor import OnnxClassifier

PACKAGE = Path(__file__).resolve().parent.parent / "kerasbert"
HOSTILE_LABELS = {"business": "../../escaped", "sport": "a/b\\c", "tech": "tech"}
# What a run and an export may hold: JSON, text, HDF5 weights, ONNX, PNG plots, Markdown,
# TensorBoard event files and static HTML pages (the report's explanations: no script).
ALLOWED_SUFFIXES = {".json", ".jsonl", ".txt", ".h5", ".onnx", ".png", ".md", ".v2", ".html"}
EVIL_CODE = """
from pathlib import Path
Path({marker!r}).write_text("custom code ran")
from transformers import BertConfig as EvilConfig, BertTokenizerFast as EvilTokenizer
"""


class _Payload:
    """Unpickling this writes the marker file: proof that something loaded a pickle."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pickle was loaded"))


def _plant_code(directory: Path, marker: Path) -> None:
    """Custom code, `auto_map` entries that point to it, and a pickle, in a model directory."""
    (directory / "evil.py").write_text(EVIL_CODE.format(marker=str(marker)))
    for name, auto_map in (
        ("config.json", {"AutoConfig": "evil.EvilConfig"}),
        ("tokenizer_config.json", {"AutoTokenizer": ["evil.EvilTokenizer", None]}),
    ):
        path = directory / name
        values = json.loads(path.read_text()) if path.is_file() else {}
        path.write_text(json.dumps({**values, "auto_map": auto_map}))
    for name in ("model.pkl", "training_args.bin", "pytorch_model.bin"):
        (directory / name).write_bytes(pickle.dumps(_Payload(marker)))


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, tiny_checkpoint: Path) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("security")
    marker = folder / "MARKER"
    checkpoint = Path(shutil.copytree(tiny_checkpoint, folder / "checkpoint"))
    # A TF checkpoint is present, so the planted PyTorch pickles must not even be looked at.
    _plant_code(checkpoint, marker)
    rows = [(text, HOSTILE_LABELS[label]) for text, label in tiny_texts(30, seed=9)]
    data = write_csv(folder / "data.csv", rows)
    work = folder / "work"
    work.mkdir()
    before = set(folder.rglob("*"))
    previous = Path.cwd()
    os.chdir(work)
    try:
        status = main(
            ["train", "--data", str(data), "--model", str(checkpoint), "--output-dir", "run",
             "--export-dir", "export", "--epochs", "2", "--batch-size", "8", "--max-length", "40",
             "--learning-rate", "1e-2", "--padding", "fixed"]
        )  # fmt: skip
    finally:
        os.chdir(previous)
    assert status == 0
    return {
        "folder": folder,
        "run": work / "run",
        "export": work / "export",
        "marker": marker,
        "new": set(folder.rglob("*")) - before,
    }


def _pickle_opcodes(data: bytes) -> bool:
    """True when `data` parses as a pickle from its first byte to a STOP opcode."""
    if len(data) < 2 or data[0] != 0x80 or not 2 <= data[1] <= 5:
        return False
    try:
        return any(opcode.name == "STOP" for opcode, _, _ in pickletools.genops(data))
    except Exception:  # not a pickle after all: pickletools raises assorted errors
        return False


def _h5_values(path: Path):
    with h5py.File(path, "r") as handle:
        values = list(handle.attrs.values())

        def visit(name, item):
            values.extend(item.attrs.values())
            if isinstance(item, h5py.Dataset) and item.dtype.kind in "OSV":
                values.extend(np.asarray(item[()]).ravel().tolist())

        handle.visititems(visit)
    return values


def _artifacts(full_run) -> list[Path]:
    return [
        path for key in ("run", "export") for path in full_run[key].rglob("*") if path.is_file()
    ]


def test_artifacts_are_json_weights_onnx_and_images_only(full_run) -> None:
    files = _artifacts(full_run)
    assert any(path.suffix == ".onnx" for path in files) and any(
        path.suffix == ".h5" for path in files
    )
    unexpected = [path for path in files if path.suffix not in ALLOWED_SUFFIXES]
    assert not unexpected
    for path in files:
        if path.suffix == ".v2":
            assert path.name.startswith("events.out.tfevents."), path
        if path.suffix == ".html":
            page = path.read_text(encoding="utf-8").lower()
            assert "<script" not in page and "http" not in page, path


def test_no_pickle_anywhere_in_saved_artifacts(full_run) -> None:
    for path in _artifacts(full_run):
        content = path.read_bytes()
        assert not _pickle_opcodes(content), path
        assert not zipfile.is_zipfile(path), (
            f"{path} is a zip archive (torch/npz pickles live there)"
        )
        if path.suffix == ".h5":
            for value in _h5_values(path):
                raw = value.tobytes() if isinstance(value, np.ndarray) else value
                if isinstance(raw, bytes):
                    assert not _pickle_opcodes(raw), f"pickled attribute in {path}"
    # The export's metadata is plain JSON with the labels exactly as given.
    metadata = json.loads((full_run["export"] / "kerasbert.json").read_text())
    assert metadata["labels"] == sorted(HOSTILE_LABELS.values())


def test_writes_stay_inside_the_run_and_export_directories(full_run) -> None:
    allowed = (full_run["run"], full_run["export"])
    outside = [
        path
        for path in full_run["new"]
        if path not in allowed and not any(parent in allowed for parent in path.parents)
    ]
    assert outside == []
    assert not list(full_run["folder"].rglob("escaped*"))
    # Labels never become file names: no file carries a label's text.
    names = " ".join(str(path) for path in _artifacts(full_run))
    assert "escaped" not in names and "a/b" not in names
    assert json.loads((full_run["run"] / "labels.json").read_text()) == sorted(
        HOSTILE_LABELS.values()
    )


def test_custom_code_and_pickles_in_the_checkpoint_never_run(full_run) -> None:
    assert not full_run["marker"].exists(), full_run["marker"].read_text()
    # Nor is the pointer to that code passed on to whoever loads the fine-tuned model.
    for path in (full_run["run"] / "model").glob("*.json"):
        assert "auto_map" not in json.loads(path.read_text()), path


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_the_pickle_scan_finds_pickles(protocol: int, tmp_path: Path) -> None:
    assert _pickle_opcodes(pickle.dumps({"weights": [1.0, 2.0]}, protocol=protocol))
    assert not _pickle_opcodes(json.dumps({"weights": [1.0]}).encode())


def test_predictor_loads_only_its_own_files(full_run, tmp_path: Path) -> None:
    export = Path(shutil.copytree(full_run["export"], tmp_path / "export"))
    marker = tmp_path / "MARKER"
    _plant_code(export, marker)
    texts = ["the market and the bank", "the team win the match", "new phone software"]
    expected = OnnxClassifier(full_run["export"], variant="fp32").predict_proba(texts)
    for variant in ("fp32", "int8"):
        OnnxClassifier(export, variant=variant).predict(texts)
    np.testing.assert_array_equal(
        OnnxClassifier(export, variant="fp32").predict_proba(texts), expected
    )
    assert not marker.exists()


def _calls(tree: ast.AST):
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda path: path.relative_to(PACKAGE).as_posix()
)
def test_package_never_trusts_remote_code_or_unpickles(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for call in _calls(tree):
        for keyword in call.keywords:
            if keyword.arg == "trust_remote_code":
                assert isinstance(keyword.value, ast.Constant) and keyword.value.value is False, (
                    f"{path.name}:{call.lineno} passes trust_remote_code other than False"
                )
            if keyword.arg == "allow_pickle":
                assert isinstance(keyword.value, ast.Constant) and keyword.value.value is False, (
                    f"{path.name}:{call.lineno} allows pickles"
                )
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    assert not imported & {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "torch"}


def _train_into(
    arguments: list[str], tiny_checkpoint: Path, tiny_csv: Path, capsys
) -> tuple[int, str]:
    status = main(
        ["train", "--data", str(tiny_csv), "--model", str(tiny_checkpoint), "--epochs", "1",
         "--max-length", "32", "--no-plots", *arguments]
    )  # fmt: skip
    return status, capsys.readouterr().err


def test_overwrite_never_deletes_a_directory_kerasbert_did_not_write(
    tmp_path: Path, tiny_checkpoint: Path, tiny_csv: Path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    # Even a config.json (many projects have one) does not make the working directory a run.
    (tmp_path / "config.json").write_text("{}")

    cases = {
        "folder of other files": ["--output-dir", str(precious), "--no-export"],
        "the working directory": ["--output-dir", ".", "--no-export"],
        "an ancestor of it": ["--output-dir", "..", "--no-export"],
        "export over other files": ["--output-dir", "run", "--export-dir", str(precious)],
    }
    for name, arguments in cases.items():
        status, error = _train_into([*arguments, "--overwrite"], tiny_checkpoint, tiny_csv, capsys)
        assert status == 2, name
        assert "--overwrite would delete" in error and "not a kerasbert" in error, name
    assert (precious / "chapter1.tex").read_text() == "years of work"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config.json", "thesis"]


def test_existing_export_is_refused_before_training(
    tmp_path: Path, tiny_checkpoint: Path, tiny_csv: Path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "kerasbert.json").write_text("{}")
    status, error = _train_into(
        ["--output-dir", "run", "--export-dir", "export"], tiny_checkpoint, tiny_csv, capsys
    )
    assert status == 2
    assert "Export directory export already exists" in error
    assert not (tmp_path / "run").exists()
