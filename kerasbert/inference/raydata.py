"""Batch prediction past one machine: the predictor inside Ray Data's `map_batches`.

Ray Data spreads a dataset's blocks over a cluster's workers; `BatchClassifier` is the callable
class it runs there, so each worker loads the model once, in its constructor, and then classifies
every batch it is handed. `classify_dataset` wires the two together:

>>> import ray                                                    # doctest: +SKIP
>>> from kerasbert.inference.raydata import classify_dataset                # doctest: +SKIP
>>> texts = ray.data.read_parquet("s3://bucket/texts/")           # doctest: +SKIP
>>> predictions = classify_dataset(texts, "exported/news", workers=8)  # doctest: +SKIP
>>> predictions.write_parquet("s3://bucket/predictions/")         # doctest: +SKIP

Why Ray rather than Spark: it installs from PyPI as one wheel and needs no JVM, so the same recipe
runs on a laptop, in CI on a local cluster and on a cluster of many machines; the model directory
must be readable on every worker (shared disk, or copy it there first). Batches are dicts of
numpy arrays (`batch_format="numpy"`), so this module needs neither pandas nor Ray itself: Ray
is imported by `classify_dataset`, when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.inference.predictor import OnnxClassifier

# Rows per call on a worker: large enough that the predictor's length sorting fills its padded
# groups well, small enough that a block of long texts stays small in memory.
DEFAULT_BATCH_SIZE = 512


class BatchClassifier:
    """Classify Ray Data batches with one `OnnxClassifier` per worker, loaded once.

    Each batch (a dict of numpy arrays) comes back with its columns and `label` and `probability`
    added (a multi-label model: `labels`, a list per row, and `probabilities`, one row per text).

    Args:
        model_dir: an export directory, readable on every worker.
        text_column: the column holding the texts.
        text_pair_column: the column holding the second texts, for a model of text pairs.
        variant, threads: as `OnnxClassifier`; one intra-op thread per worker by default, since
            Ray gives each worker its own CPU.
    """

    def __init__(
        self,
        model_dir: str | Path,
        text_column: str = "text",
        text_pair_column: str | None = None,
        variant: str | None = None,
        threads: int | None = 1,
    ) -> None:
        self.classifier = OnnxClassifier(model_dir, variant=variant, threads=threads)
        self.text_column, self.text_pair_column = text_column, text_pair_column

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = _texts(batch, self.text_column)
        inputs: list[Any] = texts
        if self.text_pair_column is not None:
            inputs = list(zip(texts, _texts(batch, self.text_pair_column)))
        scores = self.classifier.classify(inputs)
        output = dict(batch)
        if self.classifier.multi_label:
            output["labels"] = np.array(scores.labels + [None], dtype=object)[:-1]
            output["probabilities"] = scores.probabilities.astype(np.float32)
        else:
            output["label"] = np.array(scores.labels, dtype=object)
            output["probability"] = scores.probabilities.max(axis=1).astype(np.float32)
        return output


def _texts(batch: dict[str, np.ndarray], column: str) -> list[str]:
    if column not in batch:
        raise KeyError(f"The dataset has no column {column!r}; its columns: {sorted(batch)}.")
    # Nulls are texts without words, as in `kerasbert predict --input`.
    return ["" if value is None else str(value) for value in batch[column]]


def classify_dataset(
    dataset: Any,
    model_dir: str | Path,
    *,
    text_column: str = "text",
    text_pair_column: str | None = None,
    variant: str | None = None,
    workers: int = 1,
    threads_per_worker: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Any:
    """`dataset` (a `ray.data.Dataset`) with each row's prediction added, lazily: Ray runs it when
    the result is consumed or written. `workers` actors each load the model once and take
    `threads_per_worker` CPUs."""
    import ray.data

    model_dir = str(Path(model_dir).resolve())  # workers may start in another directory
    return dataset.map_batches(
        BatchClassifier,
        fn_constructor_kwargs={
            "model_dir": model_dir,
            "text_column": text_column,
            "text_pair_column": text_pair_column,
            "variant": variant,
            "threads": threads_per_worker,
        },
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=threads_per_worker,
    )
