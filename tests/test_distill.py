"""Distillation into fewer layers (`kerasbert.training.distill`, `kerasbert.experiments.distill`,
`kerasbert.benchmark.distill`) on tiny models: which teacher layers a student starts from, the
loss, a student run end to end with extra texts, and the comparison table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    LEARNABLE_SETTINGS,
    VOCAB,
    save_tiny_bert,
    tiny_config,
    tiny_texts,
    write_csv,
)

from kerasbert.common.errors import InputError
from kerasbert.config import DistillSettings, TrainConfig
from kerasbert.training.checkpoint import load_classifier, select_layers

LABELS = ["business", "sport", "tech"]


def _deep_checkpoint(directory: Path, layers: int, **overrides) -> Path:
    """A tiny learnable checkpoint with `layers` encoder layers."""
    return save_tiny_bert(
        directory,
        VOCAB,
        seed=3,
        hidden_size=64,
        num_attention_heads=4,
        intermediate_size=128,
        initializer_range=0.1,
        num_hidden_layers=layers,
        **overrides,
    )


def test_select_layers_keeps_the_first_and_last_and_spreads_the_rest() -> None:
    assert select_layers(6, 3) == [0, 2, 5]
    assert select_layers(6, 2) == [0, 5]
    assert select_layers(6, 1) == [5]
    assert select_layers(6, 4) == [0, 1, 3, 5]
    assert select_layers(12, 4) == [0, 3, 7, 11]
    assert select_layers(4, 4) == [0, 1, 2, 3]
    with pytest.raises(InputError, match="1 to 6"):
        select_layers(6, 7)


def test_student_starts_from_the_named_teacher_layers(tmp_path: Path) -> None:
    teacher_dir = save_tiny_bert(tmp_path / "teacher", VOCAB, LABELS, seed=1, num_hidden_layers=4)
    teacher = load_classifier(str(teacher_dir), LABELS)
    student = load_classifier(str(teacher_dir), LABELS, num_layers=2)

    assert student.config.num_hidden_layers == 2 and len(student.bert.encoder.layer) == 2
    assert student.layer_map == [0, 3] and student.kept_head
    for student_layer, teacher_index in zip(student.bert.encoder.layer, [0, 3]):
        expected = teacher.bert.encoder.layer[teacher_index].get_weights()
        actual = student_layer.get_weights()
        assert len(actual) == len(expected) == 16
        for left, right in zip(actual, expected):
            np.testing.assert_array_equal(left, right)
    # The layers left out differ from the ones kept (the comparison above is not vacuous).
    assert not np.array_equal(
        teacher.bert.encoder.layer[1].get_weights()[0],
        student.bert.encoder.layer[1].get_weights()[0],
    )
    for part in ("embeddings", "pooler"):
        for left, right in zip(
            getattr(student.bert, part).get_weights(), getattr(teacher.bert, part).get_weights()
        ):
            np.testing.assert_array_equal(left, right)
    np.testing.assert_array_equal(
        student.classifier.kernel.numpy(), teacher.classifier.kernel.numpy()
    )


def test_num_layers_beyond_the_checkpoint_is_refused(tmp_path: Path) -> None:
    teacher_dir = save_tiny_bert(tmp_path / "teacher", VOCAB, LABELS, seed=1, num_hidden_layers=2)
    with pytest.raises(InputError, match="--num-layers 3 does not fit"):
        load_classifier(str(teacher_dir), LABELS, num_layers=3)
    with pytest.raises(InputError, match="--num-layers"):
        TrainConfig(num_layers=0)


def test_distillation_loss_values() -> None:
    from kerasbert.training.distill import DistillationLoss

    teacher = np.array([[2.0, 0.0, -1.0]], np.float32)
    label = np.array([[0.0, 1.0, 0.0]], np.float32)
    rows = np.concatenate([teacher, label, [[1.0]]], axis=1)
    loss = DistillationLoss(3, temperature=2.0, alpha=0.5, multi_label=False)
    # The student equal to the teacher: no soft loss, only alpha × its cross-entropy on the label.
    same = float(loss.call(rows, teacher)[0])
    log_softmax = teacher[0] - np.log(np.exp(teacher[0]).sum())
    assert same == pytest.approx(0.5 * -log_softmax[1], rel=1e-5)
    # A student that disagrees pays T² × KL at temperature T on top.
    student = np.array([[0.0, 1.0, 0.0]], np.float32)
    p = np.exp(teacher[0] / 2) / np.exp(teacher[0] / 2).sum()
    q = np.exp(student[0] / 2) / np.exp(student[0] / 2).sum()
    cross = -(student[0][1] - np.log(np.exp(student[0]).sum()))
    expected = 4 * float(np.sum(p * np.log(p / q))) + 0.5 * cross
    assert float(loss.call(rows, student)[0]) == pytest.approx(expected, rel=1e-5)
    # Without labels (an extra text) only the teacher teaches.
    unlabelled = np.concatenate([teacher, np.zeros_like(label), [[0.0]]], axis=1)
    assert float(loss.call(unlabelled, teacher)[0]) == pytest.approx(0.0, abs=1e-6)


def test_multilabel_distillation_loss_falls_to_its_floor_at_the_teacher() -> None:
    from kerasbert.training.distill import DistillationLoss

    teacher = np.array([[3.0, -2.0]], np.float32)
    rows = np.concatenate([teacher, [[1.0, 0.0]], [[1.0]]], axis=1)
    loss = DistillationLoss(2, temperature=1.0, alpha=0.0, multi_label=True)
    values = [float(loss.call(rows, teacher * scale)[0]) for scale in (0.0, 0.5, 1.0, 1.5)]
    assert values[0] > values[1] > values[2] < values[3]


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A 2-layer teacher trained on the keyword task, distilled into 1 layer with extra texts."""
    from kerasbert.experiments.distill import distill
    from kerasbert.job import run as run_job

    folder = tmp_path_factory.mktemp("distill")
    checkpoint = _deep_checkpoint(folder / "checkpoint", 2)
    rows = tiny_texts(100, seed=1)
    data = write_csv(folder / "data.csv", rows)
    teacher_config = tiny_config(
        checkpoint,
        data,
        folder / "teacher",
        precision="fp32",
        epochs=4,
        export=True,
        export_dir=str(folder / "teacher-export"),
        **LEARNABLE_SETTINGS,
    )
    run_job(teacher_config)
    teacher_test = [
        json.loads(line)["text"] for line in (folder / "teacher/data/test.jsonl").open()
    ]
    # Extra texts: new ones, two copies of one, and three test texts that must be dropped.
    fresh = [text for text, _ in tiny_texts(20, seed=9)]
    extra = write_csv(
        folder / "extra.csv",
        [(text,) for text in [*fresh, fresh[0], *teacher_test[:3]]],
        columns=("text",),
    )
    settings = DistillSettings(
        teacher=str(folder / "teacher"),
        layers=1,
        data=str(extra),
        augment=2,
        epochs=5,
        output_dir=str(folder / "student"),
        export_dir=str(folder / "student-export"),
        plots=False,
    )
    result = distill(settings)
    baseline_config = TrainConfig(
        **{
            **teacher_config.to_dict(),
            "num_layers": 1,
            "output_dir": str(folder / "label-only"),
            "export_dir": str(folder / "label-only-export"),
        }
    )
    run_job(baseline_config)
    return {
        "folder": folder,
        "result": result,
        "fresh": len(set(fresh)),
        "teacher_test": teacher_test,
    }


