"""The `kerasbert` command line: a thin shell over the library's functions, a module per command.

    kerasbert train [--config FILE] [--data bbc-news] [--epochs 3] ...
    kerasbert evaluate RUN_DIR [--data FILE [--text-pair-column COLUMN]]
    kerasbert export RUN_DIR [--output DIR] [--overwrite]
    kerasbert predict MODEL_DIR "text" ... | --input FILE --output preds.csv [--text-pair-column C]
    kerasbert serve EXPORT_DIR [--port 8000] [--max-batch-size 32] [--variant int8]
    kerasbert benchmark [--quick] [--data FILE] | --serve EXPORT_DIR
    kerasbert compare RUN_DIR... [--output DIR]
    kerasbert sweep --config sweep.yaml [--output DIR] [--trials N] [--minutes M]
    kerasbert lr-find [training flags] [--output DIR]

`main` (the dispatcher, `kerasbert.cli.main`) parses, runs the command's module and turns a user
mistake into one line naming the problem and the fix, with exit status 2; `--debug` shows the
traceback instead. Settings dataclasses give their flags through
`kerasbert.common.settings.add_setting_flags`, so every `bool` is `--x/--no-x`. TensorFlow loads
only in the commands that need it, when they need it: `predict` and `serve` never load it.
"""

from kerasbert.cli.main import main

__all__ = ["main"]
