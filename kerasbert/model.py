"""The classifier and its optimizer: `TFBertForSequenceClassification` + AdamW with warm-up and decay.

This is the one place kerasbert imports Keras. transformers' TF models are tf-keras (Keras 2)
models; Keras 3 optimizers, losses and callbacks cannot drive them, so everything comes from
`tf_keras`, re-exported here as `keras`.
"""

from __future__ import annotations

import os

# transformers picks its Keras at import time; make sure it is tf-keras, not Keras 3.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:
    import tf_keras as keras
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        "kerasbert training needs tf-keras (Keras 2), which transformers' TF models are built on: "
        'pip install "kerasbert[train]"  (or: pip install "tf-keras>=2.21,<2.22")'
    ) from error

import numpy as np
import tensorflow as tf

from kerasbert.checkpoint import load_classifier

__all__ = ["keras", "WarmupLinearDecay", "build_classifier", "compile_classifier"]

# LayerNorm scales and biases are not decayed: decaying them hurts BERT fine-tuning (Devlin et al.).
NO_DECAY = ["LayerNorm", "layer_norm", "bias"]


@keras.utils.register_keras_serializable(package="kerasbert")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `peak` over `warmup_steps`, then linear decay to 0 at `total_steps`.

    Args:
        peak: the learning rate reached at the end of warm-up.
        total_steps: optimizer steps in the whole run (epochs × steps per epoch).
        warmup_steps: steps of linear warm-up.

    Example:
    >>> schedule = WarmupLinearDecay(5e-5, total_steps=100, warmup_steps=10)
    >>> float(schedule(10))
    5e-05
    """

    def __init__(self, peak: float, total_steps: int, warmup_steps: int):
        super().__init__()
        self.peak = float(peak)
        self.total_steps = max(int(total_steps), 1)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warmup = self.peak * step / max(self.warmup_steps, 1)
        decay_steps = max(self.total_steps - self.warmup_steps, 1)
        decay = self.peak * tf.maximum(0.0, (self.total_steps - step) / decay_steps)
        return tf.where(step < self.warmup_steps, warmup, decay)

    def get_config(self) -> dict:
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
        }


def build_classifier(
    checkpoint: str, labels: list[str], freeze_embeddings: bool = False, **config_overrides
):
    """Pretrained encoder + new head for `labels`; call inside the strategy's scope.

    Under a mixed-precision policy the head computes in float32, so logits, softmax and the loss
    keep float32's range (float16 logits overflow and lose the small differences the loss needs).
    `freeze_embeddings` keeps the embedding layer fixed (see `TrainConfig.freeze_embeddings`).
    """
    model = load_classifier(checkpoint, labels, **config_overrides)
    if freeze_embeddings:
        model.bert.embeddings.trainable = False
    # The head's variables are float32 under every policy; only its compute dtype changes here.
    model.classifier._set_dtype_policy("float32")
    return model


def compile_classifier(
    model,
    *,
    learning_rate: float,
    total_steps: int,
    warmup_steps: int,
    weight_decay: float = 0.01,
    jit_compile: bool = False,
) -> None:
    """Compile with AdamW (warm-up + linear decay), sparse cross-entropy on logits and accuracy."""
    schedule = WarmupLinearDecay(learning_rate, total_steps, warmup_steps)
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule, weight_decay=weight_decay, epsilon=1e-8, clipnorm=1.0
    )
    optimizer.exclude_from_weight_decay(var_names=NO_DECAY)
    if keras.mixed_precision.global_policy().compute_dtype == "float16":
        optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )


def fit_head(model, features: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
    """Initialise the new classification head by logistic regression on frozen pooled features.

    Fine-tuning from a fitted head instead of a random one ("linear probing, then fine-tuning",
    Kumar et al., 2022) spends the first steps improving features rather than undoing a random
    head's gradients. Returns the probe's training accuracy.
    """
    from sklearn.linear_model import LogisticRegression

    probe = LogisticRegression(max_iter=2000, random_state=seed).fit(features, labels)
    coefficients, intercept = probe.coef_, probe.intercept_
    if coefficients.shape[0] == 1:  # binary: scikit-learn keeps one row, the head has two
        coefficients = np.concatenate([-coefficients / 2, coefficients / 2])
        intercept = np.concatenate([-intercept / 2, intercept / 2])
    model.classifier.kernel.assign(coefficients.T.astype(np.float32))
    model.classifier.bias.assign(intercept.astype(np.float32))
    return float(probe.score(features, labels))
