"""`kerasbert explain RUN_OR_EXPORT "text" ... [--input FILE] [--output x.html|x.jsonl]`: which
words made the model say what it said.

An export directory is explained by occlusion (`OnnxClassifier.explain`: onnxruntime, never
TensorFlow); a run directory by integrated gradients on its TensorFlow model
(`kerasbert.evaluation.attributions`), or with `--method occlusion` by occlusion on its export
(`exported/<run name>`). The terminal shows the words coloured (green supports the label, red
opposes it; plain when not a terminal); `--output` writes one self-contained HTML page or JSON
lines (`kerasbert.inference.highlight`, `Explanation.to_dict`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from kerasbert.common.errors import InputError

METHODS = ("occlusion", "ig")
OUTPUT_SUFFIXES = (".html", ".jsonl")


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    """`kerasbert explain` and its flags, as a sub-command of `commands`."""
    explain = commands.add_parser(
        "explain",
        parents=[common],
        help="Show which words drove a prediction (occlusion on an export, integrated "
        "gradients on a run).",
    )
    explain.add_argument(
        "path", help="An export directory (holds kerasbert.json) or a run directory."
    )
    explain.add_argument("texts", nargs="*", help="Texts to explain.")
    explain.add_argument("--input", help="A .csv, .tsv, .jsonl, .txt or .parquet file of texts.")
    explain.add_argument("--text-column", help="Text column of --input (csv/jsonl).")
    explain.add_argument(
        "--text-pair-column",
        help="Second-text column of --input, for a model of text pairs (default: detected).",
    )
    explain.add_argument(
        "--output", help="Write the explanations to a .html page or a .jsonl file."
    )
    explain.add_argument(
        "--label",
        action="append",
        help="Explain this label (repeatable); default: the label(s) the model predicts.",
    )
    explain.add_argument(
        "--method",
        choices=METHODS,
        help="occlusion (the only one for an export) or ig, integrated gradients (needs a run "
        "directory and TensorFlow; the default for one).",
    )
    explain.add_argument(
        "--steps", type=int, default=32, help="Integrated gradients: points on the path."
    )
    explain.add_argument(
        "--variant",
        choices=("int8", "fp32", "optimized"),
        help="Occlusion: the model file to run (default: the export's recommendation).",
    )
    explain.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    output = _output_path(args.output)
    method, directory = _method_and_directory(Path(args.path), args.method)
    if method == "occlusion":
        from kerasbert.inference.predictor import OnnxClassifier

        classifier = OnnxClassifier(directory, variant=args.variant)
        texts, pairs = _inputs(args, classifier.pair)
        items = texts if pairs is None else list(zip(texts, pairs, strict=True))
        explanations = classifier.explain(items, labels=args.label)
    else:
        from kerasbert.evaluation.attributions import integrated_gradients
        from kerasbert.training.rundir import RunDir

        texts, pairs = _inputs(args, RunDir(directory).read_record().pair)
        explanations = integrated_gradients(directory, texts, pairs, args.label, args.steps)
    from kerasbert.inference.highlight import to_html, to_terminal

    if output is None:
        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        print(to_terminal(explanations, colour), end="")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix == ".html":
        output.write_text(to_html(explanations, f"Explanations: {directory.name}"), "utf-8")
    else:
        lines = [json.dumps(item.to_dict(), ensure_ascii=False) for item in explanations]
        output.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    print(f"Wrote {len(explanations)} explanations to {output}")
    return 0


def _output_path(output: str | None) -> Path | None:
    if output is None:
        return None
    path = Path(output)
    if path.suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"--output {output}: write a .html page or a .jsonl file.")
    return path


def _method_and_directory(path: Path, method: str | None) -> tuple[str, Path]:
    """Which method explains `path`, and the directory it runs on."""
    from kerasbert.inference.exportdir import METADATA_FILE

    if not path.is_dir():
        raise FileNotFoundError(
            f"{path} does not exist; pass an export directory (kerasbert export) or a run "
            "directory (kerasbert train)."
        )
    if (path / METADATA_FILE).is_file():
        if method == "ig":
            raise InputError(
                f"{path} is an export; integrated gradients need the run directory it came "
                "from (TensorFlow). Pass the run, or --method occlusion."
            )
        return "occlusion", path
    from kerasbert.training.rundir import RunDir, default_export_dir

    run = RunDir(path)
    if not (run.config.is_file() and run.model.is_dir()):
        raise InputError(
            f"{path} is neither an export directory (no {METADATA_FILE}) nor a finished run "
            "directory (config.json and model/); pass one written by `kerasbert export` or "
            "`kerasbert train`."
        )
    if method == "occlusion":
        export = default_export_dir(run)
        if not (export / METADATA_FILE).is_file():
            raise InputError(
                f"--method occlusion runs on the run's export, {export}, which does not exist; "
                f"make it with `kerasbert export {path}`, or pass the export directory."
            )
        return "occlusion", export
    return "ig", path


def _inputs(args: argparse.Namespace, pair: bool) -> tuple[list[str], list[str] | None]:
    """The texts (and second texts, for a pair model) from the command line or `--input`."""
    from kerasbert.inference.textfiles import read_pairs, read_texts

    if args.input:
        if args.texts:
            raise InputError("Give texts on the command line or --input FILE, not both.")
        if pair:
            return read_pairs(args.input, args.text_column, args.text_pair_column)
        return read_texts(args.input, args.text_column), None
    if not args.texts:
        raise InputError(
            'Give texts to explain, e.g. kerasbert explain DIR "some text", or --input FILE.'
        )
    if pair:
        raise InputError(
            f"{args.path} classifies text pairs; put them in a .csv or .jsonl file, one pair per "
            "row, and pass --input FILE (columns: --text-column and --text-pair-column)."
        )
    return list(args.texts), None
