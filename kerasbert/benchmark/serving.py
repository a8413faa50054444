"""The serving load test: `kerasbert serve` under closed-loop clients, against the offline predictor.

    kerasbert benchmark --serve exported/news --texts runs/news            # the README's table
    kerasbert benchmark --serve exported/news --texts runs/news --first-line   # headlines
    python scripts/load_test.py --serve exported/news --texts runs/news --soak-seconds 60

Three servers run side by side: dynamic batching (the defaults, or `--server-flags`), batching
off (`--max-batch-size 1`, same workers: the target is judged on this one) and batching off with
one worker (one request per model call on onnxruntime's threads). The batching server meets 1 and
8 concurrent clients; then, for `--rounds` rounds, the offline predictor at batch 32
(`OnnxClassifier.predict_proba` on chunks of 32, tokenization included) and each server at the top
concurrency take turns, so a slow spell of a shared machine meets all of them; then a soak of the
batching server at the top concurrency, its memory sampled. One text per request, real test texts.
The clients run in this process, on the same machine as the servers: they take CPU a server could
have used, which the figures include (`--client raw` spends about a twentieth of httpx's CPU per
request). Every phase is bounded in time and requests; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.benchmark.load import ServerProcess, batch_figures, mean_batch_size, run_clients
from kerasbert.benchmark.machine import machine_info
from kerasbert.common.errors import InputError
from kerasbert.common.settings import setting

logger = logging.getLogger(__name__)

# The targets: 64 single-text clients reach 70% of offline batch-32 throughput and 3× the
# server without batching, with no errors and memory within 10% over the soak.
TARGETS = {"of_offline": 0.70, "of_unbatched": 3.0, "memory_drift": 0.10}


@dataclass(frozen=True)
class LoadTestConfig:
    """Every load-test setting, with its default (the command line is built from these)."""

    serve: str = setting("", "The export directory to serve (required).")
    texts: str = setting(
        "", "A run directory (its test split) or a .csv/.jsonl/.txt file of texts (required)."
    )
    text_column: str | None = setting(None, "Text column of a --texts file (default: detected).")
    first_line: bool = setting(False, "Send each text's first line only (BBC: the headline).")
    concurrency: str = setting("1,8,64", "Concurrent clients per level, comma-separated.")
    seconds: float = setting(20.0, "Seconds per level (each level also stops at --max-requests).")
    max_requests: int = setting(20_000, "Requests per level at most.")
    soak_seconds: float = setting(
        180.0, "Seconds of the soak at the highest concurrency (0: none)."
    )
    soak_sample_seconds: float = setting(30.0, "Seconds between memory samples in the soak.")
    offline_seconds: float = setting(15.0, "Seconds of each offline batch-32 measurement.")
    rounds: int = setting(
        2, "Rounds in which the offline predictor and each server at the top level take turns."
    )
    batch_size: int = setting(32, "Texts per call of the offline predictor.")
    variant: str | None = setting(None, "Model file (default: the export's recommendation).")
    threads: int | None = setting(None, "onnxruntime threads, offline and in the server.")
    client: str = setting(
        "httpx",
        "The clients: httpx (AsyncClient), or raw (a minimal asyncio HTTP/1.1 client that spends "
        "far less CPU per request, leaving more of a shared machine to the server).",
    )
    server_flags: str = setting(
        "", "More `kerasbert serve` flags for the batching server, e.g. '--max-batch-size 64'."
    )
    output: str = setting("load_test.json", "Where to write the results.")

    def levels(self) -> list[int]:
        try:
            levels = [int(part) for part in self.concurrency.split(",") if part.strip()]
        except ValueError:
            levels = []
        if not levels or min(levels) <= 0:
            raise InputError("--concurrency must list positive integers, e.g. 1,8,64.")
        return levels


def run_load_test(config: LoadTestConfig) -> dict[str, Any]:
    """Measure everything of `config` (see the module docstring); the results as a dict."""
    if not config.serve or not config.texts:
        raise InputError("Give the export to serve (--serve DIR) and --texts RUN_DIR or FILE.")
    texts = load_texts(config.texts, config.text_column, config.first_line)
    levels = config.levels()
    common = _flags(config)
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "settings": dataclasses.asdict(config),
        "texts": {"count": len(texts), "mean_chars": sum(map(len, texts)) / len(texts)},
    }
    started = time.perf_counter()
    top = max(levels)
    servers = {
        "batching": common + config.server_flags.split(),
        "unbatched": [*common, "--max-batch-size", "1"],
        # One request per model call on onnxruntime's threads (no second worker): context for
        # the table, not what the target is judged on.
        "one_at_a_time": [*common, "--max-batch-size", "1", "--workers", "1"],
    }
    with contextlib.ExitStack() as stack:
        running = {
            name: stack.enter_context(ServerProcess(config.serve, flags))
            for name, flags in servers.items()
        }
        url = running["batching"].url
        results["batching"] = {
            str(level): measure_level(url, texts, level, config) for level in levels if level < top
        }
        for name, figures in compare_in_turn(config, texts, running, top).items():
            results.setdefault(name, {}).update(figures)
        if config.soak_seconds > 0:
            results["soak"] = soak(running["batching"], texts, top, config)
    results["targets"] = judge(results, max(levels))
    results["seconds"] = time.perf_counter() - started
    return results


def compare_in_turn(
    config: LoadTestConfig, texts: list[str], running: dict[str, ServerProcess], level: int
) -> dict[str, Any]:
    """The offline predictor and each server at `level` clients, taking turns for `rounds`
    rounds (the order rotating), so a slow spell of a shared machine meets all of them; each
    figure is the mean over the rounds, every round kept."""
    names = list(running)
    offline, rounds = [], {name: [] for name in names}
    for index in range(config.rounds):
        offline.append(offline_throughput(config, texts))
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            rounds[name].append(measure_level(running[name].url, texts, level, config))
    results: dict[str, Any] = {
        "offline": {
            "passes": offline,
            "texts_per_s": float(np.mean([item["texts_per_s"] for item in offline])),
        }
    }
    for name, figures in rounds.items():
        merged = {
            key: float(np.mean([item[key] for item in figures]))
            for key in ("texts_per_s", "p50_ms", "p95_ms", "p99_ms")
        }
        batches = [item["mean_batch_size"] for item in figures if item["mean_batch_size"]]
        merged["mean_batch_size"] = float(np.mean(batches)) if batches else None
        merged["errors"] = sum(item["errors"] for item in figures)
        merged["rounds"] = figures
        results.setdefault(name, {})[str(level)] = merged
    return results


def _flags(config: LoadTestConfig) -> list[str]:
    flags = ["--no-access-log"]
    if config.variant:
        flags += ["--variant", config.variant]
    if config.threads:
        flags += ["--threads", str(config.threads)]
    return flags


def load_texts(source: str, text_column: str | None, first_line: bool) -> list[str]:
    """The texts to send: a run directory's test split, or a file's texts."""
    path = Path(source)
    if path.is_dir():
        from kerasbert.training.rundir import RunDir

        texts = list(RunDir(path).read_split("test").texts)
    else:
        from kerasbert.inference.textfiles import read_texts

        texts = read_texts(path, text_column)
    if first_line:
        texts = [text.strip().splitlines()[0] if text.strip() else text for text in texts]
    if not texts:
        raise InputError(f"{source} holds no texts.")
    return texts


def offline_throughput(config: LoadTestConfig, texts: list[str]) -> dict[str, Any]:
    """Texts/s of `OnnxClassifier.predict_proba` on chunks of `batch_size` texts, passes over the
    texts repeated for `offline_seconds` (after one warm-up chunk)."""
    from kerasbert.inference.predictor import OnnxClassifier

    classifier = OnnxClassifier(config.serve, variant=config.variant, threads=config.threads)
    chunks = [texts[i : i + config.batch_size] for i in range(0, len(texts), config.batch_size)]
    classifier.predict_proba(chunks[0])
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < config.offline_seconds:
        for chunk in chunks:
            classifier.predict_proba(chunk)
            done += len(chunk)
    seconds = time.perf_counter() - started
    return {"texts": done, "seconds": seconds, "texts_per_s": done / seconds}


def measure_level(url: str, texts: list[str], level: int, config: LoadTestConfig) -> dict:
    """One level of closed-loop clients, with the server's mean batch size over it."""
    before = batch_figures(url)
    figures = run_clients(
        url, texts, level, config.seconds, config.max_requests, client=config.client
    )
    figures["mean_batch_size"] = mean_batch_size(before, batch_figures(url))
    logger.info("%d clients: %s", level, _brief(figures))
    return figures


