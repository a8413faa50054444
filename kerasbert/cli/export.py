"""`kerasbert export RUN_DIR [--output DIR] [--overwrite] [--with-tokenizer]`: export a run to ONNX
(fp32 + int8) with parity checks (`kerasbert.export.export.export_run`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kerasbert.cli.debug import load_tensorflow
from kerasbert.cli.flags import add_run_dir, add_switch


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    """`kerasbert export` and its flags, as a sub-command of `commands`."""
    export = commands.add_parser(
        "export", parents=[common], help="Export a run to ONNX (fp32 + int8) with parity checks."
    )
    add_run_dir(export)
    export.add_argument("--output", help="Export directory (default: exported/<run-name>).")
    add_switch(export, "--overwrite", default=False, help="Replace an existing export.")
    export.add_argument(
        "--converter",
        default="auto",
        choices=("auto", "fused", "plain", "tf2onnx"),
        help="How the fp32 graph is written (default auto: fused; plain where the fused graph "
        "fails parity; tf2onnx where neither can express the model).",
    )
    add_switch(
        export,
        "--with-tokenizer",
        default=False,
        help="Also write model.e2e.onnx and model.e2e.int8.onnx: raw strings in, logits out, "
        'the tokenizer inside (onnxruntime-extensions; pip install "kerasbert[e2e]").',
    )
    export.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    load_tensorflow(args.debug)
    from kerasbert.export.export import export_run

    path = export_run(
        Path(args.run_dir),
        args.output,
        overwrite=args.overwrite,
        converter=args.converter,
        with_tokenizer=args.with_tokenizer,
    )
    print(f"Exported to {path}")
    return 0
