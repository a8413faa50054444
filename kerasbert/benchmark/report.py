"""The benchmark's figures as tables: printed at the end of a run, and as `benchmark.md`.

`result_tables` is the one source of both: `(header, rows)` of formatted cells per table.
`flop_notes` says in words how the training FLOP rate compares with the matmul ceiling and where
a step's time goes.
"""

from __future__ import annotations

from typing import Any

from kerasbert.benchmark.config import MODES
from kerasbert.benchmark.headlines import HEADLINE_RATIOS
from kerasbert.benchmark.inference import COLD_START_PROCESSES, ENGINES
from kerasbert.benchmark.lengths import PAIRED_RATIOS
from kerasbert.benchmark.profile import OP_CATEGORIES
from kerasbert.benchmark.targets import training_datasets

Table = tuple[list[str], list[list[str]]]


def result_tables(results: dict[str, Any]) -> dict[str, Table]:
    """The figures the targets are judged on, as `(header, rows)` of formatted cells: one source
    for the printed table and for `benchmark.md`."""
    builders = {
        "training": training_table,
        "flop_rate": flop_rate_table,
        "op_time": op_time_table,
        "inference": inference_table,
        "cold_start": cold_start_table,
        "inference_by_length": length_table,
        "length_ratios": length_ratio_table,
        "length_text_kinds": text_kind_table,
        "headlines": headline_table,
        "targets": targets_table,
    }
    tables = {name: build(results) for name, build in builders.items()}
    return {name: table for name, table in tables.items() if table is not None}


def training_table(results: dict[str, Any]) -> Table | None:
    train = results.get("train", {})
    rows = [
        [
            f"{dataset} ({train[dataset][mode]['max_length']}), {mode}",
            f"{train[dataset][mode]['examples_per_s']:.1f}",
            f"{train[dataset][mode]['tokens_per_s']:.0f}",
            f"{train[dataset][mode]['padding_efficiency']:.3f}",
            accuracy_cell(train[dataset][mode]),
        ]
        for dataset in training_datasets(results)
        for mode in MODES
    ]
    if not rows:
        return None
    header = [
        "training",
        "examples/s",
        "real tokens/s",
        "padding efficiency",
        "test accuracy (mean; per seed)",
    ]
    return header, rows


def flop_rate_table(results: dict[str, Any]) -> Table | None:
    """The training FLOP rate at 128 tokens against each matmul ceiling measured; the ceiling of
    the precision that ran is the one the targets judge."""
    train = results.get("train", {})
    if "precision_ceiling" not in train:
        return None
    ran = train["precision_ceiling"]["precision"]
    flop_rate = train["flop_rate_at_128"]
    ceilings = {"float32": (train["matmul_ceiling_same_load"], train["matmul_ceiling"])}
    if "bfloat16_matmul_ceiling_same_load" in train:
        ceilings["bfloat16"] = (
            train["bfloat16_matmul_ceiling_same_load"],
            train["bfloat16_matmul_ceiling"],
        )
    rows = [
        [
            f"{precision} matmul{' (the precision training ran in)' if precision == ran else ''}",
            f"{same_load / 1e9:.1f}",
            f"{best['flop_rate'] / 1e9:.1f}",
            f"{flop_rate / same_load:.2f}",
        ]
        for precision, (same_load, best) in ceilings.items()
    ]
    header = [
        f"training at 128 tokens: {flop_rate / 1e9:.1f} GFLOP/s, against the ceilings",
        "ceiling GFLOP/s (same load)",
        "best GFLOP/s",
        "training ÷ ceiling (same load)",
    ]
    return header, rows


