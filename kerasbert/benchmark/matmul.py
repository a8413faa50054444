"""FLOPs of a BERT training step, and what TensorFlow's (and onnxruntime's) matmuls reach here.

The training FLOP-rate target is a fraction of a "matmul ceiling": the rate of a large square
matmul through TensorFlow; inference graphs are set against the faster of TensorFlow's and
onnxruntime's (`onnxruntime_square_matmul`). `measure_step_matmuls` times the step's own matmuls at the step's own
shapes, so the step's rate divided by theirs is the share of the step spent in matmuls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

# The square matmul timed once per lockstep round: large enough to run at the ceiling's rate,
# small next to a training step, so its turn barely lengthens a round.
CEILING_SIZE = 2048


def bert_training_flops(
    batch: int, length: int, *, layers: int, hidden: int, intermediate: int, labels: int
) -> float:
    """Matrix-multiply FLOPs of one training step (forward + backward = 3 × forward).

    Per token and layer: Q, K, V and output projections (4·H² multiply-adds), the feed-forward
    (2·H·I) and attention scores and mixing (2·L·H); the pooler and head add per sequence. The
    embedding lookup is a gather, not a matmul, so it adds nothing.
    """
    per_token_layer = 2 * (4 * hidden * hidden + 2 * hidden * intermediate + 2 * length * hidden)
    forward = batch * length * layers * per_token_layer + batch * 2 * (
        hidden * hidden + hidden * labels
    )
    return 3.0 * forward


def bert_inference_flops(length: int, *, layers: int, hidden: int, intermediate: int) -> float:
    """Matrix-multiply FLOPs of one text of `length` tokens through the encoder.

    2·L·layers·(4·H² + 2·H·I + 2·L·H): per token and layer the Q, K, V and output projections,
    the feed-forward pair and the two attention products (QKᵀ and the mixing); the pooler and head
    (per text, not per token) are left out, as they are a rounding error at these lengths.
    """
    return (
        2.0
        * length
        * layers
        * (4 * hidden * hidden + 2 * hidden * intermediate + 2 * length * hidden)
    )


def dimensions(settings: Any) -> dict[str, int]:
    """The sizes of a BERT config (`transformers.BertConfig`) that its step's FLOPs depend on."""
    return {
        "layers": settings.num_hidden_layers,
        "hidden": settings.hidden_size,
        "intermediate": settings.intermediate_size,
    }


def square_matmul(size: int, bfloat16: bool = False) -> Callable[[], None]:
    """A call running one `size`³ matmul of float32 tensors through TensorFlow to completion
    (warmed up: oneDNN picks its kernel on the first call), in float32 whatever the training
    precision, or with `bfloat16` in bfloat16 by the graph rewrite `cpu_bfloat16` training uses."""
    from kerasbert.training.strategy import bfloat16_rewrite
    from kerasbert.training.tfkeras import tf

    left = tf.random.normal((size, size), dtype=tf.float32, seed=1)
    right = tf.random.normal((size, size), dtype=tf.float32, seed=2)
    matmul = tf.function(lambda a, b: tf.matmul(a, b))

    def call() -> None:
        with bfloat16_rewrite(bfloat16):
            matmul(left, right).numpy()

    call()
    return call


def onnxruntime_square_matmul(size: int) -> Callable[[], None]:
    """A call running one `size`³ float32 matmul through onnxruntime (a one-node graph, default
    session options as the predictor's), warmed up. onnxruntime's own GEMM can outrun
    TensorFlow's on a CPU (it does on AVX2-only EPYCs), and the graphs the inference benchmark
    times run on it, so their ceiling must be the faster of the two."""
    import numpy as np
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper

    inputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [size, size]) for name in "ab"]
    output = helper.make_tensor_value_info("c", TensorProto.FLOAT, [size, size])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])], "ceiling", inputs, [output]
    )
    opsets = [helper.make_opsetid("", 17)]
    model = helper.make_model(graph, opset_imports=opsets)
    # The oldest IR version the opset allows, as `kerasbert.export.onnx_writer` writes the model's own.
    model.ir_version = helper.find_min_ir_version_for(opsets, ignore_unknown=True)
    onnx.checker.check_model(model)
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    rng = np.random.default_rng(1)
    feeds = {name: rng.standard_normal((size, size), dtype=np.float32) for name in "ab"}

    def call() -> None:
        session.run(None, feeds)

    call()
    return call


