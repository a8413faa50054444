"""`serve`: load an export, warm it up and answer HTTP with uvicorn until SIGTERM or Ctrl-C.

A bad export directory fails before the web stack is even imported (the CLI exits 2). On SIGTERM
uvicorn stops accepting connections and answers every request it holds; the app then finishes
what is still queued, and `serve` returns 0.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from kerasbert.common.errors import InputError
from kerasbert.inference.exportdir import ExportDir
from kerasbert.serving.config import ServeConfig

logger = logging.getLogger(__name__)

# Seconds past the request timeout that a graceful shutdown may take before open connections are
# cut: every held request has either been answered or timed out by then.
SHUTDOWN_MARGIN_S = 5.0


def serve(
    export_dir: str | Path,
    config: ServeConfig,
    announce: Callable[[str], None] | None = None,
) -> int:
    """Serve `export_dir` as `config` says; returns the exit status (0 after SIGTERM).

    `announce` receives one line once the socket is bound (the URL, with the port `--port 0`
    picked), before the model's warm-up; `/readyz` says when that is done.
    """
    config.validate()
    # The commonest mistake, found before anything slow is imported.
    ExportDir(export_dir).read_info()
    try:
        import uvicorn

        from kerasbert.serving.app import create_app
    except ImportError as error:
        raise InputError(
            f"kerasbert serve needs the serve extra ({error.name} is missing): "
            "pip install 'kerasbert[serve]'."
        ) from None
    from kerasbert.inference.predictor import OnnxClassifier

    classifier = OnnxClassifier(
        export_dir,
        variant=config.variant,
        threads=config.intra_op_threads(),
        batch_size=config.group_size,
    )
    app = create_app(classifier, config)
    listener = bind(config.host, config.port)
    host, port = listener.getsockname()[:2]
    setup_access_log(config.access_log)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_config=None,
            access_log=False,  # ours is structured (`GuardMiddleware`)
            timeout_graceful_shutdown=config.request_timeout_s + SHUTDOWN_MARGIN_S,
            server_header=False,
        )
    )
    line = (
        f"Serving {export_dir} ({classifier.variant}, batches of up to {config.max_batch_size}) "
        f"on http://{host}:{port} (docs: /docs)"
    )
    (announce or logger.info)(line)
    # uvicorn re-raises SIGTERM once its graceful shutdown is done, to end the process the
    # default way (status -15); this handler turns that into a normal return, status 0.
    previous = signal.signal(signal.SIGTERM, _after_shutdown)
    try:
        server.run(sockets=[listener])
    finally:
        signal.signal(signal.SIGTERM, previous)
        listener.close()
    if not server.started:
        logger.error("The server did not start; see the messages above.")
        return 1
    return 0


def _after_shutdown(signum: int, frame: object) -> None:
    pass


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host:port`, with an `InputError` naming the flag if it cannot
    be had (port taken, address not on this machine)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise InputError(
            f"Cannot listen on {host}:{port} ({error.strerror}); choose another --port or --host."
        ) from None
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = json.loads(record.getMessage())
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return json.dumps({"time": f"{stamp}.{int(record.msecs):03d}Z", **fields})


def setup_access_log(enabled: bool) -> None:
    """One JSON object per request on stderr (time, client, method, path, status, ms)."""
    access = logging.getLogger("kerasbert.serving.access")
    access.propagate = False
    access.setLevel(logging.INFO if enabled else logging.WARNING)
    if not access.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_JsonLines())
        access.addHandler(handler)