def soak(server: ServerProcess, texts: list[str], level: int, config: LoadTestConfig) -> dict:
    """`level` clients for `soak_seconds`, the server's RSS sampled between segments."""
    samples = [server.rss_mb()]
    segments = []
    remaining = config.soak_seconds
    while remaining > 0:
        segment = min(config.soak_sample_seconds, remaining)
        # Bounded by time: a cap of requests far above what a segment can send.
        cap = int(segment * 100_000)
        segments.append(run_clients(server.url, texts, level, segment, cap, client=config.client))
        samples.append(server.rss_mb())
        remaining -= segment
    ok = sum(item["ok"] for item in segments)
    seconds = sum(item["seconds"] for item in segments)
    result = {
        "concurrency": level,
        "seconds": seconds,
        "texts_per_s": ok / seconds,
        "errors": sum(item["errors"] for item in segments),
        "p99_ms_max": max(item["p99_ms"] for item in segments),
        "rss_mb": [round(sample, 1) for sample in samples],
        "rss_start_mb": samples[0],
        "rss_end_mb": samples[-1],
        "rss_drift": samples[-1] / samples[0] - 1,
    }
    logger.info("Soak: %s", {key: result[key] for key in ("texts_per_s", "errors", "rss_mb")})
    return result


def judge(results: dict[str, Any], level: int) -> dict[str, Any]:
    """The issue's targets against this run's figures."""
    served = results["batching"][str(level)]["texts_per_s"]
    unbatched = results["unbatched"][str(level)]["texts_per_s"]
    of_offline = served / results["offline"]["texts_per_s"]
    of_unbatched = served / unbatched
    errors = sum(item["errors"] for item in results["batching"].values())
    errors += sum(item["errors"] for item in results["unbatched"].values())
    targets = {
        "of_offline": {"value": of_offline, "target": TARGETS["of_offline"]},
        "of_unbatched": {"value": of_unbatched, "target": TARGETS["of_unbatched"]},
        "errors": {"value": errors + results.get("soak", {}).get("errors", 0), "target": 0},
    }
    for target in targets.values():
        target["met"] = target["value"] >= target["target"] if target["target"] else None
    targets["errors"]["met"] = targets["errors"]["value"] == 0
    if "soak" in results:
        drift = results["soak"]["rss_drift"]
        met = abs(drift) <= TARGETS["memory_drift"]
        targets["memory_drift"] = {"value": drift, "target": TARGETS["memory_drift"], "met": met}
    return targets


