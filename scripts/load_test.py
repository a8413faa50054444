"""Load-test `kerasbert serve` on 127.0.0.1 against the offline predictor; print a table, write JSON.

    python scripts/load_test.py --serve exported/news --texts runs/news
    python scripts/load_test.py --serve exported/news --texts runs/news --first-line  # headlines
    python scripts/load_test.py --help            # every setting, with its default

The same command as `kerasbert benchmark --serve ...` (`kerasbert.cli.benchmark`); the work is
done by `kerasbert.benchmark.serving`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kerasbert.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["benchmark", *sys.argv[1:]], load_test=True))
