"""Small file helpers: atomic JSON, the `--overwrite` guard and a directory contract's fixed paths
(standard library only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kerasbert.common.errors import InputError


def read_json(path: str | Path) -> Any:
    """Load one JSON file of a run directory, with an error that says which file is missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist; is this a complete kerasbert run directory?"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def write_json(path: str | Path, value: Any) -> None:
    """Write `value` as indented JSON, atomically (a crash never leaves half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    temporary.replace(path)


def check_replaceable(directory: Path, marker: str, kind: str, flag: str) -> None:
    """`--overwrite` deletes `directory`: only ever one kerasbert wrote, never e.g. `.` or `~`."""
    working = Path.cwd().resolve()
    protected = (working, *working.parents, Path.home().resolve())
    if directory.resolve() in protected or not (directory / marker).is_file():
        raise InputError(
            f"--overwrite would delete {directory}, which is not a kerasbert {kind} directory "
            f"(no {marker}, or it holds the working directory). Choose another {flag}."
        )


def subpath(*parts: str) -> property:
    """A read-only property: the path `parts` below the owner's `path`. How a directory contract
    (`RunDir`, `SweepDir`, `ExportDir`) declares its fixed files and folders, one line each.

    Example:
    >>> class Folder:
    ...     path = Path("runs/a")
    ...     metrics = subpath("metrics.json")
    >>> Folder().metrics.as_posix()
    'runs/a/metrics.json'
    """

    def get(directory: Any) -> Path:
        return directory.path.joinpath(*parts)

    return property(get, doc=f"`{'/'.join(parts)}` in this directory.")
