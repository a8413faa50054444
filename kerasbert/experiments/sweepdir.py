"""The sweep folder: every path a sweep writes, and its lock and settings.

sweeps/<name>/
    sweep.json            the study's settings (base, space, objective, seed): a resumed sweep
                          must match them; the budget may change between runs
    study.db              the Optuna study (SQLite): every trial, its parameters and state
    sweep.lock            the pid of the sweep running on this folder
    trials/trial-NNN/     one run directory per trial (`kerasbert.training.rundir`)
    comparison/           compare.md, compare.csv and plots over the trials
    optuna/               Optuna's optimization history, importances, intermediate values
    exported/             the ONNX export of the best trial
    best.json             the best trial: parameters, validation objective, test metrics
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kerasbert.common.errors import InputError
from kerasbert.common.files import read_json, subpath, write_json


class SweepDir:
    """A sweep folder's paths (see the module docstring).

    Example:
    >>> SweepDir("sweeps/headlines").trial(3).as_posix()
    'sweeps/headlines/trials/trial-003'
    """

    MARKER = "sweep.json"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    settings = subpath(MARKER)
    lock_file = subpath("sweep.lock")
    comparison = subpath("comparison")
    optuna_plots = subpath("optuna")
    export = subpath("exported")
    best = subpath("best.json")

    @property
    def storage_url(self) -> str:
        return f"sqlite:///{(self.path / 'study.db').resolve()}"

    def trial(self, number: int) -> Path:
        return self.path / "trials" / f"trial-{number:03d}"

    def check_settings(self, settings: dict[str, Any]) -> None:
        """Record the study's settings in a new folder; refuse to resume one with others."""
        if self.settings.is_file():
            stored = read_json(self.settings)
            # Through JSON both ways, so tuples and lists compare alike.
            if stored != json.loads(json.dumps(settings)):
                changed = sorted(
                    key
                    for key in settings
                    if stored.get(key) != json.loads(json.dumps(settings[key]))
                )
                raise InputError(
                    f"{self.path} holds a sweep with other settings ({', '.join(changed)}); resume "
                    "it with the same sweep file (only the budget may change), or choose another "
                    "--output."
                )
            return
        if self.path.is_dir() and any(self.path.iterdir()):
            raise InputError(
                f"{self.path} holds other files; choose a new or empty --output for the sweep."
            )
        write_json(self.settings, settings)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for this process: two sweeps writing one study would run trials twice.

        A lock left by a killed sweep (its process gone) is taken over.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        if self.lock_file.is_file():
            text = self.lock_file.read_text().strip()
            if text.isdigit() and int(text) != os.getpid() and _alive(int(text)):
                raise InputError(
                    f"Another sweep (pid {text}) is running on {self.path}; wait for it or stop it."
                )
        self.lock_file.write_text(str(os.getpid()))
        try:
            yield
        finally:
            self.lock_file.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
