"""The example apps in `examples/` give the Python predictor's labels and probabilities.

Runs `examples/node/classify.mjs` (transformers.js's pipeline), `examples/node/onnxruntime.mjs`
(plain onnxruntime-node) and the browser page (`examples/browser/`, in headless Chromium) on the
tiny single-text, pair and multi-label exports written by `kerasbert export`, on their test
splits plus texts long enough to be truncated, and holds them to `OnnxClassifier` batched as each
app batches (`scripts/clients_check.py`, whose functions these tests call). The npm packages are
installed once into `.cache/node/` from examples/node/package-lock.json.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from string import Template

import pytest
from tokenizers import Tokenizer

from kerasbert.inference.predictor import TextEncoder

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "clients_check", ROOT / "scripts" / "clients_check.py"
)
clients_check = importlib.util.module_from_spec(_spec)
sys.modules["clients_check"] = clients_check  # its dataclasses look their module up there
_spec.loader.exec_module(clients_check)

MISSING = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"{' and '.join(MISSING)} not on PATH: the Node.js clients need Node.js 20+ and npm",
    ),
]

# fp32: the same graph on onnxruntime-node or -web as on Python's onnxruntime, so only the
# kernels' float rounding differs (1e-6 seen).
FP32_TOLERANCE = 1e-4
# int8 quantizes every activation tensor to 256 steps chosen per batch: where the client's
# onnxruntime (another release than Python's) sums a value a rounding apart, it can land one
# step over, which moves these tiny models' probabilities by more than fp32 rounding (6e-8 seen
# with like batches; the same texts batched differently move them by 0.08).
INT8_TOLERANCE = 1e-3
# onnxruntime-web's WebAssembly int8 kernels round otherwise than the native ones on some inputs:
# on the default job's MiniLM export, 48 of 425 BBC test texts moved by more than 1e-3, at most by
# 0.043 (median 1.5e-6; one thread or several alike; fp32 on the same ids within 1e-6), every
# label the same.
BROWSER_INT8_TOLERANCE = 5e-2
TOLERANCE = {"fp32": FP32_TOLERANCE, "int8": INT8_TOLERANCE}
BROWSER_TOLERANCE = {"fp32": FP32_TOLERANCE, "int8": BROWSER_INT8_TOLERANCE}
EXPORTS = ("tiny", "tiny_pair", "tiny_multilabel")


@pytest.fixture(scope="session")
def node_install() -> Path:
    """examples/node's packages, installed once (`npm ci --ignore-scripts`) into .cache/node."""
    return clients_check.install_clients(clients_check.DEFAULT_CACHE)


def items_for(run_dir: Path) -> list[dict[str, str]]:
    """The run's test split plus texts (and pairs) of several test texts joined, all past the
    export's max length, so truncation decides what the model reads."""
    items = clients_check.read_items(run_dir / "data" / "test.jsonl")
    joined = [
        " ".join(item["text"] for item in items[start : start + 8]) for start in range(0, 40, 8)
    ]
    if "text_pair" not in items[0]:
        return items + [{"text": text} for text in joined]
    short = items[0]["text"]
    return items + [
        pair
        for index, text in enumerate(joined)
        for pair in (
            {"text": text, "text_pair": short},
            {"text": short, "text_pair": text},
            {"text": text, "text_pair": joined[index - 1]},
        )
    ]


def truncated(export_dir: Path, items: list[dict[str, str]]) -> int:
    """How many items encode to more tokens than the export takes."""
    tokenizer = Tokenizer.from_file(str(export_dir / "tokenizer.json"))
    max_length = json.loads((export_dir / "kerasbert.json").read_text())["max_length"]
    lengths = [len(tokenizer.encode(item["text"], item.get("text_pair")).ids) for item in items]
    return sum(length > max_length for length in lengths)


