"""Markdown pieces for kerasbert's reports: tables, numbers and text made safe for table cells."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

# Sample texts in a report are cut to this many characters.
SNIPPET_CHARACTERS = 160


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A GitHub-flavoured Markdown table's lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(value)
    return f"{float(value):.{digits}f}"


def signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.4f}"


def integer(value: Any) -> str:
    return "–" if value is None else str(value)


def at(values: Sequence[Any], index: int) -> Any:
    return values[index] if index < len(values) else None


def code(value: Any) -> str:
    # Inside a code span only the table's pipe needs escaping; GFM honours it there too.
    return "`" + json.dumps(value, ensure_ascii=False).replace("|", "\\|") + "`"


def flatten(value: Any) -> str:
    """A scalar as is; a mapping as `key: value` pairs (e.g. truncated texts per split)."""
    if isinstance(value, dict):
        return ", ".join(f"{escape(str(key))}: {flatten(item)}" for key, item in value.items())
    if isinstance(value, float):
        return f"{value:.4g}"
    return escape(str(value))


def snippet(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= SNIPPET_CHARACTERS:
        return flat
    return flat[: SNIPPET_CHARACTERS - 1].rstrip() + "…"


def escape(text: str) -> str:
    """Make text safe inside a Markdown table cell: no pipes, no HTML, no stray emphasis."""
    for character in ("\\", "|", "*", "_", "`", "[", "]", "<", ">"):
        text = text.replace(character, "\\" + character)
    return " ".join(text.split())
