"""Tests for `kerasbert.training.rundir`: the run directory's split files in all three forms, its
settings and record read back typed (older runs included), and the checks before a run starts."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest

from kerasbert.common.decision import DEFAULT_THRESHOLD
from kerasbert.common.errors import InputError
from kerasbert.common.names import Task
from kerasbert.config import TrainConfig
from kerasbert.data.splits import Examples
from kerasbert.training.rundir import RunDir, default_export_dir, job_export_dir


def _lines(run: RunDir, split: str) -> list[dict]:
    return [json.loads(line) for line in run.split_path(split).read_text("utf-8").splitlines()]


def test_single_texts_keep_the_text_label_form(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    examples = Examples(["café au lait", "two\nlines"], ["a", "b"])
    run.write_split("train", examples)
    assert _lines(run, "train") == [
        {"text": "café au lait", "label": "a"},
        {"text": "two\nlines", "label": "b"},
    ]
    assert "café" in run.split_path("train").read_text("utf-8")  # not \u-escaped
    assert run.read_split("train") == examples


def test_text_pairs_round_trip(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    examples = Examples(["q1", "q2"], ["yes", "no"], ["s1", "s2"])
    run.write_split("validation", examples)
    assert _lines(run, "validation")[0] == {"text": "q1", "text_pair": "s1", "label": "yes"}
    loaded = run.read_split("validation")
    assert loaded == examples and loaded.text_pairs == ["s1", "s2"]


def test_multi_label_round_trips_with_a_labels_list(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    examples = Examples(["x", "y", "z"], [("sport", "tech"), (), ("tech",)], ["p", "q", "r"])
    run.write_split("test", examples)
    assert _lines(run, "test")[:2] == [
        {"text": "x", "text_pair": "p", "labels": ["sport", "tech"]},
        {"text": "y", "text_pair": "q", "labels": []},
    ]
    loaded = run.read_split("test")
    assert loaded.labels == [("sport", "tech"), (), ("tech",)] and loaded.multi_label
    assert loaded.label_ids(["sport", "tech"]).tolist() == [[1, 1], [0, 0], [0, 1]]


def test_damaged_split_files_are_named(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    run.split_path("test").parent.mkdir(parents=True)
    run.split_path("test").write_text('{"text": "a", "label": "x"}\n{"text": "b"}\n')
    with pytest.raises(InputError, match=r"test.jsonl line 2 is not a kerasbert example"):
        run.read_split("test")
    run.split_path("test").write_text(
        '{"text": "a", "text_pair": "p", "label": "x"}\n{"text": "b", "label": "y"}\n'
    )
    with pytest.raises(InputError, match='some lines have a "text_pair" and others not'):
        run.read_split("test")
    with pytest.raises(FileNotFoundError, match="train.jsonl does not exist"):
        run.read_split("train")


def _older_config(run: RunDir, **values) -> None:
    """config.json as a version before `truncation`, `long_documents` and `seed` wrote it."""
    run.path.mkdir(parents=True, exist_ok=True)
    stored = TrainConfig(**values).to_dict()
    for newer in ("truncation", "long_documents", "window_overlap", "seed"):
        del stored[newer]
    run.config.write_text(json.dumps(stored), encoding="utf-8")


def test_settings_missing_from_an_older_run_take_the_defaults(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    _older_config(run, data="news.csv", max_length=64, learning_rate=3e-5)
    settings = run.read_config()
    assert settings == TrainConfig(data="news.csv", max_length=64, learning_rate=3e-5)
    defaults = TrainConfig()
    assert (settings.truncation, settings.long_documents, settings.seed) == (
        defaults.truncation,
        defaults.long_documents,
        defaults.seed,
    )
    assert RunDir(tmp_path / "no-config").read_config() == defaults


def test_the_run_record_is_typed_and_frozen(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    run.write_config(TrainConfig(max_length=40, label_separator="|"))
    run.write_labels(["sport", "tech"])
    run.write_data_summary(
        {
            "task": "multi_label",
            "pair": False,
            "split_sizes": {"train": 8, "validation": 2, "test": 3},
            "imbalance": {"resolved": "balanced"},
            "windows": {"train_windows": 11},
        }
    )
    record = run.read_record()
    assert record.multi_label and not record.pair and record.labels == ("sport", "tech")
    assert (record.label_separator, record.class_weight) == ("|", "balanced")
    assert (record.train_examples, record.duplicates_dropped) == (11, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.settings.max_length = 512
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.task = Task.SINGLE_LABEL


def test_an_older_summary_is_completed_from_the_test_split(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    run.write_labels(["a", "b"])
    run.write_split("test", Examples(["x", "y"], [("a",), ("a", "b")], ["p", "q"]))
    run.write_data_summary({"split_sizes": {"test": 2}})  # no task, pair, columns nor imbalance
    record = run.read_record()
    assert (record.task, record.pair, record.class_weight) == (Task.MULTI_LABEL, True, None)
    assert record.train_examples is None
    thresholds = run.read_label_thresholds(record.labels)
    assert not thresholds.tuned
    assert thresholds.values.tolist() == [DEFAULT_THRESHOLD, DEFAULT_THRESHOLD]


def test_unknown_stored_settings_are_logged_and_bad_values_named(tmp_path, caplog) -> None:
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    stored = {**TrainConfig(seed=3).to_dict(), "retired_setting": 1}
    run.config.write_text(json.dumps(stored), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="kerasbert.training.rundir"):
        assert run.read_config() == TrainConfig(seed=3)
    assert "retired_setting" in caplog.text and str(run.config) in caplog.text
    run.config.write_text(json.dumps({**stored, "truncation": "middle"}), encoding="utf-8")
    with pytest.raises(InputError, match=r"config.json holds a setting .*--truncation"):
        run.read_config()
    run.config.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InputError, match="must hold an object of settings"):
        run.read_config()


def test_the_recipe_record_lives_in_config_json_beside_the_settings(tmp_path, caplog) -> None:
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    assert run.read_recipe() is None  # nothing written yet
    run.write_config(TrainConfig(seed=3))
    run.write_recipe({"epochs": 4, "metric": "val_macro_f1"})
    run.write_recipe({"epochs": 4, "metric": "val_macro_f1", "kept_epoch": 2})  # replaced
    assert run.read_recipe() == {"epochs": 4, "metric": "val_macro_f1", "kept_epoch": 2}
    # A record, not a setting: read without a warning, and the file repeats the run as --config.
    with caplog.at_level(logging.WARNING, logger="kerasbert.training.rundir"):
        assert run.read_config() == TrainConfig(seed=3) == TrainConfig.from_file(run.config)
    assert caplog.text == ""
    # A run written before the record moved keeps it in data_summary.json.
    older = RunDir(tmp_path / "older")
    older.path.mkdir()
    older.write_config(TrainConfig(seed=3))
    older.write_data_summary({"recipe": {"epochs": 2, "metric": "val_macro_f1"}})
    assert older.read_recipe() == {"epochs": 2, "metric": "val_macro_f1"}


def test_default_export_dir_of_local_and_remote_runs(tmp_path) -> None:
    local = RunDir(tmp_path / "runs" / "news-1")
    assert default_export_dir(local, TrainConfig(output_dir=str(local.path))) == Path(
        "exported/news-1"
    )
    remote = TrainConfig(output_dir="gs://bucket/runs/news-2/")
    mirror = RunDir.for_settings(remote)
    assert mirror.name != "news-2"  # the local mirror carries a digest of the URL
    assert default_export_dir(mirror, remote) == Path("exported/news-2")
    # Read from the run's own config.json when no settings are given (`kerasbert export`).
    stored = RunDir(tmp_path / "mirror")
    stored.path.mkdir()
    stored.write_config(remote)
    assert default_export_dir(stored) == Path("exported/news-2")
    assert job_export_dir(stored, TrainConfig(export_dir="out/x")) == Path("out/x")


def test_prepare_creates_resumes_and_replaces(tmp_path, caplog) -> None:
    run = RunDir(tmp_path / "run")
    settings = TrainConfig(output_dir=str(run.path), export=False, seed=5)
    run.prepare(settings)
    assert run.read_config() == settings

    # A finished run (settings, no backup) is refused without --overwrite.
    with pytest.raises(InputError, match="already exists.*--overwrite"):
        run.check_usable(settings)

    # An unfinished one resumes with the same settings (its config.json untouched)...
    run.backup.mkdir()
    (run.backup / "marker").write_text("epoch 1")
    written = run.config.read_bytes()
    with caplog.at_level(logging.WARNING, logger="kerasbert.training.rundir"):
        run.prepare(dataclasses.replace(settings, plots=False))  # outputs may differ
    assert "Resuming the unfinished run" in caplog.text
    assert run.config.read_bytes() == written and (run.backup / "marker").is_file()
    # ...but never with other training settings, nor with one this version does not know.
    with pytest.raises(InputError, match=r"different settings \(\['learning_rate', 'seed'\]\)"):
        run.check_usable(dataclasses.replace(settings, seed=6, learning_rate=1e-4))
    run.config.write_text(json.dumps({**settings.to_dict(), "retired": True}), encoding="utf-8")
    with pytest.raises(InputError, match=r"different settings \(\['retired'\]\)"):
        run.check_usable(settings)

    # --overwrite starts again.
    replaced = dataclasses.replace(settings, seed=6, overwrite=True)
    run.prepare(replaced)
    assert run.read_config() == replaced and not run.backup.exists()


def test_overwrite_and_export_clashes_are_refused_before_anything_is_touched(tmp_path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cat.jpg").write_text("meow")
    with pytest.raises(InputError, match="not a kerasbert run directory"):
        RunDir(folder).check_usable(TrainConfig(export=False, overwrite=True))
    assert (folder / "cat.jpg").is_file()

    # An export folder holds a Hugging Face config.json, the run marker's name: still never a run.
    export = tmp_path / "exported" / "news"
    export.mkdir(parents=True)
    for name in ("config.json", "kerasbert.json", "model.onnx"):
        (export / name).write_text("{}")
    with pytest.raises(InputError, match="is an export directory .*kerasbert.json"):
        RunDir(export).check_usable(TrainConfig(export=False, overwrite=True))
    assert sorted(path.name for path in export.iterdir()) == [
        "config.json",
        "kerasbert.json",
        "model.onnx",
    ]

    run = RunDir(tmp_path / "run")
    export_dir = tmp_path / "exported-already"
    export_dir.mkdir()
    settings = TrainConfig(output_dir=str(run.path), export_dir=str(export_dir))
    with pytest.raises(InputError, match="Export directory .* already exists"):
        run.prepare(settings)
    assert not run.exists()
    assert RunDir.for_settings(settings).path == run.path
