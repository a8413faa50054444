"""Measure `kerasbert.export.onnx_bert`: build memory and time, parity on real text, onnxruntime speed.

    # memory and time of one build (run under /usr/bin/time -v for the process's peak RSS)
    python scripts/onnx_bert_check.py build --model bert-base --form fused --output /tmp/obc
    python scripts/onnx_bert_check.py build --model minilm --form none      # model alone
    # fused and plain graphs of the packaged MiniLM against TensorFlow on BBC texts
    python scripts/onnx_bert_check.py parity --output /tmp/obc-minilm
    # batch-32 throughput and batch-1 latency of the four graphs, taking turns
    python scripts/onnx_bert_check.py speed --directory /tmp/obc
    # an export's int64 inputs against the same graphs taking int32 (the Casts removed), in turns
    python scripts/onnx_bert_check.py inputs --export exported/<run> --rounds 40
    # the fused graph against the same graph in the form onnxruntime's CPU flash attention takes
    python scripts/onnx_bert_check.py build --model minilm --form fused --output /tmp/obc
    python scripts/onnx_bert_check.py attention --directory /tmp/obc --model minilm

`build` writes `<model>.<form>.onnx` into `--output`; `speed` reads `bert-base.fused.onnx` and
`bert-base.plain.onnx` there and writes their int8 versions beside them. Every subcommand prints
one JSON object.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

MODELS = ("bert-base", "minilm")
# Five classes, as the BBC news data the project is demonstrated on.
LABELS = ["business", "entertainment", "politics", "sport", "tech"]
ENGINES = ("fused fp32", "plain fp32", "fused int8", "plain int8")


def peak_rss_bytes() -> int:
    """This process's peak resident set so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def load_model(name: str) -> Any:
    """BERT-base-sized random classifier (BertConfig() defaults) or the packaged MiniLM."""
    if name == "minilm":
        from kerasbert.training.checkpoint import load_classifier, resolve_checkpoint

        return load_classifier(resolve_checkpoint("minilm"), LABELS)
    import tensorflow as tf
    from transformers import BertConfig, TFBertForSequenceClassification

    tf.random.set_seed(0)
    model = TFBertForSequenceClassification(BertConfig(num_labels=len(LABELS)))
    model(model.dummy_inputs, training=False)
    return model


def measure_build(model_name: str, form: str, output: Path) -> dict[str, Any]:
    """Seconds and peak RSS of constructing the model, then of building one graph form."""
    from kerasbert.export.onnx_bert import build_onnx

    start = time.perf_counter()
    model = load_model(model_name)
    result: dict[str, Any] = {
        "model": model_name,
        "form": form,
        "parameters": int(sum(np.prod(weight.shape) for weight in model.weights)),
        "model_seconds": round(time.perf_counter() - start, 2),
        "peak_rss_after_model_bytes": peak_rss_bytes(),
    }
    if form != "none":
        output.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        facts = build_onnx(model, output / f"{model_name}.{form}.onnx", fused=form == "fused")
        result["build_seconds"] = round(time.perf_counter() - start, 2)
        result["peak_rss_after_build_bytes"] = peak_rss_bytes()
        result["file_bytes"] = facts["file_bytes"]
        result["op_counts"] = facts["op_counts"]
    return result


def bbc_batches(tokenizer: Any, max_length: int = 256) -> list[dict[str, np.ndarray]]:
    """Real texts in batches mixing headlines and whole articles, so padding varies per row:
    four right-padded batches of 16, one left-padded, and four single texts."""
    from kerasbert.data.splits import load_splits

    headlines = load_splits("bbc-headlines").test.texts[:32]
    articles = load_splits("bbc-news").test.texts[:32]
    mixed = [text for pair in zip(headlines, articles) for text in pair]
    batches = []
    for side, texts in (
        [("right", mixed[start : start + 16]) for start in range(0, 64, 16)]
        + [("left", mixed[:16])]
        + [("right", [text]) for text in (headlines[0], articles[0], headlines[1], articles[1])]
    ):
        tokenizer.padding_side = side
        tokens = tokenizer(
            texts, truncation=True, max_length=max_length, padding=True, return_tensors="np"
        )
        batches.append(
            {
                name: tokens[name].astype(np.int64)  # what the graphs take; TF takes it too
                for name in ("input_ids", "attention_mask", "token_type_ids")
            }
        )
    tokenizer.padding_side = "right"
    return batches


