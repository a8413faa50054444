"""Tests for `kerasbert/training/strategy.py`: strategy choice, TPU failures, static TPU shapes and mixed
precision on a tiny BERT (CPU only; the multi-device runs are in `test_distributed.py`)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tiny_checkpoint import LABELS, MAX_LENGTH, examples, make_tiny_checkpoint, write_tiny_csv

from kerasbert.common.errors import InputError
from kerasbert.training import strategy as strategy_module

REPO = Path(__file__).resolve().parent.parent
TPU_VARIABLES = ("COLAB_TPU_ADDR", *strategy_module.TPU_ENVIRONMENT)


@pytest.fixture
def no_tpu(monkeypatch):
    """This machine as one without a TPU, whatever the CI runner has."""
    for variable in (*TPU_VARIABLES, "TF_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(strategy_module, "TPU_DEVICE_FILES", ("/nonexistent/accel*",))


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def float32_policy():
    """Put the precision settings (policy, bfloat16 rewrite, its op lists) back after a test."""
    saved = strategy_module.PrecisionState.current()
    yield
    saved.restore()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_auto_detection_reads_the_environment(no_tpu, monkeypatch):
    assert strategy_module.detect_strategy() == "default"
    cluster = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    assert strategy_module.detect_strategy() == "multiworker"
    monkeypatch.setenv("COLAB_TPU_ADDR", "10.0.0.2:8470")
    assert strategy_module.detect_strategy() == "tpu"
    assert strategy_module.tpu_address() == "grpc://10.0.0.2:8470"
    assert strategy_module.tpu_address("my-tpu") == "my-tpu"


def test_tpu_vm_device_files_mean_a_local_tpu(no_tpu, monkeypatch, tmp_path):
    (tmp_path / "accel0").touch()
    monkeypatch.setattr(strategy_module, "TPU_DEVICE_FILES", (str(tmp_path / "accel[0-9]*"),))
    assert strategy_module.tpu_address() == "local"


@pytest.mark.parametrize("native_bfloat16", [False, True])
def test_cpu_strategy_and_auto_precision_on_cpu(no_tpu, monkeypatch, native_bfloat16):
    monkeypatch.setattr(strategy_module, "cpu_has_native_bfloat16", lambda: native_bfloat16)
    cpu = "cpu_bfloat16" if native_bfloat16 else "fp32"
    strategy = strategy_module.create_strategy("cpu")
    assert strategy.num_replicas_in_sync == 1
    assert strategy_module.accelerator(strategy) == "cpu"
    assert strategy_module.resolve_precision("auto", strategy) == cpu
    assert strategy_module.resolve_precision("mixed_bfloat16", strategy) == "mixed_bfloat16"
    default = strategy_module.create_strategy("auto")
    assert strategy_module.resolve_precision("auto", default) == cpu
    assert strategy_module.resolve_precision("auto") == cpu


def test_native_bfloat16_is_read_from_the_cpu_flags(monkeypatch, tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    monkeypatch.setattr(strategy_module, "CPU_INFO", str(cpuinfo))
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n")
    assert not strategy_module.cpu_has_native_bfloat16()
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_tile\n")
    assert strategy_module.cpu_has_native_bfloat16()
    # oneDNN does the bfloat16 work; switched off, TensorFlow would not rewrite anything.
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert not strategy_module.cpu_has_native_bfloat16()
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS")
    monkeypatch.setattr(strategy_module, "CPU_INFO", str(tmp_path / "missing"))
    assert not strategy_module.cpu_has_native_bfloat16()


@pytest.mark.skipif(
    not strategy_module.cpu_has_native_bfloat16(), reason="the CPU has no native bfloat16"
)
def test_cpu_bfloat16_rounds_matmuls_to_bfloat16_until_fp32_is_applied(float32_policy):
    """`cpu_bfloat16` keeps float32 tensors and layers but runs graph matmuls in bfloat16;
    `apply_precision("fp32")` (what training does before evaluation and export) turns that off
    again, also for a function that already ran under it."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    left = tf.constant(rng.normal(size=(64, 256)).astype(np.float32))
    right = tf.constant(rng.normal(size=(256, 32)).astype(np.float32))
    exact = left.numpy().astype(np.float64) @ right.numpy().astype(np.float64)
    matmul = tf.function(lambda a, b: tf.matmul(a, b))

    def relative_error() -> float:
        result = matmul(left, right)
        assert result.dtype == tf.float32
        return float(np.abs(result.numpy() - exact).max() / np.abs(exact).max())

    strategy_module.apply_precision("cpu_bfloat16")
    assert strategy_module.PRECISION_POLICIES["cpu_bfloat16"] == "float32"
    assert relative_error() > 1e-4  # bfloat16 keeps 8 bits of mantissa
    strategy_module.apply_precision("fp32")
    assert relative_error() < 1e-5
    assert strategy_module.set_bfloat16_rewrite(False) is False


