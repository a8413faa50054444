"""Choose the `tf.distribute` strategy and the mixed-precision policy for a run.

The strategy is created once by the caller and passed in. Precision is process-wide whatever
kerasbert does: the tf-keras dtype policy, TensorFlow's graph-optimizer options and the op lists
of its bfloat16 rewrite (environment variables) are global. A run applies its precision inside
`precision_scope`, which puts all three back as it found them when the run ends, so the next run,
evaluation or export in the process starts from the caller's settings (float32 unless the caller
chose otherwise).

| `--strategy`  | what it builds                                                             |
|---------------|----------------------------------------------------------------------------|
| `auto`        | a TPU if one is attached or named, `multiworker` if `TF_CONFIG` lists      |
|               | several workers, `mirrored` with several GPUs, else TensorFlow's default   |
| `cpu`, `gpu`  | one replica on the first CPU or GPU                                        |
| `mirrored`    | `MirroredStrategy` over every local GPU (or every logical CPU without one) |
| `tpu`         | `TPUStrategy`; fails at once with `InputError` when no TPU can be reached  |
| `multiworker` | `MultiWorkerMirroredStrategy`; the cluster comes from `TF_CONFIG`          |
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlparse

from kerasbert.common.errors import InputError
from kerasbert.training.tfkeras import keras, tf

logger = logging.getLogger(__name__)

# Environment variables through which Colab, Cloud TPU and GKE announce a TPU.
TPU_ENVIRONMENT = ("TPU_NAME", "TPU_CONFIG", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS")
# A TPU VM's chips: /dev/accel* on v2/v3 (Colab's TPU runtime), /dev/vfio/<n> on v4 and later.
TPU_DEVICE_FILES = ("/dev/accel[0-9]*", "/dev/vfio/[0-9]*")
# Seconds to wait for a grpc:// TPU address to answer; TensorFlow itself waits forever.
TPU_CONNECT_TIMEOUT_S = 10.0
PRECISION_POLICIES = {
    "fp32": "float32",
    "mixed_float16": "mixed_float16",
    "mixed_bfloat16": "mixed_bfloat16",
    # Keras layers stay float32; TensorFlow's graph optimizer (oneDNN auto mixed precision) runs
    # the matmuls and the ops around them in bfloat16 with casts at the edges. The weights, the
    # optimizer and its update stay float32.
    "cpu_bfloat16": "float32",
}
# CPU flags of native bfloat16 dot products (Intel AMX, AVX512-BF16): without them oneDNN emulates
# bfloat16, slower than float32.
NATIVE_BFLOAT16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
CPU_INFO = "/proc/cpuinfo"
BFLOAT16_REWRITE = "auto_mixed_precision_onednn_bfloat16"
# The rewrite would also move the elementwise ops between the matmuls (GELU's Erfc, layer norm,
# softmax, dropout's Mul, residual adds) to bfloat16, where TensorFlow's CPU kernels for them are
# slower than in float32 and cost casts besides. Kept in float32, only the matmuls run in bfloat16,
# which is where bfloat16 pays (docs/PERFORMANCE.md has the step times).
BFLOAT16_FLOAT32_OPS = tuple(
    "Add AddN AddV2 BiasAddGrad Erf Erfc Mean Mul RealDiv Reciprocal Rsqrt Softmax Sqrt Square "
    "SquaredDifference Sub Sum".split()
)
# TensorFlow reads its rewrite's op lists from these variables whenever it optimizes a graph.
BFLOAT16_LIST_VARIABLES = (
    "TF_AUTO_MIXED_PRECISION_GRAPH_REWRITE_INFERLIST_REMOVE",
    "TF_AUTO_MIXED_PRECISION_GRAPH_REWRITE_DENYLIST_ADD",
)


def create_strategy(name: str = "auto", tpu: str | None = None):
    """Return the `tf.distribute.Strategy` for `name` (see `TrainConfig.strategy`).

    Call it before any other TensorFlow work: connecting to a TPU resets TensorFlow's context.

    Example:
    >>> strategy = create_strategy("cpu")
    >>> strategy.num_replicas_in_sync
    1
    """
    chosen = detect_strategy(tpu) if name == "auto" else name
    if chosen == "tpu":
        strategy = _tpu_strategy(tpu)
    elif chosen == "multiworker":
        _check_tf_config()
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    elif chosen == "mirrored":
        strategy = tf.distribute.MirroredStrategy(devices=_mirrored_devices())
    elif chosen == "gpu":
        gpus = tf.config.list_logical_devices("GPU")
        if not gpus:
            raise InputError("--strategy gpu: TensorFlow sees no GPU. Use --strategy cpu or auto.")
        strategy = _one_device(gpus[0].name)
    elif chosen == "cpu":
        strategy = _one_device(tf.config.list_logical_devices("CPU")[0].name)
    elif chosen == "default":
        strategy = tf.distribute.get_strategy()
    else:
        raise InputError(f"Unknown --strategy {name!r}.")
    logger.info(
        "Strategy: %s (--strategy %s) with %d replica(s).",
        type(strategy).__name__,
        name,
        strategy.num_replicas_in_sync,
    )
    return strategy


def detect_strategy(tpu: str | None = None) -> str:
    """What `--strategy auto` picks here: `tpu`, `multiworker`, `mirrored` or `default`.

    Only the environment and device files are inspected, so this never waits on the network.
    """
    if tpu_address(tpu) is not None:
        return "tpu"
    if len(_tf_config().get("cluster", {}).get("worker", [])) > 1:
        return "multiworker"
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return "mirrored"
    return "default"


def tpu_address(tpu: str | None = None) -> str | None:
    """The `tpu` argument for `TPUClusterResolver`, or None when no TPU is announced here.

    `--tpu` wins; a legacy Colab TPU node gives `COLAB_TPU_ADDR`; Cloud TPU variables are read
    by the resolver itself (""); a TPU VM (today's Colab TPU runtime) is "local".
    """
    if tpu:
        return tpu
    if os.environ.get("COLAB_TPU_ADDR"):
        return "grpc://" + os.environ["COLAB_TPU_ADDR"]
    if any(os.environ.get(variable) for variable in TPU_ENVIRONMENT):
        return ""
    if any(glob.glob(pattern) for pattern in TPU_DEVICE_FILES):
        return "local"
    return None


def _tpu_strategy(tpu: str | None):
    address = tpu_address(tpu)
    if address is None:
        raise InputError(
            "--strategy tpu: no TPU is attached to this machine (no TPU device files, no TPU_NAME "
            "or COLAB_TPU_ADDR). On Colab choose Runtime > Change runtime type > TPU; elsewhere "
            "pass --tpu NAME or --tpu grpc://HOST:8470, or use --strategy auto."
        )
    if address.startswith("grpc://"):
        _check_reachable(address)
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, OSError, tf.errors.OpError) as error:
        raise InputError(
            f"--strategy tpu: could not start the TPU {address or '(from the environment)'!r}: "
            f"{str(error).splitlines()[0]}. On Colab choose Runtime > Change runtime type > TPU; "
            "elsewhere check --tpu, or use --strategy auto."
        ) from error
    return tf.distribute.TPUStrategy(resolver)


def _check_reachable(address: str) -> None:
    """Fail in seconds when a grpc:// TPU address does not answer (TensorFlow would hang)."""
    parsed = urlparse(address)
    try:
        with socket.create_connection(
            (parsed.hostname, parsed.port or 8470), timeout=TPU_CONNECT_TIMEOUT_S
        ):
            pass
    except OSError as error:
        raise InputError(
            f"--strategy tpu: nothing answers at {address} ({error}). Check --tpu or "
            "COLAB_TPU_ADDR, or use --strategy auto."
        ) from error


def _tf_config() -> dict:
    try:
        return json.loads(os.environ.get("TF_CONFIG") or "{}")
    except json.JSONDecodeError as error:
        raise InputError(f"TF_CONFIG is not valid JSON: {error}.") from error


def _check_tf_config() -> None:
    config = _tf_config()
    workers = config.get("cluster", {}).get("worker", [])
    if not workers or "task" not in config:
        raise InputError(
            "--strategy multiworker needs TF_CONFIG with the cluster and this worker's task, "
            'e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}\' on the first machine (index 1 on the '
            "second)."
        )


def _one_device(device: str):
    """A one-replica strategy pinned to `device`.

    A single-device `MirroredStrategy` rather than `OneDeviceStrategy`: tf-keras' BackupAndRestore
    (the resume-after-kill callback of every run) refuses `OneDeviceStrategy`.
    """
    return tf.distribute.MirroredStrategy(devices=[device])


def _mirrored_devices() -> list[str]:
    """Every local GPU; without GPUs every logical CPU (several only when split for testing)."""
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return [device.name for device in devices]


def accelerator(strategy) -> str:
    """`tpu`, `gpu` or `cpu`: what the strategy's replicas run on."""
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "tpu"
    try:
        devices = strategy.extended.worker_devices
    except RuntimeError:  # the default strategy places ops wherever TensorFlow would
        return "gpu" if tf.config.list_logical_devices("GPU") else "cpu"
    return "gpu" if any("GPU" in device.upper() for device in devices) else "cpu"


def resolve_precision(precision: str, strategy=None) -> str:
    """`auto` → bf16 on TPU, fp16 on GPU, bf16 matmuls on a CPU with native bfloat16
    (`cpu_bfloat16`), else fp32; other values pass through. Without a strategy, for
    TensorFlow's default one."""
    if precision != "auto":
        return precision
    if strategy is None:
        strategy = tf.distribute.get_strategy()
    cpu = "cpu_bfloat16" if cpu_has_native_bfloat16() else "fp32"
    return {"tpu": "mixed_bfloat16", "gpu": "mixed_float16", "cpu": cpu}[accelerator(strategy)]


def cpu_has_native_bfloat16() -> bool:
    """Whether this machine's CPU computes bfloat16 dot products natively (Linux: its flags in
    /proc/cpuinfo) and oneDNN, which does the bfloat16 work, is on."""
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower() in ("0", "false"):
        return False
    try:
        with open(CPU_INFO, encoding="utf-8", errors="replace") as handle:
            flags = next(
                (line.split(":", 1)[1].split() for line in handle if line.startswith("flags")), []
            )
    except OSError:
        return False
    return any(flag in flags for flag in NATIVE_BFLOAT16_CPU_FLAGS)


def apply_precision(precision: str) -> None:
    """Set the global tf-keras mixed-precision policy (`fp32` → `float32`) and the bfloat16 graph
    rewrite (on for `cpu_bfloat16` only). Left set: a run uses `precision_scope`, which restores.

    Build the model after this call: layers take the policy when they are created. The classifier
    head stays float32 (`kerasbert.training.model.build_classifier`), and `compile_classifier` adds loss
    scaling for float16.
    """
    if precision not in PRECISION_POLICIES:
        raise InputError(
            f"--precision must be one of {', '.join(PRECISION_POLICIES)} (or auto), got "
            f"{precision!r}."
        )
    keras.mixed_precision.set_global_policy(PRECISION_POLICIES[precision])
    set_bfloat16_rewrite(precision == "cpu_bfloat16")
    logger.info("Precision: %s.", precision)


@dataclass(frozen=True)
class PrecisionState:
    """The process-wide settings a precision changes, as they stand: the tf-keras global policy,
    whether the bfloat16 rewrite is on, and the rewrite's op-list variables (None: unset)."""

    policy: str
    bfloat16_rewrite: bool
    op_lists: tuple[tuple[str, str | None], ...]

    @classmethod
    def current(cls) -> PrecisionState:
        options = tf.config.optimizer.get_experimental_options()
        return cls(
            keras.mixed_precision.global_policy().name,
            bool(options.get(BFLOAT16_REWRITE, False)),
            tuple((variable, os.environ.get(variable)) for variable in BFLOAT16_LIST_VARIABLES),
        )

    def restore(self) -> None:
        """Put every setting back as captured. A rewrite option that was never set comes back
        as off, its default: TensorFlow has no public way to unset a graph-optimizer option."""
        keras.mixed_precision.set_global_policy(self.policy)
        tf.config.optimizer.set_experimental_options({BFLOAT16_REWRITE: self.bfloat16_rewrite})
        for variable, value in self.op_lists:
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value


@contextlib.contextmanager
def precision_scope(precision: str) -> Iterator[None]:
    """Run the block under `precision` (`apply_precision`), then restore the policy, the rewrite
    and its op lists as they were before, also when the block fails.

    Example:
    >>> with precision_scope("mixed_bfloat16"):  # doctest: +SKIP
    ...     model = build_classifier(...)          # bfloat16 layers
    >>> keras.mixed_precision.global_policy().name  # doctest: +SKIP
    'float32'
    """
    saved = PrecisionState.current()
    try:
        apply_precision(precision)
        yield
    finally:
        saved.restore()


def set_bfloat16_rewrite(enabled: bool) -> bool:
    """Turn TensorFlow's oneDNN bfloat16 graph rewrite (`cpu_bfloat16`) on or off; returns
    whether it was on.

    A process-wide graph-optimizer option, applied whenever a tf.function runs (not when it is
    traced; each setting's optimized graph is kept, so switching back and forth is cheap), so
    switching it off also returns evaluation and export to float32 matmuls. Only matmuls are
    rewritten: `BFLOAT16_FLOAT32_OPS` are added to TensorFlow's op-list variables (ops a user
    listed there stay). Switching off leaves the lists as they are (only this rewrite and
    TensorFlow's CUDA float16 rewrite, which kerasbert does not use, read them);
    `precision_scope` and `bfloat16_rewrite` put them back.
    """
    options = tf.config.optimizer
    was = bool(options.get_experimental_options().get(BFLOAT16_REWRITE, False))
    if enabled:
        for variable in BFLOAT16_LIST_VARIABLES:
            listed = [op for op in os.environ.get(variable, "").split(",") if op]
            extra = [op for op in BFLOAT16_FLOAT32_OPS if op not in listed]
            os.environ[variable] = ",".join(listed + extra)
    options.set_experimental_options({BFLOAT16_REWRITE: enabled})
    return was


@contextlib.contextmanager
def bfloat16_rewrite(enabled: bool) -> Iterator[None]:
    """Run the block with the bfloat16 graph rewrite on or off, then put it and its op lists back
    as they were."""
    saved = PrecisionState.current()
    try:
        set_bfloat16_rewrite(enabled)
        yield
    finally:
        saved.restore()
