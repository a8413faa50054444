"""Class weights against imbalance, from the data to the loss Keras `fit` minimises.

Single label: `--class-weight balanced` gives Keras `fit` scikit-learn's balanced weights (per
example, by class); multi-label: each label's positives weighed in the binary cross-entropy.
`auto` weighs only past the imbalance ratio, so balanced data (bbc-news) trains as before.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_config, tiny_texts, write_csv
from sklearn.utils.class_weight import compute_class_weight

from kerasbert.data.splits import load_splits
from kerasbert.training.fit import fit_run, loss_weights
from kerasbert.training.model import WeightedBinaryCrossentropy
from kerasbert.training.rundir import RunDir


def _imbalanced_rows() -> list[tuple[str, str]]:
    """120 business, 30 sport, 15 tech texts: the largest class is 8 times the smallest."""
    rows = tiny_texts(120, seed=3)
    keep = {"business": 120, "sport": 30, "tech": 15}
    kept = []
    for text, label in rows:
        if keep[label]:
            keep[label] -= 1
            kept.append((text, label))
    return kept


def test_weighted_binary_cross_entropy_matches_its_formula() -> None:
    logits = np.array([[2.0, -1.0, 0.5], [-0.3, 1.5, -2.0]], dtype=np.float32)
    truth = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    weights = [1.0, 3.0, 0.5]
    probability = 1 / (1 + np.exp(-logits.astype(np.float64)))
    cells = -(
        np.array(weights) * truth * np.log(probability) + (1 - truth) * np.log(1 - probability)
    )
    loss = float(WeightedBinaryCrossentropy(weights)(truth, logits))
    assert loss == pytest.approx(cells.mean(), rel=1e-5)
    unweighted = -(truth * np.log(probability) + (1 - truth) * np.log(1 - probability))
    assert float(WeightedBinaryCrossentropy()(truth, logits)) == pytest.approx(
        unweighted.mean(), rel=1e-5
    )


def test_balanced_weights_are_sklearns_and_recorded_in_the_summary(tmp_path) -> None:
    data = write_csv(tmp_path / "imbalanced.csv", _imbalanced_rows())
    splits = load_splits(str(data), class_weight="balanced")
    summary = splits.summary()
    weights = loss_weights(splits, "balanced", summary)
    ids = splits.train.label_ids(splits.labels)
    expected = compute_class_weight("balanced", classes=np.arange(3), y=ids)
    assert [weights[index] for index in range(3)] == pytest.approx(expected.tolist())
    assert summary["imbalance"]["weights"] == pytest.approx(dict(zip(splits.labels, expected)))
    assert summary["imbalance"]["resolved"] == "balanced"
    assert weights[2] > weights[1] > 1 > weights[0]  # tech rarest, business most common
    # auto weighs this set (ratio 8 > 3) and leaves a balanced one alone.
    assert loss_weights(splits, "auto") == weights
    balanced = load_splits(str(write_csv(tmp_path / "even.csv", tiny_texts(20))))
    assert loss_weights(balanced, "auto") is None and loss_weights(splits, "none") is None


def test_multi_label_positive_weights_are_negatives_over_positives(tmp_path) -> None:
    from tiny_multilabel_fixtures import multilabel_rows, write_separated_csv

    data = write_separated_csv(tmp_path / "ml.csv", multilabel_rows(90))
    splits = load_splits(str(data), class_weight="balanced")
    weights = loss_weights(splits, "balanced")
    hot = splits.train.label_ids(splits.labels)
    positives = hot.sum(axis=0)
    assert weights["positive"] == pytest.approx(((len(hot) - positives) / positives).tolist())


def test_class_weights_change_what_fit_minimises(tmp_path, tiny_checkpoint) -> None:
    data = write_csv(tmp_path / "imbalanced.csv", _imbalanced_rows())
    losses = {}
    for mode in ("none", "balanced"):
        run_dir = tmp_path / mode
        fit_run(tiny_config(tiny_checkpoint, data, run_dir, epochs=1, class_weight=mode, seed=1))
        run = RunDir(run_dir)
        losses[mode] = run.read_history()["loss"][0]
        imbalance = run.read_data_summary()["imbalance"]
        assert imbalance["resolved"] == mode
        assert (imbalance["weights"] is None) == (mode == "none")
    # Same seed, data and batches: only the per-example weights differ.
    assert losses["balanced"] != pytest.approx(losses["none"], rel=1e-3)
