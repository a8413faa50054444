"""The classifier: build `TFBertForSequenceClassification` for a run, compile it, fit its head.

`build_classifier` loads the pretrained encoder with a new head, `compile_classifier` attaches the
optimizer (`kerasbert.training.optimizer`), loss and metrics, and `fit_head` starts the head from a logistic
regression on the pretrained features instead of random weights.
"""

from __future__ import annotations

import numpy as np

from kerasbert.training.checkpoint import load_classifier
from kerasbert.training.optimizer import NO_DECAY, FusedAdamW, WarmupLinearDecay
from kerasbert.training.tfkeras import keras, tf

__all__ = ["WeightedBinaryCrossentropy", "build_classifier", "compile_classifier", "fit_head"]


def build_classifier(
    checkpoint: str,
    labels: list[str],
    freeze_embeddings: bool = False,
    multi_label: bool = False,
    num_layers: int | None = None,
    **config_overrides,
):
    """Pretrained encoder + new head for `labels`; call inside the strategy's scope.

    `multi_label` marks the model's config `problem_type="multi_label_classification"` (one
    sigmoid per label), so the saved model says what its logits mean.

    Under a mixed-precision policy the head computes in float32, so logits, softmax and the loss
    keep float32's range (float16 logits overflow and lose the small differences the loss needs).
    `freeze_embeddings` keeps the embedding layer fixed (see `TrainConfig.freeze_embeddings`).
    `num_layers` keeps that many of the checkpoint's encoder layers (`checkpoint.select_layers`).
    """
    if multi_label:
        config_overrides.setdefault("problem_type", "multi_label_classification")
    model = load_classifier(checkpoint, labels, num_layers, **config_overrides)
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
    multi_label: bool = False,
    positive_weights: list[float] | None = None,
    loss=None,
    metrics=None,
) -> None:
    """Compile with AdamW (`FusedAdamW`: warm-up + linear decay), sparse cross-entropy on logits
    and accuracy; for `multi_label`, binary cross-entropy per label on logits (weighted by
    `positive_weights`, one per label, when given), per-label accuracy and micro ROC AUC.
    `loss` and `metrics`, when given, replace these (distillation's loss on the teacher's
    targets, `kerasbert.training.distill`) under the same optimizer."""
    schedule = WarmupLinearDecay(learning_rate, total_steps, warmup_steps)
    optimizer = FusedAdamW(
        learning_rate=schedule,
        weight_decay=weight_decay,
        epsilon=1e-8,
        clipnorm=1.0,
        row_updates=not jit_compile,
    )
    optimizer.exclude_from_weight_decay(var_names=NO_DECAY)
    if keras.mixed_precision.global_policy().compute_dtype == "float16":
        optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
    if loss is None and multi_label:
        loss = WeightedBinaryCrossentropy(positive_weights)
        # On logits: 0 is probability 0.5. Per-label accuracy flatters sparse labels, hence AUC.
        metrics = [
            keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0),
            keras.metrics.AUC(name="auc", from_logits=True),
        ]
    elif loss is None:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=jit_compile)


class WeightedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy on logits, averaged over labels, with each label's positives weighed
    by `positive_weights` (`tf.nn.weighted_cross_entropy_with_logits`); None: unweighted.

    A label on 5% of the texts contributes 19 negatives per positive; weighing its positives by
    negatives / positives (`kerasbert.data.splits.class_weights`) stops the loss from buying a low value
    by never predicting it.
    """

    def __init__(self, positive_weights: list[float] | None = None, name: str = "weighted_bce"):
        super().__init__(name=name)
        self.positive_weights = None if positive_weights is None else list(positive_weights)

    def call(self, y_true, y_pred):
        y_true = tf.cast(y_true, y_pred.dtype)
        if self.positive_weights is None:
            cells = tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)
        else:
            weights = tf.constant(self.positive_weights, dtype=y_pred.dtype)
            cells = tf.nn.weighted_cross_entropy_with_logits(
                labels=y_true, logits=y_pred, pos_weight=weights
            )
        return tf.reduce_mean(cells, axis=-1)

    def get_config(self):
        return {**super().get_config(), "positive_weights": self.positive_weights}


def fit_head(
    model, features: np.ndarray, labels: np.ndarray, seed: int = 0, balanced: bool = False
) -> float:
    """Initialise the new classification head by logistic regression on frozen pooled features.

    Fine-tuning from a fitted head instead of a random one ("linear probing, then fine-tuning",
    Kumar et al., 2022) spends the first steps improving features rather than undoing a random
    head's gradients. Multi-hot `labels` (multi-label) get one logistic regression per label
    (one-vs-rest, the sigmoid head's exact form). `balanced` weighs classes as the run's
    `--class-weight` does. Returns the probe's training accuracy (per label for multi-label).
    """
    from sklearn.linear_model import LogisticRegression

    class_weight = "balanced" if balanced else None
    if labels.ndim == 2:
        return _fit_one_vs_rest_head(model, features, labels, seed, class_weight)
    probe = LogisticRegression(max_iter=2000, random_state=seed, class_weight=class_weight)
    probe = probe.fit(features, labels)
    coefficients, intercept = probe.coef_, probe.intercept_
    if coefficients.shape[0] == 1:  # binary: scikit-learn keeps one row, the head has two
        coefficients = np.concatenate([-coefficients / 2, coefficients / 2])
        intercept = np.concatenate([-intercept / 2, intercept / 2])
    model.classifier.kernel.assign(coefficients.T.astype(np.float32))
    model.classifier.bias.assign(intercept.astype(np.float32))
    return float(probe.score(features, labels))


def _fit_one_vs_rest_head(model, features, labels, seed, class_weight) -> float:
    from sklearn.linear_model import LogisticRegression

    coefficients = np.zeros((labels.shape[1], features.shape[1]), dtype=np.float64)
    intercept = np.zeros(labels.shape[1], dtype=np.float64)
    correct = []
    for index, column in enumerate(labels.T.astype(np.int64)):
        if column.min() == column.max():
            # A label on every training text or on none: no boundary to fit, only its rate.
            rate = np.clip(column.mean(), 1e-3, 1 - 1e-3)
            intercept[index] = np.log(rate / (1 - rate))
            correct.append(1.0)
            continue
        probe = LogisticRegression(max_iter=2000, random_state=seed, class_weight=class_weight)
        probe.fit(features, column)
        coefficients[index], intercept[index] = probe.coef_[0], probe.intercept_[0]
        correct.append(probe.score(features, column))
    model.classifier.kernel.assign(coefficients.T.astype(np.float32))
    model.classifier.bias.assign(intercept.astype(np.float32))
    return float(np.mean(correct))
