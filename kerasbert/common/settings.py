"""Settings dataclasses: a field with its help text, read by the command line to build its flags."""

from __future__ import annotations

from dataclasses import field
from typing import Any


def setting(default: Any, help: str, **kwargs: Any) -> Any:
    """A dataclass field with its help text (and any argparse extras, e.g. `choices`)."""
    return field(default=default, metadata={"help": help, **kwargs})
