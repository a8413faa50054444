"""Word attributions: occlusion on an export (`kerasbert.inference.explain`), integrated gradients
on a run (`kerasbert.evaluation.attributions`), their pages (`kerasbert.inference.highlight`) and
`kerasbert explain`.

The must-hold check trains `learnable_checkpoint` on the keyword task (`conftest.tiny_texts`: one
class keyword decides the label among filler words) and asks both methods to rank the keyword
first on texts holding exactly one.
"""

from __future__ import annotations

import html
import json
import random
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    CLASS_WORDS,
    FILLER,
    LEARNABLE_SETTINGS,
    VOCAB,
    RunAndExport,
    train_evaluate_export,
)
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

from kerasbert.cli.main import main
from kerasbert.common.decision import to_probabilities
from kerasbert.inference.explain import (
    OCCLUSION,
    Attribution,
    Explanation,
    WordEncoder,
)
from kerasbert.inference.highlight import to_html, to_terminal


def bert_tokenizer(vocabulary: list[str]) -> Tokenizer:
    """A BERT WordPiece tokenizer over `vocabulary`, built in memory (no TensorFlow)."""
    tokenizer = Tokenizer(
        models.WordPiece(
            {token: index for index, token in enumerate(vocabulary)}, unk_token="[UNK]"
        )
    )
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.BertProcessing(
        ("[SEP]", vocabulary.index("[SEP]")), ("[CLS]", vocabulary.index("[CLS]"))
    )
    return tokenizer


def keyword_texts(count: int, seed: int) -> list[tuple[str, str, str]]:
    """`count` (text, keyword, label) rows: 3–12 filler words and exactly one class keyword."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        label = sorted(CLASS_WORDS)[index % len(CLASS_WORDS)]
        keyword = rng.choice(CLASS_WORDS[label])
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 12))]
        words.insert(rng.randrange(len(words) + 1), keyword)
        rows.append((" ".join(words) + " .", keyword, label))
    return rows


def test_words_keep_their_spans_in_the_original_text():
    encoder = WordEncoder(bert_tokenizer(VOCAB), max_length=12)
    text = "The  Market, shares!"
    (encoding,) = encoder.encode([text])
    assert [word.text for word in encoding.words] == ["The", "Market", ",", "shares", "!"]
    for word in encoding.words:
        assert text[word.start : word.end] == word.text
    # "shares" is two pieces (share is not in the vocabulary: sha... no; "##s" is): each word's
    # pieces are its own positions, [CLS] at 0 belongs to none.
    positions = [position for word in encoding.words for position in word.positions]
    assert positions == sorted(positions) and 0 not in positions
    assert len(encoding.ids) == positions[-1] + 2  # the last word, then [SEP]

    first, second = "bank profit", "the game ."
    (pair,) = encoder.encode([first], [second])
    assert [(word.text, word.segment) for word in pair.words] == [
        ("bank", 0),
        ("profit", 0),
        ("the", 1),
        ("game", 1),
        (".", 1),
    ]
    for word in pair.words:
        assert (first, second)[word.segment][word.start : word.end] == word.text
    assert pair.segments == (0, 0, 0, 0, 1, 1, 1, 1)


def test_truncation_leaves_out_words_the_model_never_sees():
    encoder = WordEncoder(bert_tokenizer(VOCAB), max_length=5)
    (encoding,) = encoder.encode(["a b c d e f"])
    # [CLS] a b c [SEP]: "b" and the rest are cut ("b" is [UNK], still one word).
    assert [word.text for word in encoding.words] == ["a", "b", "c"]
    assert len(encoding.ids) == 5
    assert encoder.pad_id == VOCAB.index("[PAD]")


def explanation(text: str, scores: tuple[float, ...], text_pair: str | None = None):
    encoder = WordEncoder(bert_tokenizer(VOCAB), max_length=40)
    (encoding,) = encoder.encode([text], None if text_pair is None else [text_pair])
    return Explanation(
        text, text_pair, encoding.words, (Attribution("sport", 0.9, scores),), OCCLUSION
    )


def test_html_page_is_self_contained_and_shows_every_word():
    text = "the team <b>won</b> & more"
    words = WordEncoder(bert_tokenizer(VOCAB), 40).encode([text])[0].words
    weights = {"team": 0.8, "won": -0.3, "the": 0.1}
    item = explanation(text, tuple(weights.get(word.text, 0.0) for word in words))
    page = to_html([item])
    assert "http://" not in page and "https://" not in page and "<script" not in page
    for word in item.words:
        assert f">{html.escape(word.text)}</span>" in page
    # The strongest supporting word at full green; an opposing one in red, weaker.
    assert 'style="background: rgba(22, 163, 74, 1.0)">team</span>' in page
    assert 'style="background: rgba(220, 38, 38, 0.375)">' in page
    assert "<b>" not in page  # the text is escaped, not markup
    assert "sport" in page and "0.9000" in page


def test_terminal_colours_only_when_asked():
    item = explanation("the team won", (0.05, 0.9, -0.4), text_pair=None)
    plain = to_terminal([item], colour=False)
    assert "\x1b[" not in plain and "the team won" in plain
    assert "top: team +0.9000, the +0.0500, won -0.4000" in plain
    coloured = to_terminal([item], colour=True)
    assert "\x1b[30;48;5;46mteam\x1b[0m" in coloured  # the strongest green
    assert "\x1b[30;48;5;" in coloured.split("team")[1]  # "won" is red


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["{missing}", "text"], "does not exist"),
        (["{empty}", "text"], "neither an export directory"),
        (["{empty}", "text", "--output", "x.txt"], "write a .html page or a .jsonl file"),
    ],
)
def test_bad_paths_exit_2_with_the_fix(tmp_path, capsys, arguments, message):
    (tmp_path / "empty").mkdir()
    paths = {"missing": tmp_path / "missing", "empty": tmp_path / "empty"}
    arguments = [argument.format(**paths) for argument in arguments]
    assert main(["explain", *arguments]) == 2
    assert message in capsys.readouterr().err


@pytest.fixture(scope="module")
def keyword_model(learnable_checkpoint, keyword_csv, tmp_path_factory) -> RunAndExport:
    """The keyword task learnt by `learnable_checkpoint` (seeded), evaluated and exported."""
    return train_evaluate_export(
        tmp_path_factory.mktemp("explain"),
        "keyword",
        learnable_checkpoint,
        keyword_csv,
        seed=7,
        # float32 on every CPU: `auto` trains in bfloat16 where the CPU has it, and its rounding
        # differs between CPUs (and runs), which moved the learnt model enough to flip a ranking.
        precision="fp32",
        **LEARNABLE_SETTINGS,
    )


def keyword_first_share(explanations, rows) -> float:
    firsts = [item.top(1)[0][0] == keyword for item, (_, keyword, _) in zip(explanations, rows)]
    return sum(firsts) / len(firsts)


@pytest.mark.slow
def test_occlusion_ranks_the_deciding_keyword_first(keyword_model):
    from kerasbert.inference.predictor import OnnxClassifier

    classifier = OnnxClassifier(keyword_model.export_dir, variant="fp32")
    rows = keyword_texts(60, seed=11)
    explanations = classifier.explain([text for text, _, _ in rows])
    assert [item.attributions[0].label for item in explanations] == classifier.predict(
        [text for text, _, _ in rows]
    )
    assert keyword_first_share(explanations, rows) >= 0.95
    # The base probability is the model's own (before any calibration), and a score is its
    # drop when the word is masked.
    logits = classifier._logits(classifier._encoder.encode([rows[0][0]]))
    probabilities = to_probabilities(logits, classifier.task)[0]
    first = explanations[0].attributions[0]
    assert first.probability == pytest.approx(probabilities.max(), abs=1e-6)
    assert max(first.scores) <= first.probability


@pytest.mark.slow
def test_occlusion_runs_every_variant_in_shared_batches(keyword_model):
    from kerasbert.inference.predictor import OnnxClassifier

    classifier = OnnxClassifier(keyword_model.export_dir, variant="fp32", batch_size=64)
    texts = [text for text, _, _ in keyword_texts(3, seed=5)]
    words = WordEncoder.from_file(keyword_model.export_dir / "tokenizer.json", 40)
    encodings = words.encode(texts)
    # The words' encoding is the predictor's, token for token.
    assert [list(item.ids) for item in encodings] == classifier._encoder.encode(texts)
    variants = sum(len(item.words) + 1 for item in encodings)
    session, calls = classifier._session, []

    class CountingSession:
        def run(self, outputs, feeds):
            calls.append(len(feeds["input_ids"]))
            return session.run(outputs, feeds)

    classifier._session = CountingSession()
    classifier.explain(texts)
    assert sum(calls) == variants and len(calls) == -(-variants // 64)
    calls.clear()
    classifier.batch_size = 4
    classifier.explain(texts)
    assert sum(calls) == variants and max(calls) == 4 and len(calls) >= -(-variants // 4)


@pytest.mark.slow
def test_integrated_gradients_rank_the_keyword_first_and_add_up(keyword_model):
    from kerasbert.evaluation.attributions import integrated_gradients

    rows = keyword_texts(40, seed=11)
    explanations = integrated_gradients(keyword_model.run_dir, [text for text, _, _ in rows])
    assert keyword_first_share(explanations, rows) >= 0.95
    errors = np.array([item.attributions[0].completeness_error for item in explanations])
    assert (errors <= 0.05).all(), errors.max()
    # Asking for another label explains that one, with its own (smaller) probability.
    other = next(label for label in sorted(CLASS_WORDS) if label != rows[0][2])
    (asked,) = integrated_gradients(keyword_model.run_dir, [rows[0][0]], labels=other)
    assert asked.attributions[0].label == other
    assert asked.attributions[0].probability < explanations[0].attributions[0].probability


@pytest.mark.slow
def test_explain_command_writes_a_page_and_json_lines(keyword_model, tmp_path, capsys):
    rows = keyword_texts(3, seed=2)
    inputs = tmp_path / "texts.txt"
    inputs.write_text("\n".join(text for text, _, _ in rows) + "\n", encoding="utf-8")
    page = tmp_path / "explanations.html"
    export = str(keyword_model.export_dir)
    assert main(["explain", export, "--input", str(inputs), "--output", str(page)]) == 0
    written = page.read_text(encoding="utf-8")
    assert "http://" not in written and "https://" not in written
    for text, _, _ in rows:
        assert all(f">{word}</span>" in written for word in text.split())
    lines = tmp_path / "explanations.jsonl"
    assert main(["explain", export, rows[0][0], "--output", str(lines), "--label", "tech"]) == 0
    (record,) = [json.loads(line) for line in lines.read_text(encoding="utf-8").splitlines()]
    assert record["attributions"][0]["label"] == "tech"
    assert [word["text"] for word in record["words"]] == rows[0][0].split()
    capsys.readouterr()
    assert main(["explain", export, rows[0][0], "--method", "ig"]) == 2
    assert "integrated gradients need the run directory" in capsys.readouterr().err
    assert main(["explain", export, rows[0][0], "--label", "weather"]) == 2
    assert "not one of the model's labels" in capsys.readouterr().err


def test_words_of_a_real_tokenizer_file(tmp_path: Path):
    path = tmp_path / "tokenizer.json"
    bert_tokenizer(VOCAB).save(str(path))
    (encoding,) = WordEncoder.from_file(path, 40).encode(["Profit, game"])
    assert [(word.text, word.start, word.end) for word in encoding.words] == [
        ("Profit", 0, 6),
        (",", 6, 7),
        ("game", 8, 12),
    ]


def test_report_picks_the_surest_mistakes_then_the_surest_right_answers_per_label():
    from kerasbert.evaluation.explained import pick_texts

    y_true = np.array([0, 0, 1, 1, 2, 2, 0])
    probabilities = np.array(
        [
            [0.9, 0.05, 0.05],  # right, 0.9
            [0.2, 0.7, 0.1],  # mistake, 0.7
            [0.1, 0.8, 0.1],  # right, 0.8
            [0.05, 0.95, 0.0],  # right, 0.95
            [0.6, 0.1, 0.3],  # mistake, 0.6
            [0.1, 0.1, 0.8],  # right, 0.8
            [0.5, 0.3, 0.2],  # right, 0.5
        ]
    )
    picked = pick_texts(y_true, probabilities, ["a", "b", "c"], mistakes=1, correct_per_label=2)
    assert [(item["index"], item["kind"]) for item in picked] == [
        (1, "mistake"),
        (0, "correct"),
        (6, "correct"),
        (3, "correct"),
        (2, "correct"),
        (5, "correct"),
    ]
    assert picked[0]["true"] == ["a"] and picked[0]["predicted"] == ["b"]
    # Multi-label: a text is right only when its whole set is; it counts for each of its labels.
    truth = np.array([[1, 1], [1, 0], [0, 1]])
    sigmoid = np.array([[0.9, 0.8], [0.7, 0.6], [0.2, 0.9]])
    picked = pick_texts(truth, sigmoid, ["x", "y"], np.array([0.5, 0.5]), correct_per_label=1)
    assert [(item["index"], item["kind"]) for item in picked] == [
        (1, "mistake"),
        (0, "correct"),
        (2, "correct"),
    ]
    assert picked[0]["predicted"] == ["x", "y"] and picked[0]["confidence"] == pytest.approx(0.1)


@pytest.mark.slow
def test_evaluation_explains_the_report_texts_and_the_sums_add_up(keyword_model):
    from kerasbert.evaluation.evaluate import evaluate_run
    from kerasbert.training.rundir import RunDir

    metrics = evaluate_run(keyword_model.run_dir, plots=True)
    run = RunDir(keyword_model.run_dir)
    summary = metrics["explanations"]
    records = [json.loads(line) for line in run.explanations.read_text("utf-8").splitlines()]
    assert summary["texts"] == len(records) > 0
    assert summary["method"] == "integrated_gradients"
    assert summary["completeness_within_tolerance"] >= 0.95
    test = run.read_split("test")
    for record in records:
        # Each record is the test text it names, explained for the label the model gave.
        assert record["text"] == test.texts[record["index"]]
        assert record["attributions"][0]["label"] == record["predicted"][0]
        if record["kind"] == "correct":
            assert record["true"] == record["predicted"]
            # On the keyword task the deciding word of a right answer is its class keyword.
            scores = record["attributions"][0]["scores"]
            top = record["words"][int(np.argmax(scores))]["text"]
            assert top in CLASS_WORDS[record["true"][0]]
    page = run.explanations_page.read_text("utf-8")
    assert "http://" not in page and "https://" not in page
    assert page.count('<h2 class="note">') == len(records)
    report = run.report.read_text("utf-8")
    assert "## Why: the words behind a few predictions" in report
    assert f"({run.explanations_page.name})" in report