def measure_parity(output: Path) -> dict[str, Any]:
    """Max |Δlogit| and argmax agreement of the fused and plain MiniLM graphs, fp32 and int8,
    against TensorFlow on BBC texts."""
    import onnxruntime
    from transformers import AutoTokenizer

    from kerasbert.export.convert import quantize_int8
    from kerasbert.export.onnx_bert import build_onnx
    from kerasbert.training.checkpoint import resolve_checkpoint

    model = load_model("minilm")
    # The new head's 0.02-scale weights give logits near 0.05, where any error looks small;
    # weights of 0.2 spread them over several units.
    kernel = model.classifier.kernel
    kernel.assign(np.random.default_rng(0).normal(0.0, 0.2, kernel.shape).astype(np.float32))
    tokenizer = AutoTokenizer.from_pretrained(resolve_checkpoint("minilm"))
    batches = bbc_batches(tokenizer)
    expected = [model(feeds, training=False).logits.numpy() for feeds in batches]
    output.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "texts": sum(len(feeds["input_ids"]) for feeds in batches),
        "widths": sorted({feeds["input_ids"].shape[1] for feeds in batches}),
        "max_abs_logit": float(max(np.abs(logits).max() for logits in expected)),
    }
    for form in ("fused", "plain"):
        path = output / f"minilm.{form}.onnx"
        build_onnx(model, path, fused=form == "fused")
        int8_path = output / f"minilm.{form}.int8.onnx"
        quantize_int8(path, int8_path)
        for precision, file in (("fp32", path), ("int8", int8_path)):
            session = onnxruntime.InferenceSession(str(file), providers=["CPUExecutionProvider"])
            actual = [session.run(["logits"], feeds)[0] for feeds in batches]
            differences = [
                float(np.abs(logits - reference).max())
                for logits, reference in zip(actual, expected, strict=True)
            ]
            agreement = np.concatenate(
                [
                    logits.argmax(axis=1) == reference.argmax(axis=1)
                    for logits, reference in zip(actual, expected, strict=True)
                ]
            )
            result[f"{form} {precision}"] = {
                "max_abs_diff": max(differences),
                "max_abs_diff_left_padded": differences[4],
                "argmax_agreement": float(agreement.mean()),
            }
    return result


def bert_inference_flops(length: int, *, layers: int, hidden: int, intermediate: int) -> float:
    """FLOPs of one text through the encoder: the four projections, the feed-forward pair and
    the two attention products (QKᵀ and PV)."""
    return (
        2.0
        * length
        * layers
        * (4 * hidden * hidden + 2 * hidden * intermediate + 2 * length * hidden)
    )


def open_sessions(directory: Path, threads: int, profile: bool = False) -> dict[str, Any]:
    """onnxruntime sessions for `ENGINES`, quantizing the fp32 graphs first if needed."""
    import onnxruntime

    from kerasbert.export.convert import quantize_int8

    paths = {
        "fused fp32": directory / "bert-base.fused.onnx",
        "plain fp32": directory / "bert-base.plain.onnx",
        "fused int8": directory / "bert-base.fused.int8.onnx",
        "plain int8": directory / "bert-base.plain.int8.onnx",
    }
    for form in ("fused", "plain"):
        if not paths[f"{form} int8"].is_file():
            quantize_int8(paths[f"{form} fp32"], paths[f"{form} int8"])
    sessions = {}
    for name, path in paths.items():
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        if profile:
            options.enable_profiling = True
            options.profile_file_prefix = str(directory / name.replace(" ", "-"))
        sessions[name] = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
    return sessions


def time_in_turn(
    calls: dict[str, Any], feeds: dict[str, np.ndarray], rounds: int
) -> dict[str, list[float]]:
    """Seconds of each call per round; the calls take turns in an order rotating each round, so
    all of them meet the same machine load (its speed swings twofold with other work)."""
    names = list(calls)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            calls[name](feeds)
            seconds[name].append(time.perf_counter() - start)
    return seconds