def length_table(results: dict[str, Any]) -> Table | None:
    """Per length and engine: full-length batch throughput, its FLOP rate against the float32
    matmul ceiling of the same rounds, and batch-1 latency."""
    section = results.get("inference_by_length", {})
    if not section.get("lengths"):
        return None
    rows = []
    for length, figures in section["lengths"].items():
        ceiling = figures["matmul_ceiling_same_rounds"]
        by_engine = ceiling.get("flop_rate_by_engine", {})
        faster = max(by_engine, key=by_engine.get) if by_engine else "tensorflow"
        rows.append(
            [
                f"{length}, float32 matmul ceiling (same rounds, {faster})",
                "",
                f"{ceiling['flop_rate'] / 1e9:.1f}",
                "1.00",
                "",
                "",
            ]
        )
        rows += [
            [f"{length}, float32 matmul, {engine}", "", f"{rate / 1e9:.1f}", "", "", ""]
            for engine, rate in by_engine.items()
            if engine != faster
        ]
        for engine, batched in figures["batched"].items():
            rows.append(
                [
                    f"{length}, {engine}",
                    f"{batched['texts_per_s']:.1f}",
                    f"{batched['gflops_per_s']:.1f}",
                    f"{batched['fraction_of_matmul_ceiling']:.2f}",
                    f"{figures['batch1_p50_ms'][engine]:.1f}",
                    f"{figures['batch1_p95_ms'][engine]:.1f}",
                ]
            )
    header = [
        f"inference by length (batches of {section['batch']} full-length texts, median of "
        f"{section['rounds']} rounds)",
        "texts/s",
        "GFLOP/s",
        "÷ fp32 ceiling",
        "batch-1 p50 ms",
        "batch-1 p95 ms",
    ]
    return header, rows


def length_ratio_table(results: dict[str, Any]) -> Table | None:
    """Median paired ratios per length: each pair of passes ran in the same round."""
    lengths = results.get("inference_by_length", {}).get("lengths", {})
    if not lengths:
        return None
    rows = []
    for kind, label in (("ratios", "batched"), ("batch1_p50_ratios", "batch-1 p50")):
        for name, (engine, baseline) in PAIRED_RATIOS.items():
            cells = [
                f"{figures[kind][name]['median']:.2f}" if name in figures[kind] else "–"
                for figures in lengths.values()
            ]
            if any(cell != "–" for cell in cells):
                rows.append([f"{engine} ÷ {baseline} ({label})", *cells])
    header = ["speed ratio, median of paired rounds", *(f"{length} tokens" for length in lengths)]
    return header, rows


def text_kind_table(results: dict[str, Any]) -> Table | None:
    """Throughput per kind of text: random word pieces against real ones of the same length."""
    lengths = results.get("inference_by_length", {}).get("lengths", {})
    if not lengths:
        return None
    engines = list(next(iter(lengths.values()))["batched"])
    rows = [
        [
            f"{length}, {kind}",
            *(f"{by_engine[engine]['texts_per_s']:.1f}" for engine in engines),
        ]
        for length, figures in lengths.items()
        for kind, by_engine in figures["by_text_kind"].items()
    ]
    return ["texts/s by kind of text", *engines], rows


def headline_table(results: dict[str, Any]) -> Table | None:
    """Real headlines padded per batch: throughput and batch-1 latency per engine, and the paired
    ratios (the fused graph against the tf2onnx graph kerasbert exported before it)."""
    section = results.get("inference_by_length", {}).get("headlines")
    if not section:
        return None
    rows = [
        [
            engine,
            f"{texts_per_s:.1f}",
            f"{section['batch1_p50_ms'][engine]:.2f}",
            f"{section['batch1_p95_ms'][engine]:.2f}",
        ]
        for engine, texts_per_s in section["texts_per_s"].items()
    ]
    rows += [
        [
            f"{HEADLINE_RATIOS[name][0]} ÷ {HEADLINE_RATIOS[name][1]} (paired)",
            f"{ratio['median']:.2f}",
            f"{section['batch1_p50_ratios'][name]['median']:.2f}",
            "",
        ]
        for name, ratio in section["ratios"].items()
    ]
    header = [
        f"headlines (batches of {section['batch']} padded to their longest, "
        f"{section['mean_tokens_per_text']:.1f} tokens a text; median of {section['rounds']} "
        "rounds)",
        "texts/s",
        "batch-1 p50 ms",
        "batch-1 p95 ms",
    ]
    return header, rows


