"""A run into an export directory: the BERT graph written straight from the weights (fused and
plain forms, assembled by `onnx_writer`), tf2onnx as the fallback (`convert`), TensorFlow-vs-ONNX
parity and int8 checks (`parity`), and `export_run`, which publishes the folder atomically."""
