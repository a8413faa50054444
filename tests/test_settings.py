"""Tests for `kerasbert/common/settings.py`: one rule from settings dataclasses to argparse flags."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from kerasbert.common.settings import add_setting_flags, given_settings, setting, setting_flags


@dataclass(frozen=True)
class Settings:
    """Every kind of field the settings classes use."""

    epochs: int = setting(2, "Passes over the data.")
    rate: float = setting(1e-3, "Learning rate; 100% of it at the peak.")
    name: str = setting("run", "What to call it.")
    limit: int | None = setting(None, "At most this many (default: all).")
    plots: bool = setting(True, "Draw the plots.")
    quick: bool = setting(False, "Small samples.")
    data: tuple[str, ...] = setting(("a.csv", "b.csv"), "Files to read.")
    mode: str = setting("fast", "How to run.", choices=("fast", "exact"))


def parser_for(settings_class: type = Settings, **keywords) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="test", exit_on_error=False)
    add_setting_flags(parser, settings_class, **keywords)
    return parser


def parse(*argv: str) -> dict:
    return given_settings(parser_for().parse_args(list(argv)), Settings)


def test_flags_not_given_leave_the_dataclass_defaults() -> None:
    assert parse() == {}
    assert Settings(**parse()) == Settings()


def test_values_are_typed_and_keep_the_order_given() -> None:
    given = parse("--rate", "3e-5", "--epochs", "4", "--name", "x", "--limit", "10")
    assert given == {"rate": 3e-5, "epochs": 4, "name": "x", "limit": 10}
    assert list(given) == ["rate", "epochs", "name", "limit"]
    assert parse("--limit", "none") == {"limit": None}
    assert parse("--limit", "NULL") == {"limit": None}


def test_every_bool_is_a_flag_and_its_negation() -> None:
    assert parse("--quick", "--no-plots") == {"quick": True, "plots": False}
    assert parse("--no-quick", "--plots") == {"quick": False, "plots": True}


def test_a_tuple_field_is_a_repeatable_flag() -> None:
    assert parse("--data", "x.csv") == {"data": ("x.csv",)}
    assert parse("--data", "x.csv", "--epochs", "1", "--data", "y.csv")["data"] == (
        "x.csv",
        "y.csv",
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "two"], "expected int, got 'two'"),
        (["--rate", "fast"], "expected float, got 'fast'"),
        (["--epochs", "none"], "expected int, got 'none'"),  # not optional
        (["--mode", "slow"], "invalid choice: 'slow'"),
        (["--plots=yes"], "ignored explicit argument"),
    ],
)
def test_bad_values_are_refused_by_name(argv: list[str], message: str) -> None:
    with pytest.raises(argparse.ArgumentError, match=message):
        parser_for().parse_args(argv)


def test_help_says_each_fields_help_and_default() -> None:
    text = parser_for().format_help()
    for expected in (
        "Passes over the data. (default: 2)",
        "Learning rate; 100% of it at the peak. (default: 0.001)",
        "--plots, --no-plots",
        "Files to read. Repeatable. (default: a.csv, b.csv)",
        "{fast,exact}",
    ):
        assert expected in " ".join(text.split()), expected
    assert "(default: None)" not in text  # "unset" is explained by the help text itself
    assert "LIMIT" in text and "MODE" not in text  # choices are shown instead of a metavar


def test_skipped_fields_get_no_flag() -> None:
    parser = parser_for(skip={"data", "mode"})
    assert parser.parse_known_args(["--data", "x.csv"])[1] == ["--data", "x.csv"]
    assert given_settings(parser.parse_args(["--epochs", "3"]), Settings) == {"epochs": 3}


def test_setting_flags_give_back_the_same_settings() -> None:
    values = {
        "quick": True,
        "plots": False,
        "data": ("x.csv", "dir with space/y.csv"),
        "limit": None,
        "rate": 2.5e-05,
        "epochs": 3,
    }
    flags = setting_flags(values)
    assert flags[:3] == ["--quick", "--no-plots", "--data"]
    assert parse(*flags) == values


def test_an_unknown_annotation_is_a_programming_error() -> None:
    @dataclass(frozen=True)
    class Odd:
        weights: dict = setting(None, "A mapping.")

    with pytest.raises(TypeError, match="No command-line form"):
        parser_for(Odd)
