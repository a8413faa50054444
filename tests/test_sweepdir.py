"""Tests for `kerasbert.experiments.sweepdir`: one sweep per folder, settings kept across resumes."""

from __future__ import annotations

import os

import pytest

from kerasbert.common.errors import InputError
from kerasbert.experiments.sweepdir import SweepDir


def test_a_running_sweep_holds_its_folder(tmp_path) -> None:
    folder = SweepDir(tmp_path / "sweep")
    with folder.lock():
        assert folder.lock_file.read_text() == str(os.getpid())
    assert not folder.lock_file.exists()
    folder.lock_file.write_text(str(os.getppid()))  # a live process that is not this one
    with pytest.raises(InputError, match=f"Another sweep \\(pid {os.getppid()}\\) is running"):
        with folder.lock():
            pass


def test_a_killed_sweeps_lock_is_taken_over(tmp_path) -> None:
    folder = SweepDir(tmp_path / "sweep")
    folder.path.mkdir()
    folder.lock_file.write_text("999999999")  # no such process
    with folder.lock():
        assert folder.lock_file.read_text() == str(os.getpid())


def test_settings_must_match_to_resume(tmp_path) -> None:
    folder = SweepDir(tmp_path / "sweep")
    settings = {"base": {"epochs": 1}, "space": {"batch_size": {"choices": [16, 32]}}}
    folder.check_settings(settings)
    folder.check_settings(settings)  # the same again: a resume
    with pytest.raises(InputError, match=r"other settings \(base\)"):
        folder.check_settings({**settings, "base": {"epochs": 2}})
    other = SweepDir(tmp_path / "other")
    other.path.mkdir()
    (other.path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="holds other files"):
        other.check_settings(settings)
