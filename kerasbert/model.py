"""The classifier: build `TFBertForSequenceClassification` for a run, compile it, fit its head.

`build_classifier` loads the pretrained encoder with a new head, `compile_classifier` attaches the
optimizer (`kerasbert.optimizer`), loss and metrics, and `fit_head` starts the head from a logistic
regression on the pretrained features instead of random weights.
"""

from __future__ import annotations

import numpy as np

from kerasbert.checkpoint import load_classifier
from kerasbert.optimizer import NO_DECAY, FusedAdamW, WarmupLinearDecay
from kerasbert.tfkeras import keras

__all__ = ["build_classifier", "compile_classifier", "fit_head"]


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
        learning_rate=schedule,
        weight_decay=weight_decay,
        epsilon=1e-8,
        clipnorm=1.0,
        row_updates=not jit_compile,
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
