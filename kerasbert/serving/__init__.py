"""`kerasbert serve`: an HTTP server for an exported model, with dynamic batching.

    config    ServeConfig: every flag with its default and reason
    batcher   DynamicBatcher: requests' texts queued and run together, off the event loop
    schemas   the request and response bodies (pydantic; the OpenAPI docs)
    metrics   ServerMetrics: Prometheus counters, histograms and the queue-depth gauge
    explain   /v1/explain's work: words counted against the limit, classify + occlusion, its body
    page      GET /: the static page (static/index.html, page.js, page.css), self-only CSP
    app       create_app: the FastAPI routes, limits, errors and access log
    server    serve: load, bind, run uvicorn, drain on SIGTERM

Needs the serve extra (`pip install 'kerasbert[serve]'`: FastAPI, uvicorn, prometheus-client) on
top of the predictor's numpy, onnxruntime and tokenizers; never TensorFlow. Importing this
package imports none of them: `kerasbert.serving.server.serve` does, when called.
"""

from kerasbert.serving.config import ServeConfig

__all__ = ["ServeConfig"]
