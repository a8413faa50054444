"""Running an export without TensorFlow: `OnnxClassifier` (numpy, onnxruntime, tokenizers), the
export-directory contract (`exportdir`), texts to classify from files, streaming prediction, and
the Ray Data recipe. An import-linter contract keeps the training side out of this package."""