def _brief(figures: dict[str, Any]) -> str:
    batch = figures.get("mean_batch_size")
    return (
        f"{figures['texts_per_s']:.0f} texts/s, p50 {figures['p50_ms']:.1f} ms, p99 "
        f"{figures['p99_ms']:.1f} ms, mean batch {batch or 0:.1f}, errors {figures['errors']}"
    )


def format_table(results: dict[str, Any]) -> str:
    """The results as a Markdown table, and the targets beneath it."""
    lines = [
        "| setting | clients | texts/s | p50 ms | p95 ms | p99 ms | mean batch | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for item in results["offline"]["passes"]:
        lines.append(
            f"| offline predictor, batch 32 | – | {item['texts_per_s']:.0f} | | | | 32 | 0 |"
        )
    groups = (
        ("server, batching", "batching"),
        ("server, batching off", "unbatched"),
        ("server, batching off, 1 worker", "one_at_a_time"),
    )
    for name, group in groups:
        for level, row in results.get(group, {}).items():
            lines.append(
                f"| {name} | {level} | {row['texts_per_s']:.0f} | {row['p50_ms']:.1f} | "
                f"{row['p95_ms']:.1f} | {row['p99_ms']:.1f} | {row['mean_batch_size'] or 0:.1f} | "
                f"{row['errors']} |"
            )
    if "soak" in results:
        soak_figures = results["soak"]
        lines.append(
            f"| soak {soak_figures['seconds']:.0f} s, RSS {soak_figures['rss_start_mb']:.0f} → "
            f"{soak_figures['rss_end_mb']:.0f} MB | {soak_figures['concurrency']} | "
            f"{soak_figures['texts_per_s']:.0f} | | | max {soak_figures['p99_ms_max']:.1f} | | "
            f"{soak_figures['errors']} |"
        )
    lines.append("")
    for name, target in results["targets"].items():
        verdict = "met" if target["met"] else "missed"
        lines.append(f"- {name}: {target['value']:.3g} (target {target['target']}): {verdict}")
    return "\n".join(lines)
