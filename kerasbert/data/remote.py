"""Remote run directories and data (gs://, and ram:// in tests) through `tf.io.gfile`.

A Colab TPU runtime reads and writes Cloud Storage, not always the local disk: kerasbert trains in a
local mirror and keeps the remote copy in step after every epoch. TensorFlow is imported only by
the functions that touch a remote path.
"""

from __future__ import annotations

from pathlib import Path


def is_remote(path: str | Path | None) -> bool:
    """True for a URL such as `gs://bucket/run` (handled by tf.io.gfile), False for local paths."""
    return path is not None and "://" in str(path)


def local_mirror(remote: str) -> Path:
    """The local working copy of a remote run directory (stable, so a restart finds it)."""
    import hashlib
    import tempfile

    digest = hashlib.sha1(remote.encode()).hexdigest()[:10]
    name = remote.rstrip("/").rsplit("/", 1)[-1]
    return Path(tempfile.gettempdir()) / "kerasbert-mirror" / f"{name}-{digest}"


def remote_exists(path: str) -> bool:
    """Whether a remote file or directory exists."""
    from tensorflow.io import gfile

    return gfile.exists(path)


def remote_is_empty(path: str) -> bool:
    """Whether a remote directory is missing or holds nothing."""
    from tensorflow.io import gfile

    return not (gfile.exists(path) and gfile.listdir(path))


def fetch_remote(remote: str, local: Path) -> Path:
    """Copy a remote file or directory tree to `local` and return the local path."""
    from tensorflow.io import gfile

    if not gfile.exists(remote):
        raise FileNotFoundError(f"{remote} does not exist (or this machine cannot read it).")
    if not gfile.isdir(remote):
        local.parent.mkdir(parents=True, exist_ok=True)
        gfile.copy(remote, str(local), overwrite=True)
        return local
    root = remote.rstrip("/")
    for directory, _, files in gfile.walk(root):
        relative = directory[len(root) :].lstrip("/")
        (local / relative).mkdir(parents=True, exist_ok=True)
        for name in files:
            gfile.copy(f"{directory}/{name}", str(local / relative / name), overwrite=True)
    return local


def sync_to_remote(local: Path, remote: str, uploaded: dict[str, tuple] | None = None) -> None:
    """Make `remote` a copy of the directory `local`: upload files changed since the last sync
    (tracked in `uploaded`, which the caller keeps between calls), delete remote files that no
    longer exist locally (such as `backup/` once training has finished)."""
    from tensorflow.io import gfile

    uploaded = {} if uploaded is None else uploaded
    root = remote.rstrip("/")
    wanted = {
        path.relative_to(local).as_posix(): path for path in local.rglob("*") if path.is_file()
    }
    local_dirs = {path.relative_to(local).as_posix() for path in local.rglob("*") if path.is_dir()}
    present = set()
    if gfile.exists(root):
        for directory, subdirectories, files in gfile.walk(root):
            relative_dir = directory[len(root) :].strip("/")
            if relative_dir and relative_dir not in local_dirs:
                gfile.rmtree(directory)  # e.g. backup/ once training has finished
                subdirectories.clear()
                continue
            present.update(f"{relative_dir}/{name}".lstrip("/") for name in files)
    for relative, path in wanted.items():
        stamp = (path.stat().st_size, path.stat().st_mtime_ns)
        if relative in present and uploaded.get(relative) == stamp:
            continue
        target = f"{root}/{relative}"
        gfile.makedirs(target.rsplit("/", 1)[0])
        if relative in present:
            gfile.remove(target)  # some file systems (ram://) overwrite without truncating
        gfile.copy(str(path), target)
        uploaded[relative] = stamp
    for relative in present - set(wanted):
        if gfile.exists(f"{root}/{relative}") and not gfile.isdir(f"{root}/{relative}"):
            gfile.remove(f"{root}/{relative}")
        uploaded.pop(relative, None)
