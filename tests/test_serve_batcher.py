"""Tests for `kerasbert.serving.batcher.DynamicBatcher` and the app's answers, in process.

A fake batch function records the batches it was given, so grouping, order and limits are checked
directly; a fake multi-label classifier shows the response of a label-set model.
"""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")

from kerasbert.common.names import Task  # noqa: E402
from kerasbert.inference.predictor import OnnxClassifier  # noqa: E402
from kerasbert.serving.batcher import DynamicBatcher, QueueFull  # noqa: E402


class Recorder:
    """A batch function that doubles numbers and remembers each batch; `gate` holds it."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, items: list[int]) -> list[int]:
        self.gate.wait(30)
        self.batches.append(list(items))
        return [item * 2 for item in items]


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 60))


async def held_batcher(
    recorder: Recorder, first: list[int], **limits
) -> tuple[DynamicBatcher, asyncio.Task]:
    """A started batcher (no waiting for a fuller batch) whose worker holds the batch `first` at
    `recorder`'s closed gate, so what is submitted next queues behind it; and `first`'s task."""
    batcher = DynamicBatcher(recorder, max_wait=0.0, **limits)
    batcher.start()
    recorder.gate.clear()
    running = asyncio.create_task(batcher.submit(first))
    await asyncio.sleep(0.05)  # the worker takes `first` and waits at the gate
    return batcher, running


def test_concurrent_requests_share_batches_and_get_their_own_results_in_order() -> None:
    recorder = Recorder()

    async def main():
        batcher = DynamicBatcher(recorder, max_batch_size=6, max_wait=0.05, max_queue=100)
        batcher.start()
        recorder.gate.clear()  # the first batch waits, so the rest queue behind it
        requests = [list(range(start, start + 3)) for start in range(0, 30, 3)]
        tasks = [asyncio.create_task(batcher.submit(items)) for items in requests]
        await asyncio.sleep(0)
        recorder.gate.set()
        results = await asyncio.gather(*tasks)
        await batcher.stop()
        return requests, results

    requests, results = run(main())
    assert [list(result) for result in results] == [[i * 2 for i in items] for items in requests]
    assert all(len(batch) <= 6 for batch in recorder.batches)
    assert sorted(item for batch in recorder.batches for item in batch) == list(range(30))
    # Whole requests, oldest first: each batch is a run of consecutive requests.
    assert [item for batch in recorder.batches for item in batch] == list(range(30))


def test_max_batch_size_1_runs_every_request_alone() -> None:
    recorder = Recorder()

    async def main():
        batcher = DynamicBatcher(recorder, max_batch_size=1, max_wait=0.05, max_queue=100)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit([index]) for index in range(8)))
        big = await batcher.submit([1, 2, 3])  # larger than a batch: runs alone, whole
        await batcher.stop()
        return results, big

    results, big = run(main())
    assert [list(result) for result in results] == [[index * 2] for index in range(8)]
    assert list(big) == [2, 4, 6]
    assert recorder.batches[:8] == [[index] for index in range(8)]


def test_a_full_queue_refuses_at_once_and_loses_nothing_queued() -> None:
    recorder = Recorder()

    async def main():
        batcher, first = await held_batcher(recorder, [1, 2], max_batch_size=2, max_queue=4)
        queued = [
            asyncio.create_task(batcher.submit([3, 4])),
            asyncio.create_task(batcher.submit([5, 6])),
        ]
        await asyncio.sleep(0)
        with pytest.raises(QueueFull, match="limit 4"):
            await batcher.submit([7])
        recorder.gate.set()
        results = [await first] + [await task for task in queued]
        await batcher.stop()
        return results

    assert [list(result) for result in run(main())] == [[2, 4], [6, 8], [10, 12]]


def test_a_failing_batch_fails_each_of_its_requests_and_the_batcher_goes_on() -> None:
    calls = []

    def flaky(items: list[int]) -> list[int]:
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("model broke")
        return items

    async def main():
        batcher = DynamicBatcher(flaky, max_batch_size=4, max_wait=0.0, max_queue=10)
        batcher.start()
        with pytest.raises(RuntimeError, match="model broke"):
            await batcher.submit([1])
        again = await batcher.submit([2])
        await batcher.stop()
        return again

    assert list(run(main())) == [2]


def test_requests_whose_caller_gave_up_are_skipped() -> None:
    recorder = Recorder()

    async def main():
        batcher, running = await held_batcher(recorder, [1], max_batch_size=1, max_queue=10)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(batcher.submit([2]), 0.05)
        recorder.gate.set()
        result = await running
        after = await batcher.submit([3])
        await batcher.stop()
        return result, after, batcher.queued

    result, after, queued = run(main())
    assert (list(result), list(after), queued) == ([2], [6], 0)
    assert [2] not in recorder.batches


def test_stop_finishes_what_is_queued_then_refuses() -> None:
    recorder = Recorder()

    async def main():
        batcher = DynamicBatcher(recorder, max_batch_size=8, max_wait=10.0, max_queue=100)
        batcher.start()
        tasks = [asyncio.create_task(batcher.submit([index])) for index in range(5)]
        await asyncio.sleep(0.05)  # queued, waiting out the long max_wait
        await batcher.stop()
        with pytest.raises(RuntimeError, match="shutting down"):
            await batcher.submit([9])
        return [list(await task) for task in tasks]

    assert run(main()) == [[index * 2] for index in range(5)]


def test_two_workers_run_batches_at_once() -> None:
    both_running = threading.Barrier(2, timeout=30)

    def meet(items: list[int]) -> list[int]:
        both_running.wait()  # returns only when the other worker's batch runs too
        return items

    async def main():
        batcher = DynamicBatcher(meet, max_batch_size=1, max_wait=0.0, max_queue=10, workers=2)
        batcher.start()
        results = await asyncio.gather(batcher.submit([1]), batcher.submit([2]))
        await batcher.stop()
        return results

    assert [list(result) for result in run(main())] == [[1], [2]]


class MultiLabelClassifier:
    """What an `OnnxClassifier` of a multi-label export offers the server: its own
    probabilities, decided by the real `OnnxClassifier.classify`."""

    labels = ["business", "sport", "tech"]
    thresholds = np.array([0.5, 0.5, 0.5])
    metadata = {"labels": labels, "task": "multi_label", "max_length": 16}
    task, multi_label = Task.MULTI_LABEL, True
    classify = OnnxClassifier.classify
    _min_confidence = OnnxClassifier._min_confidence
    min_confidence = None
    pair = False
    max_length = 16
    long_documents = False
    variant = "fp32"

    def predict_proba(self, texts):
        return np.array([[0.9, 0.1, 0.6] if "x" in text else [0.2, 0.8, 0.1] for text in texts])


@pytest.mark.filterwarnings("ignore:Using `httpx`")
def test_a_multi_label_model_answers_label_sets() -> None:
    from fastapi.testclient import TestClient

    from kerasbert.serving.app import create_app
    from kerasbert.serving.config import ServeConfig

    app = create_app(MultiLabelClassifier(), ServeConfig(access_log=False))
    with TestClient(app) as client:
        response = client.post("/v1/classify", json={"texts": ["x", "y"], "top_k": 1})
        model = client.get("/v1/model").json()
    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "labels": ["business", "tech"],
            "probabilities": {"business": 0.9, "sport": 0.1, "tech": 0.6},
            "top_k": [{"label": "business", "probability": 0.9}],
        },
        {
            "labels": ["sport"],
            "probabilities": {"business": 0.2, "sport": 0.8, "tech": 0.1},
            "top_k": [{"label": "sport", "probability": 0.8}],
        },
    ]
    assert model["task"] == "multi_label"
