"""A training run killed with SIGKILL after an epoch resumes from where it stopped.

The test starts `python -m kerasbert train` as a user would, kills it as soon as `history.json`
shows a finished epoch (as a preempted machine would: no clean-up runs), then starts the same
command again into the same directory. The checkpoint has no dropout, so the resumed run must
follow an uninterrupted run of the same command epoch for epoch: the weights, the optimizer's
moments and step, and each epoch's data order all have to come back.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import VOCAB, run_until_killed, save_tiny_bert, tiny_texts, write_csv

from kerasbert.cli import main
from kerasbert.training.callbacks import completed_epochs

# Three trainings in `python -m kerasbert` subprocesses.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
EPOCHS = 8
PEAK_LEARNING_RATE = 1e-2


def _command(data: Path, checkpoint: Path, run_dir: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "kerasbert", "train", "--data", str(data),
        "--model", str(checkpoint), "--output-dir", str(run_dir), "--epochs", str(EPOCHS),
        "--batch-size", "4", "--max-length", "40", "--padding", "fixed", "--learning-rate", str(PEAK_LEARNING_RATE),
        "--warmup-ratio", "0", "--early-stopping-patience", "0", "--no-export", "--no-plots",
        *extra,
    ]  # fmt: skip


def _backed_up(run_dir: Path) -> bool:
    # BackupAndRestore writes its `checkpoint` index file after the checkpoint itself.
    return any((run_dir / "backup").rglob("checkpoint"))


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("resume")
    data = write_csv(folder / "data.csv", tiny_texts(100, seed=5))
    checkpoint = save_tiny_bert(
        folder / "checkpoint", VOCAB, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
    )
    run_dir = folder / "run"
    command = _command(data, checkpoint, run_dir)
    reference = subprocess.run(
        _command(data, checkpoint, folder / "uninterrupted"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert reference.returncode == 0, reference.stderr[-3000:]

    killed_status = run_until_killed(
        command,
        folder / "first.log",
        lambda: _backed_up(run_dir),
        "no epoch finished within 4 minutes",
        cwd=ROOT,
    )

    at_kill = {
        "completed": completed_epochs(run_dir / "backup"),
        "history": json.loads((run_dir / "history.json").read_text()),
        "files": {
            name: (run_dir / name).read_bytes()
            for name in (
                "config.json",
                "labels.json",
                "data_summary.json",
                "data/train.jsonl",
                "data/validation.jsonl",
                "data/test.jsonl",
            )
        },  # fmt: skip
        "backup": (run_dir / "backup").is_dir(),
        "checkpoint": (run_dir / "checkpoints" / "best.weights.h5").is_file(),
        "model": (run_dir / "model").exists(),
    }

    second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return {
        "run_dir": run_dir,
        "uninterrupted": folder / "uninterrupted",
        "returncode": killed_status,
        "at_kill": at_kill,
        "second": second,
        "command": command,
    }


def test_kill_leaves_a_resumable_run(killed_and_resumed) -> None:
    at_kill = killed_and_resumed["at_kill"]
    assert killed_and_resumed["returncode"] == -signal.SIGKILL
    assert 1 <= at_kill["completed"] < EPOCHS, "the kill must land mid-run"
    assert at_kill["backup"] and at_kill["checkpoint"] and not at_kill["model"]


def test_restart_continues_from_the_last_finished_epoch(killed_and_resumed) -> None:
    second = killed_and_resumed["second"]
    assert second.returncode == 0, second.stderr[-3000:]
    done = killed_and_resumed["at_kill"]["completed"]
    output = second.stdout + second.stderr
    assert "Resuming the unfinished run" in output
    # Keras prints "Epoch k/N" for each epoch it runs: only the missing ones ran again.
    assert f"Epoch {done + 1}/{EPOCHS}" in output
    assert f"Epoch {done}/{EPOCHS}" not in output


def test_history_is_complete_and_consistent(killed_and_resumed) -> None:
    run_dir = killed_and_resumed["run_dir"]
    history = json.loads((run_dir / "history.json").read_text())
    before = killed_and_resumed["at_kill"]["history"]
    # The history may hold one epoch more than the backup (a kill between the two writes): the
    # restart redoes that epoch.
    done = killed_and_resumed["at_kill"]["completed"]
    assert len(before["epoch"]) in (done, done + 1)
    assert history["epoch"] == list(range(1, EPOCHS + 1))
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_seconds"):
        assert len(history[key]) == EPOCHS and None not in history[key], key
        assert history[key][:done] == before[key][:done], f"{key} of the first run's epochs changed"
    # The optimizer's step counter was restored too: the learning rate follows one linear decay
    # over all epochs instead of starting over (no warm-up: it falls by peak / N each epoch).
    rates = history["learning_rate"]
    steps = [later - earlier for earlier, later in zip(rates, rates[1:])]
    assert steps == pytest.approx([-PEAK_LEARNING_RATE / EPOCHS] * (EPOCHS - 1), abs=1e-7)
    assert rates[0] == pytest.approx(PEAK_LEARNING_RATE * (1 - 1 / EPOCHS), rel=0.01)


def test_resumed_run_follows_the_uninterrupted_run(killed_and_resumed) -> None:
    resumed = json.loads((killed_and_resumed["run_dir"] / "history.json").read_text())
    reference = json.loads((killed_and_resumed["uninterrupted"] / "history.json").read_text())
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
        assert resumed[key] == pytest.approx(reference[key], rel=1e-4, abs=1e-6), key
    metrics = json.loads((killed_and_resumed["run_dir"] / "metrics.json").read_text())
    expected = json.loads((killed_and_resumed["uninterrupted"] / "metrics.json").read_text())
    assert metrics["confusion_matrix"] == expected["confusion_matrix"]
    assert metrics["accuracy"] == pytest.approx(expected["accuracy"])


def test_nothing_is_lost_and_the_run_is_finished(killed_and_resumed) -> None:
    run_dir = killed_and_resumed["run_dir"]
    for name, content in killed_and_resumed["at_kill"]["files"].items():
        if name == "data_summary.json":  # rewritten on resume with the same content
            assert json.loads((run_dir / name).read_bytes()) == json.loads(content)
        elif name == "config.json":
            final, started = json.loads((run_dir / name).read_bytes()), json.loads(content)
            # The settings stay; the recipe's plan is read back unchanged and training adds how
            # it ended.
            ended = final.pop("recipe")
            plan = started.pop("recipe")
            assert final == started
            assert {key: ended[key] for key in plan} == plan
            assert ended["epochs_trained"] == plan["epochs"] == EPOCHS
        else:
            assert (run_dir / name).read_bytes() == content, name
    assert (run_dir / "model" / "tf_model.h5").is_file()
    assert not (run_dir / "checkpoints").exists()
    assert not (run_dir / "backup").exists()


def test_finished_run_is_refused_and_other_settings_cannot_resume(
    killed_and_resumed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = killed_and_resumed["command"][3:]  # drop "python -m kerasbert"
    assert main(command) == 2
    assert "already exists" in capsys.readouterr().err

    # An unfinished run with other settings is not silently mixed with them.
    run_dir = killed_and_resumed["run_dir"]
    (run_dir / "backup").mkdir()
    try:
        assert main([*command, "--seed", "7"]) == 2
        error = capsys.readouterr().err
        assert "unfinished run with different settings (['seed'])" in error
    finally:
        (run_dir / "backup").rmdir()
    assert (run_dir / "model" / "tf_model.h5").is_file()
