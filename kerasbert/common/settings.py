"""Settings dataclasses and their command line, in one place for every command.

A settings class (`TrainConfig`, `ServeConfig`, `BenchmarkConfig`, the load test's) declares each
field with `setting()`: its default and help text. `add_setting_flags` turns the fields into
argparse options by one rule, and `given_settings` reads back the ones given:

| field annotation     | option                                                   |
|----------------------|----------------------------------------------------------|
| `bool`               | `--name` / `--no-name`                                   |
| `int`, `float`, `str` | `--name VALUE` of that type                              |
| `X | None`           | as `X`, and `none` (or `null`) gives None                |
| `tuple[X, ...]`      | `--name VALUE`, repeatable; the values in order          |

Underscores become dashes (`max_length` → `--max-length`). Extras given to `setting()`
(`choices`, `metavar`) go to argparse. A flag left out is left out of the parsed namespace too
(its default is `argparse.SUPPRESS`): the dataclass keeps its own default, and a config file
under the flags keeps its value, so each default is written once, in the dataclass.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Collection, Mapping
from dataclasses import field
from typing import Any

NONE_WORDS = ("none", "null")


def setting(default: Any, help: str, **kwargs: Any) -> Any:
    """A dataclass field with its help text (and any argparse extras, e.g. `choices`)."""
    return field(default=default, metadata={"help": help, **kwargs})


def flag_name(name: str) -> str:
    """The command-line flag of a settings field: `max_length` → `--max-length`."""
    return "--" + name.replace("_", "-")


def add_setting_flags(
    parser: argparse.ArgumentParser, settings_class: type, skip: Collection[str] = ()
) -> None:
    """One option per field of the dataclass `settings_class` (see the module docstring), its
    help text from the field with the default after it; fields named in `skip` get none.

    Example:
    >>> import argparse
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Settings:
    ...     epochs: int = setting(2, "Passes over the data.")
    ...     plots: bool = setting(True, "Draw the plots.")
    >>> parser = argparse.ArgumentParser()
    >>> add_setting_flags(parser, Settings)
    >>> given_settings(parser.parse_args(["--no-plots"]), Settings)
    {'plots': False}
    """
    hints = typing.get_type_hints(settings_class)
    for item in dataclasses.fields(settings_class):
        if item.name in skip:
            continue
        parser.add_argument(flag_name(item.name), **_option(item, hints[item.name]))


def given_settings(args: argparse.Namespace, settings_class: type) -> dict[str, Any]:
    """The fields of `settings_class` given on the command line, in the order given, as the
    dataclass takes them (a repeated flag's values as a tuple)."""
    names = {item.name for item in dataclasses.fields(settings_class)}
    return {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in vars(args).items()
        if name in names
    }


def setting_flags(values: Mapping[str, Any]) -> list[str]:
    """The command-line flags that give `values` (field name → value): the inverse of the
    parser, for writing down the command that made a result.

    >>> setting_flags({"quick": True, "plots": False, "data": ("a.csv", "b.csv"), "seed": 7})
    ['--quick', '--no-plots', '--data', 'a.csv', '--data', 'b.csv', '--seed', '7']
    """
    flags: list[str] = []
    for name, value in values.items():
        flag = flag_name(name)
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, (tuple, list)):
            for item in value:
                flags += [flag, str(item)]
        else:
            flags += [flag, "none" if value is None else str(value)]
    return flags


def _option(item: dataclasses.Field, annotation: Any) -> dict[str, Any]:
    """`add_argument`'s keywords for one field."""
    extras = {key: value for key, value in item.metadata.items() if key != "help"}
    # argparse formats help with %: a literal percent sign in a help text must be doubled.
    help_text = item.metadata["help"].replace("%", "%%")
    option: dict[str, Any] = {"default": argparse.SUPPRESS}
    if annotation is bool:
        option["action"] = argparse.BooleanOptionalAction
    else:
        base, optional = _strip_none(annotation)
        if typing.get_origin(base) is tuple:
            base = typing.get_args(base)[0]
            option["action"] = "append"
            help_text += " Repeatable."
        option["type"] = _value_parser(base, optional)
        if "choices" not in extras:
            option["metavar"] = item.name.upper()
    return {**option, "help": help_text + _default_note(item.default), **extras}


def _default_note(default: Any) -> str:
    """ " (default: X)", or nothing where the default is "unset" (the help says what that means)."""
    if default is None or default == "" or default is dataclasses.MISSING:
        return ""
    if isinstance(default, tuple):
        default = ", ".join(str(value) for value in default)
    return f" (default: {default})"


def _strip_none(annotation: Any) -> tuple[Any, bool]:
    """(`X`, True) for `X | None`, else (`annotation`, False)."""
    if typing.get_origin(annotation) in (types.UnionType, typing.Union):
        members = [member for member in typing.get_args(annotation) if member is not type(None)]
        if len(members) == 1:
            return members[0], True
    return annotation, False


def _value_parser(kind: Any, optional: bool) -> Callable[[str], Any]:
    """Text → value of `kind` (int, float or str), with an argparse error naming both."""
    if kind not in (int, float, str):
        raise TypeError(f"No command-line form for settings of type {kind!r}.")

    def parse(text: str) -> Any:
        if optional and text.lower() in NONE_WORDS:
            return None
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse
