"""Inference by input length: every converter's graph on full-length batches at 128, 256 and 512
tokens, against the float32 matmul ceiling timed in the same rounds.

`benchmark_lengths` takes the run's fine-tuned TensorFlow model and its export, writes the fp32
graph of each converter (`kerasbert.export.convert.CONVERTERS`: fused, plain, tf2onnx) and the int8 copy
of each, and times TF and the six onnxruntime graphs taking turns pass by pass in this one
process. Every batch is 32 texts of exactly the length (no padding), so a text's
FLOPs are known from the checkpoint's sizes (`bert_inference_flops`) and each engine's GFLOP/s can
be set against the float32 matmul ceiling, which takes its turn in the same rounds (the faster
of a 2048² matmul through TensorFlow and through onnxruntime). The texts are
seeded random tokens and real BBC text of three kinds, joined end to end until a row is full
(`fill_rows`). Inputs are token ids: tokenization is the same for every engine and is left out, so
the figures are about the graphs.

The same engines then take turns on real headlines as they come, padded per batch
(`kerasbert.benchmark.headlines`), where per-call overhead rather than arithmetic sets the speed.

Engine ratios are medians of paired ratios (`kerasbert.benchmark.timing.median_paired_speedup`):
each pair ran in the same round, close in time, so the machine's swings cancel out of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.benchmark.config import BenchmarkConfig
from kerasbert.benchmark.headlines import benchmark_headlines
from kerasbert.benchmark.matmul import (
    CEILING_SIZE,
    bert_inference_flops,
    dimensions,
    onnxruntime_square_matmul,
    square_matmul,
)
from kerasbert.benchmark.timing import paired_ratios, percentile_ms, round_medians, time_in_turn
from kerasbert.common.names import MODEL_INPUT_NAMES
from kerasbert.inference.exportdir import ExportDir
from kerasbert.inference.predictor import graph_feeds, input_types
from kerasbert.training.rundir import RunDir

logger = logging.getLogger(__name__)

# The engines, in the order they take their turns: TF Keras (the fine-tuned model itself), then
# each converter's fp32 graph and its int8 copy.
ENGINES = (
    "tf",
    "fused_fp32",
    "plain_fp32",
    "tf2onnx_fp32",
    "fused_int8",
    "plain_int8",
    "tf2onnx_int8",
)
# The ceilings' turns among the engines' (their names in the turn-taking, not engines): a large
# float32 matmul through TensorFlow and through onnxruntime; the faster sets the ceiling.
CEILING = "matmul_ceiling"
ORT_CEILING = "matmul_ceiling_onnxruntime"
CEILINGS = {CEILING: "tensorflow", ORT_CEILING: "onnxruntime"}
# The paired ratios reported: name → (engine, baseline engine); each is how many times as fast
# the engine is as its baseline.
PAIRED_RATIOS = {
    "fused_vs_plain_fp32": ("fused_fp32", "plain_fp32"),
    "fused_vs_tf2onnx_fp32": ("fused_fp32", "tf2onnx_fp32"),
    "fused_vs_plain_int8": ("fused_int8", "plain_int8"),
    "fused_vs_tf2onnx_int8": ("fused_int8", "tf2onnx_int8"),
    "fused_fp32_vs_tf": ("fused_fp32", "tf"),
    "fused_int8_vs_fused_fp32": ("fused_int8", "fused_fp32"),
}
# Random word pieces, and real texts whose lengths differ by an order of magnitude between kinds:
# headlines (a dozen word pieces), the corpus' paragraphs, whole articles (cut at the length).
TEXT_KINDS = ("random", "headlines", "paragraphs", "articles")
# Texts tokenized at a time while filling rows: a few batches' worth of headlines.
TOKENIZE_CHUNK = 512


def benchmark_lengths(
    run_dir: RunDir, export_dir: Path, work_dir: Path, config: BenchmarkConfig
) -> dict[str, Any]:
    """The `inference_by_length` figures of `benchmark.json` for the run's fine-tuned model.

    Writes the graphs under `work_dir/lengths/` (the export's own fp32 and int8 files stand for
    the fused ones when the export is fused), then per length: full-length batches of
    `config.batch_size` texts of every `TEXT_KINDS`, `config.inference_rounds` rounds in which
    every engine and the ceiling matmuls take a turn on every batch, and as many rounds of
    batch-1 calls on single texts of that length.
    """
    from kerasbert.training.checkpoint import load_trained_model

    model, tokenizer = load_trained_model(run_dir.model)
    sizes = dimensions(model.config)
    lengths = config.inference_lengths(int(model.config.max_position_embeddings))
    directory = work_dir / "lengths"
    directory.mkdir(parents=True, exist_ok=True)
    paths, graphs = write_graphs(model, ExportDir(export_dir), directory, config.skip_tf2onnx)
    calls = {"tf": tensorflow_call(model), **onnxruntime_calls(paths)}
    calls = {name: calls[name] for name in ENGINES if name in calls}
    texts = real_texts(config.seed)
    matmuls = {
        CEILING: square_matmul(CEILING_SIZE),
        ORT_CEILING: onnxruntime_square_matmul(CEILING_SIZE),
    }
    results: dict[str, Any] = {
        "batch": config.batch_size,
        "rounds": config.inference_rounds,
        "latency_texts": config.length_latency_texts(),
        "text_kinds": list(TEXT_KINDS),
        "engines": list(calls),
        "dimensions": sizes,
        "graphs": graphs,
        "lengths": {},
    }
    for length in lengths:
        batches = {
            kind: feeds_of(rows)
            for kind, rows in text_rows(
                tokenizer, texts, length, config.batch_size, config.seed
            ).items()
        }
        figures = measure_length(calls, batches, matmuls, config)
        figures = {
            **length_figures(
                figures["batch_seconds"],
                figures["single_seconds"],
                kinds=list(batches),
                rounds=config.inference_rounds,
                batch=config.batch_size,
                flops_per_text=bert_inference_flops(length, **sizes),
                ceiling_flops=2.0 * CEILING_SIZE**3,
            ),
            "max_abs_logit_diff_vs_tf": figures["max_abs_logit_diff_vs_tf"],
        }
        log_length(length, figures)
        results["lengths"][str(length)] = figures
    results["headlines"] = benchmark_headlines(calls, tokenizer, texts["headlines"], config)
    return results


def measure_length(
    calls: dict[str, Callable[[dict[str, np.ndarray]], np.ndarray]],
    batches: dict[str, dict[str, np.ndarray]],
    matmuls: dict[str, Callable[[], None]],
    config: BenchmarkConfig,
) -> dict[str, Any]:
    """Time every engine on `batches` (one per kind of text) taking turns with the ceiling
    `matmuls` (`CEILINGS`), then on single texts taken from their rows (the kinds in turn); and,
    from the warm-up pass on the articles, how far each engine's logits are from TensorFlow's."""
    singles = [
        {
            name: values[index % config.batch_size :][:1]
            for name, values in batches[TEXT_KINDS[index % len(TEXT_KINDS)]].items()
        }
        for index in range(config.length_latency_texts())
    ]
    # Warm-up: the first run at a shape allocates and packs weights.
    logits = {name: call(batches["articles"]) for name, call in calls.items()}
    for call in calls.values():
        call(singles[0])
    timed = {**calls, **{name: lambda _, run=run: run() for name, run in matmuls.items()}}
    length = batches["articles"]["input_ids"].shape[1]
    logger.info("Inference at %d tokens: %s taking turns ...", length, ", ".join(timed))
    return {
        "batch_seconds": time_in_turn(
            timed, list(batches.values()), rounds=config.inference_rounds
        ),
        "single_seconds": time_in_turn(calls, singles, rounds=config.inference_rounds),
        "max_abs_logit_diff_vs_tf": {
            name: float(np.abs(values - logits["tf"]).max()) for name, values in logits.items()
        },
    }


def write_graphs(
    model: Any, export: ExportDir, directory: Path, skip_tf2onnx: bool
) -> tuple[dict[str, Path], dict[str, Any]]:
    """The ONNX file of every engine but TF, and facts about each graph (converter, op counts,
    seconds to write it).

    The export's `model.onnx` and `model.int8.onnx` are the fused graphs when its converter was
    `fused` (the default; a parity fallback picks another), so they are used as they are.
    """
    from kerasbert.export.convert import CONVERTERS, convert, quantize_int8

    paths: dict[str, Path] = {}
    graphs: dict[str, Any] = {}
    exported = export.read_info()
    if exported.converter == "fused":
        paths["fused_fp32"] = export.model_path("fp32")
        paths["fused_int8"] = export.model_path("int8")
        graphs["fused"] = {"source": "export", "op_counts": exported.op_counts}
    converters = [name for name in CONVERTERS if f"{name}_fp32" not in paths]
    if skip_tf2onnx:
        converters.remove("tf2onnx")
    for converter in converters:
        path = directory / f"model.{converter}.onnx"
        start = time.perf_counter()
        facts = convert(model, path, converter)
        graphs[converter] = {
            "source": "convert",
            "seconds": time.perf_counter() - start,
            "op_counts": facts["op_counts"],
        }
        paths[f"{converter}_fp32"] = path
        logger.info("Wrote the %s graph in %.1f s", converter, graphs[converter]["seconds"])
    for converter in [name for name in CONVERTERS if f"{name}_fp32" in paths]:
        if f"{converter}_int8" not in paths:
            paths[f"{converter}_int8"] = directory / f"model.{converter}.int8.onnx"
            quantize_int8(paths[f"{converter}_fp32"], paths[f"{converter}_int8"])
    return paths, graphs


def tensorflow_call(model: Any) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    """The TF model's inference pass on token ids as one `tf.function`, traced once for every
    batch shape: the model's own kernels without Keras `predict`'s per-call bookkeeping.

    Takes the int64 ids the exported graphs take and, as the fused graph does, casts them
    inside to the int32 the model trained on."""
    from kerasbert.training.tfkeras import tf

    signature = [tf.TensorSpec((None, None), tf.int64, name=name) for name in MODEL_INPUT_NAMES]

    @tf.function(input_signature=signature)
    def logits(*inputs):
        features = {
            name: tf.cast(tensor, tf.int32)
            for name, tensor in zip(MODEL_INPUT_NAMES, inputs, strict=True)
        }
        return model(features, training=False).logits

    return lambda feeds: logits(*(feeds[name] for name in MODEL_INPUT_NAMES)).numpy()


def onnxruntime_calls(
    paths: dict[str, Path],
) -> dict[str, Callable[[dict[str, np.ndarray]], np.ndarray]]:
    """One onnxruntime session per graph, with the predictor's options (onnxruntime's defaults),
    each fed the inputs its graph takes in the types it declares (`feeds_of` builds them so)."""
    import onnxruntime

    calls = {}
    for name, path in paths.items():
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        types = input_types(session, path)

        def call(feeds, session=session, types=types):
            return session.run(None, graph_feeds(types, feeds))[0]

        calls[name] = call
    return calls


def real_texts(seed: int) -> dict[str, list[str]]:
    """BBC headlines, paragraphs (each article's lines, its headline included, as
    `scripts/bbc_paragraphs.py` writes them) and whole articles, each kind in a seeded order so
    the rows mix the categories."""
    from kerasbert.data.builtin import bbc_articles

    articles = bbc_articles()
    kinds = {
        "headlines": [article.headline for article in articles],
        "paragraphs": [
            paragraph
            for article in articles
            for paragraph in [article.headline, *article.body.split("\n\n")]
        ],
        "articles": [f"{article.headline}\n{article.body}" for article in articles],
    }
    rng = np.random.default_rng(seed)
    return {kind: [texts[i] for i in rng.permutation(len(texts))] for kind, texts in kinds.items()}


def text_rows(
    tokenizer: Any, texts: dict[str, list[str]], length: int, rows: int, seed: int
) -> dict[str, np.ndarray]:
    """`rows` × `length` token ids of every `TEXT_KINDS`: seeded random word pieces, and each
    real kind filled end to end (`fill_rows`)."""
    special = set(tokenizer.all_special_ids)
    vocabulary = np.array([i for i in range(len(tokenizer)) if i not in special], np.int32)
    rng = np.random.default_rng(seed + length)
    random = rng.choice(vocabulary, size=(rows, length))
    random[:, 0], random[:, -1] = tokenizer.cls_token_id, tokenizer.sep_token_id
    result = {"random": random}
    for kind in TEXT_KINDS[1:]:
        result[kind] = fill_rows(tokenizer, texts[kind], length, rows)
    return result


def fill_rows(tokenizer: Any, texts: Sequence[str], length: int, rows: int) -> np.ndarray:
    """`rows` rows of exactly `length` token ids from `texts`, in order and without padding.

    A row is [CLS], then texts' word pieces each followed by [SEP], text after text until the row
    is full; the text that overflows is cut, its [SEP] closing the row, and the next row starts
    with the next text (so an article longer than the row is an article truncated to the
    length). Texts are reused from the start if they run out.
    """
    if not texts:
        raise ValueError("fill_rows needs at least one text.")
    pieces = word_pieces(tokenizer, texts)
    filled = np.empty((rows, length), np.int32)
    for row in range(rows):
        ids = [tokenizer.cls_token_id]
        while len(ids) < length:
            ids += [*next(pieces), tokenizer.sep_token_id]
        filled[row] = ids[: length - 1] + [tokenizer.sep_token_id]
    return filled


def word_pieces(tokenizer: Any, texts: Sequence[str]) -> Iterator[list[int]]:
    """Each text's word pieces (no special tokens), endlessly, tokenized a chunk at a time."""
    while True:
        for start in range(0, len(texts), TOKENIZE_CHUNK):
            chunk = list(texts[start : start + TOKENIZE_CHUNK])
            yield from tokenizer(chunk, add_special_tokens=False)["input_ids"]


