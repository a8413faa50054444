"""Names that the training side and the predictor must agree on, in a module that imports nothing.

The predictor reads files and feeds ONNX models without TensorFlow; the training side writes those
files and builds those models. Both take these names from here, so they cannot drift apart.
"""

from enum import Enum


class Task(str, Enum):
    """What a model decides per text: one label (`single_label`) or a set of labels
    (`multi_label`).

    A `str`, so `Task.MULTI_LABEL == "multi_label"`, and it is written to JSON (the run's data
    summary and metrics, the export's `kerasbert.json`) as that plain string.

    Example:
    >>> Task("multi_label") is Task.MULTI_LABEL, f"{Task.SINGLE_LABEL}"
    (True, 'single_label')
    """

    SINGLE_LABEL = "single_label"
    MULTI_LABEL = "multi_label"

    # Python 3.10's str-mixin enums print as `Task.MULTI_LABEL`; messages and CSV cells want the
    # value (enum.StrEnum, which does this, needs 3.11).
    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


# Column names that identify a table's text and label columns when they are not named explicitly.
# Training and prediction (`kerasbert.common.columns`) take the text column only when it is the one
# column of these present: a wrong guess would train or classify the wrong field without any
# error, and a model classifies files like those it was trained on only if both sides guess alike.
TEXT_COLUMN_NAMES = (
    "text",
    "sentence",
    "content",
    "review",
    "body",
    "document",
    "article",
    "headline",
)
LABEL_COLUMN_NAMES = ("label", "labels", "category", "class", "target")
# Column-name pairs of sentence-pair data sets (GLUE, SNLI, SQuAD-style, Quora, retrieval sets),
# first text then second text. Training (when no text column is named) and a model of pairs take a
# pair only when exactly one of these pairs is present, for the same reason as above.
TEXT_PAIR_COLUMN_NAMES = (
    ("sentence1", "sentence2"),
    ("question", "sentence"),
    ("premise", "hypothesis"),
    ("text_a", "text_b"),
    ("question1", "question2"),
    ("query", "document"),
    ("text", "text_pair"),
)
# Separators tried, in this order, when one label cell may hold several labels ("sport|tech").
LABEL_SEPARATORS = (",", ";", "|")

# Inputs of the ONNX model, in the order the graph takes them. The tf.data pipeline feeds the first
# two for single texts (BERT's segment ids default to zeros) and all three for text pairs; an export
# takes all its model uses, and the predictor feeds segment ids 0 for single texts.
MODEL_INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
PIPELINE_INPUT_NAMES = MODEL_INPUT_NAMES[:2]
LOGITS = "logits"
