"""Tests for `kerasbert.benchmark.profile`: sorting a step's ops into categories."""

from __future__ import annotations

from kerasbert.benchmark.profile import op_category


def test_op_category_sorts_bert_step_ops():
    """Op names as TensorFlow's profiler reports them for a train step of
    TFBertForSequenceClassification, forward and backward."""
    layer = "tf_bert_for_sequence_classification/bert/encoder/layer_._2"
    cases = {
        ("AdamW/ResourceApplyAdam_32", "ResourceApplyAdam"): "optimizer",
        ("AdamW/mul_106", "Mul"): "optimizer",
        (f"{layer}/intermediate/dense/Tensordot/MatMul", "_MklMatMul"): "matmul",
        (f"gradient_tape/{layer}/output/dense/Tensordot/MatMul/MatMul_1", "_MklMatMul"): "matmul",
        (f"{layer}/attention/self/MatMul", "_MklBatchMatMulV2"): "matmul",
        (
            f"{layer}/attention/self/dropout_7/dropout/random_uniform/RandomUniform",
            "RandomUniform",
        ): "dropout",
        (f"gradient_tape/{layer}/output/dropout_9/dropout/SelectV2", "SelectV2"): "dropout",
        (f"{layer}/attention/self/Softmax", "_MklSoftmax"): "attention",
        (f"{layer}/intermediate/Erfc", "Erfc"): "feed_forward",
        (f"{layer}/attention/output/LayerNorm/batchnorm/mul_2", "Mul"): "layer_norm",
        ("tf_bert_for_sequence_classification/bert/embeddings/Gather", "ResourceGather"): "other",
    }
    for (name, op_type), category in cases.items():
        assert op_category(name, op_type, "AdamW") == category, name
