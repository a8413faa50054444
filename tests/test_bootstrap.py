"""Tests for `scripts/bootstrap.py`'s installer choice: uv first, pip when uv fails or is refused.

The installs themselves are what `.ci/run` exercises on a clean checkout; here the commands are
recorded instead of run.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSTALLS = [["-e", "pkg[train]"], ["--no-deps", "checkpoint==1"]]


@pytest.fixture
def bootstrap(monkeypatch):
    spec = importlib.util.spec_from_file_location("bootstrap", ROOT / "scripts" / "bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.delenv("KERASBERT_INSTALLER", raising=False)
    return module


def record(module, monkeypatch, failing: str | None = None) -> list[list[str]]:
    """Replace `run` with a recorder; commands containing `failing` return failure."""
    commands: list[list[str]] = []

    def fake_run(command: list[str], check: bool) -> bool:
        commands.append(command)
        ok = failing is None or failing not in " ".join(command)
        if check and not ok:
            raise AssertionError(f"a checked command failed: {command}")
        return ok

    monkeypatch.setattr(module, "run", fake_run)
    return commands


def tools(commands: list[list[str]]) -> list[str]:
    return [" ".join(command[2:4]) for command in commands]


def test_installs_go_through_uv(bootstrap, monkeypatch) -> None:
    commands = record(bootstrap, monkeypatch)
    bootstrap.install(Path("python"), INSTALLS)
    assert tools(commands) == ["pip install", "uv pip", "uv pip"]
    assert bootstrap.UV_PACKAGE in commands[0]
    assert commands[2][-2:] == INSTALLS[1]


def test_a_failing_uv_install_falls_back_to_pip_for_everything(bootstrap, monkeypatch) -> None:
    # uv fails on the second install: both are redone with pip.
    commands = record(
        bootstrap, monkeypatch, failing="uv pip install --python python --quiet --no-deps"
    )
    bootstrap.install(Path("python"), INSTALLS)
    assert tools(commands) == ["pip install", "uv pip", "uv pip", "pip install", "pip install"]
    assert commands[-1][-2:] == INSTALLS[1]


def test_uv_that_cannot_be_installed_means_pip(bootstrap, monkeypatch) -> None:
    commands = record(bootstrap, monkeypatch, failing=bootstrap.UV_PACKAGE)
    bootstrap.install(Path("python"), INSTALLS)
    assert tools(commands) == ["pip install", "pip install", "pip install"]


def test_installer_pip_skips_uv(bootstrap, monkeypatch) -> None:
    monkeypatch.setenv("KERASBERT_INSTALLER", "pip")
    commands = record(bootstrap, monkeypatch)
    bootstrap.install(Path("python"), INSTALLS)
    assert tools(commands) == ["pip install", "pip install"]
    assert not any("uv" in " ".join(command) for command in commands)
