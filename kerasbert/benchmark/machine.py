"""What the figures were measured on: CPU, cores, memory, load and TensorFlow's threading."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

# The CPU features the kernels' speed depends on: AVX2/AVX-512 for float32, the bfloat16 and
# VNNI/AMX instructions for bfloat16 training and int8 inference.
CPU_FLAGS_OF_INTEREST = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8")


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, load and the CPU features that matter for these kernels."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average_start": list(os.getloadavg()),
    }
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        lines = cpuinfo.read_text(errors="replace").splitlines()
        model = next((line for line in lines if line.startswith("model name")), None)
        if model is not None:
            info["cpu"] = model.split(":", 1)[1].strip()
        flags = next(
            (line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), []
        )
        info["cpu_flags"] = [flag for flag in CPU_FLAGS_OF_INTEREST if flag in flags]
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024**2, 1)
    return info


def tensorflow_info() -> dict[str, Any]:
    """TensorFlow's thread pools and whether oneDNN is on (imports TensorFlow)."""
    from kerasbert.training.tfkeras import tf

    return {
        "tensorflow_threads": {
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        },
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)"),
    }
