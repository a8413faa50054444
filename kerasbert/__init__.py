"""kerasbert: fine-tune BERT text classifiers with Keras and ship them as verified ONNX models.

Importing the package is cheap: TensorFlow and transformers load only when a training-side module
(`kerasbert.train`, `kerasbert.export`, ...) is imported, and `kerasbert.predictor` never loads them.
"""

__version__ = "0.1.0"
