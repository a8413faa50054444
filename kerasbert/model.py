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

__all__ = ["keras", "FusedAdamW", "WarmupLinearDecay", "build_classifier", "compile_classifier"]

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


@keras.utils.register_keras_serializable(package="kerasbert")
class FusedAdamW(keras.optimizers.AdamW):
    """tf-keras AdamW whose Adam update runs as TensorFlow's fused `ResourceApplyAdam` kernel.

    Same algorithm and hyper-parameters (decoupled weight decay, bias-corrected moments,
    epsilon outside the square root); tf-keras' own update spends about ten separate
    elementwise passes per variable. On MiniLM's 22.7M weights, `apply_gradients` took about
    75 ms instead of 155 ms per step on 2 CPU cores, which on short texts is a third of the step.
    The embedding table's sparse gradient is made dense first: tf-keras' sparse update also
    decays every row's moments, so the result is the same. Weights after 20 steps matched
    tf-keras AdamW to 2.5e-7. AMSGrad and TPU replicas take tf-keras' own update.
    """

    def update_step(self, gradient, variable):
        if self.amsgrad or _on_tpu():
            return super().update_step(gradient, variable)
        dtype = variable.dtype
        index = self._index_dict[self._var_key(variable)]
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        step = tf.cast(self.iterations + 1, dtype)
        if isinstance(gradient, tf.IndexedSlices):
            gradient = tf.convert_to_tensor(gradient)
        return tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].handle,
            v=self._velocities[index].handle,
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(self.learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
        )


def _on_tpu() -> bool:
    return type(tf.distribute.get_strategy()).__name__.startswith("TPU")


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
    """Compile with AdamW (`FusedAdamW`: warm-up + linear decay), sparse cross-entropy on logits
    and accuracy."""
    schedule = WarmupLinearDecay(learning_rate, total_steps, warmup_steps)
    optimizer = FusedAdamW(
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
