"""Malformed input through the real command line: exit status 2, one line naming the problem, no
traceback, and no run directory left behind.

Most cases run `kerasbert.cli.main` in-process (fast: every one fails before training starts);
a few run `python -m kerasbert` and `scripts/train.py` as users do. Files that merely look unusual
(byte-order marks, UTF-16, Windows-1252, CRLF, quoted newlines, semicolons) must load correctly.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import tiny_texts, write_csv

from kerasbert.cli import main
from kerasbert.data.splits import load_splits

ROOT = Path(__file__).resolve().parent.parent
# Settings that fail fast and never touch the real checkpoint; each case appends its own flags,
# and argparse lets a later flag win.
FAST_FLAGS = ["--epochs", "1", "--max-length", "32", "--no-export", "--no-plots"]

Setup = Callable[[Path, Path, pytest.MonkeyPatch], list[str]]


def _file(name: str, content: str | bytes) -> Setup:
    """A case whose --data is one file with `content`."""

    def setup(folder: Path, checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return ["--data", str(path)]

    return setup


def _flags(*flags: str) -> Setup:
    """A case that only adds flags to a run on good data."""
    return lambda folder, checkpoint, monkeypatch: list(flags)


def _jsonl(name: str, rows: list[dict]) -> Setup:
    return _file(name, "\n".join(json.dumps(row) for row in rows) + "\n")


def _good_rows(count_per_class: int = 10) -> list[tuple[str, str]]:
    return tiny_texts(count_per_class, seed=3)


def _csv_text(rows: list[tuple[str, str]], header=("text", "label")) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _unreadable(folder: Path, checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    path = write_csv(folder / "secret.csv", _good_rows())
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the read fail as it would for a user
        original = Path.read_bytes

        def read_bytes(self: Path) -> bytes:
            if self == path:
                raise PermissionError(13, "Permission denied", str(self))
            return original(self)

        monkeypatch.setattr(Path, "read_bytes", read_bytes)
    return ["--data", str(path)]


def _directory(folder: Path, checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    (folder / "data.csv").mkdir()
    return ["--data", str(folder / "data.csv")]


def _parquet_with_missing_label(folder: Path, checkpoint, monkeypatch) -> list[str]:
    rows = _good_rows()
    frame = pd.DataFrame(rows, columns=["text", "label"])
    frame.loc[4, "label"] = None
    frame.to_parquet(folder / "data.parquet")
    return ["--data", str(folder / "data.parquet")]


def _small_class(folder: Path, checkpoint, monkeypatch) -> list[str]:
    rows = _good_rows() + [
        ("a lonely rare example .", "weather"),
        ("another rare one .", "weather"),
    ]
    return ["--data", str(write_csv(folder / "data.csv", rows))]


def _unseen_label(flag: str) -> Setup:
    def setup(folder: Path, checkpoint, monkeypatch) -> list[str]:
        rows = [("the market rose .", "business"), ("rain all day .", "weather")]
        other = write_csv(folder / "other.csv", rows)
        return [flag, str(other)]

    return setup


def _model_file(folder: Path, checkpoint: Path, monkeypatch) -> list[str]:
    return ["--model", str(checkpoint / "config.json")]


def _model_without_config(folder: Path, checkpoint: Path, monkeypatch) -> list[str]:
    (folder / "not-a-model").mkdir()
    (folder / "not-a-model" / "weights.bin").write_bytes(b"\x00" * 16)
    return ["--model", str(folder / "not-a-model")]


def _gpt2_model(folder: Path, checkpoint: Path, monkeypatch) -> list[str]:
    model = Path(
        shutil.copytree(checkpoint, folder / "gpt2", ignore=shutil.ignore_patterns("*.h5"))
    )
    (model / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_positions": 64}))
    return ["--model", str(model)]


def _bert_without_weights(folder: Path, checkpoint: Path, monkeypatch) -> list[str]:
    model = shutil.copytree(
        checkpoint, folder / "no-weights", ignore=shutil.ignore_patterns("*.h5")
    )
    return ["--model", str(model)]


def _output_under_file(folder: Path, checkpoint: Path, monkeypatch) -> list[str]:
    (folder / "some_file").write_text("not a directory")
    return ["--output-dir", str(folder / "some_file" / "run")]


def _config(name: str, content: str) -> Setup:
    def setup(folder: Path, checkpoint: Path, monkeypatch) -> list[str]:
        (folder / name).write_text(content, encoding="utf-8")
        return ["--config", str(folder / name)]

    return setup


def _finished_run(folder: Path, checkpoint: Path, monkeypatch) -> list[str]:
    (folder / "run").mkdir()
    (folder / "run" / "config.json").write_text("{}")
    (folder / "run" / "metrics.json").write_text("{}")
    return []


ROWS = _good_rows()
CASES: dict[str, tuple[Setup, str]] = {
    # Files.
    "missing file": (_flags("--data", "no/such.csv"), r"'no/such.csv' not found"),
    "unreadable file": (_unreadable, r"Cannot read .*secret.csv: permission denied"),
    "directory instead of file": (_directory, r"data.csv has no class sub-folders"),
    "unknown extension": (_file("data.xlsx", "x"), r"unknown extension '.xlsx'"),
    "excel workbook named .csv": (
        _file("book.csv", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" * 8),
        r"book.csv is not a text file .*Save it as CSV",
    ),
    "wrong delimiter guess": (
        _file("data.csv", "text,label\nshares rose, then fell,business\n"),
        r"data row 1 has 3 fields but the header has 2; quote fields that contain ','",
    ),
    "empty file": (_file("data.csv", ""), r"data.csv is empty"),
    "header-only file": (_file("data.csv", "text,label\r\n"), r"header but no data rows"),
    "invalid JSON line": (
        _file("data.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", label}\n'),
        r"data.jsonl line 2 is not valid JSON",
    ),
    # Columns.
    "missing columns": (
        _file("data.csv", _csv_text(ROWS, header=("words", "topic"))),
        r"Could not find a text column .*Columns found: \['words', 'topic'\]",
    ),
    "missing named label column": (
        _flags("--label-column", "stars"),
        r"no column 'stars' \(from --label-column\)\. Columns found: \['text', 'label'\]",
    ),
    "duplicate column names": (
        _file("data.csv", "text,label,label\nhello,a,b\n"),
        r"duplicate column name\(s\) \['label'\]",
    ),
    # Values.
    "empty labels": (
        _file(
            "data.csv",
            _csv_text(
                [(text, "" if i in (1, 4) else label) for i, (text, label) in enumerate(ROWS)]
            ),
        ),
        r"2 row\(s\) have an empty label in column 'label' \(data rows 2, 5\)",
    ),
    "NaN label in parquet": (_parquet_with_missing_label, r"empty label .*\(data rows 5\)"),
    "empty texts": (
        _file(
            "data.csv",
            _csv_text([("  " if i == 2 else text, label) for i, (text, label) in enumerate(ROWS)]),
        ),
        r"1 row\(s\) have an empty text in column 'text' \(data rows 3\)",
    ),
    "null text in JSONL": (
        _jsonl("data.jsonl", [{"text": "ok", "label": "a"}, {"text": None, "label": "b"}]),
        r"empty text .*\(data rows 2\)",
    ),
    "non-string texts": (
        _jsonl(
            "data.jsonl",
            [
                {"text": "ok", "label": "a"},
                {"text": 42, "label": "b"},
                {"text": ["x"], "label": "a"},
            ],
        ),
        r"2 row\(s\) have a non-text text .*\(data rows 2, 3\)",
    ),
    "numeric labels mixed with strings": (
        _file("data.csv", "text,label\nx,1\ny,2\nz,sport\n"),
        r"mixes numeric labels \['1', '2'\] with text labels \['sport'\]",
    ),
    # Classes and splits.
    "single class": (
        _file("data.csv", _csv_text([(text, "sport") for text, _ in ROWS])),
        r"only one class \('sport'\)",
    ),
    "class too small to split": (_small_class, r"\{'weather': 2\} have too few examples"),
    "unseen label in validation": (
        _unseen_label("--validation-data"),
        r"other.csv has label\(s\) \['weather'\] that the training data never uses",
    ),
    "unseen label in test": (_unseen_label("--test-data"), r"label\(s\) \['weather'\]"),
    "missing validation file": (_flags("--validation-data", "nope.csv"), r"'nope.csv' not found"),
    # Settings.
    "zero epochs": (_flags("--epochs", "0"), r"--epochs must be a positive integer, got 0"),
    "negative epochs": (_flags("--epochs", "-2"), r"--epochs must be a positive integer, got -2"),
    "non-numeric epochs": (_flags("--epochs", "three"), r"--epochs: expected int, got 'three'"),
    "zero batch size": (_flags("--batch-size", "0"), r"--batch-size must be a positive integer"),
    "negative batch size": (_flags("--batch-size", "-8"), r"--batch-size must be .* got -8"),
    "zero learning rate": (_flags("--learning-rate", "0"), r"--learning-rate must be > 0, got 0"),
    "negative learning rate": (
        _flags("--learning-rate", "-0.0001"),
        r"--learning-rate must be > 0",
    ),
    "fractions leave no training data": (
        _flags("--validation-fraction", "0.5", "--test-fraction", "0.5"),
        r"leave under 10% for training",
    ),
    "max length beyond positions": (
        _flags("--max-length", "100"),
        r"--max-length 100 exceeds the 64 positions .*use --max-length 64 or less",
    ),
    # Model.
    "model is a file": (_model_file, r"config.json is a file; give the checkpoint's directory"),
    "model path does not exist": (_flags("--model", "./no-model"), r"--model ./no-model: no such"),
    "model directory without config": (_model_without_config, r"has no config.json"),
    "model is not BERT": (_gpt2_model, r"is a 'gpt2' model; kerasbert fine-tunes BERT"),
    "BERT config without weights": (_bert_without_weights, r"Could not load weights from --model"),
    # Outputs.
    "output directory under a file": (_output_under_file, r"some_file is a file"),
    "finished run directory exists": (_finished_run, r"already exists.*--overwrite"),
    # Config files.
    "config with unknown keys": (
        _config("run.json", '{"epoch": 3, "lerning_rate": 1e-4, "batch_size": 8}'),
        r"run.json has unknown setting\(s\): epoch, lerning_rate\. Known settings:",
    ),
    "config with unknown YAML keys": (
        _config("run.yaml", "epochs: 2\ndropout: 0.3\n"),
        r"run.yaml has unknown setting\(s\): dropout\.",
    ),
    "config is invalid JSON": (_config("run.json", '{"epochs": 3,}'), r"Could not parse config"),
    "config is not a mapping": (_config("run.yaml", "- 1\n- 2\n"), r"must hold a mapping"),
    "config with wrong value type": (
        _config("run.json", '{"batch_size": "8"}'),
        r"--batch-size must be a positive integer, got '8'",
    ),
    "config file missing": (_flags("--config", "none.yaml"), r"none.yaml does not exist"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_malformed_input_exits_2_with_one_clear_line(
    name: str,
    tmp_path: Path,
    tiny_checkpoint: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup, message = CASES[name]
    monkeypatch.chdir(tmp_path)
    data = write_csv(tmp_path / "good.csv", ROWS)
    run_dir = tmp_path / "run"
    base = ["train", "--data", str(data), "--model", str(tiny_checkpoint), "--output-dir",
            str(run_dir), *FAST_FLAGS]  # fmt: skip
    arguments = base + setup(tmp_path, tiny_checkpoint, monkeypatch)
    before = {path.name for path in tmp_path.iterdir()}

    try:
        status = main(arguments)
    except SystemExit as exit_:  # argparse rejects a flag's type itself
        status = exit_.code
    stderr = capsys.readouterr().err

    assert status == 2, stderr
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, stderr
    assert errors[0].startswith("kerasbert train: error: ")
    assert re.search(message, errors[0]), errors[0]
    assert "Traceback" not in stderr
    if name != "finished run directory exists":
        assert not run_dir.exists(), "a failed start must leave no run directory"
    assert {path.name for path in tmp_path.iterdir()} == before, "nothing new may be written"


def _spreadsheet_rows() -> list[tuple[str, str]]:
    """Texts with accents, currency, quotes, commas, semicolons and line breaks inside fields."""
    special = [
        ("Café prices rise; £5 for a naïve latte", "business"),
        ('He said "win", then left\r\nthe team', "sport"),
        ("Multi-line\nchip news, with commas", "tech"),
    ]
    return special + _good_rows(6)


def _encoded(encoding: str, delimiter: str = ",", newline: str = "\r\n") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerow(("text", "label"))
    writer.writerows(_spreadsheet_rows())
    return buffer.getvalue().encode(encoding)


READABLE = {
    "UTF-8 with BOM": ("data.csv", _encoded("utf-8-sig")),
    "UTF-16 with BOM": ("data.csv", _encoded("utf-16")),
    "UTF-16-LE without BOM (tab-separated)": ("data.tsv", _encoded("utf-16-le", "\t")),
    "UTF-16-BE without BOM": ("data.csv", _encoded("utf-16-be")),
    "Windows-1252 bytes": ("data.csv", _encoded("cp1252")),
    "CRLF line ends": ("data.csv", _encoded("utf-8", newline="\r\n")),
    "LF line ends": ("data.csv", _encoded("utf-8", newline="\n")),
    "semicolons in a .csv": ("data.csv", _encoded("utf-8-sig", ";")),
}


@pytest.mark.parametrize("name", list(READABLE))
def test_unusual_but_valid_files_load_exactly(name: str, tmp_path: Path) -> None:
    file_name, content = READABLE[name]
    (tmp_path / file_name).write_bytes(content)
    splits = load_splits(str(tmp_path / file_name), seed=0)
    loaded = sorted(
        pair
        for split in (splits.train, splits.validation, splits.test)
        for pair in zip(split.texts, split.labels)
    )
    expected = sorted((text.replace("\r\n", "\n"), label) for text, label in _spreadsheet_rows())
    assert loaded == expected
    assert splits.labels == ["business", "sport", "tech"]


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd)


def test_module_entry_point_and_debug_flag(tmp_path: Path) -> None:
    """`python -m kerasbert`: one line without --debug, the traceback with it."""
    config = tmp_path / "run.yaml"
    config.write_text("epochs: 2\nlearning_rat: 0.1\n", encoding="utf-8")
    command = [sys.executable, "-m", "kerasbert", "train", "--config", str(config)]
    plain = _run(command, ROOT)
    assert plain.returncode == 2
    assert plain.stderr.strip().splitlines() == [
        line
        for line in plain.stderr.strip().splitlines()
        if "unknown setting(s): learning_rat" in line
    ]
    debug = _run([*command, "--debug"], ROOT)
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "InputError" in debug.stderr


def test_train_script_refuses_bad_settings_before_training(tmp_path: Path, tiny_checkpoint) -> None:
    run_dir = tmp_path / "run"
    data = write_csv(tmp_path / "data.csv", _good_rows())
    result = _run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), "--data", str(data), "--model",
         str(tiny_checkpoint), "--output-dir", str(run_dir), "--max-length", "512"],
        tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "exceeds the 64 positions" in result.stderr and "Traceback" not in result.stderr
    assert not run_dir.exists() and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", ["train", "lr-find", "sweep"])
def test_bad_data_fails_before_tensorflow_is_imported(tmp_path: Path, command: str) -> None:
    """A wrong column is reported without waiting for TensorFlow's import (seconds to a minute)."""
    data = write_csv(tmp_path / "data.csv", _good_rows())
    arguments = [command, "--data", str(data), "--text-column", "body"]
    if command == "sweep":
        sweep_file = tmp_path / "sweep.yaml"
        sweep_file.write_text(
            f"base: {{data: {str(data)!r}, text_column: body}}\n"
            "space: {learning_rate: {low: 1.0e-5, high: 1.0e-4, log: true}}\n",
            encoding="utf-8",
        )
        arguments = [command, "--config", str(sweep_file), "--output", str(tmp_path / "sweep")]
    probe = (
        "import sys\n"
        "from kerasbert.cli import main\n"
        f"code = main({arguments!r})\n"
        "print('exit', code, 'tensorflow' in sys.modules)\n"
    )
    result = _run([sys.executable, "-c", probe], tmp_path)
    assert result.stdout.strip().splitlines()[-1] == "exit 2 False", result.stderr
    assert "body" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_spreadsheet_export_trains_end_to_end(tmp_path: Path, tiny_checkpoint: Path) -> None:
    """A UTF-16, tab-separated, CRLF file with quoted line breaks: `python -m kerasbert` trains."""
    data = tmp_path / "export.tsv"
    data.write_bytes(_encoded("utf-16", "\t"))
    run_dir = tmp_path / "run"
    result = _run(
        [sys.executable, "-m", "kerasbert", "train", "--data", str(data), "--model",
         str(tiny_checkpoint), "--output-dir", str(run_dir), "--batch-size", "8",
         "--validation-fraction", "0.2", "--test-fraction", "0.2", *FAST_FLAGS],
        ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    written = [
        json.loads(line)
        for name in ("train", "validation", "test")
        for line in (run_dir / "data" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert sorted((row["text"], row["label"]) for row in written) == sorted(
        (text.replace("\r\n", "\n"), label) for text, label in _spreadsheet_rows()
    )
    assert "Test accuracy" in result.stdout


@pytest.fixture(scope="module")
def exports(learnable_checkpoint, tmp_path_factory) -> dict[str, Path]:
    """A single-text export, and a run and export of text pairs (shared with other modules)."""
    from tiny_export_fixtures import tiny_run_and_export
    from tiny_pair_fixtures import tiny_pair_run_and_export

    base = tmp_path_factory.getbasetemp()
    pair_run, pair_export = tiny_pair_run_and_export(base / "tiny-pairs", learnable_checkpoint)
    single = tiny_run_and_export(base / "tiny-export")[1]
    return {"single": single, "pair": pair_export, "pair_run": pair_run}


PAIR_CASES = {
    "pair column for a single-text model": (
        ["predict", "{single}", "--input", "{pairs}", "--output", "{out}", "--text-pair-column",
         "q2"],
        r"classifies single texts; --text-pair-column is for models trained on text pairs",
    ),
    "missing pair column": (
        ["predict", "{pair}", "--input", "{pairs}", "--output", "{out}", "--text-column", "q1",
         "--text-pair-column", "question2"],
        r"pairs.csv has no column 'question2' \(from --text-pair-column\)\. Columns found: \['q1'",
    ),
    "empty second text": (
        ["predict", "{pair}", "--input", "{empty}", "--output", "{out}"],
        r"1 row\(s\) have no second text in column 'sentence2' \(data rows 2\)",
    ),
    "single texts for a pair model": (
        ["predict", "{pair}", "the bank", "the game"],
        r"classifies text pairs; put them in a .csv or .jsonl file",
    ),
    "single-text file for a pair run": (
        ["evaluate", "{pair_run}", "--data", "{singles}", "--no-plots"],
        r"singles.csv holds single texts, but run pair-run classifies text pairs",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(PAIR_CASES))
def test_pair_input_errors_exit_2_with_one_clear_line(
    name: str, exports: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments, message = PAIR_CASES[name]
    files = {
        "pairs": _file_text(tmp_path / "pairs.csv", "q1,q2,n\nthe bank,the game,1\n"),
        "empty": _file_text(tmp_path / "empty.csv", "sentence1,sentence2\na,b\nthe bank,\n"),
        "singles": write_csv(tmp_path / "singles.csv", _good_rows(2)),
        "out": tmp_path / "preds.csv",
    }
    places = {**{key: str(path) for key, path in exports.items()}, **files}
    status = main([argument.format(**places) for argument in arguments])
    stderr = capsys.readouterr().err
    assert status == 2, stderr
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert re.search(message, errors[0]), errors[0]
    assert not (tmp_path / "preds.csv").exists()


def _file_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
