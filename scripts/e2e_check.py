"""Check an export's strings-in graphs (`kerasbert export --with-tokenizer`) against the predictor.

    python scripts/e2e_check.py exported/<run>            # its model.e2e.onnx, model.e2e.int8.onnx
    python scripts/e2e_check.py exported/<run> --build    # an export without them: built first
    python scripts/e2e_check.py exported/<run> --data texts.jsonl

For fp32 and int8, the end-to-end graph's logits against `OnnxClassifier`'s on every text of the
export's run's test split (`runs/<run>/data/test.jsonl`, or `--run`, or `--data`: one JSON object
per line with `text`, and `text_pair` for a pair export), through
`kerasbert.export.e2e.compare_with_predictor`, the check the export itself runs: fp32 in the
predictor's batches of 32, int8 a text at a time on both sides (int8 quantizes each batch's
activations with one scale, so only like batches give like numbers). `--build` writes the graphs
with `kerasbert.export.e2e.write_e2e` from the export's own model files into a temporary folder,
as `--with-tokenizer` would write them, leaving the export untouched.

Also measures what each route costs over the texts, taking turns (`--repeats`, medians): the
predictor (`predict_proba`, tokenizers + onnxruntime) against the fp32 graph (tokenizer operators
inside), each with one onnxruntime thread, in CPU seconds of the process (on a shared machine a
wall clock measures the neighbours).
Prints a table and writes it as JSON (`--output`, default `runs/e2e_check/<export-name>.json`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kerasbert.export.e2e import (  # noqa: E402
    CHECK_BATCH,
    E2E_TOLERANCE,
    compare_with_predictor,
    e2e_session,
    extensions_version,
    write_e2e,
)
from kerasbert.inference.exportdir import E2E_FILES, ExportDir  # noqa: E402
from kerasbert.inference.predictor import OnnxClassifier  # noqa: E402


def read_inputs(path: Path, pair: bool) -> list[str] | list[tuple[str, str]]:
    """The texts (or `(text, text_pair)` tuples) of a JSONL file."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    if pair:
        return [(row["text"], row["text_pair"]) for row in rows]
    return [row["text"] for row in rows]


def build(export: ExportDir, folder: Path) -> dict[str, Path]:
    """Write both end-to-end graphs of `export` into `folder`, as `--with-tokenizer` does."""
    info = export.read_info()
    paths = {}
    for variant, name in E2E_FILES.items():
        paths[variant] = folder / name
        write_e2e(
            export.model_path(variant),
            export.tokenizer,
            paths[variant],
            max_length=info.max_length,
            truncation=info.truncation,
            pair=info.pair,
            pad_token_id=info.pad_token_id,
            long_documents=info.long_documents,
        )
    return paths


def time_routes(export: ExportDir, e2e_path: Path, inputs: list, repeats: int) -> dict[str, float]:
    """Median CPU seconds to score `inputs` with the fp32 predictor and with the fp32 graph, in
    turns, one onnxruntime thread each; both in batches of 32 sorted by length (the predictor
    sorts by tokens, the graph runs by characters)."""
    classifier = OnnxClassifier(export.path, variant="fp32", threads=1)
    session = e2e_session(e2e_path, threads=1)
    names = [item.name for item in session.get_inputs()]
    columns = [[item] if isinstance(item, str) else list(item) for item in inputs]
    order = sorted(range(len(inputs)), key=lambda index: sum(map(len, columns[index])))
    batch = CHECK_BATCH["fp32"]

    def run_graph() -> None:
        for start in range(0, len(order), batch):
            rows = [columns[index] for index in order[start : start + batch]]
            feeds = {
                name: np.array([row[position] for row in rows], dtype=object)
                for position, name in enumerate(names)
            }
            session.run(None, feeds)

    seconds: dict[str, list[float]] = {"predictor": [], "e2e": []}
    for _ in range(repeats):
        for route, call in (
            ("predictor", lambda: classifier.predict_proba(inputs)),
            ("e2e", run_graph),
        ):
            started = time.process_time()
            call()
            seconds[route].append(time.process_time() - started)
    return {route: round(statistics.median(values), 3) for route, values in seconds.items()}


def check(export_dir: Path, inputs: list, build_graphs: bool, repeats: int) -> dict[str, Any]:
    """Compare both variants and time the fp32 routes; the record the script prints and
    writes."""
    export = ExportDir(export_dir)
    with tempfile.TemporaryDirectory() as temporary:
        paths = (
            build(export, Path(temporary))
            if build_graphs
            else {variant: export.e2e_path(variant) for variant in E2E_FILES}
        )
        missing = [path.name for path in paths.values() if not path.is_file()]
        if missing:
            raise SystemExit(
                f"{export_dir} has no {', '.join(missing)}; export with --with-tokenizer or "
                "pass --build."
            )
        rows = []
        for variant, path in paths.items():
            started = time.perf_counter()
            figures = compare_with_predictor(export.path, variant, inputs, path)
            rows.append(
                {
                    "variant": variant,
                    "file": path.name,
                    **figures,
                    "seconds": round(time.perf_counter() - started, 1),
                }
            )
        timing = time_routes(export, paths["fp32"], inputs, repeats) if repeats else None
    return {
        "export": export_dir.name,
        "built_here": build_graphs,
        "onnxruntime_extensions": extensions_version(),
        "tolerance": E2E_TOLERANCE,
        "rows": rows,
        "fp32_cpu_seconds": timing,
    }


def table(record: dict[str, Any]) -> str:
    lines = [
        "| graph | texts | batch | max \\|Δlogit\\| | labels agree | mismatches |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in record["rows"]:
        lines.append(
            f"| {row['file']} | {row['texts']} | {row['batch_size']} | "
            f"{row['max_abs_logit_difference']:.1e} | {100 * row['label_agreement']:.1f}% | "
            f"{row['mismatches']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("export", type=Path, help="An export directory.")
    parser.add_argument("--run", type=Path, help="The export's run (default: runs/<its run>).")
    parser.add_argument("--data", type=Path, help="JSONL of texts (default: the run's test split).")
    parser.add_argument("--build", action="store_true", help="Write the graphs here first.")
    parser.add_argument("--repeats", type=int, default=3, help="Timing turns (0: no timing).")
    parser.add_argument("--output", type=Path, help="JSON file for the figures.")
    args = parser.parse_args(argv)

    info = ExportDir(args.export).read_info()
    run = args.run or ROOT / "runs" / (info.source_run or args.export.name)
    data = args.data or run / "data" / "test.jsonl"
    if not data.is_file():
        raise SystemExit(f"{data} is missing; pass --run RUN_DIR or --data TEXTS.jsonl.")
    record = check(args.export, read_inputs(data, info.pair), args.build, args.repeats)
    record["data"] = str(data)
    print(table(record))
    if record["fp32_cpu_seconds"]:
        seconds = record["fp32_cpu_seconds"]
        print(
            f"\nfp32 over {record['rows'][0]['texts']} texts, one thread, CPU seconds, median of "
            f"{args.repeats}: predictor {seconds['predictor']}, end-to-end graph {seconds['e2e']}"
        )
    output = args.output or ROOT / "runs" / "e2e_check" / f"{args.export.name}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"Wrote {output}")
    failed = any(row["mismatches"] for row in record["rows"])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
