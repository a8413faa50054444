"""`POST /v1/explain` and the page at `GET /`, through real `kerasbert serve` processes on
127.0.0.1 with the tiny export made single-label calibrated, pair and multi-label (its
kerasbert.json edited, as `test_serve` makes its pair model), and a real headless Chromium
(Debian's `chromium`, driven by `scripts/serve_page.py`) typing into the page.

/v1/explain answers what /v1/classify answers plus the predictor's own occlusion; bad input gets
the same 4xx naming the field; the page shows the label and the probabilities /v1/classify gives,
the abstention, and a coloured word for every word explained, and asks no other host.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from tiny_export_fixtures import LABELS

pytest.importorskip("fastapi", reason="the serve extra is not installed")
httpx = pytest.importorskip("httpx", reason="the serve extra is not installed")

from kerasbert.benchmark.load import ServerProcess  # noqa: E402
from kerasbert.inference.predictor import OnnxClassifier  # noqa: E402
from kerasbert.serving.page import CONTENT_SECURITY_POLICY, FILES  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("serve_page", ROOT / "scripts" / "serve_page.py")
serve_page = importlib.util.module_from_spec(_spec)
sys.modules["serve_page"] = serve_page
_spec.loader.exec_module(serve_page)

# Small enough to reach from a test (the tiny model reads 30 words at most), large enough for
# the texts below.
MAX_WORDS = 24
FLAGS = ["--variant", "fp32", "--max-texts-per-request", "4", "--max-text-chars", "3000"]
FLAGS += ["--max-explain-words", str(MAX_WORDS)]
# fp32 rounding depends on the batch a row ran in (its padded length), and the server batches
# concurrent requests as they come: the same numbers within this, far below what tells two
# texts or two words apart.
TOLERANCE = 1e-5
# A temperature far from 1, so calibrated and raw probabilities differ visibly.
TEMPERATURE = 2.5
TEXTS = ["the bank said profits rose", "Café Zürich 😀 the new phone", "he won the game at home"]
PAIRS = [("the bank said", "the game was won"), ("new phone", "Café 😀 chip"), ("a", "it is")]


def edited_export(tiny, target: Path, **changes) -> Path:
    """A copy of the tiny export with its kerasbert.json changed by `changes`."""
    export = Path(shutil.copytree(tiny.export_dir, target))
    metadata = json.loads((export / "kerasbert.json").read_text(encoding="utf-8"))
    (export / "kerasbert.json").write_text(json.dumps({**metadata, **changes}), encoding="utf-8")
    return export


@pytest.fixture(scope="module")
def single(tiny, tmp_path_factory) -> Path:
    calibration = {"method": "temperature", "temperature": TEMPERATURE}
    return edited_export(tiny, tmp_path_factory.mktemp("page") / "single", calibration=calibration)


@pytest.fixture(scope="module")
def pair(tiny, tmp_path_factory) -> Path:
    # The tiny graph takes segment ids, so marking its export as a pair model makes one.
    return edited_export(tiny, tmp_path_factory.mktemp("page") / "pair", pair=True)


@pytest.fixture(scope="module")
def multilabel(tiny, tmp_path_factory) -> Path:
    thresholds = {"business": 0.3, "sport": 0.5, "tech": 0.7}
    return edited_export(
        tiny,
        tmp_path_factory.mktemp("page") / "multilabel",
        task="multi_label",
        thresholds=thresholds,
        label_separator="|",
    )


@pytest.fixture(scope="module")
def single_server(single):
    with ServerProcess(single, FLAGS) as server:
        yield server


def post(server: ServerProcess, path: str, body: dict) -> httpx.Response:
    return httpx.post(server.url + path, json=body, timeout=60)


def assert_same_classification(explained: list[dict], classified: list[dict]) -> None:
    """/v1/explain's label(s) and probabilities are /v1/classify's."""
    for got, want in zip(explained, classified, strict=True):
        assert {key: got[key] for key in want if key != "probabilities"} == {
            key: value for key, value in want.items() if key != "probabilities"
        }
        assert got["probabilities"] == pytest.approx(want["probabilities"], abs=TOLERANCE)


def assert_predictor_scores(results: list[dict], offline: OnnxClassifier, items: list) -> None:
    """Every explained label's scores are the predictor's occlusion, word for word."""
    for result, explanation in zip(results, offline.explain(items, labels=LABELS), strict=True):
        words = [(word.text, word.start, word.end, word.segment) for word in explanation.words]
        assert [(w["text"], w["start"], w["end"], w["segment"]) for w in result["words"]] == words
        for attribution in result["attributions"]:
            want = explanation.attribution(attribution["label"]).scores
            assert attribution["scores"] == pytest.approx(want, abs=TOLERANCE)
            probability = result["probabilities"][attribution["label"]]
            assert attribution["probability"] == pytest.approx(probability, abs=1e-12)


def test_explain_answers_the_classification_and_the_predictor_s_occlusion(
    single_server: ServerProcess, single: Path
) -> None:
    offline = OnnxClassifier(single, variant="fp32")
    classified = post(single_server, "/v1/classify", {"texts": TEXTS, "top_k": 2}).json()
    response = post(single_server, "/v1/explain", {"texts": TEXTS, "top_k": 2})

    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert_same_classification(results, classified["results"])
    # Calibrated: the export's temperature applied, as the predictor applies it.
    for result, row in zip(results, offline.predict_proba(TEXTS), strict=True):
        assert list(result["probabilities"].values()) == pytest.approx(row.tolist(), abs=TOLERANCE)
        assert result["method"] == "occlusion"
        assert [item["label"] for item in result["attributions"]] == [result["label"]]
    assert_predictor_scores(results, offline, TEXTS)
    # Spans index the text in code points, past the accents and the emoji.
    for text, result in zip(TEXTS, results, strict=True):
        assert [text[word["start"] : word["end"]] for word in result["words"]] == [
            word["text"] for word in result["words"]
        ]
    assert "Zürich" in [word["text"] for word in results[1]["words"]]


def test_explain_abstains_as_classify_and_explains_the_labels_asked_for(
    single_server: ServerProcess,
) -> None:
    probabilities = post(single_server, "/v1/classify", {"texts": TEXTS}).json()["results"]
    tops = sorted(max(result["probabilities"].values()) for result in probabilities)
    minimum = (tops[0] + tops[-1]) / 2  # the least confident text abstains, the most does not
    body = {"texts": TEXTS, "min_confidence": minimum, "labels": ["tech", "business", "tech"]}

    explained = post(single_server, "/v1/explain", body).json()["results"]
    # `labels` is explain's own field: classify refuses it.
    assert post(single_server, "/v1/classify", body).status_code == 422
    classified = post(
        single_server, "/v1/classify", {"texts": TEXTS, "min_confidence": minimum}
    ).json()["results"]
    assert_same_classification(explained, classified)
    assert None in [result["label"] for result in explained]
    assert {result["label"] for result in explained} - {None}
    for result in explained:
        assert [item["label"] for item in result["attributions"]] == ["tech", "business"]


def test_a_pair_model_explains_both_texts(pair: Path) -> None:
    offline = OnnxClassifier(pair, variant="fp32")
    with ServerProcess(pair, FLAGS) as server:
        classified = post(server, "/v1/classify", {"pairs": PAIRS}).json()["results"]
        response = post(server, "/v1/explain", {"pairs": PAIRS, "labels": LABELS})
        refused = post(server, "/v1/explain", {"texts": ["a"]})
        empty = post(server, "/v1/explain", {"pairs": [["a", "b"], [" ", ""]]})

    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert_same_classification(results, classified)
    assert_predictor_scores(results, offline, PAIRS)
    for item, result in zip(PAIRS, results, strict=True):
        assert {word["segment"] for word in result["words"]} == {0, 1}
        for word in result["words"]:
            assert item[word["segment"]][word["start"] : word["end"]] == word["text"]
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "texts"
    assert empty.status_code == 422 and empty.json()["error"]["field"] == "pairs[1]"


def test_a_multi_label_model_explains_its_label_sets(multilabel: Path) -> None:
    offline = OnnxClassifier(multilabel, variant="fp32")
    with ServerProcess(multilabel, FLAGS) as server:
        classified = post(server, "/v1/classify", {"texts": TEXTS}).json()["results"]
        response = post(server, "/v1/explain", {"texts": TEXTS})
        refused = post(server, "/v1/explain", {"texts": TEXTS, "min_confidence": 0.5})

    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert_same_classification(results, classified)
    assert_predictor_scores(results, offline, TEXTS)
    for result in results:
        explained = [item["label"] for item in result["attributions"]]
        top = max(result["probabilities"], key=result["probabilities"].get)
        assert explained == (result["labels"] or [top])
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "min_confidence"


ONE_TOKEN_WORDS = "the a of to and in is it for on that was said he".split()
BAD_REQUESTS = {
    "malformed JSON": (b'{"texts": ["a"', 400, "body"),
    "no body": (b"", 400, "body"),
    "unknown field": (b'{"texts": ["a"], "label": "tech"}', 422, "label"),
    "text not a string": (b'{"texts": ["a", 3]}', 422, "texts[1]"),
    "texts not a list": (b'{"texts": "a"}', 422, "texts"),
    "empty list": (b'{"texts": []}', 422, "texts"),
    "empty text": (b'{"texts": ["a", ""]}', 422, "texts[1]"),
    "only spaces": (b'{"texts": [" \\n\\t "]}', 422, "texts[0]"),
    "pairs to a single-text model": (b'{"pairs": [["a", "b"]]}', 422, "pairs"),
    "too many texts": (json.dumps({"texts": ["a"] * 5}).encode(), 413, "texts"),
    "text too long": (json.dumps({"texts": ["a", "b" * 3001]}).encode(), 413, "texts[1]"),
    "too many words in a text": (
        json.dumps({"texts": ["a", " ".join(ONE_TOKEN_WORDS * 2)]}).encode(),
        413,
        "texts[1]",
    ),
    "too many words in all": (
        json.dumps({"texts": [" ".join(ONE_TOKEN_WORDS[:13])] * 2}).encode(),
        413,
        "texts",
    ),
    "unknown label": (b'{"texts": ["a"], "labels": ["sport", "weather"]}', 422, "labels[1]"),
    "labels not a list": (b'{"texts": ["a"], "labels": "sport"}', 422, "labels"),
    "no labels": (b'{"texts": ["a"], "labels": []}', 422, "labels"),
    "min_confidence a string": (
        b'{"texts": ["a"], "min_confidence": "0.5"}',
        422,
        "min_confidence",
    ),
    "min_confidence above 1": (b'{"texts": ["a"], "min_confidence": 2}', 422, "min_confidence"),
    "top_k above the labels": (b'{"texts": ["a"], "top_k": 4}', 422, "top_k"),
}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_bad_explain_requests_get_a_4xx_naming_the_field(
    single_server: ServerProcess, name: str
) -> None:
    body, status, field = BAD_REQUESTS[name]
    response = httpx.post(
        single_server.url + "/v1/explain",
        content=body,
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status and error["field"] == field
    assert error["message"].startswith(field) and "Traceback" not in response.text


def test_unknown_fields_are_named_with_the_fields_explain_takes(
    single_server: ServerProcess,
) -> None:
    message = post(single_server, "/v1/explain", {"texts": ["a"], "x": 1}).json()["error"]
    assert "labels" in message["message"] and "min_confidence" in message["message"]


def test_explain_is_counted_documented_and_the_limit_is_published(
    single_server: ServerProcess,
) -> None:
    assert post(single_server, "/v1/explain", {"texts": ["the bank", "a b"]}).status_code == 200
    metrics = httpx.get(single_server.url + "/metrics").text

    assert _value(metrics, "kerasbert_explained_texts_total") >= 2
    assert _value(metrics, "kerasbert_explained_words_total") >= 4
    assert _value(metrics, "kerasbert_explain_seconds_count") >= 1
    assert 'kerasbert_http_requests_total{path="/v1/explain",status="200"}' in metrics
    schema = httpx.get(single_server.url + "/openapi.json").json()
    body = schema["paths"]["/v1/explain"]["post"]["requestBody"]["content"]["application/json"]
    assert "labels" in body["schema"]["properties"]
    assert "ExplainResponse" in schema["components"]["schemas"]
    model = httpx.get(single_server.url + "/v1/model").json()
    assert model["limits"]["max_explain_words"] == MAX_WORDS


def _value(metrics: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", metrics, flags=re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


def test_the_page_is_served_from_the_package_and_asks_no_other_host(
    single_server: ServerProcess,
) -> None:
    for path, (name, media_type) in FILES.items():
        response = httpx.get(single_server.url + path)
        assert response.status_code == 200
        assert response.headers["content-type"] == media_type
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
        # No absolute URL anywhere: every file, script and call stays on this server.
        assert not re.search(r"(https?:)?//[a-z0-9]", response.text, flags=re.IGNORECASE), name
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert "connect-src 'self'" in CONTENT_SECURITY_POLICY


# ---- the page in a real browser -------------------------------------------------------------

needs_chromium = pytest.mark.skipif(
    not serve_page.CHROMIUM.exists(),
    reason=f"no Chromium at {serve_page.CHROMIUM} (Debian: apt install chromium)",
)


def shown_percent(text: str) -> float:
    assert text.endswith("%"), text
    return float(text[:-1])


def assert_page_shows(page: list[dict], classified: list[dict], multi_label: bool) -> None:
    """The page's label(s) and each label's percentage are /v1/classify's, to the digits the
    page shows (one decimal of a percent)."""
    assert len(page) == len(classified)
    for shown, answer in zip(page, classified, strict=True):
        if multi_label:
            assert shown["labels"] == answer["labels"]
        else:
            assert shown["label"] == answer["label"]
            assert shown["abstained"] == (answer["label"] is None)
        assert set(shown["shown"]) == set(answer["probabilities"])
        for label, probability in answer["probabilities"].items():
            assert abs(shown_percent(shown["shown"][label]) - 100 * probability) <= 0.05 + 1e-9


@needs_chromium
def test_chromium_shows_what_classify_answers_with_the_abstention(
    single_server: ServerProcess,
) -> None:
    tops = [
        max(result["probabilities"].values())
        for result in post(single_server, "/v1/classify", {"texts": TEXTS}).json()["results"]
    ]
    # A step of the page's slider between the least and the most confident text.
    minimum = round((min(tops) + max(tops)) / 2, 2)
    assert min(tops) < minimum <= max(tops)

    with serve_page.Chromium(single_server.url) as browser:
        page = serve_page.classify_on_page(browser, single_server.url + "/", TEXTS, minimum)
        assert browser.blocked == [] and browser.errors == []
    classified = post(
        single_server, "/v1/classify", {"texts": TEXTS, "min_confidence": minimum}
    ).json()["results"]
    explained = post(single_server, "/v1/explain", {"texts": TEXTS}).json()["results"]

    assert_page_shows(page, classified, multi_label=False)
    assert any(result["abstained"] for result in page)
    assert not all(result["abstained"] for result in page)
    for shown, result in zip(page, explained, strict=True):
        assert shown["words"] == [word["text"] for word in result["words"]]
        assert shown["highlighted"] == len(result["words"])
        if shown["abstained"]:
            assert f"below the minimum confidence of {100 * minimum:.1f}%" in shown["decision"]


@needs_chromium
@pytest.mark.parametrize("kind", ["pair", "multilabel"])
def test_chromium_shows_pair_and_multi_label_models(request, kind: str) -> None:
    export = request.getfixturevalue(kind)
    items = PAIRS if kind == "pair" else TEXTS
    body = {"pairs": PAIRS} if kind == "pair" else {"texts": TEXTS}
    with ServerProcess(export, FLAGS) as server:
        with serve_page.Chromium(server.url) as browser:
            page = serve_page.classify_on_page(browser, server.url + "/", items)
            blocked, errors = browser.blocked, browser.errors
            confidence_hidden = browser.evaluate(
                "document.querySelector('#confidence-control').hidden"
            )
        classified = post(server, "/v1/classify", body).json()["results"]
        explained = post(server, "/v1/explain", body).json()["results"]

    assert blocked == [] and errors == []
    assert_page_shows(page, classified, multi_label=kind == "multilabel")
    assert confidence_hidden == (kind == "multilabel")  # multi-label models never abstain
    for shown, result in zip(page, explained, strict=True):
        assert shown["words"] == [word["text"] for word in result["words"]]
        assert shown["highlighted"] == len(result["words"])


@needs_chromium
def test_the_page_cannot_reach_another_host_and_the_browser_would_tell(
    single_server: ServerProcess,
) -> None:
    """What "no external requests" rests on: the page's Content-Security-Policy stops a request
    to another host, and the driver catches (and fails, unsent) any request that gets past a
    page's policy: FastAPI's /docs loads Swagger UI from a CDN."""
    with serve_page.Chromium(single_server.url) as browser:
        browser.open(single_server.url + "/")
        outcome = browser.evaluate(
            "fetch('http://fonts.example.invalid/x.css').then(() => 'loaded', () => 'refused')"
        )
        served = browser.evaluate("fetch('/v1/model').then((response) => response.status)")
        stopped_by_policy = list(browser.errors)
        browser.open(single_server.url + "/docs")
    assert outcome == "refused" and served == 200
    assert any("Content Security Policy" in error for error in stopped_by_policy)
    assert browser.blocked, "the /docs page's CDN requests were not seen"
    assert not any(url.startswith(single_server.url) for url in browser.blocked)