def feeds_of(input_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Model inputs for unpadded rows: every token attended, all of segment 0; int64, as the
    exported graphs take them."""
    return {
        "input_ids": input_ids.astype(np.int64),
        "attention_mask": np.ones_like(input_ids, np.int64),
        "token_type_ids": np.zeros_like(input_ids, np.int64),
    }


def length_figures(
    batch_seconds: dict[str, list[float]],
    single_seconds: dict[str, list[float]],
    *,
    kinds: Sequence[str],
    rounds: int,
    batch: int,
    flops_per_text: float,
    ceiling_flops: float,
) -> dict[str, Any]:
    """One length's figures from `time_in_turn`'s timings.

    `batch_seconds` holds, per engine and for `CEILING`, the seconds of each batch of `kinds`,
    round after round; `single_seconds` per engine the seconds of each batch-1 call, round after
    round. Every batch is `batch` texts of `flops_per_text` FLOPs, so one engine's passes over
    the kinds pool into one median (`batched`); `by_text_kind` keeps them apart. The ceiling
    rate is the faster of the `CEILINGS` timed (TensorFlow's and onnxruntime's float32 matmul):
    a ceiling matmul's FLOPs (`ceiling_flops` a call) over its median call in these
    same rounds: the same statistic as the engines', so a slow spell weighs on neither.
    """
    by_engine = {
        engine: ceiling_flops / float(np.median(batch_seconds[name]))
        for name, engine in CEILINGS.items()
        if name in batch_seconds
    }
    ceiling_rate = max(by_engine.values())
    ceiling_calls = batch_seconds[CEILING]
    engines = [name for name in batch_seconds if name not in CEILINGS]
    pooled, by_kind = {}, {kind: {} for kind in kinds}
    for engine in engines:
        seconds = np.reshape(batch_seconds[engine], (rounds, len(kinds)))
        texts_per_s = batch / float(np.median(seconds))
        pooled[engine] = {
            "texts_per_s": texts_per_s,
            "gflops_per_s": texts_per_s * flops_per_text / 1e9,
            "fraction_of_matmul_ceiling": texts_per_s * flops_per_text / ceiling_rate,
            "pass_seconds": [round(float(value), 4) for value in seconds.ravel()],
        }
        for column, kind in enumerate(kinds):
            kind_texts_per_s = batch / float(np.median(seconds[:, column]))
            by_kind[kind][engine] = {
                "texts_per_s": kind_texts_per_s,
                "gflops_per_s": kind_texts_per_s * flops_per_text / 1e9,
            }
    return {
        "flops_per_text": flops_per_text,
        "matmul_ceiling_same_rounds": {
            "size": CEILING_SIZE,
            "flop_rate": ceiling_rate,
            "flop_rate_by_engine": by_engine,
            "calls": len(ceiling_calls),
        },
        "batched": pooled,
        "by_text_kind": by_kind,
        "ratios": paired_ratios(batch_seconds, PAIRED_RATIOS),
        "batch1_p50_ms": {
            engine: percentile_ms(values, 50) for engine, values in single_seconds.items()
        },
        "batch1_p95_ms": {
            engine: percentile_ms(values, 95) for engine, values in single_seconds.items()
        },
        # A round's p50 against the baseline's p50 of the same round.
        "batch1_p50_ratios": paired_ratios(
            {engine: round_medians(values, rounds) for engine, values in single_seconds.items()},
            PAIRED_RATIOS,
        ),
    }


def log_length(length: int, figures: dict[str, Any]) -> None:
    ceiling = figures["matmul_ceiling_same_rounds"]["flop_rate"] / 1e9
    for engine, engine_figures in figures["batched"].items():
        logger.info(
            "%d tokens, %s: %.1f texts/s, %.1f GFLOP/s (%.0f%% of the %.1f GFLOP/s ceiling), "
            "batch-1 p50 %.1f ms",
            length,
            engine,
            engine_figures["texts_per_s"],
            engine_figures["gflops_per_s"],
            100 * engine_figures["fraction_of_matmul_ceiling"],
            ceiling,
            figures["batch1_p50_ms"][engine],
        )
    logger.info(
        "%d tokens, paired ratios: %s",
        length,
        ", ".join(f"{name} {ratio['median']:.2f}" for name, ratio in figures["ratios"].items()),
    )