def op_time_table(results: dict[str, Any]) -> Table | None:
    op_time = results.get("train", {}).get("step_profile", {}).get("op_time", {})
    if not op_time:
        return None
    shapes = list(op_time)
    header = ["training step op time (share)", *(f"{shape} step" for shape in shapes)]
    rows = [
        [f"{name}: {what}", *(f"{100 * op_time[shape]['share'][name]:.1f}%" for shape in shapes)]
        for name, what in OP_CATEGORIES
    ]
    totals = (
        ("op ms per step (summed over ops running at once)", "op_ms_per_step", "{:.0f}"),
        ("wall ms per step (traced)", "wall_ms_per_step", "{:.0f}"),
        ("ops running at once (mean)", "ops_at_once", "{:.2f}"),
    )
    for label, key, cell in totals:
        rows.append([label, *(cell.format(op_time[shape][key]) for shape in shapes)])
    return header, rows


def inference_table(results: dict[str, Any]) -> Table | None:
    inference = results.get("inference", {})
    if not inference:
        return None
    header = [
        f"inference ({inference.get('dataset')})",
        "batch-1 p50 ms",
        "batch-1 p95 ms",
        "batch-32 seq/s",
    ]
    rows = [
        [
            engine,
            f"{inference[engine]['batch1_p50_ms']:.1f}",
            f"{inference[engine]['batch1_p95_ms']:.1f}",
            f"{inference[engine]['batch32_seq_per_s']:.0f}",
        ]
        for engine in ENGINES
        if engine in inference
    ]
    return header, rows


def cold_start_table(results: dict[str, Any]) -> Table | None:
    processes = [name for name in COLD_START_PROCESSES if name in results]
    if not processes:
        return None
    rows = [
        [name, f"{results[name]['cold_start_s']:.2f}", f"{results[name]['peak_rss_mb']:.0f}"]
        for name in processes
    ]
    return ["cold start (import + load + first prediction)", "seconds", "peak RSS MB"], rows


def targets_table(results: dict[str, Any]) -> Table | None:
    targets = results.get("targets", {})
    if not targets:
        return None
    rows = []
    for name, entry in targets.items():
        verdict = "met" if entry["met"] else "MISSED"
        if not entry.get("judged", True):
            verdict = f"not judged: {entry['why']}"
        rows.append([name, f"{entry['value']:.3f}", entry["target"], verdict])
    return ["target", "value", "wanted", "verdict"], rows


def accuracy_cell(figures: dict[str, Any]) -> str:
    """Mean test accuracy, with each seed's when there are several."""
    cell = f"{100 * figures['accuracy']:.2f}%"
    per_seed = figures.get("accuracy_per_seed", [])
    if len(per_seed) > 1:
        cell += " (" + ", ".join(f"{100 * value:.1f}" for value in per_seed) + ")"
    return cell


def flop_notes(results: dict[str, Any]) -> list[str]:
    """The training FLOP rate against the matmul ceiling, and where a step's time goes."""
    train = results.get("train", {})
    if "flop_fraction_of_matmul_ceiling" not in train:
        return []
    notes = [
        f"training FLOP rate at 128: {train['flop_rate_at_128'] / 1e9:.1f} GFLOP/s = "
        f"{100 * train['flop_fraction_of_matmul_ceiling']:.0f}% of the float32 matmul ceiling "
        f"timed under the same load ({train['matmul_ceiling_same_load'] / 1e9:.1f} GFLOP/s); "
        f"{100 * train['flop_fraction_of_best_matmul']:.0f}% of the best single matmul "
        f"({train['matmul_ceiling']['flop_rate'] / 1e9:.1f} GFLOP/s)"
    ]
    if "precision_ceiling" in train:
        precision = train["precision_ceiling"]
        notes.append(
            f"against the ceiling of the precision the matmuls ran in ({precision['precision']}, "
            f"{precision['flop_rate_same_load'] / 1e9:.1f} GFLOP/s under the same load): "
            f"{100 * train['flop_fraction_of_precision_ceiling']:.0f}%, the fraction the targets "
            f"judge"
        )
    if "flop_fraction_of_bfloat16_matmul" in train:
        notes.append(
            f"training ran its matmuls in bfloat16 (--precision cpu_bfloat16): "
            f"{100 * train['flop_fraction_of_bfloat16_matmul']:.0f}% of the best bfloat16 matmul "
            f"({train['bfloat16_matmul_ceiling']['flop_rate'] / 1e9:.1f} GFLOP/s)"
        )
    if "step_profile" in train:
        notes += step_profile_notes(train["step_profile"])
    if "step_matmuls" in train:
        matmuls = train["step_matmuls"]
        bfloat16 = bool(matmuls.get("bfloat16"))
        notes.append(
            f"the step's matmuls alone"
            f"{' (bfloat16 rewrite, casts included)' if bfloat16 else ''}: "
            f"{matmuls['flop_rate'] / 1e9:.1f} GFLOP/s "
            f"({100 * matmuls['fraction_of_matmul_ceiling']:.0f}% of the "
            f"{'bfloat16 ' if bfloat16 else ''}ceiling), "
            f"{100 * matmuls['share_of_step_time']:.0f}% of the step time; other ops take the rest"
        )
    return notes + step_cost_notes(train)