def optimized_op_dtypes(function, *arguments) -> list[tuple[str, str]]:
    """(op type, dtype) of each op TensorFlow ran for `function`, after its graph optimizers."""
    import tensorflow as tf
    from tensorflow.python.eager import context

    context.enable_run_metadata()
    try:
        function(*arguments)
        metadata = context.export_run_metadata()
    finally:
        context.disable_run_metadata()
    return [
        (node.op, tf.dtypes.as_dtype(node.attr["T"].type).name if "T" in node.attr else "")
        for graph in metadata.function_graphs
        for partition in graph.partition_graphs
        for node in partition.node
    ]


@pytest.mark.skipif(
    not strategy_module.cpu_has_native_bfloat16(), reason="the CPU has no native bfloat16"
)
def test_cpu_bfloat16_runs_only_the_matmuls_in_bfloat16(float32_policy, monkeypatch):
    """The elementwise ops between two matmuls (GELU's Erfc, the Mul after it) stay float32;
    TensorFlow's rewrite on its own would move them to bfloat16 too."""
    import tensorflow as tf

    for variable in strategy_module.BFLOAT16_LIST_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    rng = np.random.default_rng(0)
    inputs = tf.constant(rng.normal(size=(16, 64)).astype(np.float32))
    weights = tf.constant(rng.normal(size=(64, 64)).astype(np.float32))
    block = tf.function(lambda x, w: tf.matmul(tf.nn.gelu(tf.matmul(x, w)) * x, w))

    strategy_module.apply_precision("cpu_bfloat16")
    dtypes = optimized_op_dtypes(block, inputs, weights)
    assert [dtype for op, dtype in dtypes if "MatMul" in op] == ["bfloat16", "bfloat16"]
    elementwise = {op: dtype for op, dtype in dtypes if op in ("Erfc", "Mul")}
    assert elementwise == {"Erfc": "float32", "Mul": "float32"}


def test_bfloat16_float32_ops_extend_the_users_lists(float32_policy, monkeypatch):
    variable = strategy_module.BFLOAT16_LIST_VARIABLES[1]
    monkeypatch.setenv(variable, "Exp2,Mul")
    strategy_module.set_bfloat16_rewrite(True)
    listed = os.environ[variable].split(",")
    assert listed[:2] == ["Exp2", "Mul"]
    assert sorted(listed[1:]) == sorted(strategy_module.BFLOAT16_FLOAT32_OPS)
    strategy_module.set_bfloat16_rewrite(False)


@pytest.mark.parametrize("kind, expected", [("tpu", "mixed_bfloat16"), ("gpu", "mixed_float16")])
def test_auto_precision_follows_the_accelerator(monkeypatch, kind, expected):
    monkeypatch.setattr(strategy_module, "accelerator", lambda strategy: kind)
    assert strategy_module.resolve_precision("auto", object()) == expected


def test_tpu_strategy_without_a_tpu_fails_at_once(no_tpu):
    start = time.perf_counter()
    with pytest.raises(InputError, match="no TPU is attached"):
        strategy_module.create_strategy("tpu")
    # A grpc:// address where nothing listens: TensorFlow alone would wait forever.
    with pytest.raises(InputError, match="nothing answers"):
        strategy_module.create_strategy("tpu", tpu=f"grpc://127.0.0.1:{closed_port()}")
    assert time.perf_counter() - start < 15


def test_multiworker_without_tf_config_is_an_input_error(no_tpu):
    with pytest.raises(InputError, match="TF_CONFIG"):
        strategy_module.create_strategy("multiworker")


