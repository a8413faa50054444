"""The load test's parts: a `kerasbert serve` process, closed-loop HTTP clients, its metrics.

`ServerProcess` starts `kerasbert serve` on 127.0.0.1 with a port of its own choosing, waits for
`/readyz` and stops it with SIGTERM. `run_clients` runs N closed-loop async clients (each sends one
text, waits for the answer, sends the next) for a bounded time and number of requests, and
returns throughput, latency percentiles and errors. `batch_figures` reads `/metrics`.
Traffic only ever goes to the loopback address the server was started on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import kerasbert

LOOPBACK = "127.0.0.1"
# A model load plus warm-up takes seconds; a machine busy with other work may take longer.
READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 60.0
_URL = re.compile(r"on (http://127\.0\.0\.1:\d+)")


class ServerProcess:
    """`kerasbert serve EXPORT --host 127.0.0.1 --port 0 [flags]` as a child process.

    Example:
    >>> with ServerProcess("exported/news", ["--max-batch-size", "1"]) as server:  # doctest: +SKIP
    ...     print(server.url, server.rss_mb())
    """

    def __init__(self, export_dir: str | Path, flags: Sequence[str] = ()) -> None:
        root = Path(kerasbert.__file__).resolve().parent.parent
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
        }
        command = [sys.executable, "-m", "kerasbert", "serve", str(export_dir)]
        command += ["--host", LOOPBACK, "--port", "0", *flags]
        # stderr (access log, warnings) goes to a file: a pipe nobody reads would fill and stall
        # the server.
        self.log = tempfile.NamedTemporaryFile(prefix="kerasbert-serve-", suffix=".log")
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self.log, text=True, env=environment
        )
        self.url = self._read_url()
        self.wait_ready()

    def _read_url(self) -> str:
        line = self.process.stdout.readline() if self.process.stdout else ""
        match = _URL.search(line)
        if match is None:
            self.stop()
            raise RuntimeError(f"kerasbert serve did not start: {line!r} {self.log_text()[-2000:]}")
        return match.group(1)

    def wait_ready(self) -> None:
        """Block until `/readyz` answers 200 (model loaded and warmed up)."""
        import httpx

        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kerasbert serve exited: {self.log_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"kerasbert serve was not ready within {READY_TIMEOUT_S:.0f} s.")

    def rss_mb(self) -> float:
        """The server's resident memory now (Linux `/proc`)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("VmRSS not found")

    def log_text(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, wait for the drain; the exit status (killed if it hangs)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        self.log.close()
        return self.process.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


def run_clients(
    url: str,
    texts: Sequence[str],
    concurrency: int,
    seconds: float,
    max_requests: int,
    timeout_s: float = 60.0,
    client: str = "httpx",
) -> dict[str, Any]:
    """`concurrency` closed-loop clients, one text per request (texts taken in turn), until
    `seconds` have passed or `max_requests` were sent; throughput, latency and errors.

    `client`: `httpx` (an `httpx.AsyncClient` per worker), or `raw`: a minimal HTTP/1.1
    keep-alive client on asyncio streams, which spends a small fraction of httpx's CPU per
    request, so on a machine shared with the server the clients take less of its CPU.
    """
    if not url.startswith(f"http://{LOOPBACK}:"):
        raise ValueError(f"The load test only sends to {LOOPBACK}, not {url}.")
    if client not in CLIENTS:
        raise ValueError(f"client must be one of {CLIENTS}, got {client!r}.")
    bodies = [json.dumps({"texts": [text]}).encode() for text in texts]
    connect = _httpx_connection if client == "httpx" else _raw_connection
    work = _run_clients(url, bodies, concurrency, seconds, max_requests, timeout_s, connect)
    try:  # uvloop (the serve extra has it) spends less CPU per request than asyncio's own loop
        import uvloop
    except ImportError:
        return asyncio.run(work)
    return uvloop.run(work)


CLIENTS = ("httpx", "raw")


async def _run_clients(
    url: str,
    bodies: list[bytes],
    concurrency: int,
    seconds: float,
    max_requests: int,
    timeout_s: float,
    connect: Any,
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def worker() -> None:
        nonlocal sent
        # A connection of its own per worker: no pool shared between workers.
        async with connect(url, timeout_s) as post:
            while sent < max_requests and time.perf_counter() < deadline:
                body = bodies[sent % len(bodies)]
                sent += 1
                begin = time.perf_counter()
                try:
                    status = str(await post(body))
                except Exception as error:  # refused, reset, timed out: counted by its kind
                    status = type(error).__name__
                if status == "200":
                    latencies.append(time.perf_counter() - begin)
                else:
                    errors[status] = errors.get(status, 0) + 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    milliseconds = np.asarray(latencies) * 1000.0 if latencies else np.zeros(1)
    return {
        "concurrency": concurrency,
        "requests": sent,
        "ok": len(latencies),
        "errors": sum(errors.values()),
        "errors_by_status": errors,
        "seconds": elapsed,
        "texts_per_s": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(milliseconds, 50)),
        "p95_ms": float(np.percentile(milliseconds, 95)),
        "p99_ms": float(np.percentile(milliseconds, 99)),
    }


@contextlib.asynccontextmanager
async def _httpx_connection(url: str, timeout_s: float):
    import httpx

    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=url, timeout=timeout_s) as http:

        async def post(body: bytes) -> int:
            response = await http.post("/v1/classify", content=body, headers=headers)
            return response.status_code

        yield post


@contextlib.asynccontextmanager
async def _raw_connection(url: str, timeout_s: float):
    host, port = url.removeprefix("http://").split(":")
    head = f"POST /v1/classify HTTP/1.1\r\nHost: {host}:{port}\r\n"
    head += "Content-Type: application/json\r\nContent-Length: "
    connection: list[Any] = []

    async def post(body: bytes) -> int:
        if not connection:
            connection.extend(await asyncio.open_connection(host, int(port)))
        reader, writer = connection
        writer.write(f"{head}{len(body)}\r\n\r\n".encode() + body)
        try:
            return await asyncio.wait_for(_read_response(reader), timeout_s)
        except BaseException:
            writer.close()
            connection.clear()  # the next request opens a fresh connection
            raise

    try:
        yield post
    finally:
        if connection:
            connection[1].close()


async def _read_response(reader: asyncio.StreamReader) -> int:
    """The status of one HTTP/1.1 response, its body read (the server always sends a length)."""
    status = int((await reader.readline()).split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


def batch_figures(url: str) -> dict[str, float]:
    """The server's model calls and texts so far (`kerasbert_batch_size` count and sum)."""
    import httpx

    text = httpx.get(url + "/metrics", timeout=10).text
    figures = {"calls": 0.0, "texts": 0.0}
    for line in text.splitlines():
        if line.startswith("kerasbert_batch_size_count"):
            figures["calls"] = float(line.split()[-1])
        elif line.startswith("kerasbert_batch_size_sum"):
            figures["texts"] = float(line.split()[-1])
    return figures


def mean_batch_size(before: dict[str, float], after: dict[str, float]) -> float | None:
    """Texts per model call between two `batch_figures` readings."""
    calls = after["calls"] - before["calls"]
    return (after["texts"] - before["texts"]) / calls if calls else None
