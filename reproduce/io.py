"""Where data lives, atomic file writes and checksums: a crash never leaves a half-written file behind."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs of the same experiment are not guarded there
    fcntl = None

from .errors import UserError


def data_dir() -> Path:
    """$REPRODUCE_DATA_DIR, else ~/.cache/reproduce-distillation: datasets, generated corpora and checkpoints."""
    return Path(os.environ.get("REPRODUCE_DATA_DIR") or Path.home() / ".cache" / "reproduce-distillation")


def check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise UserError(f"data folder {folder} is not writable ({e.strerror}); set REPRODUCE_DATA_DIR to a "
                        "writable folder with about 100 MB free") from None


def sha256_file(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Write through `write(fileobj)` into a temp file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    text = json.dumps(obj, indent=1, sort_keys=False, default=_json_default) + "\n"
    return atomic_write(path, lambda f: f.write(text), mode="w")


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


@contextmanager
def exclusive_lock(path: str | os.PathLike, what: str):
    """Hold an advisory lock on `path` for the duration, or fail at once if another process holds it.

    The kernel frees a flock when its holder dies, so a killed run never leaves a stale lock behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "a+")
    try:
        if fcntl is not None:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "another process"
                raise UserError(f"{what} is already running ({holder}); wait for it to finish or stop it, then "
                                f"run again (its lock {path} frees itself when that process ends)") from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        f.flush()
        yield
    finally:
        f.close()  # closing the descriptor releases the flock
