"""Tests for `kerasbert/training/tfkeras.py`: TensorFlow loads on first use, quietly unless asked,
and leaves the process environment as it found it but for `TF_USE_LEGACY_KERAS`.

Each case is a fresh Python process (TensorFlow loads once per process), started without the
variables the test session itself sets (conftest.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OWN_VARIABLES = ("TF_USE_LEGACY_KERAS", "TF_CPP_MIN_LOG_LEVEL")
# TensorFlow's C++ log lines ("I0000 00:00:... port.cc:153] ...") and absl's pre-init notice.
NATIVE_LOG_LINE = re.compile(r"^[IWEF]\d{4} |absl::InitializeLog")

# Loads TensorFlow as the given statement does, then runs an XLA-compiled function, whose
# start-up lines are INFO (hidden at TF_CPP_MIN_LOG_LEVEL 2 only if the level held).
PROBE = """
import json, os, sys
before = dict(os.environ)
{load}
loaded_at_import = "tensorflow" in sys.modules
{use}
import tensorflow as tf
double = tf.function(lambda x: x * 2.0, jit_compile=True)
assert float(double(tf.constant(1.5))) == 3.0
sys.stderr.flush()
changed = {{
    name: os.environ.get(name)
    for name in set(before) | set(os.environ)
    if before.get(name) != os.environ.get(name)
}}
print(json.dumps({{"changed": changed, "loaded_at_import": loaded_at_import}}))
"""


def run_probe(load: str, use: str = "") -> tuple[dict, list[str]]:
    environment = {name: value for name, value in os.environ.items() if name not in OWN_VARIABLES}
    environment["PYTHONPATH"] = str(ROOT)
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(load=load, use=use)],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.splitlines()[-1]), completed.stderr.splitlines()


@pytest.mark.slow
def test_tensorflow_loads_quietly_on_first_use_and_leaves_the_environment() -> None:
    # What TensorFlow sets by itself when imported with kerasbert's variables already set.
    plain, _ = run_probe(
        "os.environ.update(TF_USE_LEGACY_KERAS='1', TF_CPP_MIN_LOG_LEVEL='2')\n"
        "import tensorflow, tf_keras\n"
        "tensorflow.config.list_physical_devices()"
    )
    tensorflows_own = {
        name: value for name, value in plain["changed"].items() if name not in OWN_VARIABLES
    }

    quiet, stderr = run_probe(
        "import kerasbert.training.tfkeras", "from kerasbert.training.tfkeras import keras, tf"
    )
    assert quiet["loaded_at_import"] is False  # importing the module loads nothing
    assert quiet["changed"] == {**tensorflows_own, "TF_USE_LEGACY_KERAS": "1"}
    assert [line for line in stderr if NATIVE_LOG_LINE.search(line)] == []


@pytest.mark.slow
def test_debug_shows_tensorflows_start_up_notices() -> None:
    debug, stderr = run_probe(
        "from kerasbert.training.tfkeras import import_tensorflow\nimport_tensorflow(debug=True)"
    )
    assert [line for line in stderr if NATIVE_LOG_LINE.search(line)] != []
    assert "TF_CPP_MIN_LOG_LEVEL" not in debug["changed"]
