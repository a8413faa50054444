"""Measure how fast kerasbert trains and serves, against the usual ways, on this machine.

    python scripts/benchmark.py                   # bbc-headlines + bbc-news, packaged MiniLM
    python scripts/benchmark.py --quick           # a few minutes at most: regular use
    python scripts/benchmark.py --data reviews.csv --text-column body --label-column stars
    kerasbert benchmark --quick --output benchmark.json
    kerasbert benchmark --serve exported/news --texts runs/news   # the serving load test

One run, one model, one machine. It measures:
- training with fixed-length padding, per-batch-longest padding in random batches (the
  transformers-examples way) and kerasbert's length bucketing, one step of each in turn so all
  three meet the same machine load: examples/s, real tokens/s, padding efficiency, and test
  accuracy after the same number of epochs (the mean over `--seeds` runs) (`training`);
- the training FLOP rate at length 128 as a fraction of a large matmul through TensorFlow in the
  precision the training ran in (and in float32) (`matmul`), and where a step's time goes
  (`profile`);
- inference on real test texts with TF Keras `predict`, ORT fp32, ORT optimized fp32 and ORT int8:
  batch-1 p50/p95 latency and batch-32 throughput, tokenization included everywhere; the cold
  start (new process: import, load, first prediction) and peak RSS of the ONNX predictor against a
  TensorFlow-based predict (`inference`);
- inference by input length (`lengths`): TF and the fp32 and int8 graphs of every converter
  (fused, plain, tf2onnx) on full-length batches at 128, 256 and 512 tokens, their FLOP rates
  against the float32 matmul ceiling timed in the same rounds, batch-1 latency, and paired speed
  ratios; then the same engines on real headlines padded per batch (`headlines`). `--only
  lengths` runs this section alone on a run kept in `--work-dir`.

`--serve EXPORT` runs the serving load test instead (`serving`, `load`): `kerasbert serve` under
1, 8 and 64 closed-loop clients on 127.0.0.1 against the offline predictor, batching off, and a
soak with the server's memory sampled, into `load_test.json`.

Every figure is computed here and written to `benchmark.json` with the machine, package versions
and date (`run`, `cli`); `targets` in that file checks the issue's targets (`targets`: a table of
data) against the figures of the same run. The benchmark is a tool around the library: it uses
any kerasbert module, and none of them imports it. TensorFlow is imported inside the functions
that measure, so `--help` and the figures' arithmetic load without it.
"""

from kerasbert.benchmark.config import BenchmarkConfig
from kerasbert.benchmark.run import run_benchmark

__all__ = ["BenchmarkConfig", "run_benchmark"]
