"""The optimizer of a fine-tuning run: AdamW with linear warm-up and decay, in fewer memory passes.

`FusedAdamW` is tf-keras AdamW's algorithm with the update fused into TensorFlow's Adam kernel and
embedding tables updated only on the rows Adam can move; `WarmupLinearDecay` is the usual BERT
schedule. Both are registered Keras serializables, so a saved optimizer state reloads.
"""

from __future__ import annotations

from kerasbert.training.tfkeras import keras, tf

__all__ = ["FusedAdamW", "WarmupLinearDecay", "NO_DECAY"]

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
    """tf-keras AdamW with the same maths in fewer passes over memory.

    Same algorithm and hyper-parameters (per-variable gradient clipping, decoupled weight decay,
    bias-corrected moments, epsilon outside the square root). On a CPU the update is memory-bound
    (22.7M weights, each with two moments and a gradient) and tf-keras spends many elementwise
    passes per variable. Here:

    - a dense gradient's Adam update is TensorFlow's fused `ResourceApplyAdam` kernel;
    - an embedding table's sparse gradient updates only the rows Adam can move: rows in this batch
      and rows that had a gradient before (so may have non-zero moments). Any other row has zero
      moments and a zero gradient, so its Adam step is exactly zero; tf-keras computes those zeros
      for all 30k rows of the word-embedding table every step. Each table keeps a per-row flag of
      the rows it has moved (an optimizer variable, saved with the others); weight decay still
      reaches every row;
    - clipping takes each gradient's norm in one reduction (`l2_loss`) and scales only gradients
      above the threshold (few are); weight decay is one multiply per variable.

    Weights after several steps match tf-keras AdamW to float rounding (tests/test_optimizer.py);
    the step time it saves is in docs/PERFORMANCE.md.

    AMSGrad and TPU replicas take tf-keras' own update. Tables on a GPU, XLA-compiled updates
    (tf-keras compiles them when a GPU is present) and `row_updates=False` (set for an
    XLA-compiled train step) take the dense fused update: XLA cannot take the rows'
    data-dependent shapes.
    """

    def __init__(self, *args, row_updates: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.row_updates = row_updates

    def build(self, var_list):
        super().build(var_list)
        if hasattr(self, "_moved_rows"):
            return
        moved_rows = {}
        # XLA (a compiled train step, or tf-keras' compiled update when a GPU is present) cannot
        # take the rows' data-dependent shapes.
        if self.row_updates and not self.jit_compile and not self.amsgrad and not _on_tpu():
            for variable in filter(_is_cpu_table, var_list):
                moved_rows[self._var_key(variable)] = self.add_variable_from_reference(
                    variable,
                    "moved_rows",
                    initial_value=_rows_with_moments(self._slots(variable)),
                )
        self._set_moved_rows(moved_rows)

    @tf.__internal__.tracking.no_automatic_dependency_tracking
    def _set_moved_rows(self, moved_rows: dict) -> None:
        # Keyed like tf-keras' own slots. Not tracked here: `add_variable_from_reference` already
        # tracks (and checkpoints) each flag variable with the optimizer's other variables.
        self._moved_rows = moved_rows

    def get_config(self) -> dict:
        return {**super().get_config(), "row_updates": self.row_updates}

    def _slots(self, variable):
        index = self._index_dict[self._var_key(variable)]
        return self._momentums[index], self._velocities[index]

    def _clip_gradients(self, grads):
        if not (self.clipnorm and self.clipnorm > 0) or _on_tpu():
            return super()._clip_gradients(grads)
        return [None if grad is None else _clip_by_norm(grad, self.clipnorm) for grad in grads]

    def _apply_weight_decay(self, variables):
        if self.weight_decay is None or _on_tpu():
            return super()._apply_weight_decay(variables)

        def decay(variable):
            if self._use_weight_decay(variable):
                lr = tf.cast(self.learning_rate, variable.dtype)
                wd = tf.cast(self.weight_decay, variable.dtype)
                variable.assign(variable * (1 - wd * lr))

        def decay_all(distribution, variables, **kwargs):
            for variable in variables:
                distribution.extended.update(variable, decay, group=False)

        tf.__internal__.distribute.interim.maybe_merge_call(
            decay_all, self._distribution_strategy, variables
        )

    def update_step(self, gradient, variable):
        if self.amsgrad or _on_tpu():
            return super().update_step(gradient, variable)
        dtype = variable.dtype
        m, v = self._slots(variable)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1_power, beta_2_power = tf.pow(beta_1, step), tf.pow(beta_2, step)
        lr = tf.cast(self.learning_rate, dtype)
        epsilon = tf.cast(self.epsilon, dtype)
        moved_rows = self._moved_rows.get(self._var_key(variable))
        if isinstance(gradient, tf.IndexedSlices) and moved_rows is not None:
            alpha = lr * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
            return _adam_on_rows(
                gradient, variable, m, v, moved_rows, alpha, beta_1, beta_2, epsilon
            )
        return tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=m.handle,
            v=v.handle,
            beta1_power=beta_1_power,
            beta2_power=beta_2_power,
            lr=lr,
            beta1=beta_1,
            beta2=beta_2,
            epsilon=epsilon,
            grad=tf.cast(gradient, dtype),
        )


