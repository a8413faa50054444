"""Remote run directories and data (gs:// on a Colab TPU), tested on TensorFlow's in-memory
`ram://` file system through the same tf.io.gfile calls."""

from __future__ import annotations

import json
import uuid

import pytest

from kerasbert.common.errors import InputError
from kerasbert.config import TrainConfig
from kerasbert.job import run
from kerasbert.training.rundir import prepare_remote_mirror


@pytest.fixture
def bucket() -> str:
    return f"ram://kerasbert-{uuid.uuid4().hex[:8]}"


def test_training_reads_and_writes_a_remote_bucket(tiny_checkpoint, tiny_csv, bucket) -> None:
    from tensorflow.io import gfile

    gfile.makedirs(bucket)
    gfile.copy(str(tiny_csv), f"{bucket}/data/tiny.csv")
    config = TrainConfig(
        data=f"{bucket}/data/tiny.csv",
        model=str(tiny_checkpoint),
        max_length=40,
        batch_size=8,
        epochs=2,
        learning_rate=1e-2,
        output_dir=f"{bucket}/runs/tiny",
        export=False,
        plots=False,
    )
    result = run(config)
    remote = f"{bucket}/runs/tiny"
    assert result.location == remote
    for name in (
        "config.json",
        "history.json",
        "metrics.json",
        "model/tf_model.h5",
        "data/test.jsonl",
    ):
        assert gfile.exists(f"{remote}/{name}"), name  # fmt: skip
    assert not gfile.exists(f"{remote}/backup"), "a finished run keeps no backup"
    assert not gfile.exists(f"{remote}/checkpoints"), "nor its best-epoch checkpoint"
    assert gfile.glob(f"{remote}/logs/*/events.out.tfevents.*"), "TensorBoard logs are remote too"
    metrics = json.loads(gfile.GFile(f"{remote}/metrics.json").read())
    assert metrics["accuracy"] == pytest.approx(result.metrics["accuracy"])
    assert json.loads(gfile.GFile(f"{remote}/history.json").read())["epoch"] == [1, 2]

    with pytest.raises(InputError, match="already exists"):
        prepare_remote_mirror(config)


def test_unfinished_remote_run_is_fetched_for_resume(bucket) -> None:
    from tensorflow.io import gfile

    remote = f"{bucket}/runs/unfinished"
    config = TrainConfig(output_dir=remote)
    gfile.makedirs(f"{remote}/backup/chief")
    with gfile.GFile(f"{remote}/config.json", "w") as file:
        file.write(json.dumps(config.to_dict()))
    with gfile.GFile(f"{remote}/backup/chief/checkpoint", "w") as file:
        file.write("state")
    local = prepare_remote_mirror(config)
    assert json.loads((local / "config.json").read_text()) == config.to_dict()
    assert (local / "backup" / "chief" / "checkpoint").read_text() == "state"


def test_remote_folder_of_other_files_is_refused(bucket) -> None:
    from tensorflow.io import gfile

    gfile.makedirs(f"{bucket}/photos")
    with gfile.GFile(f"{bucket}/photos/cat.jpg", "w") as file:
        file.write("meow")
    with pytest.raises(InputError, match="holds other files"):
        prepare_remote_mirror(TrainConfig(output_dir=f"{bucket}/photos"))


def test_remote_data_is_read_without_leaving_a_scratch_copy(
    tiny_csv, bucket, tmp_path, monkeypatch
) -> None:
    import tempfile

    from tensorflow.io import gfile

    from kerasbert.data.readers import read_source

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gfile.makedirs(bucket)
    gfile.copy(str(tiny_csv), f"{bucket}/tiny.csv")
    texts, labels = read_source(f"{bucket}/tiny.csv")
    assert len(texts) == len(labels) > 0
    with pytest.raises(InputError, match=f"{bucket}/tiny.csv") as error:
        read_source(f"{bucket}/tiny.csv", text_column="nope")
    assert str(tmp_path) not in str(error.value), "the message names the remote file"
    assert list(tmp_path.iterdir()) == [], "the scratch copy is deleted"
