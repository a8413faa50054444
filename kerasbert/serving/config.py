"""`ServeConfig`: every setting of `kerasbert serve`, with its default and the reason for it."""

from __future__ import annotations

import os
from dataclasses import dataclass

from kerasbert.common.errors import InputError
from kerasbert.common.settings import setting

VARIANTS = ("int8", "fp32", "optimized")


@dataclass(frozen=True)
class ServeConfig:
    """How `kerasbert serve` listens, batches and refuses (the CLI's flags are built from these).

    Example:
    >>> ServeConfig(max_batch_size=1).max_batch_size  # batching off
    1
    """

    # Loopback by default: exposing a model is a decision, not an accident.
    host: str = setting("127.0.0.1", "Address to listen on (0.0.0.0: every interface).")
    port: int = setting(8000, "Port to listen on; 0 picks a free one (printed at start).")
    variant: str | None = setting(
        None, "Model file: int8, fp32 or optimized (default: the export's recommendation)."
    )
    # Two batches in flight, one core each by default: one batch's tokenization and padding
    # (Python) overlap the other's model call, and no onnxruntime thread pool spins waiting for
    # work while the event loop and the clients need the CPU.
    workers: int = setting(2, "Batches run at once, each in a thread of its own.")
    threads: int | None = setting(
        None, "onnxruntime intra-op threads per batch (default: the cores shared among --workers)."
    )
    # 32 texts keep both cores of a small machine busy without making the first caller of a
    # batch wait long for the last; the predictor sorts a batch by length and pads per group.
    max_batch_size: int = setting(
        32, "Texts run together in one model call at most; 1 turns dynamic batching off."
    )
    # Only the first request of a quiet moment waits this long: under load the queue fills
    # while the previous batch runs, so batches leave full without waiting.
    max_wait_ms: float = setting(
        5.0, "How long a batch waits for more texts after its first one arrives."
    )
    # Bounded, so overload answers 503 at once instead of growing a backlog nobody waits for.
    max_queue: int = setting(512, "Texts waiting for the model at most; more get 503.")
    group_size: int = setting(
        16,
        "Texts per padded group inside a batch: a batch is sorted by token length and run in "
        "groups of this many, so short texts are not padded to the longest of the batch.",
    )
    max_texts_per_request: int = setting(64, "Texts (or pairs) one request may carry.")
    # A long article is about 5,000 characters; anything past the model's max length is cut
    # or windowed as the export says, but tokenizing megabytes would still stall a batch.
    max_text_chars: int = setting(20_000, "Characters one text may have.")
    max_body_bytes: int = setting(2_000_000, "Bytes a request body may have; more get 413.")
    # Occlusion runs a text once more per word it explains, so this bounds one /v1/explain
    # request's work as --max-texts-per-request bounds a classification's: 1,024 passes are two
    # whole 512-token articles, or a full request of 16-word headlines.
    max_explain_words: int = setting(
        1024,
        "Words one /v1/explain request may explain in all (the words the model reads; each is "
        "one more model pass); more get 413.",
    )
    request_timeout_s: float = setting(
        30.0, "Seconds a request may wait for its answer before a 504."
    )
    access_log: bool = setting(True, "Log one JSON line per request on stderr.")

    def validate(self) -> None:
        """Raise `InputError` naming the first setting that cannot work."""
        positive = (
            "workers",
            "max_batch_size",
            "max_queue",
            "group_size",
            "max_texts_per_request",
            "max_text_chars",
            "max_body_bytes",
            "max_explain_words",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise InputError(f"--{name.replace('_', '-')} must be a positive integer.")
        if self.threads is not None and self.threads <= 0:
            raise InputError("--threads must be a positive integer.")
        if self.max_wait_ms < 0 or self.request_timeout_s <= 0:
            raise InputError("--max-wait-ms must be ≥ 0 and --request-timeout-s > 0.")
        if not 0 <= self.port <= 65535:
            raise InputError(f"--port must be from 0 to 65535, got {self.port}.")
        if self.variant is not None and self.variant not in VARIANTS:
            raise InputError(f"--variant must be one of {', '.join(VARIANTS)}.")
        if self.max_queue < self.max_texts_per_request:
            raise InputError(
                "--max-queue must hold at least one full request (--max-texts-per-request)."
            )

    def intra_op_threads(self) -> int:
        """onnxruntime threads per model call: `threads`, else the cores shared among workers."""
        if self.threads is not None:
            return self.threads
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return max(1, (cores or 1) // self.workers)
