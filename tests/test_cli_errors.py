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
from conftest import RunAndExport, tiny_texts, write_csv

from kerasbert.cli import main
from kerasbert.data.splits import load_splits

ROOT = Path(__file__).resolve().parent.parent
# Settings that fail fast and never touch the real checkpoint; each case appends its own flags,
# and argparse lets a later flag win.
FAST_FLAGS = ["--epochs", "1", "--max-length", "32", "--no-export", "--no-plots"]

Setup = Callable[[Path, Path, pytest.MonkeyPatch], list[str]]


def _file(name: str, content: str | bytes, flag: str = "--data") -> Setup:
    """A case whose `flag` (--data unless named) is one file with `content`."""

    def setup(folder: Path, checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return [flag, str(path)]

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
        original = Path.open

        def open_denied(self: Path, *args, **kwargs):
            if self == path:
                raise PermissionError(13, "Permission denied", str(self))
            return original(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", open_denied)
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
    return _file(name, content, flag="--config")


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


def assert_one_error_line(stderr: str, command: str, message: str) -> None:
    """`stderr` is one line, `kerasbert COMMAND: error: ...` matching `message`: no traceback, no
    TensorFlow or other library output around it."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr}"
    assert lines[0].startswith(f"kerasbert {command}: error: "), lines[0]
    assert re.search(message, lines[0]), lines[0]


@pytest.mark.parametrize(
    "stderr",
    [
        "",
        "kerasbert train: error: run.yaml has unknown setting(s): epochs\n",
        "Traceback (most recent call last):\nkerasbert train: error: run.yaml has unknown "
        "setting(s): learning_rat\n",
        "2026-12-04 10:00:00.000000: I tensorflow/core/util/port.cc:153] oneDNN custom operations "
        "are on.\nkerasbert train: error: run.yaml has unknown setting(s): learning_rat\n",
        "run.yaml has unknown setting(s): learning_rat\n",
    ],
    ids=["nothing", "other message", "traceback", "tensorflow notice", "no program prefix"],
)
def test_one_error_line_check_refuses_wrong_output(stderr: str) -> None:
    with pytest.raises(AssertionError):
        assert_one_error_line(stderr, "train", r"unknown setting\(s\): learning_rat")
    assert_one_error_line(
        "kerasbert train: error: run.yaml has unknown setting(s): learning_rat\n",
        "train",
        r"unknown setting\(s\): learning_rat",
    )


def test_module_entry_point_and_debug_flag(tmp_path: Path) -> None:
    """`python -m kerasbert`: one line without --debug, the traceback with it."""
    config = tmp_path / "run.yaml"
    config.write_text("epochs: 2\nlearning_rat: 0.1\n", encoding="utf-8")
    command = [sys.executable, "-m", "kerasbert", "train", "--config", str(config)]
    plain = _run(command, ROOT)
    assert plain.returncode == 2
    assert_one_error_line(plain.stderr, "train", r"run.yaml has unknown setting\(s\): learning_rat")
    debug = _run([*command, "--debug"], ROOT)
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "InputError" in debug.stderr


@pytest.mark.slow  # starts TensorFlow in a subprocess
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


@pytest.mark.slow  # trains in a subprocess
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
def exports(tiny: RunAndExport, tiny_pair: RunAndExport) -> dict[str, Path]:
    """The session's single-text export, and its run and export of text pairs."""
    return {"single": tiny.export_dir, "pair": tiny_pair.export_dir, "pair_run": tiny_pair.run_dir}


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


# The command line's flags: one rule for every command (kerasbert.common.settings), parsed by
# argparse everywhere, the benchmark included.


def _settings(command: str, *flags: str) -> dict:
    """The settings `kerasbert COMMAND FLAGS` gives its settings class (flags not given left out)."""
    from kerasbert.benchmark.cli import settings_class, wants_load_test
    from kerasbert.cli.main import build_parser
    from kerasbert.common.settings import given_settings
    from kerasbert.config import TrainConfig
    from kerasbert.serving.config import ServeConfig

    load_test = command == "benchmark" and wants_load_test(flags)
    args = build_parser(load_test=load_test).parse_args([command, *flags])
    classes = {"train": TrainConfig, "lr-find": TrainConfig, "serve": ServeConfig}
    return given_settings(args, classes.get(command) or settings_class(load_test))


def test_benchmark_booleans_take_their_negation_and_the_old_flag() -> None:
    from kerasbert.benchmark import BenchmarkConfig

    given = _settings(
        "benchmark", "--quick", "--no-freeze-embeddings", "--skip-tf2onnx", "--data", "a.csv",
        "--data", "b.csv", "--max-length", "64",
    )  # fmt: skip
    assert given == {
        "quick": True, "freeze_embeddings": False, "skip_tf2onnx": True,
        "data": ("a.csv", "b.csv"), "max_length": 64,
    }  # fmt: skip
    config = BenchmarkConfig(**given)
    assert config.resolved().data == ("a.csv", "b.csv") and config.quick
    assert _settings("benchmark", "--no-quick", "--freeze-embeddings") == {
        "quick": False, "freeze_embeddings": True,
    }  # fmt: skip
    assert BenchmarkConfig(**_settings("benchmark")) == BenchmarkConfig()


def test_the_load_test_has_its_own_flags_under_serve() -> None:
    from kerasbert.benchmark.serving import LoadTestConfig

    given = _settings(
        "benchmark", "--serve", "exported/x", "--texts", "runs/x", "--first-line", "--threads",
        "none", "--output", "load.json",
    )  # fmt: skip
    config = LoadTestConfig(**given)
    assert (config.serve, config.texts, config.first_line) == ("exported/x", "runs/x", True)
    assert config.threads is None and config.output == "load.json"
    assert _settings("benchmark", "--serve=exported/x")["serve"] == "exported/x"


def test_serve_and_train_flags_follow_the_same_rule() -> None:
    assert _settings("serve", "exported/x", "--no-access-log", "--threads", "none", "--port", "0") == {
        "access_log": False, "threads": None, "port": 0,
    }  # fmt: skip
    assert _settings("train", "--no-fit-head", "--jit-compile", "--epochs", "none") == {
        "fit_head": False, "jit_compile": True, "epochs": None,
    }  # fmt: skip
    assert _settings("lr-find", "--freeze-embeddings") == {"freeze_embeddings": True}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["benchmark", "--batch-size", "0"], r"^kerasbert benchmark: error: --batch-size must be"),
        # The separator a benchmark with its own parser used to pass along still works.
        (["benchmark", "--", "--precision", "fp8"], r"^kerasbert benchmark: error: --precision"),
        (["benchmark", "--only", "lengths"], r"^kerasbert benchmark: error: .*--work-dir"),
        (["benchmark", "--serve", "", "--texts", ""], r"error: Give the export to serve"),
        (["serve", "nowhere", "--workers", "0"], r"^kerasbert serve: error: --workers must be"),
        (["evaluate", "nowhere"], r"^kerasbert evaluate: error: Run directory nowhere"),
    ],
)
def test_user_errors_of_every_command_exit_2_with_one_line(
    arguments: list[str], message: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    status = main(arguments)
    stderr = capsys.readouterr().err
    assert status == 2, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert re.search(message, stderr.strip()), stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["benchmark", "--quick", "--concurrency", "4"], "unrecognized arguments: --concurrency"),
        (["benchmark", "--serve", "x", "--quick"], "unrecognized arguments: --quick"),
        (["benchmark", "--quick=yes"], "ignored explicit argument 'yes'"),
        (["train", "--epochs", "two"], "argument --epochs: expected int, got 'two'"),
        (["serve", "x", "--max-wait-ms", "soon"], "expected float, got 'soon'"),
        (["predict", "x", "--variant", "int4"], "invalid choice: 'int4'"),
        (["export"], "the following arguments are required: run_dir"),
    ],
)
def test_flags_argparse_refuses_exit_2_with_usage(
    arguments: list[str], message: str, capsys
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(arguments)
    stderr = capsys.readouterr().err
    assert exit_.value.code == 2
    assert stderr.startswith("usage: kerasbert ") and message in stderr, stderr


def test_no_command_prints_the_commands_and_exits_2(capsys) -> None:
    assert main([]) == 2
    listed = capsys.readouterr().out
    for command in ("train", "evaluate", "export", "predict", "serve", "benchmark", "compare",
                    "sweep", "lr-find"):  # fmt: skip
        assert f"    {command}" in listed, command


def test_help_of_every_command_loads_no_tensorflow(tmp_path: Path) -> None:
    """`--help` is read before anything heavy loads: `predict` and `serve` never need
    TensorFlow, and the training commands load it only when they run."""
    probe = (
        "import contextlib, io, sys\n"
        "from kerasbert.cli import main\n"
        "for arguments in (['--help'], ['train', '--help'], ['evaluate', '--help'],\n"
        "                  ['export', '--help'], ['predict', '--help'], ['serve', '--help'],\n"
        "                  ['benchmark', '--help'], ['benchmark', '--serve', 'x', '--help'],\n"
        "                  ['compare', '--help'], ['sweep', '--help'], ['lr-find', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()) as shown:\n"
        "        try:\n"
        "            main(arguments)\n"
        "        except SystemExit as exit_:\n"
        "            assert exit_.code == 0, arguments\n"
        "    assert 'usage: kerasbert' in shown.getvalue(), arguments\n"
        "heavy = ('tensorflow', 'tf_keras', 'transformers', 'sklearn', 'onnx', 'fastapi')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    result = _run([sys.executable, "-c", probe], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
def test_debug_reaches_tensorflow_as_an_argument(tmp_path: Path) -> None:
    """`--debug` loads TensorFlow with its start-up notices before the command runs and shows
    the traceback; without it the same mistake is one line, and TensorFlow never loads (the
    run directory is checked first). No environment variable carries the flag."""
    probe = (
        "import os, sys\n"
        "from kerasbert.cli import main\n"
        "before = dict(os.environ)\n"
        "try:\n"
        "    code = main(sys.argv[1:])\n"
        "except FileNotFoundError:\n"
        "    code = 'raised'\n"
        "added = sorted(set(os.environ) - set(before))\n"
        "print(code, 'tensorflow' in sys.modules, 'KERASBERT_DEBUG' in added)\n"
    )
    plain = _run([sys.executable, "-c", probe, "evaluate", "nowhere"], tmp_path)
    assert plain.stdout.split() == ["2", "False", "False"], plain.stderr
    debug = _run([sys.executable, "-c", probe, "evaluate", "nowhere", "--debug"], tmp_path)
    assert debug.stdout.split() == ["raised", "True", "False"], debug.stderr
