"""kerasbert: fine-tune BERT text classifiers with Keras and ship them as verified ONNX models.

The package reads as the pipeline it runs, each stage a subpackage that imports only from the
stages below it (`docs/DESIGN.md`, enforced by import-linter):

    common/      errors, shared names, files, logging, truncation, windows, the decision rule
    config.py    `TrainConfig`: every training setting, its default and help
    data/        labelled files and built-in sets → deduplicated, stratified splits
    training/    TensorFlow: checkpoint, tf.data, model, optimizer, strategy, callbacks, fit
    evaluation/  metrics, TF-IDF baseline, plots, report, the evaluation job
    export/      the ONNX graph from the weights, tf2onnx fallback, parity, int8, the export job
    inference/   the TensorFlow-free side: predictor, export directory, input files, streaming, Ray
    serving/     `kerasbert serve`: HTTP over the predictor
    job.py       the default job: train → evaluate → export → check
    experiments/, benchmark/, cli/   tools around the library, which never imports them

Importing the package is cheap: TensorFlow and transformers load only when a training-side module
is imported. `from kerasbert import OnnxClassifier` loads the predictor alone (numpy, onnxruntime,
tokenizers).
"""

from typing import Any

__version__ = "0.1.0"

__all__ = ["OnnxClassifier", "TextEncoder", "predict_file"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import kerasbert` stays free of onnxruntime for the training side's tools.
    if name in __all__:
        from kerasbert.inference import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module 'kerasbert' has no attribute {name!r}")
