"""`create_app`: the FastAPI application of `kerasbert serve`.

    POST /v1/classify   texts (or pairs) → a label (or label set) and every label's probability
                        (`min_confidence`: no label, null, below it)
    POST /v1/explain    the same answer, and each word's attribution to the labels (occlusion)
    GET  /              a page to type texts and see the probabilities and highlighted words
    GET  /v1/model      labels, task, max length, variant, limits, the export's metadata
    GET  /healthz       alive: the process answers
    GET  /readyz        ready: the model is loaded and has run a warm-up batch (503 before and
                        while shutting down)
    GET  /metrics       Prometheus text format
    GET  /docs          OpenAPI docs (/openapi.json)

Every error is JSON (`ErrorResponse`) naming what was wrong and, for a bad request, the field;
no traceback ever reaches a client. A request body over `max_body_bytes` is refused before it
is parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from kerasbert.common.decision import abstain, top_k
from kerasbert.serving.batcher import DynamicBatcher, QueueFull
from kerasbert.serving.config import ServeConfig
from kerasbert.serving.explain import (
    FieldError,
    WordCounter,
    check_labels,
    check_words,
    explanation_body,
    make_explain,
)
from kerasbert.serving.metrics import ServerMetrics
from kerasbert.serving.page import HEADERS, static_files
from kerasbert.serving.schemas import (
    ClassifyRequest,
    ClassifyResponse,
    ErrorResponse,
    ExplainRequest,
    ExplainResponse,
    ModelInfo,
)

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("kerasbert.serving.access")

# Seconds a client is asked to wait after a 503: about one full queue's worth of batches.
RETRY_AFTER_SECONDS = 1
ERRORS = {status: {"model": ErrorResponse} for status in (400, 413, 422, 503, 504)}


def request_body(model: type[ClassifyRequest]) -> dict[str, Any]:
    """The OpenAPI request body of a route that parses `model` itself (from the raw bytes)."""
    return {
        "required": True,
        "content": {"application/json": {"schema": model.model_json_schema()}},
    }


class ApiError(Exception):
    """An answer other than 200: its status, message, the field at fault and extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers


def error_response(error: ApiError) -> Response:
    body = {"status": error.status, "message": error.message}
    if error.field is not None:
        body["field"] = error.field
    return Response(
        json.dumps({"error": body}),
        status_code=error.status,
        media_type="application/json",
        headers=error.headers,
    )


