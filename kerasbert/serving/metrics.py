"""`ServerMetrics`: what `GET /metrics` shows, in the Prometheus text format.

Each app gets its own registry, so two servers in one process (the tests) never share counts.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# Texts per model call: powers of two up to past the largest batch one request may make.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 256)
# Request latency from a millisecond to past the default request timeout.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Paths measured by name; anything else (a typo, a scanner) counts as "other", so a client cannot
# grow the number of series without bound.
KNOWN_PATHS = (
    "/",
    "/static/page.js",
    "/static/page.css",
    "/v1/classify",
    "/v1/explain",
    "/v1/model",
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/openapi.json",
)


class ServerMetrics:
    """Requests, errors, latency, batch sizes, inference time and queue depth of one server, and
    the texts and words `/v1/explain` explained with the seconds each explain call took."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, queue_depth: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kerasbert_http_requests",
            "HTTP requests answered, by path and status.",
            ["path", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "kerasbert_http_errors",
            "HTTP requests answered with a 4xx or 5xx status, by path and status.",
            ["path", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kerasbert_http_request_seconds",
            "Seconds from a request's arrival to its answer, by path.",
            ["path"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.texts = Counter(
            "kerasbert_texts", "Texts (or pairs) classified.", registry=self.registry
        )
        self.batch_size = Histogram(
            "kerasbert_batch_size",
            "Texts per model call (1 when batching is off and requests carry one text).",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.inference = Histogram(
            "kerasbert_inference_seconds",
            "Seconds per model call, tokenization included.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.explained_texts = Counter(
            "kerasbert_explained_texts",
            "Texts (or pairs) explained by /v1/explain.",
            registry=self.registry,
        )
        self.explained_words = Counter(
            "kerasbert_explained_words",
            "Words hidden in turn by /v1/explain's occlusion: one model pass each.",
            registry=self.registry,
        )
        self.explain = Histogram(
            "kerasbert_explain_seconds",
            "Seconds per explain call (its texts classified and every word occluded).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "kerasbert_queue_depth",
            "Texts waiting for the model.",
            registry=self.registry,
        )
        self.queue_depth.set_function(queue_depth)

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        path = path if path in KNOWN_PATHS else "other"
        self.requests.labels(path, str(status)).inc()
        if status >= 400:
            self.errors.labels(path, str(status)).inc()
        self.latency.labels(path).observe(seconds)

    def observe_batch(self, size: int, seconds: float) -> None:
        """Count one model call of `size` texts."""
        self.batch_size.observe(size)
        self.inference.observe(seconds)
        self.texts.inc(size)

    def observe_explain(self, size: int, seconds: float) -> None:
        """Count one explain call of `size` texts."""
        self.explained_texts.inc(size)
        self.explain.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
