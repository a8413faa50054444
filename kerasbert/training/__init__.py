"""Fine-tuning with Keras on TensorFlow: the one tf_keras import (`tfkeras`), checkpoints, the
tf.data pipeline, the model and its optimizer, the distribution strategy and precision, callbacks,
`fit_run`, per-label thresholds, and the run directory every later stage reads (`rundir`).
Importing the package itself loads nothing; TensorFlow loads with `tfkeras`."""