@pytest.mark.parametrize("variant", clients_check.VARIANTS)
@pytest.mark.parametrize("client", clients_check.NODE_APPS, ids=lambda client: client.name)
@pytest.mark.parametrize("export", EXPORTS)
def test_node_apps_agree_with_the_predictor(request, node_install, export, client, variant):
    run_dir, export_dir = request.getfixturevalue(export)
    items = items_for(run_dir)
    assert truncated(export_dir, items) >= 5

    row = clients_check.compare_client(client, export_dir, variant, items, node_install)

    assert row["disagreements"] == []
    assert row["labels_agree"] == len(items)
    assert row["max_abs_probability_diff"] <= TOLERANCE[variant]


@pytest.mark.skipif(
    not clients_check.CHROMIUM.exists(),
    reason=f"no Chromium at {clients_check.CHROMIUM} (Debian: apt install chromium)",
)
@pytest.mark.parametrize("variant", clients_check.VARIANTS)
@pytest.mark.parametrize("export", EXPORTS)
def test_browser_page_agrees_with_the_predictor(request, node_install, export, variant):
    run_dir, export_dir = request.getfixturevalue(export)
    items = items_for(run_dir)[-24:]  # long texts and pairs among them

    row = clients_check.compare_client(
        clients_check.BROWSER_APP, export_dir, variant, items, node_install
    )

    assert row["labels_agree"] == len(items)
    assert row["max_abs_probability_diff"] <= BROWSER_TOLERANCE[variant]


ENCODE_SCRIPT = Template(
    """
import fs from "node:fs";
import { Tokenizer } from "$tokenizers";
import { makeEncoder } from "$kerasbert";

const [tokenizerPath, settings, itemsPath] = process.argv.slice(2);
const tokenizer = new Tokenizer(JSON.parse(fs.readFileSync(tokenizerPath, "utf8")), {});
const [cls, sep] = tokenizer.encode("").ids;
const tokenize = (text) => tokenizer.encode(text, { add_special_tokens: false }).ids;
const encode = makeEncoder(JSON.parse(settings), tokenize, cls, sep);
for (const item of JSON.parse(fs.readFileSync(itemsPath, "utf8"))) {
  console.log(JSON.stringify(encode(item)));
}
"""
)


@pytest.mark.parametrize("truncation", ["head", "tail", "head_tail"])
@pytest.mark.parametrize("pair", [False, True], ids=["texts", "pairs"])
def test_javascript_encoding_is_the_predictor_s(tiny, node_install, tmp_path, truncation, pair):
    """examples/node/kerasbert.mjs cuts texts and pairs as training and the predictor do, in
    every truncation mode (the tiny exports use `head` only)."""
    tokenizer = tiny.export_dir / "tokenizer.json"
    texts = [
        item["text"] for item in clients_check.read_items(tiny.run_dir / "data" / "test.jsonl")
    ]
    if pair:  # short, long and empty texts on either side
        items = [{"text": a, "text_pair": b} for a, b in zip(texts, texts[5:] + [""] * 5)]
    else:
        items = texts + [""]
    max_length = 24
    script = tmp_path / "encode.mjs"
    script.write_text(
        ENCODE_SCRIPT.substitute(
            tokenizers=node_install / "node_modules/@huggingface/tokenizers/dist/tokenizers.mjs",
            kerasbert=ROOT / "examples/node/kerasbert.mjs",
        ),
        encoding="utf-8",
    )
    (tmp_path / "items.json").write_text(json.dumps(items), encoding="utf-8")
    settings = {"max_length": max_length, "truncation": truncation, "pair": pair}

    output = subprocess.run(
        ["node", str(script), str(tokenizer), json.dumps(settings), str(tmp_path / "items.json")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    encoded = [json.loads(line) for line in output.splitlines()]

    encoder = TextEncoder(tokenizer, max_length, truncation)
    if pair:
        ids, segments = encoder.encode_segments(
            [item["text"] for item in items], [item["text_pair"] for item in items]
        )
    else:
        ids, segments = encoder.encode_segments(items)
    assert [row["ids"] for row in encoded] == ids
    assert [row["types"] for row in encoded] == segments
    assert sum(len(row) == max_length for row in ids) >= 10