def test_student_is_a_normal_run_with_the_teacher_layers(student: dict) -> None:
    folder = student["folder"]
    run_dir = student["result"].run_dir
    config = json.loads((run_dir / "config.json").read_text())
    assert config["num_layers"] == 1
    assert config["model"] == str((folder / "teacher" / "model").resolve())
    assert json.loads((run_dir / "model/config.json").read_text())["num_hidden_layers"] == 1
    record = json.loads((run_dir / "distill.json").read_text())["distillation"]
    assert record["layer_map"] == [1] and record["teacher"]["layers"] == 2
    assert record["temperature"] == 2.0 and record["alpha"] == 0.5
    # The repeated extra text and the test texts are dropped before the teacher labels them.
    assert record["extra_data"]["read"] == student["fresh"] + 4
    assert record["extra_data"]["kept"] == student["fresh"]
    for split in ("train", "validation", "test"):
        assert (run_dir / f"data/{split}.jsonl").read_text() == (
            folder / f"teacher/data/{split}.jsonl"
        ).read_text()
    # Two changed copies of each training text, after the extra texts, labelled by the teacher.
    train = len((run_dir / "data/train.jsonl").read_text().splitlines())
    augmentation = record["augmentation"]
    assert augmentation["copies"] == 2 and augmentation["source"] == "--augment"
    assert 1.5 * train <= augmentation["texts"] <= 2 * train
    with np.load(run_dir / "teacher_targets.npz") as targets:
        assert targets["extra"].shape == (student["fresh"] + augmentation["texts"], 3)
        assert targets["train"].shape == (train, 3)
    # Evaluated and exported like any run, through the fused graph, and its predictor agrees.
    metrics = student["result"].metrics
    assert metrics["accuracy"] > 0.8
    export = json.loads((folder / "student-export/kerasbert.json").read_text())
    assert export["source"]["run"] == "student"
    assert export["graph"]["form"] == "fused" and export["graph"]["layers"] == 1
    assert export["parity"]["fp32"]["argmax_mismatches"] == 0
    assert "predictor_vs_tensorflow" in export
    assert (folder / "student-export/model.int8.onnx").is_file()


def test_distillation_loss_falls(student: dict) -> None:
    history = json.loads((student["result"].run_dir / "history.json").read_text())
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["val_loss"][-1] < history["val_loss"][0]
    assert history["accuracy"][-1] > 0.8