def measure_matmul_ceiling(
    sizes: Sequence[int] = (2048, 4096), repeats: int = 5, bfloat16: bool = False
) -> dict[str, Any]:
    """The best float32 (or `bfloat16`) FLOP rate of large square matmuls through TensorFlow on
    this machine.

    Each size is timed `repeats` times after a warm-up call and the fastest call of any size is
    the ceiling. Smaller sizes would understate it: per-call overhead and cache effects weigh
    more the less work a call does.
    """
    by_size = {}
    for size in sizes:
        matmul = square_matmul(size, bfloat16)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            matmul()
            best = min(best, time.perf_counter() - start)
        by_size[str(size)] = 2.0 * size**3 / best
    size = max(by_size, key=by_size.get)
    return {"size": int(size), "flop_rate": by_size[size], "flop_rate_by_size": by_size}


def measure_step_matmuls(
    *,
    layers: int,
    hidden: int,
    intermediate: int,
    heads: int,
    batch: int,
    length: int,
    bfloat16: bool = False,
) -> dict[str, float]:
    """Time only the matrix multiplies of one BERT training step, at the step's own shapes.

    Per layer the forward pass multiplies for the Q, K, V and output projections, the two
    feed-forward layers, the attention scores and the attention mixing; the backward pass adds,
    for each, the input gradient (dC·Bᵀ) and the weight gradient (Aᵀ·dC) of the same size. One
    layer's products run in one `tf.function` (all results returned, so none is pruned) and the
    best of 5 calls is scaled by `layers`. Dividing a training step's FLOP rate by this rate gives
    the share of the step spent in matmuls; the rest is softmax, GELU, layer norm, dropout,
    reshapes and the optimizer. With `bfloat16`, under the graph rewrite `cpu_bfloat16` training
    uses (casts to bfloat16 included), to compare with a step trained that way.
    """
    from kerasbert.training.strategy import bfloat16_rewrite
    from kerasbert.training.tfkeras import tf

    tokens, head_dim = batch * length, hidden // heads

    def normal(*shape: int):
        return tf.random.normal(shape, seed=len(shape))

    forward = [
        *[(normal(tokens, hidden), normal(hidden, hidden))] * 4,
        (normal(tokens, hidden), normal(hidden, intermediate)),
        (normal(tokens, intermediate), normal(intermediate, hidden)),
        (normal(batch * heads, length, head_dim), normal(batch * heads, head_dim, length)),
        (normal(batch * heads, length, length), normal(batch * heads, length, head_dim)),
    ]
    products = [(a, b, tf.matmul(a, b)) for a, b in forward]  # the output shape is dC's

    @tf.function
    def layer_step():
        outputs = []
        for a, b, grad in products:
            outputs += [
                tf.matmul(a, b),
                tf.matmul(grad, b, transpose_b=True),
                tf.matmul(a, grad, transpose_a=True),
            ]
        return outputs

    flops = layers * sum(3 * 2 * a.shape.num_elements() * b.shape[-1] for a, b, _ in products)
    with bfloat16_rewrite(bfloat16):
        layer_step()
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            outputs = layer_step()
            outputs[-1].numpy()
            best = min(best, time.perf_counter() - start)
    seconds = layers * best
    return {
        "batch": batch,
        "length": length,
        "bfloat16": bfloat16,
        "seconds": seconds,
        "flop_rate": flops / seconds,
    }
