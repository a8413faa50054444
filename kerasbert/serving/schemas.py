"""The HTTP API's request and response bodies (pydantic), which the OpenAPI docs show.

Requests are strict: unknown fields, texts that are not strings and empty lists are refused with
the field named, never guessed at. A single-text model takes `texts`, a pair model `pairs`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr


class ClassifyRequest(BaseModel):
    """`POST /v1/classify`: texts (or pairs, for a model of text pairs) and an optional `top_k`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"texts": ["Shares rose after profits beat forecasts"]}]},
    )

    texts: list[StrictStr] | None = Field(
        None, min_length=1, description="Texts to classify (a single-text model)."
    )
    pairs: list[tuple[StrictStr, StrictStr]] | None = Field(
        None,
        min_length=1,
        description="[text, text_pair] pairs to classify (a model trained on text pairs).",
    )
    top_k: int | None = Field(
        None, ge=1, description="Also return the k most probable labels of each input."
    )
    min_confidence: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        strict=True,
        description="A single-label model abstains below it: an input whose top (calibrated) "
        "probability is lower gets `label: null`, its probabilities still given.",
    )


class ExplainRequest(ClassifyRequest):
    """`POST /v1/explain`: what `/v1/classify` takes, and optionally the labels to explain."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"texts": ["Shares rose after profits beat forecasts"]}],
        },
    )

    labels: list[StrictStr] | None = Field(
        None,
        min_length=1,
        description="Labels whose word attributions to return (any of the model's); default "
        "what the model decided (multi-label: each label of the set, else the most probable).",
    )


class LabelScore(BaseModel):
    label: str
    probability: float


class Result(BaseModel):
    """One input's answer: `label` (single-label; null where the model abstains below the
    request's `min_confidence`) or `labels` (multi-label), and the probability of every label."""

    label: str | None = None
    labels: list[str] | None = None
    probabilities: dict[str, float]
    top_k: list[LabelScore] | None = None


class ClassifyResponse(BaseModel):
    results: list[Result] = Field(description="One result per input, in input order.")


class ModelInfo(BaseModel):
    """`GET /v1/model`: what the server runs."""

    labels: list[str]
    task: str
    pair: bool
    max_length: int
    long_documents: bool
    variant: str
    max_batch_size: int
    limits: dict[str, Any]
    metadata: dict[str, Any] = Field(description="The export's kerasbert.json.")


class ErrorDetail(BaseModel):
    status: int
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    """Every 4xx/5xx answer: what was wrong and, for a bad request, which field."""

    error: ErrorDetail


class WordSpan(BaseModel):
    """One word as the model reads it: `text[start:end]` of the input's first text (`segment`
    0) or of its second (1, a pair model). Offsets count Unicode code points, as Python indexes
    strings (JavaScript: index `Array.from(text)`)."""

    text: str
    start: int
    end: int
    segment: int


class LabelAttribution(BaseModel):
    """How much each word pushed one label: `scores[i]` belongs to `words[i]`; positive supports
    the label. Occlusion: the model's own (uncalibrated) probability of the label lost when the
    word is hidden from attention."""

    label: str
    probability: float = Field(description="The label's calibrated probability, as classified.")
    scores: list[float]


class ExplainResult(Result):
    """One input's classification, exactly as `/v1/classify` answers it, and its words with the
    attribution of each explained label. Words the model does not read (cut by truncation) are
    not listed."""

    method: str = Field(description="How the scores were made: `occlusion`.")
    words: list[WordSpan]
    attributions: list[LabelAttribution]


class ExplainResponse(BaseModel):
    results: list[ExplainResult] = Field(description="One result per input, in input order.")