def create_app(classifier: Any, config: ServeConfig) -> FastAPI:
    """The app serving `classifier` (an `OnnxClassifier`) with the limits of `config`."""
    multi_label = classifier.multi_label
    labels = list(classifier.labels)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher = make_batcher(classifier, config, metrics)
        app.state.batcher = batcher
        batcher.start()
        explainer = make_explain_batcher(classifier, config, metrics)
        app.state.explain_batcher = explainer
        explainer.start()
        warm_up = asyncio.get_running_loop().create_task(_warm_up(app, classifier, config))
        yield
        # SIGTERM: uvicorn has stopped accepting and answered every open request; finish what is
        # still queued (callers that gave up) and stop the worker thread.
        app.state.ready = False
        warm_up.cancel()
        await asyncio.gather(batcher.stop(), explainer.stop())
        logger.info("Batchers drained; shutting down.")

    app = FastAPI(
        title="kerasbert",
        summary="Classify texts with an exported kerasbert model.",
        version="1",
        lifespan=lifespan,
    )
    app.state.ready = False
    metrics = ServerMetrics(
        lambda: sum(
            getattr(app.state, name).queued
            for name in ("batcher", "explain_batcher")
            if hasattr(app.state, name)
        )
    )
    app.state.metrics = metrics
    _add_error_handlers(app)
    words = WordCounter(classifier)
    page = static_files()

    @app.post(
        "/v1/classify",
        response_model=ClassifyResponse,
        responses=ERRORS,
        openapi_extra={"requestBody": request_body(ClassifyRequest)},
    )
    async def classify(request: Request) -> Response:
        """Classify texts (or, for a model of text pairs, `[text, text_pair]` pairs); results come
        back in input order."""
        # pydantic parses and validates the raw bytes in one pass (in Rust): a large share of a
        # single-text request's server time went to FastAPI's own body handling.
        try:
            body = ClassifyRequest.model_validate_json(await request.body())
        except ValidationError as error:
            raise validation_error(error.errors(), ClassifyRequest) from None
        inputs = check_request(body, classifier, config)
        answers = await _submit(app.state.batcher, inputs, config.request_timeout_s)
        if body.min_confidence is not None:
            answers = _abstain(answers, body.min_confidence)
        results = [
            answer_body(labels, label, row, multi_label, body.top_k) for label, row in answers
        ]
        return Response(json.dumps({"results": results}), media_type="application/json")

    @app.post(
        "/v1/explain",
        response_model=ExplainResponse,
        responses=ERRORS,
        openapi_extra={"requestBody": request_body(ExplainRequest)},
    )
    async def explain(request: Request) -> Response:
        """Classify texts (or pairs) as `/v1/classify` does and say which words drove each label:
        every word hidden from the model in turn (occlusion), so a text costs one model pass per
        word; the words of a request are limited in all (`limits.max_explain_words`)."""
        try:
            body = ExplainRequest.model_validate_json(await request.body())
        except ValidationError as error:
            raise validation_error(error.errors(), ExplainRequest) from None
        inputs = check_request(body, classifier, config)
        kind = "pairs" if classifier.pair else "texts"
        try:
            requested = check_labels(body.labels, labels)
            # Tokenizing a full request of long texts takes a while: not on the event loop.
            check_words(
                await asyncio.to_thread(words.count, inputs), kind, config.max_explain_words
            )
        except FieldError as error:
            raise ApiError(error.status, str(error), error.field) from None
        answers = await _submit(app.state.explain_batcher, inputs, config.request_timeout_s)
        decided = [(answer.label, answer.probabilities) for answer in answers]
        if body.min_confidence is not None:
            decided = _abstain(decided, body.min_confidence)
        results = [
            {
                **answer_body(labels, label, row, multi_label, body.top_k),
                **explanation_body(classifier, answer, requested),
            }
            for (label, row), answer in zip(decided, answers, strict=True)
        ]
        return Response(json.dumps({"results": results}), media_type="application/json")

    @app.get("/", include_in_schema=False)
    @app.get("/static/page.js", include_in_schema=False)
    @app.get("/static/page.css", include_in_schema=False)
    async def static_page(request: Request) -> Response:
        """The page (`kerasbert.serving.page`): type texts, see probabilities and words."""
        file = page[request.url.path]
        return Response(file.content, media_type=file.media_type, headers=HEADERS)

    @app.get("/v1/model", response_model=ModelInfo)
    async def model_info() -> dict[str, Any]:
        """The model served and the server's limits."""
        return model_body(classifier, config)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Alive: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"model": ErrorResponse}})
    async def readyz() -> Response:
        """Ready: the model is loaded and warmed up, and the server is not shutting down."""
        if not app.state.ready:
            raise ApiError(503, "Not ready: warming up or shutting down.")
        return Response('{"status":"ready"}', media_type="application/json")

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        """Requests, errors, latency, batch sizes, inference time and queue depth."""
        return Response(metrics.render(), media_type=metrics.content_type)

    return GuardMiddleware(app, config, metrics)


def make_explain_batcher(
    classifier: Any, config: ServeConfig, metrics: ServerMetrics
) -> DynamicBatcher:
    """The batcher that explains the texts of concurrent `/v1/explain` requests.

    One worker: a text's masked variants fill the model's batches already, so a second worker
    would only take the cores from `/v1/classify`'s, which keep answering while a long
    explanation runs."""
    return DynamicBatcher(
        make_explain(classifier, metrics.explained_words.inc),
        max_batch_size=config.max_batch_size,
        max_wait=config.max_wait_ms / 1000.0,
        max_queue=config.max_queue,
        on_batch=metrics.observe_explain,
        workers=1,
    )


def make_batcher(classifier: Any, config: ServeConfig, metrics: ServerMetrics) -> DynamicBatcher:
    """The batcher that runs `classifier` on the texts of concurrent requests."""

    def infer(items: list[Any]) -> list[tuple[Any, Any]]:
        scores = classifier.classify(items)
        return list(zip(scores.labels, scores.probabilities))

    return DynamicBatcher(
        infer,
        max_batch_size=config.max_batch_size,
        max_wait=config.max_wait_ms / 1000.0,
        max_queue=config.max_queue,
        on_batch=metrics.observe_batch,
        workers=config.workers,
    )