def fused_speedups(seconds: dict[str, list[float]]) -> dict[str, float]:
    """Median over rounds of plain seconds ÷ fused seconds, per precision. Each ratio pairs runs
    of the same round, close in time, so a slow spell of the machine cancels out of it."""
    speedups = {}
    for precision in ("fp32", "int8"):
        fused, plain = seconds.get(f"fused {precision}"), seconds.get(f"plain {precision}")
        if fused and plain:
            ratios = np.asarray(plain) / np.asarray(fused)
            speedups[precision] = round(float(np.median(ratios)), 3)
    return speedups


def random_feeds(batch: int, length: int, vocabulary: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    input_ids = rng.integers(1000, vocabulary, size=(batch, length), dtype=np.int64)
    return {
        "input_ids": input_ids,
        "attention_mask": np.ones_like(input_ids),
        "token_type_ids": np.zeros_like(input_ids),
    }


def measure_speed(
    directory: Path,
    lengths: Sequence[int],
    batch: int,
    rounds: int,
    latency_runs: int,
    threads: int,
    engines: Sequence[str] = ENGINES,
) -> dict[str, Any]:
    """Batch throughput per length and batch-1 latency at the longest, engines taking turns."""
    sessions = open_sessions(directory, threads)
    calls = {name: functools.partial(sessions[name].run, ["logits"]) for name in engines}
    dimensions = dict(layers=12, hidden=768, intermediate=3072)
    result: dict[str, Any] = {"batch": batch, "rounds": rounds, "threads": threads}
    for length in lengths:
        feeds = random_feeds(batch, length, 30522)
        for call in calls.values():  # warm-up: first runs allocate and pack weights
            call(feeds)
        seconds = time_in_turn(calls, feeds, rounds)
        flops = batch * bert_inference_flops(length, **dimensions)
        figures = {}
        for name in calls:
            median = float(np.median(seconds[name]))
            figures[name] = {
                "median_seconds": round(median, 3),
                "texts_per_second": round(batch / median, 2),
                "gflops_per_second": round(flops / median / 1e9, 1),
                "all_seconds": [round(value, 3) for value in seconds[name]],
            }
        figures["fused speed-up"] = fused_speedups(seconds)
        result[f"batch{batch}_length{length}"] = figures
    length = max(lengths)
    feeds = random_feeds(1, length, 30522, seed=1)
    for call in calls.values():
        call(feeds)
    seconds = time_in_turn(calls, feeds, latency_runs)
    result[f"batch1_length{length}_p50_ms"] = {
        name: round(float(np.median(values)) * 1000, 1) for name, values in seconds.items()
    }
    result[f"batch1_length{length}_fused_speed-up"] = fused_speedups(seconds)
    return result


def unmasked_attention(path: Path, output: Path) -> dict[str, int]:
    """Write the fused graph at `path` with every `Attention` replaced by three MatMuls and a
    `MultiHeadAttention`, and no attention mask anywhere: the only form in which onnxruntime's
    CPU `MultiHeadAttention` runs flash attention (`MlasFlashAttention`: no mask, no bias, no
    past). Right only for batches without padding (batch 1, full-length rows)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    weights = {tensor.name: tensor for tensor in graph.initializer}
    nodes, counts = [], {"attention_replaced": 0, "masks_dropped": 0}
    for node in graph.node:
        if node.op_type not in ("Attention", "MultiHeadAttention"):
            nodes.append(node)
            continue
        heads = next(attribute.i for attribute in node.attribute if attribute.name == "num_heads")
        if node.op_type == "Attention":
            hidden, packed, bias = node.input[:3]
            kernel = numpy_helper.to_array(weights[packed])
            width = kernel.shape[1] // 3
            projections = []
            for index, part in enumerate(("query", "key", "value")):
                name = f"{packed}.{part}"
                columns = np.ascontiguousarray(kernel[:, index * width : (index + 1) * width])
                graph.initializer.append(numpy_helper.from_array(columns, name))
                projections.append(f"{node.name}.{part}")
                nodes.append(
                    helper.make_node("MatMul", [hidden, name], [projections[-1]], f"{name}.mm")
                )
            graph.initializer.remove(weights[packed])
            inputs = [*projections, bias]
            counts["attention_replaced"] += 1
        else:
            inputs = list(node.input[:4])
        counts["masks_dropped"] += 1
        nodes.append(
            helper.make_node(
                "MultiHeadAttention",
                inputs,
                list(node.output),
                node.name,
                domain="com.microsoft",
                num_heads=heads,
            )
        )
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(output))
    return counts


def measure_attention(
    directory: Path, model_name: str, lengths: Sequence[int], rounds: int, threads: int
) -> dict[str, Any]:
    """The fused graph against its unmasked flash-attention form (and that form with flash
    attention switched off), on full-length batches of 32 and on batch 1, taking turns."""
    import onnxruntime

    fused = directory / f"{model_name}.fused.onnx"
    unmasked = directory / f"{model_name}.fused-unmasked.onnx"
    result: dict[str, Any] = {"rewrite": unmasked_attention(fused, unmasked), "threads": threads}
    sessions = {}
    for name, path, flash_off in (
        ("fused", fused, "0"),
        ("unmasked flash", unmasked, "0"),
        ("unmasked no flash", unmasked, "1"),
    ):
        # Read when a kernel is created, so each session keeps the value it was built with.
        os.environ["ORT_DISABLE_FLASH_ATTENTION"] = flash_off
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        sessions[name] = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
    os.environ.pop("ORT_DISABLE_FLASH_ATTENTION")

    def call(session, names, feeds):
        return session.run(["logits"], {name: feeds[name] for name in names})[0]

    # Each graph's inputs, looked up once rather than inside the timed calls.
    calls = {
        name: functools.partial(call, session, [item.name for item in session.get_inputs()])
        for name, session in sessions.items()
    }
    vocabulary = 30522
    for length in lengths:
        for batch in (32, 1):
            feeds = random_feeds(batch, length, vocabulary, seed=length + batch)
            logits = {name: run(feeds) for name, run in calls.items()}
            seconds = time_in_turn(calls, feeds, rounds if batch > 1 else 5 * rounds)
            result[f"batch{batch}_length{length}"] = {
                "max_abs_logit_diff_vs_fused": {
                    name: float(np.abs(values - logits["fused"]).max())
                    for name, values in logits.items()
                },
                "median_seconds": {
                    name: round(float(np.median(values)), 4) for name, values in seconds.items()
                },
                # Fused seconds ÷ this engine's, paired round by round: above 1 is faster.
                "speed_vs_fused": {
                    name: round(
                        float(np.median(np.asarray(seconds["fused"]) / np.asarray(values))), 3
                    )
                    for name, values in seconds.items()
                },
            }
    return result


def int32_inputs(path: Path, output: Path) -> int:
    """Write the graph at `path` taking int32 ids: every Cast of a graph input to int32 removed
    and its readers reading the input itself. Returns how many Casts went."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    inputs = {item.name for item in graph.input}
    casts = [
        node
        for node in graph.node
        if node.op_type == "Cast"
        and node.input[0] in inputs
        and node.attribute[0].i == onnx.TensorProto.INT32
    ]
    # An input some other node reads as int64 (the plain graph's Gathers) cannot be narrowed.
    read_directly = {name for node in graph.node if node not in casts for name in node.input}
    casts = [node for node in casts if node.input[0] not in read_directly]
    renamed = {node.output[0]: node.input[0] for node in casts}
    for node in casts:
        graph.node.remove(node)
    for node in graph.node:
        for index, name in enumerate(node.input):
            node.input[index] = renamed.get(name, name)
    for item in graph.input:
        if item.name in renamed.values():
            item.type.tensor_type.elem_type = onnx.TensorProto.INT32
    onnx.save(model, str(output))
    return len(casts)


def _run_own_feeds(session: Any, feeds: dict[str, np.ndarray], _: Any) -> list[np.ndarray]:
    """`time_in_turn` hands every call the same feeds; each width runs its own."""
    return session.run(["logits"], feeds)


def measure_inputs(export: Path, rounds: int, latency_runs: int, threads: int) -> dict[str, Any]:
    """An export's fp32 and int8 graphs with their int64 inputs against the same graphs taking
    int32 (`int32_inputs`): equal logits, and batch-32 × 128 and batch-1 × 128 seconds taking
    turns; the figure is the median over rounds of int64 seconds ÷ int32 seconds."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    variants = {"fp32": export / "model.onnx", "int8": export / "model.int8.onnx"}
    result: dict[str, Any] = {"export": str(export), "rounds": rounds, "threads": threads}
    with tempfile.TemporaryDirectory() as scratch:
        sessions, removed = {}, {}
        for name, path in variants.items():
            narrow = Path(scratch) / f"{name}.int32.onnx"
            removed[name] = int32_inputs(path, narrow)
            for width, graph in (("int64", path), ("int32", narrow)):
                sessions[f"{name} {width}"] = onnxruntime.InferenceSession(
                    str(graph), options, providers=["CPUExecutionProvider"]
                )
        result["casts_removed"] = removed
        for batch, runs in ((32, rounds), (1, latency_runs)):
            wide = random_feeds(batch, 128, 30522, seed=batch)
            narrow_feeds = {key: value.astype(np.int32) for key, value in wide.items()}
            calls = {
                name: functools.partial(
                    _run_own_feeds, session, wide if name.endswith("int64") else narrow_feeds
                )
                for name, session in sessions.items()
            }
            outputs = {name: call(wide)[0] for name, call in calls.items()}
            seconds = time_in_turn(calls, wide, runs)
            figures = {}
            for variant in variants:
                ratio = np.asarray(seconds[f"{variant} int64"]) / np.asarray(
                    seconds[f"{variant} int32"]
                )
                figures[variant] = {
                    "int64_over_int32": round(float(np.median(ratio)), 3),
                    "int64_median_ms": round(
                        float(np.median(seconds[f"{variant} int64"])) * 1e3, 2
                    ),
                    "max_abs_logit_diff": float(
                        np.abs(outputs[f"{variant} int64"] - outputs[f"{variant} int32"]).max()
                    ),
                }
            result[f"batch{batch}_length128"] = figures
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="construct a model and build one graph form")
    build.add_argument("--model", choices=MODELS, default="bert-base")
    build.add_argument(
        "--form", choices=("fused", "plain", "none"), default="fused", help="none: model only"
    )
    build.add_argument("--output", type=Path, default=Path("/tmp/onnx-bert-check"))
    parity = commands.add_parser("parity", help="MiniLM graphs against TensorFlow on BBC texts")
    parity.add_argument("--output", type=Path, default=Path("/tmp/onnx-bert-check-minilm"))
    speed = commands.add_parser("speed", help="onnxruntime speed of the bert-base graphs")
    speed.add_argument("--directory", type=Path, default=Path("/tmp/onnx-bert-check"))
    speed.add_argument("--lengths", type=int, nargs="+", default=[128, 256, 512])
    speed.add_argument("--batch", type=int, default=32)
    speed.add_argument("--rounds", type=int, default=5, help="passes per engine and length")
    speed.add_argument("--latency-runs", type=int, default=15)
    speed.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    speed.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    inputs = commands.add_parser(
        "inputs", help="an export's int64-input graphs against int32-input copies, in turns"
    )
    inputs.add_argument("--export", type=Path, required=True, help="an export directory")
    inputs.add_argument("--rounds", type=int, default=40, help="batch-32 passes per graph")
    inputs.add_argument("--latency-runs", type=int, default=400, help="batch-1 passes per graph")
    inputs.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    attention = commands.add_parser(
        "attention", help="the fused graph against its unmasked flash-attention form"
    )
    attention.add_argument("--directory", type=Path, default=Path("/tmp/onnx-bert-check"))
    attention.add_argument("--model", choices=MODELS, default="minilm")
    attention.add_argument("--lengths", type=int, nargs="+", default=[128, 512])
    attention.add_argument("--rounds", type=int, default=6, help="passes per engine (×5 batch-1)")
    attention.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    if arguments.command == "build":
        result = measure_build(arguments.model, arguments.form, arguments.output)
    elif arguments.command == "parity":
        result = measure_parity(arguments.output)
    elif arguments.command == "inputs":
        result = measure_inputs(
            arguments.export, arguments.rounds, arguments.latency_runs, arguments.threads
        )
    elif arguments.command == "attention":
        result = measure_attention(
            arguments.directory,
            arguments.model,
            arguments.lengths,
            arguments.rounds,
            arguments.threads,
        )
    else:
        result = measure_speed(
            arguments.directory,
            arguments.lengths,
            arguments.batch,
            arguments.rounds,
            arguments.latency_runs,
            arguments.threads,
            arguments.engines,
        )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
