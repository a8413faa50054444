"""Names that the training side and the predictor must agree on, in a module that imports nothing.

The predictor reads files and feeds ONNX models without TensorFlow; the training side writes those
files and builds those models. Both take these names from here, so they cannot drift apart.
"""

# Column names tried, in order, when a table's text or label column is not named explicitly.
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

# Inputs of the ONNX model, in the order the graph takes them. The tf.data pipeline feeds the first
# two (BERT's segment ids default to zeros for single texts); an export takes those its model uses.
MODEL_INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
PIPELINE_INPUT_NAMES = MODEL_INPUT_NAMES[:2]
LOGITS = "logits"
