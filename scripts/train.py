"""Fine-tune a BERT classifier, evaluate it, write the report and export it to ONNX.

    python scripts/train.py                          # bbc-news on the packaged MiniLM, offline
    python scripts/train.py --data bbc-headlines
    python scripts/train.py --data reviews.csv --text-column body --label-column stars
    python scripts/train.py --config my_run.yaml --epochs 2
    python scripts/train.py --help                   # every setting, with its default

The same job as `kerasbert train`; every setting lives in `kerasbert.config.TrainConfig`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kerasbert.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
