"""`kerasbert serve EXPORT_DIR [--port 8000] [--max-batch-size 32] [--variant int8]`: serve an
exported model over HTTP, batching requests (`kerasbert.serving`; never TensorFlow). One flag per
`ServeConfig` field."""

from __future__ import annotations

import argparse

from kerasbert.common.settings import add_setting_flags, given_settings
from kerasbert.serving.config import ServeConfig


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    """`kerasbert serve` and its flags, as a sub-command of `commands`."""
    serve = commands.add_parser(
        "serve", parents=[common], help="Serve an exported model over HTTP, batching requests."
    )
    serve.add_argument("model_dir", help="An export directory (holds kerasbert.json).")
    add_setting_flags(serve, ServeConfig)
    serve.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from kerasbert.serving.server import serve

    config = ServeConfig(**given_settings(args, ServeConfig))
    return serve(args.model_dir, config, announce=lambda line: print(line, flush=True))
