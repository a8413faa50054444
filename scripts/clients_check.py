"""Check the example apps in examples/ against the Python predictor on an export's test split.

    python scripts/clients_check.py                                  # the newest export under exported/
    python scripts/clients_check.py exported/<run> --data texts.jsonl

Installs examples/node's npm packages once into `.cache/node/` (`npm ci --ignore-scripts`, redone
only when package-lock.json changes), then classifies the texts with each client, fp32 and int8:
`examples/node/classify.mjs` (transformers.js's pipeline), `examples/node/onnxruntime.mjs` (plain
onnxruntime-node) and, where a Chromium is installed (`/usr/bin/chromium`; none is ever
downloaded), the browser page through `examples/browser/headless.mjs`. Each is compared with
`OnnxClassifier` batched as that client batches (int8 quantizes each batch's activations with one
scale, so only like batches give like numbers). Prints a table (client, variant, texts, label
agreement, max |Δp|) and writes it as JSON (`--output`, default
`runs/clients_check/<export-name>.json`).

The texts default to the test split of the export's run (`runs/<run>/data/test.jsonl`, or
`--run`): one JSON object per line with `text` (and `text_pair` for a pair export).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLIENTS = ROOT / "examples"
NODE_CLIENTS = CLIENTS / "node"
DEFAULT_CACHE = ROOT / ".cache" / "node"
CHROMIUM = Path("/usr/bin/chromium")
VARIANTS = ("fp32", "int8")
# The predictor's own default batch.
PREDICTOR_BATCH = 32


@dataclass(frozen=True)
class Client:
    """An example app: its script, whether it runs from the npm install (the Node apps import
    packages by name, so they run beside node_modules) and the batch it sends the graph."""

    name: str
    script: Path
    installed_copy: bool
    batch_size: int
    browser: bool = False


NODE_APPS = (
    Client("node transformers.js", NODE_CLIENTS / "classify.mjs", True, 1),
    Client("node onnxruntime", NODE_CLIENTS / "onnxruntime.mjs", True, PREDICTOR_BATCH),
)
BROWSER_APP = Client(
    "browser transformers.js", CLIENTS / "browser" / "headless.mjs", False, 1, browser=True
)


def install_clients(cache: Path = DEFAULT_CACHE) -> Path:
    """`npm ci --ignore-scripts` of examples/node into `cache`, kept while its package files are
    unchanged, with the Node apps copied beside `node_modules`; returns `cache`.

    `--ignore-scripts`: onnxruntime-node's install script only fetches GPU libraries from outside
    the registry; its CPU binaries are in the package itself.
    """
    package_files = [NODE_CLIENTS / "package.json", NODE_CLIENTS / "package-lock.json"]
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in package_files)).hexdigest()
    stamp = cache / "installed.sha256"
    if not (stamp.is_file() and stamp.read_text() == digest and (cache / "node_modules").is_dir()):
        cache.mkdir(parents=True, exist_ok=True)
        stamp.unlink(missing_ok=True)
        for path in package_files:
            shutil.copy2(path, cache / path.name)
        _run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=cache)
        stamp.write_text(digest)
    for app in NODE_CLIENTS.glob("*.mjs"):
        shutil.copy2(app, cache / app.name)
    return cache


def run_client(
    client: Client, export_dir: Path, variant: str, items: list[dict[str, str]], cache: Path
) -> list[dict[str, Any]]:
    """Classify `items` ({"text", "text_pair"?} each) with `client`; one answer per item
    ({"label" | "labels", "probabilities"})."""
    script = cache / client.script.name if client.installed_copy else client.script
    extra = ["--node-modules", str(cache / "node_modules")] if client.browser else []
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8") as texts:
        texts.writelines(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
        texts.flush()
        output = _run(["node", str(script), str(export_dir), variant, texts.name, *extra])
    answers = [json.loads(line) for line in output.splitlines() if line.strip()]
    if len(answers) != len(items):
        raise RuntimeError(f"{client.name} answered {len(answers)} of {len(items)} texts.")
    return answers


def compare_client(
    client: Client, export_dir: Path, variant: str, items: list[dict[str, str]], cache: Path
) -> dict[str, Any]:
    """Run `client` and the Python predictor (batched as the client batches) on `items`; one
    table row: label agreement and the largest probability difference."""
    from kerasbert import OnnxClassifier

    classifier = OnnxClassifier(export_dir, variant=variant, batch_size=client.batch_size)
    inputs = [(item["text"], item["text_pair"]) for item in items] if classifier.pair else None
    expected = classifier.classify(inputs or [item["text"] for item in items])
    started = time.perf_counter()
    answers = run_client(client, export_dir, variant, items, cache)
    seconds = time.perf_counter() - started
    labels = [answer.get("labels", answer.get("label")) for answer in answers]
    differences = [
        abs(answer["probabilities"][label] - float(expected.probabilities[row, column]))
        for row, answer in enumerate(answers)
        for column, label in enumerate(classifier.labels)
    ]
    return {
        "client": client.name,
        "variant": variant,
        "texts": len(items),
        "labels_agree": sum(got == want for got, want in zip(labels, expected.labels)),
        "max_abs_probability_diff": max(differences),
        "python_batch_size": client.batch_size,
        "seconds": round(seconds, 1),
        "disagreements": [
            {"index": index, "client": got, "python": want}
            for index, (got, want) in enumerate(zip(labels, expected.labels))
            if got != want
        ],
    }


def check(
    export_dir: Path,
    items: list[dict[str, str]],
    cache: Path = DEFAULT_CACHE,
    browser: bool | None = None,
) -> list[dict[str, Any]]:
    """Every client, fp32 and int8, on `items` against the Python predictor; the browser page
    when `browser` (default: when `CHROMIUM` exists)."""
    cache = install_clients(cache)
    if browser is None:
        browser = CHROMIUM.exists()
    clients = [*NODE_APPS, BROWSER_APP] if browser else list(NODE_APPS)
    return [
        compare_client(client, export_dir, variant, items, cache)
        for client in clients
        for variant in VARIANTS
    ]


def read_items(path: Path) -> list[dict[str, str]]:
    """The JSON objects of a JSONL file, `text` (and `text_pair`) kept."""
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            items.append({key: row[key] for key in ("text", "text_pair") if key in row})
    return items


def newest_export(root: Path = ROOT / "exported") -> Path:
    """The most recently written export directory under `root`."""
    exports = [path.parent for path in root.glob("*/kerasbert.json")]
    if not exports:
        raise SystemExit(f"No export under {root}; run `python scripts/train.py` or pass one.")
    return max(exports, key=lambda path: (path / "kerasbert.json").stat().st_mtime)


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| client | variant | texts | labels = Python | max \\|Δp\\| | Python batch | seconds |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {row['client']} | {row['variant']} | {row['texts']} | "
        f"{row['labels_agree']}/{row['texts']} | {row['max_abs_probability_diff']:.1e} | "
        f"{row['python_batch_size']} | {row['seconds']} |"
        for row in rows
    ]
    return "\n".join(lines)


def _run(command: list[str], cwd: Path | None = None) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(command)}` failed ({result.returncode}):\n{result.stderr[-3000:]}"
        )
    return result.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("export", nargs="?", type=Path, help="Export dir (default: the newest).")
    parser.add_argument("--run", type=Path, help="The export's run (default: runs/<its run>).")
    parser.add_argument("--data", type=Path, help="JSONL of texts (default: the run's test split).")
    parser.add_argument("--output", type=Path, help="JSON file for the table.")
    parser.add_argument("--no-browser", action="store_true", help="Skip the browser page.")
    args = parser.parse_args(argv)
    from kerasbert.inference.exportdir import ExportDir
    from kerasbert.training.rundir import RunDir

    export_dir = args.export or newest_export()
    data = args.data
    if data is None:
        run = args.run or ROOT / "runs" / str(ExportDir(export_dir).read_info().source_run)
        data = RunDir(run).split_path("test")
    if not data.is_file():
        raise SystemExit(f"{data} is missing; pass --run RUN_DIR or --data TEXTS.jsonl.")
    rows = check(export_dir, read_items(data), browser=False if args.no_browser else None)
    output = args.output or ROOT / "runs" / "clients_check" / f"{export_dir.name}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    record = {"export": str(export_dir), "data": str(data), "rows": rows}
    output.write_text(json.dumps(record, indent=2), encoding="utf-8")
    print(table(rows))
    print(f"Written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
