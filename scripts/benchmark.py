"""Benchmark training and serving speed on this machine; print a table, write benchmark.json.

    python scripts/benchmark.py                  # bbc-headlines + bbc-news on the packaged MiniLM
    python scripts/benchmark.py --quick          # bbc-headlines, small samples: regular use
    python scripts/benchmark.py --data reviews.csv --text-column body --label-column stars
    python scripts/benchmark.py --help           # every setting, with its default

The same command as `kerasbert benchmark` (`kerasbert.cli.benchmark`); the work is done by
`kerasbert.benchmark`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kerasbert.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["benchmark", *sys.argv[1:]]))
