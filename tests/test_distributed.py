"""Multi-replica training on a CPU: MirroredStrategy over 2 logical CPUs, and
MultiWorkerMirroredStrategy with 2 local worker processes, each compared with one device.

Every run is `kerasbert.training.fit.fit_run` (what `kerasbert train` runs) in its own subprocess:
TensorFlow's devices and cluster are fixed when it initialises, so each layout needs a fresh
process. The tiny BERT has no dropout and all runs start from the same weights, so the same global
batch must give the same losses and final weights, up to float32 summation order.

This file is also the subprocess's script: `python tests/test_distributed.py CONFIG_JSON [CPUS]`.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# Every run is a TensorFlow subprocess (a fresh device layout each).
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
TIMEOUT_S = 240  # one run takes ~15 s alone; CI has 2 shared cores
GLOBAL_BATCH = 8
EPOCHS = 2


def fit_in_subprocess(config: dict, logical_cpus: int = 1) -> None:
    """The subprocess body: split the CPU if asked, then run `fit_run(config)`."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    if logical_cpus > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * logical_cpus
        )
    from kerasbert.config import TrainConfig
    from kerasbert.training.fit import fit_run

    fit_run(TrainConfig.from_dict(config))


def launch(config: dict, logical_cpus: int = 1, tf_config: dict | None = None) -> subprocess.Popen:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("TF_CONFIG", "TPU_NAME", "COLAB_TPU_ADDR")
    }
    environment["PYTHONPATH"] = os.pathsep.join([str(REPO), environment.get("PYTHONPATH", "")])
    if tf_config is not None:
        environment["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen(
        [sys.executable, __file__, json.dumps(config), str(logical_cpus)],
        cwd=REPO,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait(processes: list[subprocess.Popen]) -> None:
    """Wait for all; on a timeout or failure kill the rest and show the output."""
    outputs = []
    try:
        for process in processes:
            output, _ = process.communicate(timeout=TIMEOUT_S)
            outputs.append(output)
            if process.returncode != 0:
                pytest.fail(f"training subprocess failed:\n{output[-4000:]}")
    except subprocess.TimeoutExpired:
        pytest.fail(f"training subprocess timed out after {TIMEOUT_S} s")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()


def run_config(tmp_path: Path, name: str, strategy: str, batch_size: int, **extra) -> dict:
    return {
        "data": str(tmp_path / "data.csv"),
        "model": str(tmp_path / "checkpoint"),
        "max_length": 16,
        "batch_size": batch_size,
        "epochs": EPOCHS,
        "learning_rate": 1e-2,
        "warmup_ratio": 0.2,
        "early_stopping_patience": 0,
        "strategy": strategy,
        "precision": "fp32",
        "export": False,
        "plots": False,
        "output_dir": str(tmp_path / name),
        **extra,
    }


def read_weights(run_dir: Path) -> dict[str, np.ndarray]:
    """The saved model's weights by name, without the model's own (numbered) name scope."""
    import h5py

    weights = {}

    def collect(name: str, item) -> None:
        if isinstance(item, h5py.Dataset):
            weights[re.sub(r"tf_bert_for_sequence_classification(_\d+)?/", "", name)] = item[()]

    with h5py.File(run_dir / "model" / "tf_model.h5", "r") as handle:
        handle.visititems(collect)
    return weights


def assert_same_training(run_dir: Path, reference_dir: Path, compare_weights: bool = True) -> None:
    summary = json.loads((run_dir / "data_summary.json").read_text())
    assert summary["strategy"]["replicas"] == 2
    assert summary["strategy"]["global_batch_size"] == GLOBAL_BATCH
    history = json.loads((run_dir / "history.json").read_text())
    reference = json.loads((reference_dir / "history.json").read_text())
    for key in ("loss", "val_loss", "accuracy", "learning_rate"):
        np.testing.assert_allclose(history[key], reference[key], rtol=1e-4, atol=1e-5, err_msg=key)
    # Training moved the weights, and both layouts moved them the same way.
    assert reference["loss"][-1] < reference["loss"][0]
    if not compare_weights:
        return
    weights, reference_weights = read_weights(run_dir), read_weights(reference_dir)
    assert weights.keys() == reference_weights.keys() and weights
    for name, value in weights.items():
        np.testing.assert_allclose(
            value, reference_weights[name], rtol=1e-3, atol=1e-5, err_msg=name
        )


@pytest.fixture(scope="module")
def single_device_run(tmp_path_factory) -> tuple[Path, Path]:
    """The tiny checkpoint, the data, the reference run (one CPU, global batch 8) and the
    mirrored run."""
    from tiny_checkpoint import make_tiny_checkpoint, write_tiny_csv

    root = tmp_path_factory.mktemp("distributed")
    make_tiny_checkpoint(root / "checkpoint")
    write_tiny_csv(root / "data.csv", count=80)
    # The mirrored run starts alongside: both spend most of their time importing and tracing.
    wait(
        [
            launch(run_config(root, "single", "cpu", GLOBAL_BATCH)),
            launch(run_config(root, "mirrored", "mirrored", GLOBAL_BATCH // 2), logical_cpus=2),
        ]
    )
    return root, root / "single"


def test_mirrored_on_two_logical_cpus_matches_one_device(single_device_run):
    """Per-replica batch 4 on 2 logical CPUs against batch 8 on one device."""
    root, reference = single_device_run
    assert_same_training(root / "mirrored", reference)


def free_ports(count: int) -> list[int]:
    """Ports the OS reports free now (held open together, so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def test_multiworker_with_two_local_workers_matches_one_device(single_device_run):
    root, reference = single_device_run
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = [
        launch(
            # Each worker writes its own run directory, as on two machines with local disks.
            run_config(root, f"worker{index}", "multiworker", GLOBAL_BATCH // 2),
            tf_config={"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}},
        )
        for index in range(2)
    ]
    wait(processes)
    assert_same_training(root / "worker0", reference)
    # Only the chief (worker 0) keeps the best-epoch checkpoint; the other's saved model is scratch.
    assert_same_training(root / "worker1", reference, compare_weights=False)


if __name__ == "__main__":
    fit_in_subprocess(json.loads(sys.argv[1]), int(sys.argv[2]))