def test_comparison_table(student: dict) -> None:
    from kerasbert.benchmark.distill import compare_distillation

    folder = student["folder"]
    comparison = compare_distillation(student["result"].run_dir, folder / "label-only", rounds=1)
    models = comparison["models"]
    assert list(models) == ["teacher", "distilled", "label-only", "tf-idf"]
    assert [models[name]["layers"] for name in ("teacher", "distilled", "label-only")] == [2, 1, 1]
    metrics = json.loads((folder / "student/metrics.json").read_text())
    assert models["distilled"]["metrics"]["macro_f1"] == metrics["macro_f1"]
    assert models["tf-idf"]["metrics"]["accuracy"] == metrics["baseline"]["accuracy"]
    assert models["distilled"]["size_mb"]["fp32"] < models["teacher"]["size_mb"]["fp32"]
    for variant in ("int8", "fp32"):
        assert models["teacher"]["speed"][variant]["batch32_texts_per_s"] > 0
        assert comparison["speedups"][f"{variant}_full"]["median"] > 0
    report = (folder / "student/report.md").read_text()
    assert "## Teacher and student" in report and "| label-only | 1 |" in report
    stored = json.loads((folder / "student/distill.json").read_text())
    assert stored["comparison"]["markdown"] == comparison["markdown"]
    # A second comparison replaces the first in the report instead of adding another.
    compare_distillation(student["result"].run_dir, folder / "label-only", rounds=1)
    assert (folder / "student/report.md").read_text().count("## Teacher and student") == 1


def test_a_student_deeper_than_its_teacher_is_refused(student: dict) -> None:
    from kerasbert.experiments.distill import distill

    folder = student["folder"]
    with pytest.raises(InputError, match="only 2 encoder layers"):
        distill(DistillSettings(teacher=str(folder / "teacher"), layers=3))
    with pytest.raises(InputError, match="not a finished kerasbert run"):
        distill(DistillSettings(teacher=str(folder / "nothing"), layers=1))


def test_compare_shows_layers_and_the_teacher(student: dict, tmp_path: Path) -> None:
    from kerasbert.experiments.compare import compare_runs

    folder = student["folder"]
    comparison = compare_runs(
        [folder / "teacher", folder / "student", folder / "label-only"], tmp_path, plots=False
    )
    rows = {row["run"]: row for row in comparison.rows}
    assert [rows[name]["layers"] for name in ("teacher", "student", "label-only")] == [2, 1, 1]
    assert rows["student"]["distilled_from"] == "teacher"
    assert rows["label-only"]["distilled_from"] is None
    # The student's start is named by its teacher run, not by the teacher's "model" folder.
    assert rows["student"]["model"] == "teacher"
    assert "distilled_from" in comparison.markdown()


def test_augmented_copies_change_words_at_the_rates_and_repeat_by_seed() -> None:
    from kerasbert.data.augment import Augmentation, augment

    texts = [" ".join(f"w{i}x{j}" for j in range(10)) for i in range(300)]
    rule = Augmentation(copies=3, span_rate=0.0)
    copies, pairs = augment(texts, None, rule, "[MASK]", seed=5)
    assert pairs is None and copies == augment(texts, None, rule, "[MASK]", seed=5)[0]
    assert copies != augment(texts, None, rule, "[MASK]", seed=6)[0]
    # A copy equal to its text is dropped (0.8 ** 10: about one in ten here).
    assert 0.85 * 900 <= len(copies) < 900
    words = [word for copy in copies for word in copy.split()]
    originals = {word for text in texts for word in text.split()}
    masked = sum(word == "[MASK]" for word in words) / len(words)
    # A swapped word comes from the texts' own words and is mostly another position's word.
    assert all(word in originals for word in words if word != "[MASK]")
    assert 0.08 < masked < 0.12
    # Spans keep at least half of the words, in order.
    cut, _ = augment(texts, None, Augmentation(2, 0.0, 0.0, 1.0), "[MASK]", seed=5)
    for copy in cut:
        kept = copy.split()
        assert 5 <= len(kept) < 10 and " ".join(kept) in " ".join(texts)


def test_augmented_pairs_change_both_texts() -> None:
    from kerasbert.data.augment import Augmentation, augment

    firsts = [f"first {i} a b c d e f" for i in range(50)]
    seconds = [f"second {i} g h i j k l" for i in range(50)]
    copies, pairs = augment(firsts, seconds, Augmentation(2), "[MASK]", seed=1)
    assert pairs is not None and len(copies) == len(pairs) > 90
    assert sum(copy not in firsts for copy in copies) > 60
    assert sum(pair not in seconds for pair in pairs) > 60


@pytest.mark.parametrize(("epoch_tokens", "copies"), [(10_000, 4), (80_000, 3), (180_000, 0)])
def test_augment_by_default_only_where_copies_fit_the_token_budget(epoch_tokens, copies) -> None:
    from kerasbert.training.distill import augment_copies

    config = TrainConfig(token_budget=350_000)
    assert augment_copies(DistillSettings(teacher="t"), config, epoch_tokens) == copies
    assert augment_copies(DistillSettings(teacher="t", augment=1), config, 180_000) == 1
    with pytest.raises(InputError, match="--augment"):
        DistillSettings(teacher="t", augment=-1)