def step_profile_notes(profile: dict[str, Any]) -> list[str]:
    """The step's parts, and its time with and without the bfloat16 rewrite where measured."""
    notes = []
    turns = profile.get("precision_step_seconds", {})
    if turns:
        notes.append(
            "the same train step with the bfloat16 rewrite and without: "
            + ", ".join(
                f"{shape} {1000 * timed['cpu_bfloat16']:.0f} vs {1000 * timed['fp32']:.0f} ms "
                f"({timed['speedup']:.2f}×)"
                for shape, timed in turns.items()
            )
        )
    parts = ", ".join(
        f"{name.replace('_', ' ')} {1000 * profile[f'{name}_seconds']:.0f} ms"
        for name in ("forward", "backward", "optimizer", "keras_overhead")
    )
    notes.append(
        f"one {profile['batch']}×{profile['length']} step: "
        f"{1000 * profile['step_seconds']:.0f} ms ({parts})"
    )
    return notes


def step_cost_notes(train: dict[str, Any]) -> list[str]:
    """Per data set, the fitted per-step and per-token cost of a step."""
    notes = []
    for dataset, figures in train.items():
        fit = figures.get("step_cost") if isinstance(figures, dict) else None
        # Only data sets up to 128 tokens get a fit; a noisy one can come out below zero.
        if not fit or fit["per_step_ms"] <= 0:
            continue
        bucketed = figures["bucketed"]
        step_ms = 1000 * bucketed["timed_seconds"] / bucketed["timed_batches"]
        notes.append(
            f"{dataset} step time ≈ {fit['per_step_ms']:.0f} ms per step + "
            f"{fit['per_1k_tokens_ms']:.0f} ms per 1,000 processed tokens (fit over the "
            f"longest and bucketed steps, R² {fit['r_squared']:.2f}); the per-step part, "
            f"which padding does not change, is {100 * fit['per_step_ms'] / step_ms:.0f}% of a "
            f"bucketed step"
        )
    return notes


def format_table(results: dict[str, Any]) -> str:
    """The plain-text report printed at the end of a run."""
    lines: list[str] = []
    for name, (header, rows) in result_tables(results).items():
        widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
        for row in [header, *rows]:
            cells = [row[0].ljust(widths[0])]
            cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
            lines.append("  ".join(cells).rstrip())
        if name == "training":
            lines += [f"  {note}" for note in flop_notes(results)]
        lines.append("")
    machine = results.get("machine", {})
    lines.append(
        f"{machine.get('cpu', '?')}, {machine.get('usable_cpus')} usable CPUs, load average "
        f"{machine.get('load_average_start', [float('nan')])[0]:.2f} → "
        f"{machine.get('load_average_end', [float('nan')])[0]:.2f}; {results.get('date')}"
    )
    return "\n".join(lines)


def format_markdown(results: dict[str, Any], command: str) -> str:
    """The same tables in Markdown (`benchmark.md`), headed by the command and the machine."""
    machine = results.get("machine", {})
    lines = [
        f"`{command}` on {machine.get('cpu', '?')} ({machine.get('usable_cpus')} usable CPUs, "
        f"load average {machine.get('load_average_start', [float('nan')])[0]:.2f} at the start), "
        f"{results.get('date', '?')[:10]}, {results.get('seconds', 0) / 60:.0f} minutes.",
    ]
    for name, (header, rows) in result_tables(results).items():
        lines += ["", "| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        notes = flop_notes(results) if name == "training" else []
        if notes:
            text = "; ".join(notes)
            lines += ["", text[0].upper() + text[1:] + "."]
    return "\n".join(lines) + "\n"
