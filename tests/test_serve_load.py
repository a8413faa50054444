"""The serving load test (`kerasbert benchmark --serve`), run end to end on the tiny export with
bounds small enough for a test: every figure is there, no request fails, the table reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")
pytest.importorskip("httpx", reason="the serve extra is not installed")

from kerasbert.benchmark.load import ServerProcess, run_clients  # noqa: E402
from kerasbert.cli import main  # noqa: E402


def test_load_test_measures_every_server_and_writes_its_json(
    tiny: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "load.json"
    bounds = ["--concurrency", "1,4", "--seconds", "1", "--max-requests", "40", "--rounds", "1",
              "--soak-seconds", "2", "--soak-sample-seconds", "1", "--offline-seconds", "0.2"]  # fmt: skip
    arguments = ["--serve", str(tiny[1]), "--texts", str(tiny[0]), "--client", "raw", *bounds]
    assert main(["benchmark", *arguments, "--output", str(output)]) == 0
    results = json.loads(output.read_text(encoding="utf-8"))
    assert set(results["batching"]) == {"1", "4"}
    assert set(results["unbatched"]) == set(results["one_at_a_time"]) == {"4"}
    for group in ("batching", "unbatched", "one_at_a_time"):
        for figures in results[group].values():
            assert figures["errors"] == 0 and figures["texts_per_s"] > 0
    # One closed-loop client has one text in flight: every model call holds exactly one.
    assert results["batching"]["1"]["mean_batch_size"] == 1.0
    assert results["unbatched"]["4"]["mean_batch_size"] == 1.0
    assert len(results["soak"]["rss_mb"]) == 3 and results["soak"]["errors"] == 0
    assert set(results["targets"]) == {"of_offline", "of_unbatched", "errors", "memory_drift"}
    printed = capsys.readouterr().out
    assert "| server, batching off | 4 |" in printed and "- errors: 0" in printed


def test_both_clients_count_answers_and_refusals(tiny: tuple[Path, Path]) -> None:
    with ServerProcess(tiny[1], ["--max-text-chars", "5"]) as server:
        for client in ("httpx", "raw"):
            fine = run_clients(server.url, ["short"], 3, 30, 12, client=client)
            assert (fine["ok"], fine["errors"]) == (12, 0)
            refused = run_clients(server.url, ["far too long"], 2, 30, 6, client=client)
            assert (refused["ok"], refused["errors_by_status"]) == (0, {"413": 6})
    with pytest.raises(ValueError, match="only sends to 127.0.0.1"):
        run_clients("http://10.0.0.1:80", ["x"], 1, 1, 1)