@pytest.mark.slow  # starts TensorFlow in a subprocess
def test_cli_strategy_tpu_without_a_tpu_exits_2_quickly(tmp_path):
    environment = {key: value for key, value in os.environ.items() if key not in TPU_VARIABLES}
    data = write_tiny_csv(tmp_path / "data.csv")
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "kerasbert", "train", "--strategy", "tpu", "--data", str(data),
         "--output-dir", str(tmp_path / "run")],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert completed.returncode == 2, completed.stderr[-2000:]
    assert "--strategy tpu" in completed.stderr and "Runtime > Change runtime type" in (
        completed.stderr
    )
    assert not (tmp_path / "run").exists()  # failed before anything was written
    assert time.perf_counter() - start < 90


def test_tpu_input_pipeline_has_fully_static_shapes(tiny_checkpoint):
    """What `fit_run` builds for a TPU: fixed padding and dropped remainders."""
    import tensorflow as tf

    from kerasbert.training import checkpoint, pipeline

    tokenizer = checkpoint.load_tokenizer(str(tiny_checkpoint))
    rows = examples(21)
    encoded = pipeline.encode(tokenizer, [row["text"] for row in rows], MAX_LENGTH)
    labels = np.array([LABELS.index(row["label"]) for row in rows])
    dataset = pipeline.make_dataset(
        encoded, labels, 8, padding="fixed", shuffle=True, seed=1, drop_remainder=True
    )
    specs = tf.nest.flatten(dataset.element_spec)
    assert all(None not in spec.shape.as_list() for spec in specs), dataset.element_spec
    assert [spec.shape.as_list() for spec in specs] == [[8, MAX_LENGTH]] * 2 + [[8]]
    assert all(spec.dtype == tf.int32 for spec in specs)
    batches = list(dataset)
    assert len(batches) == 2  # 21 examples: two full batches of 8, the remainder dropped
    features, batch_labels = batches[0]
    assert features["input_ids"].shape == (8, MAX_LENGTH)
    assert set(np.unique(features["attention_mask"])) <= {0, 1}


@pytest.mark.parametrize(
    "precision, jit_compile",
    [
        ("mixed_float16", False),
        ("mixed_bfloat16", False),
        # XLA compiles the whole step first: slower than the other two together.
        pytest.param("mixed_bfloat16", True, marks=pytest.mark.slow),
    ],
)
def test_mixed_precision_trains_with_float32_logits_and_loss(
    tiny_checkpoint, float32_policy, precision, jit_compile
):
    import tensorflow as tf

    from kerasbert.training import checkpoint, pipeline
    from kerasbert.training.model import build_classifier, compile_classifier
    from kerasbert.training.tfkeras import keras

    tokenizer = checkpoint.load_tokenizer(str(tiny_checkpoint))
    rows = examples(48)
    encoded = pipeline.encode(tokenizer, [row["text"] for row in rows], MAX_LENGTH)
    labels = np.array([LABELS.index(row["label"]) for row in rows])
    dataset = pipeline.make_dataset(encoded, labels, 8, padding="fixed", drop_remainder=True)

    strategy_module.apply_precision(precision)
    strategy = strategy_module.create_strategy("cpu")
    with strategy.scope():
        model = build_classifier(str(tiny_checkpoint), LABELS)
        compile_classifier(
            model, learning_rate=1e-2, total_steps=18, warmup_steps=1, jit_compile=jit_compile
        )
    before = [weight.numpy().copy() for weight in model.trainable_weights]
    history = model.fit(dataset, epochs=3, verbose=0)

    compute_dtype = precision.removeprefix("mixed_")
    assert model.bert.encoder.layer[0].compute_dtype == compute_dtype
    assert model.classifier.compute_dtype == "float32"
    assert all(weight.dtype == tf.float32 for weight in model.trainable_weights)
    assert isinstance(model.optimizer, keras.mixed_precision.LossScaleOptimizer) == (
        precision == "mixed_float16"
    )
    features, batch_labels = next(iter(dataset))
    logits = model(features, training=False).logits
    assert logits.dtype == tf.float32
    loss = model.loss(batch_labels, logits)  # the compiled loss object
    assert loss.dtype == tf.float32
    assert np.isfinite(history.history["loss"]).all()
    assert np.isfinite(logits.numpy()).all()
    assert history.history["loss"][-1] < history.history["loss"][0]
    changed = [
        not np.allclose(old, new.numpy()) for old, new in zip(before, model.trainable_weights)
    ]
    assert all(changed[-2:])  # the float32 head learned


