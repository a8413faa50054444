"""Serving under stress: one `OnnxClassifier` shared by many threads, and exports killed mid-way.

Uses the tiny run and export of `tiny_export_fixtures` (shared with test_export/test_predictor).
"""

from __future__ import annotations

import hashlib
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import run_until_killed
from tiny_export_fixtures import split_texts

from kerasbert.inference.predictor import OnnxClassifier

TESTS = Path(__file__).resolve().parent
THREADS = 8
CALLS_PER_THREAD = 500


def _mixed_texts(run_dir: Path) -> list[str]:
    """Headlines, paragraphs and whole articles, plus the awkward ones a web app receives."""
    return split_texts(run_dir) + ["", "   ", "Café Zürich 東京 😀", "word " * 2000, "a", "\n\t\n"]


def test_one_classifier_serves_eight_threads(tiny: tuple[Path, Path]) -> None:
    run_dir, export_dir = tiny
    texts = _mixed_texts(run_dir)
    classifier = OnnxClassifier(export_dir)  # int8, the default users serve
    expected = np.concatenate([classifier.predict_proba([text]) for text in texts])

    def serve(worker: int) -> tuple[list[int], np.ndarray]:
        # Each thread walks the texts in its own order, so different inputs run concurrently.
        order = np.random.default_rng(worker).integers(0, len(texts), size=CALLS_PER_THREAD)
        results = [classifier.predict_proba([texts[index]])[0] for index in order]
        return order.tolist(), np.stack(results)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(serve, worker) for worker in range(THREADS)]
        outcomes = [future.result() for future in futures]  # re-raises any thread's error

    assert len(outcomes) == THREADS
    for order, results in outcomes:
        assert results.shape == (CALLS_PER_THREAD, len(classifier.labels))
        np.testing.assert_array_equal(results, expected[order])


EXPORT_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from kerasbert.export.export import export_run
export_run({run_dir!r}, {target!r}, overwrite=True)
"""


def _digest(directory: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.iterdir())
    }


@pytest.mark.slow  # exports with TensorFlow in a subprocess
@pytest.mark.parametrize("previous", [False, True], ids=["fresh", "over-previous-export"])
def test_export_killed_midway_leaves_no_partial_directory(
    tiny: tuple[Path, Path], tmp_path: Path, previous: bool
) -> None:
    run_dir, finished_export = tiny
    target = tmp_path / "exported" / "run"
    target.parent.mkdir()
    if previous:
        Path(target).mkdir()
        for path in finished_export.iterdir():
            (target / path.name).write_bytes(path.read_bytes())
        before = _digest(target)

    script = EXPORT_SCRIPT.format(tests=str(TESTS), run_dir=str(run_dir), target=str(target))
    status = run_until_killed(
        [sys.executable, "-c", script],
        tmp_path / "export.log",
        # Once the staging directory holds a converted model: mid-way through the export.
        lambda: any(target.parent.glob(".run.partial-*/model.onnx")),
        "the export never started writing",
    )
    assert status == -signal.SIGKILL

    visible = [path.name for path in target.parent.iterdir() if not path.name.startswith(".")]
    if previous:
        assert visible == ["run"]
        assert _digest(target) == before, "the previous export must survive intact"
        OnnxClassifier(target).predict(["the previous export still serves"])
    else:
        assert visible == [], "a killed export must not leave a model directory"
        # The next export removes the killed one's hidden staging folder and publishes whole.
        assert any(target.parent.glob(".run.partial-*"))
        from kerasbert.export.export import export_run

        export_run(run_dir, target)
        assert sorted(path.name for path in target.parent.iterdir()) == ["run"]
