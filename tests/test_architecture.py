"""The package's architecture holds and is written down: the import-linter contracts in
pyproject.toml are kept, the layers contract names every subpackage (so a new one cannot slip past
the layers), and docs/DESIGN.md names every module that exists and none that does not.

docs/DESIGN.md's convention: every module or package has a table row whose first cell is its path
relative to the repository in backticks, `kerasbert/common/errors.py` for a module and
`kerasbert/common/` for a package (standing for its `__init__.py`).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_NAME = "kerasbert"
# A table row whose first cell is a backticked path under the package, e.g. "| `kerasbert/x.py` |".
DESIGN_ROW = re.compile(rf"^\|\s*`({PACKAGE_NAME}/[^`]*)`\s*\|", re.MULTILINE)


def layer_names(pyproject: Path) -> set[str]:
    """The dotted names the layers contract of `pyproject` lists (`a | b` and `a : b`, siblings
    in one layer, are two names)."""
    settings = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    contracts = settings["tool"]["importlinter"]["contracts"]
    layers = next(contract for contract in contracts if contract["type"] == "layers")
    return {name.strip() for layer in layers["layers"] for name in re.split(r"[|:]", layer)}


def top_level_names(root: Path) -> set[str]:
    """The dotted names of the package's subpackages and top-level modules under `root`."""
    package = root / PACKAGE_NAME
    modules = {path.stem for path in package.glob("*.py") if path.name != "__init__.py"}
    subpackages = {path.name for path in package.iterdir() if (path / "__init__.py").is_file()}
    return {f"{PACKAGE_NAME}.{name}" for name in modules | subpackages}


def design_paths(design: str) -> set[str]:
    """The modules a DESIGN.md text names, as `.py` paths: a package row (`kerasbert/common/`)
    stands for its `__init__.py`."""
    return {
        path + "__init__.py" if path.endswith("/") else path for path in DESIGN_ROW.findall(design)
    }


def module_paths(root: Path) -> set[str]:
    """Every `.py` file of the package under `root`, relative to `root`."""
    return {path.relative_to(root).as_posix() for path in (root / PACKAGE_NAME).rglob("*.py")}


def design_mismatch(design: str, root: Path) -> tuple[set[str], set[str]]:
    """(modules that exist but DESIGN.md does not name, paths it names that do not exist)."""
    named, existing = design_paths(design), module_paths(root)
    return existing - named, named - existing


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_layers_name_every_subpackage_and_nothing_else() -> None:
    named, existing = layer_names(ROOT / "pyproject.toml"), top_level_names(ROOT)
    assert existing - named == set(), "add these to the layers contract in pyproject.toml"
    assert named - existing == set(), "the layers contract names packages that do not exist"


def test_design_names_every_module_and_nothing_else() -> None:
    design = (ROOT / "docs" / "DESIGN.md").read_text(encoding="utf-8")
    missing, unknown = design_mismatch(design, ROOT)
    assert missing == set(), "add a row for each of these modules to docs/DESIGN.md"
    assert unknown == set(), "docs/DESIGN.md names modules that do not exist"


def _sample_package(root: Path) -> None:
    for path in ("kerasbert/__init__.py", "kerasbert/job.py", "kerasbert/common/__init__.py",
                 "kerasbert/common/errors.py", "kerasbert/common/names.py"):  # fmt: skip
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text('"""A module."""\n', encoding="utf-8")


SAMPLE_DESIGN = """# Design

Prose that mentions `kerasbert/gone.py` outside a table row is not a listing.

| module | owns |
|---|---|
| `kerasbert/` | the package |
| `kerasbert/job.py` | the default job |

| module | owns |
|---|---|
| `kerasbert/common/` | shared helpers |
| `kerasbert/common/errors.py` | `InputError` |
| `kerasbert/common/names.py` | column names |
"""


def test_design_check_passes_on_a_complete_listing(tmp_path: Path) -> None:
    _sample_package(tmp_path)
    assert design_paths(SAMPLE_DESIGN) == module_paths(tmp_path)
    assert design_mismatch(SAMPLE_DESIGN, tmp_path) == (set(), set())


def test_design_check_fails_on_a_module_left_out(tmp_path: Path) -> None:
    _sample_package(tmp_path)
    design = SAMPLE_DESIGN.replace("| `kerasbert/common/names.py` | column names |\n", "")
    assert design_mismatch(design, tmp_path) == ({"kerasbert/common/names.py"}, set())
    # A package left out is its __init__.py missing.
    design = SAMPLE_DESIGN.replace("| `kerasbert/common/` | shared helpers |\n", "")
    assert design_mismatch(design, tmp_path) == ({"kerasbert/common/__init__.py"}, set())


def test_design_check_fails_on_a_module_that_does_not_exist(tmp_path: Path) -> None:
    _sample_package(tmp_path)
    design = SAMPLE_DESIGN + "| `kerasbert/common/schema.py` | moved to names.py |\n"
    assert design_mismatch(design, tmp_path) == (set(), {"kerasbert/common/schema.py"})
    design = SAMPLE_DESIGN + "| `kerasbert/data/` | not written yet |\n"
    assert design_mismatch(design, tmp_path) == (set(), {"kerasbert/data/__init__.py"})


def test_layers_check_sees_a_subpackage_the_contract_leaves_out(tmp_path: Path) -> None:
    _sample_package(tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        "[[tool.importlinter.contracts]]\nname = 'layers'\ntype = 'layers'\n"
        "layers = ['kerasbert.job', 'kerasbert.common | kerasbert.gone']\n",
        encoding="utf-8",
    )
    assert top_level_names(tmp_path) == {"kerasbert.job", "kerasbert.common"}
    assert layer_names(pyproject) - top_level_names(tmp_path) == {"kerasbert.gone"}
    (tmp_path / "kerasbert" / "data").mkdir()
    (tmp_path / "kerasbert" / "data" / "__init__.py").write_text("", encoding="utf-8")
    assert top_level_names(tmp_path) - layer_names(pyproject) == {"kerasbert.data"}
