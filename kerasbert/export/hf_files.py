"""The Hugging Face files of an export: `config.json`, `tokenizer_config.json` and
`special_tokens_map.json`, beside `tokenizer.json`.

With them, Python transformers (`AutoConfig`, `AutoTokenizer`) and transformers.js
(`pipeline("text-classification", folder, {subfolder: "", model_file_name: "model", dtype:
"fp32"})`) open an export folder as they open a model folder of the Hub, with no kerasbert code.
Every value comes from the run's saved model (`model/config.json` and its tokenizer files, a
`save_pretrained` folder) or from the export's `kerasbert.json`:

- `config.json`: the model type, the classification architecture, the labels both ways, the
  problem type (transformers.js takes a sigmoid for `multi_label_classification`, a softmax
  otherwise) and the encoder's shape.
- `tokenizer_config.json`: `model_max_length` is the export's max length (transformers.js
  truncates there, and without it not at all); the truncation side is the export's
  (`tail` cuts on the left); the lowercasing and special tokens are the run's tokenizer's.
- `special_tokens_map.json`: the special tokens alone (Python transformers reads it;
  transformers.js does not).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerasbert.common.errors import InputError
from kerasbert.common.files import write_json
from kerasbert.inference.exportdir import (
    HF_CONFIG_FILE,
    SPECIAL_TOKENS_FILE,
    TOKENIZER_CONFIG_FILE,
    ExportDir,
    ExportInfo,
)
from kerasbert.training.rundir import RunDir

__all__ = ["SavedTokenizer", "hf_config", "special_tokens", "tokenizer_config", "write_hf_files"]

# The export's graph is a sequence classifier whatever class the checkpoint was saved as: its
# output is the classification head's logits.
ARCHITECTURE = "BertForSequenceClassification"
TOKENIZER_CLASS = "BertTokenizer"
# The encoder's shape, copied from the run's model config (transformers' BertConfig names).
ENCODER_KEYS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
    "type_vocab_size",
    "layer_norm_eps",
    "pad_token_id",
)
SPECIAL_TOKEN_KEYS = ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
# BERT's names for its special tokens: used only for a model folder saved without its tokenizer
# files, and only those the vocabulary holds.
BERT_SPECIAL_TOKENS = {
    "unk_token": "[UNK]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "cls_token": "[CLS]",
    "mask_token": "[MASK]",
}
# Settings of the run's tokenizer that say how it normalizes text, copied as they are.
NORMALIZATION_KEYS = ("strip_accents", "tokenize_chinese_chars", "clean_up_tokenization_spaces")
# The flat folder holds no `model_quantized.onnx`, which transformers.js's browser default
# (dtype q8) would look for; fp32 adds no suffix, so `model_file_name` names the file exactly.
TRANSFORMERS_JS_CONFIG = {"dtype": "fp32"}


def write_hf_files(run: RunDir, export: ExportDir, info: ExportInfo | None = None) -> None:
    """Write `config.json`, `tokenizer_config.json` and `special_tokens_map.json` into `export`.

    Args:
        run: the run the export was made from (its `model/` folder is read).
        export: the export directory; its `tokenizer.json` must be written already.
        info: the export's `kerasbert.json`, checked (default: read from `export`).

    Raises:
        InputError: the run's model config lacks a key the files need.

    Example:
    >>> write_hf_files(RunDir("runs/news"), ExportDir("exported/news"))  # doctest: +SKIP
    """
    info = info if info is not None else export.read_info()
    write_json(export.hf_config, hf_config(_read_json(run.model / HF_CONFIG_FILE), info))
    saved = SavedTokenizer.read(run.model, export.tokenizer)
    write_json(export.tokenizer_config, tokenizer_config(saved, info))
    write_json(export.special_tokens_map, special_tokens(saved))


def hf_config(model_config: dict[str, Any], info: ExportInfo) -> dict[str, Any]:
    """`config.json`: the run's model config's type and encoder shape, the export's labels and
    problem type."""
    missing = [key for key in ("model_type", *ENCODER_KEYS) if key not in model_config]
    if missing:
        raise InputError(
            f"The run's model config lacks {', '.join(missing)}; it was not saved by "
            "`kerasbert train`. Re-train the run."
        )
    labels = list(info.labels)
    return {
        "architectures": [ARCHITECTURE],
        "model_type": model_config["model_type"],
        "id2label": {str(index): label for index, label in enumerate(labels)},
        "label2id": {label: index for index, label in enumerate(labels)},
        "problem_type": (
            "multi_label_classification" if info.multi_label else "single_label_classification"
        ),
        **{key: model_config[key] for key in ENCODER_KEYS},
        "transformers.js_config": dict(TRANSFORMERS_JS_CONFIG),
    }


@dataclass(frozen=True)
class SavedTokenizer:
    """What the run's saved tokenizer says: its `tokenizer_config.json` and
    `special_tokens_map.json` where they exist, else what its `tokenizer.json` shows.

    Args:
        settings: the saved tokenizer's settings (`do_lower_case`, normalization, ...).
        specials: each special token's role (`pad_token`, ...) and text.
    """

    settings: dict[str, Any]
    specials: dict[str, str]

    @classmethod
    def read(cls, model_dir: Path, tokenizer_json: Path) -> SavedTokenizer:
        """From a `save_pretrained` folder `model_dir`, and the `tokenizer_json` it was saved
        with for what the folder does not say."""
        settings = _read_json_if_present(model_dir / TOKENIZER_CONFIG_FILE)
        mapped = _read_json_if_present(model_dir / SPECIAL_TOKENS_FILE)
        specials = {}
        for key in SPECIAL_TOKEN_KEYS:
            value = settings.get(key, mapped.get(key))
            # save_pretrained writes a token as a string or as an AddedToken's fields.
            value = value.get("content") if isinstance(value, dict) else value
            if isinstance(value, str):
                specials[key] = value
        if "do_lower_case" not in settings or len(specials) < len(SPECIAL_TOKEN_KEYS):
            shown = _tokenizer_json_facts(tokenizer_json)
            settings = {**shown["settings"], **settings}
            specials = {**shown["specials"], **specials}
        return cls(settings, specials)


def tokenizer_config(saved: SavedTokenizer, info: ExportInfo) -> dict[str, Any]:
    """`tokenizer_config.json`: the tokenizer class, the run's lowercasing and normalization,
    the export's max length and truncation side, and the special tokens."""
    config: dict[str, Any] = {"tokenizer_class": TOKENIZER_CLASS}
    if "do_lower_case" in saved.settings:
        config["do_lower_case"] = saved.settings["do_lower_case"]
    config.update({key: saved.settings[key] for key in NORMALIZATION_KEYS if key in saved.settings})
    config.update(
        model_max_length=info.max_length,
        # The predictor pads on the right; a text cut at its tail loses its start (the left).
        padding_side="right",
        truncation_side="left" if info.truncation == "tail" else "right",
        **saved.specials,
    )
    return config


def special_tokens(saved: SavedTokenizer) -> dict[str, str]:
    """`special_tokens_map.json`: each special token's role and text."""
    return dict(saved.specials)


def _tokenizer_json_facts(path: Path) -> dict[str, dict[str, Any]]:
    """Lowercasing and the special tokens as a `tokenizer.json` shows them (BERT's normalizer,
    BERT's token names where its vocabulary holds them)."""
    tokenizer = _read_json(path)
    normalizer = tokenizer.get("normalizer") or {}
    settings = (
        {"do_lower_case": bool(normalizer.get("lowercase"))}
        if normalizer.get("type") == "BertNormalizer"
        else {}
    )
    vocabulary = (tokenizer.get("model") or {}).get("vocab") or {}
    specials = {key: token for key, token in BERT_SPECIAL_TOKENS.items() if token in vocabulary}
    return {"settings": settings, "specials": specials}


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; re-train the run or re-export it.")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path} is not valid JSON ({error}).") from error
    if not isinstance(value, dict):
        raise InputError(f"{path} must hold a JSON object.")
    return value


def _read_json_if_present(path: Path) -> dict[str, Any]:
    return _read_json(path) if path.is_file() else {}
