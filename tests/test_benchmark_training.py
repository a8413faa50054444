"""Tests for `kerasbert.benchmark.training`: the padding modes trained in lockstep on a tiny
checkpoint, and the run directory the benchmark writes."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import VOCAB, save_tiny_bert, tiny_texts

from kerasbert.benchmark import BenchmarkConfig
from kerasbert.benchmark.training import benchmark_training, train_modes_in_lockstep


def train_tiny_lockstep(model_path: str, rows, max_length: int, config, seed: int):
    """`train_modes_in_lockstep` on `rows` (text, label), trained and scored on the same texts;
    returns the runs, the ceiling timings and the labels."""
    from kerasbert.training import checkpoint, pipeline

    labels = sorted({label for _, label in rows})
    tokenizer = checkpoint.load_tokenizer(model_path)
    encoded = pipeline.encode(tokenizer, [text for text, _ in rows], max_length)
    label_ids = np.array([labels.index(label) for _, label in rows])
    features = np.zeros((len(rows), 16), np.float32)
    runs, ceiling = train_modes_in_lockstep(
        model_path, labels, encoded, label_ids, encoded, label_ids, config, features, seed=seed
    )
    return runs, ceiling, labels


@pytest.mark.slow  # three tiny models trained in lockstep
def test_lockstep_modes_differ_only_in_padding(tmp_path):
    """Without dropout, fixed padding and per-batch-longest padding train the same batches to the
    same weights; bucketing trains different batches. Every mode takes every step."""
    model_path = str(
        save_tiny_bert(tmp_path, VOCAB, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    )
    rows = tiny_texts(12, seed=1)
    config = BenchmarkConfig(batch_size=8, epochs=2, learning_rate=1e-3).resolved()
    runs, ceiling, _ = train_tiny_lockstep(model_path, rows, 48, config, seed=3)
    assert len(ceiling) == 2 * -(-len(rows) // 8) and all(r["seconds"] > 0 for r in ceiling)
    steps = 2 * -(-len(rows) // 8)
    assert {mode: len(run["records"]) for mode, run in runs.items()} == dict.fromkeys(runs, steps)
    fixed, longest = (runs[mode] for mode in ("fixed", "longest"))
    assert all(record["processed"] == record["examples"] * 48 for record in fixed["records"])
    assert [r["real"] for r in fixed["records"]] == [r["real"] for r in longest["records"]]
    weights = [run["model"].get_weights() for run in (fixed, longest, runs["bucketed"])]
    assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(weights[0], weights[1]))
    assert not all(np.allclose(a, b, atol=1e-5) for a, b in zip(weights[1], weights[2]))


# One epoch on 24 texts: the fast suite's test of the benchmark's training.
def test_freeze_embeddings_trains_every_mode_with_the_embeddings_fixed(tmp_path):
    from kerasbert.training.model import build_classifier

    model_path = str(save_tiny_bert(tmp_path, VOCAB))
    config = BenchmarkConfig(
        batch_size=8, epochs=1, learning_rate=1e-2, freeze_embeddings=True
    ).resolved()
    runs, _, labels = train_tiny_lockstep(model_path, tiny_texts(8, seed=2), 32, config, seed=1)
    pretrained = build_classifier(model_path, labels).bert
    for run in runs.values():
        bert = run["model"].bert
        assert not bert.embeddings.trainable
        for before, after in zip(pretrained.embeddings.weights, bert.embeddings.weights):
            np.testing.assert_array_equal(before.numpy(), after.numpy())
        moved = bert.encoder.weights[0].numpy() - pretrained.encoder.weights[0].numpy()
        assert np.abs(moved).max() > 0


@pytest.mark.slow  # the benchmark's whole training section
def test_benchmark_writes_a_run_directory_as_training_does(tiny_checkpoint, tiny_csv, tmp_path):
    """The run the benchmark exports is a real run directory: the full `TrainConfig`, labels, every
    split it used and the bucketed model with its tokenizer, all read back through `RunDir`."""
    from kerasbert.config import TrainConfig

    config = BenchmarkConfig(
        quick=True,
        data=(str(tiny_csv),),
        text_column="text",
        label_column="label",
        model=str(tiny_checkpoint),
        batch_size=8,
        max_train_samples=24,
        max_eval_samples=12,
    ).resolved()
    figures, run = benchmark_training(str(tiny_csv), config, tmp_path)
    settings = run.read_config()
    assert settings == TrainConfig(
        data=str(tiny_csv),
        text_column="text",
        label_column="label",
        max_train_samples=24,
        max_eval_samples=12,
        model=str(tiny_checkpoint),
        max_length=64,  # the tiny checkpoint's positions cap the default 128
        batch_size=8,
        epochs=1,
        learning_rate=config.learning_rate,
        early_stopping_patience=0,
        seed=42,
        padding="bucket",
        output_dir=str(run.path),
        export=False,
        plots=False,
    )
    assert run.read_labels() == ["business", "sport", "tech"]
    assert len(run.read_split("train")) == figures["data"]["train_examples"] == 24
    assert len(run.read_split("test")) == figures["data"]["test_examples"] == 12
    assert len(run.read_split("validation")) > 0
    assert (run.model / "config.json").is_file() and (run.model / "tokenizer.json").is_file()
