"""A `kerasbert distill` killed with SIGKILL after an epoch resumes like `kerasbert train`.

A dropout-free tiny teacher is trained in-process; then `python -m kerasbert distill` runs once
uninterrupted, and once killed as soon as an epoch is backed up and started again into the same
directory. The resumed student must follow the uninterrupted one epoch for epoch, on the teacher
targets stored before the kill.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import VOCAB, run_until_killed, save_tiny_bert, tiny_config, tiny_texts, write_csv

from kerasbert.training.callbacks import completed_epochs

# A teacher and three students, two of them in `python -m kerasbert` subprocesses.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
EPOCHS = 8


def _command(teacher: Path, student: Path) -> list[str]:
    return [
        sys.executable, "-m", "kerasbert", "distill", str(teacher), "--layers", "1",
        "--epochs", str(EPOCHS), "--output-dir", str(student), "--no-export", "--no-plots",
        "--no-compare", "--augment", "1",
    ]  # fmt: skip
    # One copy per text, not the default four: the resumed run must rebuild the same copies
    # (they are seeded), and one is enough to show it at a quarter of the steps.


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory) -> dict:
    from kerasbert.training.fit import fit_run

    folder = tmp_path_factory.mktemp("distill-resume")
    data = write_csv(folder / "data.csv", tiny_texts(100, seed=5))
    checkpoint = save_tiny_bert(
        folder / "checkpoint",
        VOCAB,
        seed=2,
        num_hidden_layers=2,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    teacher = folder / "teacher"
    fit_run(
        tiny_config(
            checkpoint, data, teacher, epochs=3, batch_size=4, padding="fixed", precision="fp32"
        )
    )
    reference = subprocess.run(
        _command(teacher, folder / "uninterrupted"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert reference.returncode == 0, reference.stderr[-3000:]
    student = folder / "student"
    command = _command(teacher, student)
    killed_status = run_until_killed(
        command,
        folder / "first.log",
        lambda: any((student / "backup").rglob("checkpoint")),
        "no epoch finished within 4 minutes",
        cwd=ROOT,
    )
    at_kill = {
        "completed": completed_epochs(student / "backup"),
        "targets": (student / "teacher_targets.npz").read_bytes(),
        "history": json.loads((student / "history.json").read_text()),
    }
    second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return {
        "folder": folder,
        "student": student,
        "returncode": killed_status,
        "at_kill": at_kill,
        "second": second,
    }


def test_killed_distill_resumes_from_its_last_epoch(killed_and_resumed) -> None:
    at_kill = killed_and_resumed["at_kill"]
    assert killed_and_resumed["returncode"] == -signal.SIGKILL
    assert 1 <= at_kill["completed"] < EPOCHS, "the kill must land mid-run"
    second = killed_and_resumed["second"]
    assert second.returncode == 0, second.stderr[-3000:]
    output = second.stdout + second.stderr
    assert "Resuming on the teacher targets stored in" in output
    assert f"Epoch {at_kill['completed'] + 1}/{EPOCHS}" in output
    assert f"Epoch {at_kill['completed']}/{EPOCHS}" not in output
    student = killed_and_resumed["student"]
    assert (student / "teacher_targets.npz").read_bytes() == at_kill["targets"]
    assert not (student / "backup").exists()
    assert json.loads((student / "model/config.json").read_text())["num_hidden_layers"] == 1


def test_resumed_student_follows_the_uninterrupted_one(killed_and_resumed) -> None:
    folder = killed_and_resumed["folder"]
    resumed = json.loads((killed_and_resumed["student"] / "history.json").read_text())
    reference = json.loads((folder / "uninterrupted/history.json").read_text())
    assert resumed["epoch"] == list(range(1, EPOCHS + 1))
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
        assert resumed[key] == pytest.approx(reference[key], rel=1e-4, abs=1e-6), key
    with (
        np.load(killed_and_resumed["student"] / "teacher_targets.npz") as resumed_targets,
        np.load(folder / "uninterrupted/teacher_targets.npz") as reference_targets,
    ):
        np.testing.assert_allclose(resumed_targets["train"], reference_targets["train"], rtol=1e-6)
    metrics = json.loads((killed_and_resumed["student"] / "metrics.json").read_text())
    expected = json.loads((folder / "uninterrupted/metrics.json").read_text())
    assert metrics["confusion_matrix"] == expected["confusion_matrix"]