async def _submit(batcher: DynamicBatcher, inputs: list[Any], timeout_s: float) -> Any:
    """The batcher's answers, or the `ApiError` a full queue, a timeout or a shutdown gives."""
    try:
        return await asyncio.wait_for(batcher.submit(inputs), timeout_s)
    except QueueFull as error:
        raise ApiError(
            503, f"Server busy: {error} Retry shortly.", None,
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from None  # fmt: skip
    except asyncio.TimeoutError:
        raise ApiError(504, f"No answer within {timeout_s:g} s; retry later.") from None
    except RuntimeError as error:  # shutting down
        raise ApiError(503, str(error), None, {"Retry-After": "5"}) from None


def _abstain(answers: list[tuple[Any, Any]], min_confidence: float) -> list[tuple[Any, Any]]:
    """The batcher's (label, probabilities) answers with None for a label whose text's top
    probability is below `min_confidence`: the predictor's rule (`decision.abstain`)."""
    if not answers:
        return answers
    labels = abstain(
        [label for label, _ in answers], np.stack([row for _, row in answers]), min_confidence
    )
    return [(label, row) for label, (_, row) in zip(labels, answers, strict=True)]


def answer_body(
    labels: list[str], label: Any, row: Any, multi_label: bool, k: int | None
) -> dict[str, Any]:
    """One input's result: its label (label set), every label's probability, its top k."""
    result: dict[str, Any] = {"labels" if multi_label else "label": label}
    result["probabilities"] = {name: float(value) for name, value in zip(labels, row)}
    if k is not None:
        result["top_k"] = [
            {"label": name, "probability": value}
            for name, value in top_k(np.asarray(row)[None, :], labels, k)[0]
        ]
    return result


def model_body(classifier: Any, config: ServeConfig) -> dict[str, Any]:
    """`GET /v1/model`: the model served and the server's limits."""
    return {
        "labels": list(classifier.labels),
        "task": str(classifier.task),
        "pair": classifier.pair,
        "max_length": classifier.max_length,
        "long_documents": classifier.long_documents,
        "variant": classifier.variant,
        "max_batch_size": config.max_batch_size,
        "limits": {
            "max_texts_per_request": config.max_texts_per_request,
            "max_text_chars": config.max_text_chars,
            "max_body_bytes": config.max_body_bytes,
            "max_explain_words": config.max_explain_words,
            "max_queue": config.max_queue,
            "request_timeout_s": config.request_timeout_s,
        },
        "metadata": classifier.metadata,
    }


def check_request(body: ClassifyRequest, classifier: Any, config: ServeConfig) -> list[Any]:
    """The inputs of a valid request, or an `ApiError` naming the field at fault."""
    kind, other = ("pairs", "texts") if classifier.pair else ("texts", "pairs")
    given, wrong = getattr(body, kind), getattr(body, other)
    if wrong is not None:
        example = '[["text", "text_pair"]]' if classifier.pair else '["text"]'
        raise ApiError(
            422,
            f"{other}: this model classifies {'text pairs' if classifier.pair else 'single texts'}"
            f"; send {kind}: {example}.",
            other,
        )
    if given is None:
        raise ApiError(422, f"{kind}: required, a non-empty list.", kind)
    if len(given) > config.max_texts_per_request:
        raise ApiError(
            413,
            f"{kind}: {len(given)} items; at most {config.max_texts_per_request} per request.",
            kind,
        )
    for position, item in enumerate(given):
        for part, text in enumerate((item,) if isinstance(item, str) else item):
            if len(text) > config.max_text_chars:
                field = f"{kind}[{position}]" + ("" if isinstance(item, str) else f"[{part}]")
                raise ApiError(
                    413,
                    f"{field}: {len(text)} characters; at most {config.max_text_chars}.",
                    field,
                )
    if body.min_confidence is not None and classifier.multi_label:
        raise ApiError(
            422,
            "min_confidence: for single-label models; a multi-label model answers an empty "
            "label set where no label reaches its threshold.",
            "min_confidence",
        )
    if body.top_k is not None and body.top_k > len(classifier.labels):
        raise ApiError(
            422, f"top_k: at most {len(classifier.labels)} (the number of labels).", "top_k"
        )
    return [tuple(item) for item in given] if classifier.pair else list(given)


async def _warm_up(app: FastAPI, classifier: Any, config: ServeConfig) -> None:
    """Run one batch of short and long inputs, so the first caller does not pay for
    onnxruntime's first-call allocations; then report ready."""
    long_text = "warm up " * classifier.max_length
    texts = [long_text if index % 2 else "warm up" for index in range(config.max_batch_size)]
    inputs = [(text, text) for text in texts] if classifier.pair else texts
    try:
        # One full batch per worker, so every worker thread has made its first call.
        share = inputs[: config.max_queue // config.workers]
        await asyncio.gather(*(app.state.batcher.submit(share) for _ in range(config.workers)))
    except Exception:  # noqa: BLE001 - a failed warm-up leaves the server not ready, visibly
        logger.exception("Warm-up batch failed; /readyz stays 503.")
        return
    app.state.ready = True
    logger.info("Model warmed up; ready.")


def _field_name(location: tuple[Any, ...]) -> str:
    """`("body", "texts", 3)` → `texts[3]`."""
    name = ""
    for part in location[1:] if location[:1] == ("body",) else location:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def validation_error(
    errors: Sequence[Any], model: type[ClassifyRequest] = ClassifyRequest
) -> ApiError:
    """Pydantic's first complaint as one `ApiError`: 400 for a body that is not JSON, 422 naming
    the field otherwise (an unknown field's answer lists the fields of `model`, the request's
    schema)."""
    first = errors[0]
    kind, location = first.get("type", ""), tuple(first.get("loc", ()))
    if kind == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "malformed JSON")
        if "EOF while parsing a value at line 1 column 0" in str(reason):
            reason = "the body is empty"
        return ApiError(400, f"body: not valid JSON ({reason}).", "body")
    if location in ((), ("body",)):
        return ApiError(
            400 if kind == "missing" else 422,
            'body: a JSON object is required, e.g. {"texts": ["some text"]}.',
            "body",
        )
    field = _field_name(location)
    if kind == "extra_forbidden":
        allowed = ", ".join(model.model_fields)
        return ApiError(422, f"{field}: unknown field; the fields are {allowed}.", field)
    return ApiError(422, f"{field}: {first.get('msg', 'invalid')}.", field)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> Response:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        return error_response(validation_error(error.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        message = f"{request.method} {request.url.path}: {error.detail}."
        return error_response(ApiError(error.status_code, message, None, error.headers))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        logger.exception("Unexpected error on %s %s", request.method, request.url.path)
        return error_response(ApiError(500, "Internal error; see the server's log."))


class GuardMiddleware:
    """Plain ASGI around the app: refuses bodies over the size limit before they are parsed,
    counts every request in the metrics and writes one JSON access-log line per request."""

    def __init__(self, app: FastAPI, config: ServeConfig, metrics: ServerMetrics) -> None:
        self.app, self.config, self.metrics = app, config, metrics
        self.state = app.state  # what the server and the tests reach through the wrapper

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            body = await self._read_body(scope, receive) if scope["method"] == "POST" else None
            if body is False:
                limit = self.config.max_body_bytes
                message = f"body: larger than {limit} bytes (--max-body-bytes)."
                await error_response(ApiError(413, message, "body"))(scope, receive, send_status)
            elif body is None:
                await self.app(scope, receive, send_status)
            else:
                await self.app(scope, _replay(body, receive), send_status)
        finally:  # an unexpected error was answered with a 500 and is re-raised for the log
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: dict, status: int, seconds: float) -> None:
        self.metrics.observe_request(scope["path"], status, seconds)
        if self.config.access_log:
            client = scope.get("client") or ("-", 0)
            access_logger.info(
                json.dumps(
                    {
                        "client": f"{client[0]}:{client[1]}",
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round(seconds * 1000, 2),
                    }
                )
            )

    async def _read_body(self, scope: dict, receive: Any) -> bytes | bool:
        """The whole body, or False as soon as it is known to exceed the limit."""
        limit = self.config.max_body_bytes
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return False
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return False
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    """A `receive` that hands the app the body already read, then waits on the real one."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
