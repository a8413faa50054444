"""The predictor's original address, kept for apps written against it: everything here is
`kerasbert.inference.predictor`'s (numpy, onnxruntime and tokenizers only)."""

from kerasbert.inference.predictor import (
    OnnxClassifier,
    TextEncoder,
    predict_file,
    read_metadata,
    read_pairs,
    read_texts,
)

__all__ = [
    "OnnxClassifier",
    "TextEncoder",
    "predict_file",
    "read_metadata",
    "read_pairs",
    "read_texts",
]
