"""Write a BERT checkpoint of any size with random weights and the packaged tokenizer, offline.

    python scripts/random_bert.py --output checkpoints/bert-base          # BertConfig() defaults
    python scripts/random_bert.py --output checkpoints/bert-small --layers 4 --hidden 256

The result is a Hugging Face folder (`config.json`, `tf_model.h5`, tokenizer files) that
`--model` accepts. With BERT-base's defaults (12 layers, hidden 768, 110M parameters) and the
packaged MiniLM tokenizer (BERT-base's 30,522-token uncased vocabulary) it measures what training
and export cost for the checkpoint most users bring, without downloading it. Its predictions mean
nothing: the weights are random.
"""

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "special_tokens_map.json",
)


def write_random_bert(output: Path, layers: int, hidden: int, heads: int, seed: int) -> Path:
    """Save a `TFBertModel` of the given size with random weights and the packaged tokenizer."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from transformers import BertConfig, TFBertModel

    from kerasbert.training.checkpoint import resolve_checkpoint
    from kerasbert.training.tfkeras import tf

    tf.random.set_seed(seed)
    config = BertConfig(
        num_hidden_layers=layers,
        hidden_size=hidden,
        num_attention_heads=heads,
        intermediate_size=4 * hidden,
    )
    model = TFBertModel(config)
    model(model.dummy_inputs, training=False)
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(output))
    packaged = Path(resolve_checkpoint("minilm"))
    for name in TOKENIZER_FILES:
        if (packaged / name).is_file():
            shutil.copyfile(packaged / name, output / name)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", required=True, help="Folder to write the checkpoint to.")
    parser.add_argument("--layers", type=int, default=12, help="Encoder layers (default 12).")
    parser.add_argument("--hidden", type=int, default=768, help="Hidden size (default 768).")
    parser.add_argument("--heads", type=int, default=12, help="Attention heads (default 12).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the random weights.")
    args = parser.parse_args(argv)
    if args.hidden % args.heads:
        parser.error(f"--hidden {args.hidden} must be a multiple of --heads {args.heads}.")
    path = write_random_bert(Path(args.output), args.layers, args.hidden, args.heads, args.seed)
    print(f"Wrote a random {args.layers}-layer, hidden-{args.hidden} BERT to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
