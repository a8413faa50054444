"""Tests for `scripts/colab_tpu.ipynb`: valid notebook JSON, and every cell but the TPU install and
the Colab Drive copy runs on a CPU against a tiny BERT and a tiny data set.

The cells run in one namespace, in order, as Colab would run them; the settings cell is followed by
overrides (strategy `auto`, tiny model and data, one epoch), the only change from the TPU run.
Shell and magic lines (`!`, `%`) are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tiny_checkpoint import LABELS, MAX_LENGTH, make_tiny_checkpoint, write_tiny_csv

NOTEBOOK = Path(__file__).resolve().parent.parent / "scripts" / "colab_tpu.ipynb"
SKIPPED_TAGS = {"install", "colab"}


def read_notebook():
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    return notebook


def test_notebook_is_valid_and_does_the_whole_tpu_job():
    notebook = read_notebook()
    assert notebook.metadata["accelerator"] == "TPU"
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    for expected in (
        'STRATEGY = "tpu"',
        'PRECISION = "mixed_bfloat16"',
        "create_strategy(STRATEGY)",
        "run(config, strategy)",
        "OnnxClassifier(result.export_dir)",
        "tensorflow-tpu",
    ):
        assert expected in code, expected
    tags = [set(cell.metadata.get("tags", [])) for cell in notebook.cells]
    assert sum("parameters" in cell_tags for cell_tags in tags) == 1


def code_to_run(cell) -> str:
    lines = cell.source.splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith(("!", "%")))


def test_notebook_runs_on_cpu(tmp_path, monkeypatch):
    from kerasbert.training.strategy import apply_precision

    notebook = read_notebook()
    monkeypatch.chdir(tmp_path)
    overrides = {
        "STRATEGY": "auto",
        "DATA": str(write_tiny_csv(tmp_path / "data.csv", count=80)),
        "MODEL": str(make_tiny_checkpoint(tmp_path / "checkpoint")),
        "EPOCHS": 1,
        "BATCH_SIZE": 8,
        "MAX_LENGTH": MAX_LENGTH,
    }
    namespace: dict = {"__name__": "__notebook__"}
    try:
        for index, cell in enumerate(notebook.cells):
            tags = set(cell.metadata.get("tags", []))
            if cell.cell_type != "code" or tags & SKIPPED_TAGS:
                continue
            exec(compile(code_to_run(cell), f"{NOTEBOOK.name}[cell {index}]", "exec"), namespace)
            if "parameters" in tags:
                namespace.update(overrides)
    finally:
        apply_precision("fp32")

    result = namespace["result"]
    run_dir = tmp_path / "runs" / "colab-tpu"
    assert result.run_dir.resolve() == run_dir.resolve()
    summary = json.loads((run_dir / "data_summary.json").read_text())
    assert summary["strategy"]["precision"] == "mixed_bfloat16"
    assert summary["padding"]["mode"] == "fixed"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0 <= metrics["accuracy"] <= 1 and "baseline" in metrics
    assert (run_dir / "report.md").exists()
    export_dir = tmp_path / "exported" / "colab-tpu"
    assert (export_dir / "model.onnx").exists() and (export_dir / "model.int8.onnx").exists()
    # The predictor cell ran on the export: probabilities over the run's labels.
    probabilities = namespace["classifier"].predict_proba(namespace["texts"])
    assert namespace["classifier"].labels == LABELS
    assert probabilities.shape == (3, len(LABELS))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