def test_precision_scope_puts_back_the_callers_settings(float32_policy, monkeypatch):
    """Whatever the block applies, and also when it fails, the policy, the rewrite and its op
    lists are as the caller had them: here a caller's own policy and op list, which a reset to
    float32 would lose."""
    from kerasbert.training.tfkeras import keras

    own, unset = strategy_module.BFLOAT16_LIST_VARIABLES
    monkeypatch.setenv(own, "Exp2")
    monkeypatch.delenv(unset, raising=False)
    keras.mixed_precision.set_global_policy("mixed_float16")
    before = strategy_module.PrecisionState.current()
    assert before == strategy_module.PrecisionState(
        "mixed_float16", False, ((own, "Exp2"), (unset, None))
    )

    with strategy_module.precision_scope("cpu_bfloat16"):
        inside = strategy_module.PrecisionState.current()
        assert (inside.policy, inside.bfloat16_rewrite) == ("float32", True)
        assert os.environ[own].split(",")[0] == "Exp2"
        assert set(os.environ[unset].split(",")) == set(strategy_module.BFLOAT16_FLOAT32_OPS)
    assert strategy_module.PrecisionState.current() == before

    with pytest.raises(RuntimeError), strategy_module.precision_scope("mixed_bfloat16"):
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
        raise RuntimeError("training failed")
    assert strategy_module.PrecisionState.current() == before

    with pytest.raises(InputError, match="--precision"), strategy_module.precision_scope("fp8"):
        pass
    assert strategy_module.PrecisionState.current() == before

    # The benchmark's on/off turns inside a cpu_bfloat16 run come back to the run's settings.
    with strategy_module.precision_scope("cpu_bfloat16"):
        run = strategy_module.PrecisionState.current()
        with strategy_module.bfloat16_rewrite(False):
            assert not strategy_module.PrecisionState.current().bfloat16_rewrite
        assert strategy_module.PrecisionState.current() == run
    with strategy_module.bfloat16_rewrite(True):
        assert os.environ[unset]
    assert strategy_module.PrecisionState.current() == before


def _history_and_probabilities(run_dir: Path) -> tuple[dict, str]:
    from kerasbert.training.rundir import RunDir

    run = RunDir(run_dir)
    history = json.loads(run.history.read_text(encoding="utf-8"))
    history.pop("epoch_seconds", None)  # measured, so different in every run
    return history, run.test_probabilities.read_text(encoding="utf-8")


@pytest.mark.slow  # four trainings; the precision_scope test above covers the restore fast
def test_a_bfloat16_run_leaves_the_process_as_it_found_it(
    tiny_checkpoint, float32_policy, tmp_path, monkeypatch
):
    """Runs through `kerasbert train` in one process: fp32, cpu_bfloat16, mixed_bfloat16, fp32.
    After each, the policy, the rewrite and the op lists (one holding a user's op) are as
    before the first; the bfloat16 runs did round (mixed_bfloat16 always does, cpu_bfloat16
    where the CPU has native bfloat16: elsewhere TensorFlow may leave the matmuls alone); and the
    last fp32 run repeats the first number for number."""
    from kerasbert.cli import main

    own, unset = strategy_module.BFLOAT16_LIST_VARIABLES
    monkeypatch.setenv(own, "Exp2")
    monkeypatch.delenv(unset, raising=False)
    data = write_tiny_csv(tmp_path / "data.csv")
    before = strategy_module.PrecisionState.current()

    def train(name: str, precision: str) -> tuple[dict, str]:
        run_dir = tmp_path / name
        status = main(
            ["train", "--data", str(data), "--model", str(tiny_checkpoint), "--output-dir",
             str(run_dir), "--precision", precision, "--max-length", str(MAX_LENGTH),
             "--batch-size", "8", "--epochs", "2", "--learning-rate", "1e-2", "--seed", "5",
             "--no-export", "--no-plots"]
        )  # fmt: skip
        assert status == 0
        assert strategy_module.PrecisionState.current() == before, precision
        return _history_and_probabilities(run_dir)

    first = train("fp32-first", "fp32")
    cpu_bfloat16 = train("cpu-bfloat16", "cpu_bfloat16")
    mixed_bfloat16 = train("mixed-bfloat16", "mixed_bfloat16")
    again = train("fp32-again", "fp32")

    assert mixed_bfloat16[0]["loss"] != first[0]["loss"]
    if strategy_module.cpu_has_native_bfloat16():
        assert cpu_bfloat16[0]["loss"] != first[0]["loss"]
    assert again == first
    assert np.isfinite(first[0]["loss"]).all()