# Variables this tall are embedding tables, whose gradients are sparse (`tf.gather` rows).
TABLE_MIN_ROWS = 1024


def _is_cpu_table(variable) -> bool:
    """A tall matrix on a CPU: there the dense update is memory-bound and rows pay; a GPU's
    memory makes the dense update nearly free and the rows' data-dependent shapes a sync."""
    device = tf.DeviceSpec.from_string(variable.device or "/device:CPU:0")
    rows = variable.shape[0] if variable.shape.rank else 0
    return variable.shape.rank == 2 and rows >= TABLE_MIN_ROWS and device.device_type != "GPU"


def _rows_with_moments(slots) -> tf.Tensor:
    """1.0 for each row with a non-zero moment, else 0.0: the rows that have moved before.

    Zero for a new optimizer; when moments were restored from a checkpoint saved without the flags,
    this recovers them (one pass over the moments, once).
    """
    nonzero = [tf.reduce_any(tf.not_equal(slot, 0), axis=1) for slot in slots]
    return tf.cast(tf.logical_or(*nonzero), tf.float32)


def _clip_by_norm(gradient, clip_norm: float):
    """`tf.clip_by_norm` in one pass when nothing is clipped (most gradients, most steps): one
    fused sum of squares, then a scaling pass only if the norm exceeds `clip_norm`."""
    sparse = isinstance(gradient, tf.IndexedSlices)
    values = gradient.values if sparse else gradient
    norm = tf.sqrt(2 * tf.nn.l2_loss(tf.cast(values, tf.float32)))
    # Below the threshold the scale would be exactly 1: skipping the multiply changes no bit.
    values = tf.cond(
        norm > clip_norm,
        lambda: values * tf.cast(clip_norm / norm, values.dtype),
        lambda: values,
    )
    if sparse:
        return tf.IndexedSlices(values, gradient.indices, gradient.dense_shape)
    return values


def _adam_on_rows(gradient, variable, m, v, moved_rows, alpha, beta_1, beta_2, epsilon):
    """`ResourceApplyAdam`'s update on the rows of `variable` it can change.

    Those are the rows in `gradient` and the rows flagged in `moved_rows` (rows that had a
    gradient at an earlier step): any other row has zero moments and a zero gradient, so the
    kernel would move it by exactly 0. `gradient`'s indices are unique (tf-keras sums duplicates
    first). Same arithmetic, in the same order, as the kernel.
    """
    indices = tf.cast(gradient.indices, tf.int32)
    moved_rows.scatter_update(tf.IndexedSlices(tf.ones_like(indices, tf.float32), indices))
    moving = moved_rows.read_value() > 0
    rows = tf.cast(tf.where(moving)[:, 0], tf.int32)
    position = tf.cumsum(tf.cast(moving, tf.int32)) - 1
    grad = tf.math.unsorted_segment_sum(
        tf.cast(gradient.values, variable.dtype), tf.gather(position, indices), tf.size(rows)
    )
    m_rows = tf.gather(m, rows)
    v_rows = tf.gather(v, rows)
    m_rows += (grad - m_rows) * (1 - beta_1)
    v_rows += (tf.square(grad) - v_rows) * (1 - beta_2)
    step = (m_rows * alpha) / (tf.sqrt(v_rows) + epsilon)
    return tf.group(
        m.scatter_update(tf.IndexedSlices(m_rows, rows)),
        v.scatter_update(tf.IndexedSlices(v_rows, rows)),
        variable.scatter_sub(tf.IndexedSlices(step, rows)),
    )


def _on_tpu() -> bool:
    return type(tf.distribute.get_strategy()).__name__.startswith("TPU")
