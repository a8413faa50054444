"""The package's architecture holds: the import-linter contracts in pyproject.toml are kept, and
they name every module, so a new module cannot slip past the layers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kerasbert"
# A module this long does several jobs; split it (the issue that set the layers chose ~500).
MAX_MODULE_LINES = 500


def _contracts() -> list[dict]:
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return settings["tool"]["importlinter"]["contracts"]


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_layers_name_every_module() -> None:
    layers = next(contract for contract in _contracts() if contract["type"] == "layers")
    named = {
        module.strip()
        for layer in layers["layers"]
        for module in layer.replace(":", "|").split("|")
    }
    modules = {
        "kerasbert." + path.stem for path in PACKAGE.glob("*.py") if path.name != "__init__.py"
    } | {"kerasbert." + path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()}
    assert modules - named == set(), "add these modules to the layers in pyproject.toml"
    assert named - modules == set(), "the layers name modules that do not exist"


def test_no_module_does_several_jobs() -> None:
    long = {
        path.relative_to(ROOT).as_posix(): count
        for path in PACKAGE.rglob("*.py")
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
