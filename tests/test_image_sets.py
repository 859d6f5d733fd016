"""The specialists chapter's datasets: CIFAR-100 and an ImageNet folder read from small generated files in the
real on-disk formats (the checksum checked before anything is unpickled), and the natural-image augmentation."""
import hashlib
import io
import pickle
import tarfile

import numpy as np
import pytest
import torch

from reproduce.datasets import image_sets as I
from reproduce.errors import UserError

CPU = torch.device("cpu")


def _fake_cifar(folder, n_train=60, n_test=20):
    rng = np.random.default_rng(0)
    parts = {"train": {b"data": rng.integers(0, 256, (n_train, 3072), dtype=np.uint8),
                       b"fine_labels": list(rng.integers(0, 100, n_train))},
             "test": {b"data": rng.integers(0, 256, (n_test, 3072), dtype=np.uint8),
                      b"fine_labels": list(rng.integers(0, 100, n_test))},
             "meta": {b"fine_label_names": [f"class{i}".encode() for i in range(100)]}}
    for p in ("train", "test"):
        parts[p][b"fine_labels"] = [int(v) for v in parts[p][b"fine_labels"]]
    path = folder / "cifar-100-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in parts.items():
            blob = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"cifar-100-python/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path, hashlib.md5(path.read_bytes()).hexdigest(), parts


def test_cifar100_reads_the_real_format_after_the_checksum(tmp_path):
    path, md5, parts = _fake_cifar(tmp_path)
    sets = I.cifar100_sets(tmp_path, CPU, val_size=10, md5=md5)
    assert sets.n_classes == 100 and sets.classes[7] == "class7"
    assert sets.train.n == 50 and sets.val.n == 10 and sets.test.n == 20
    assert sets.test.images.shape == (20, 3, 32, 32)
    want = parts["test"][b"data"][3].reshape(3, 32, 32)  # channel-major rows, as CIFAR stores them
    assert np.array_equal(sets.test.images[3].numpy(), want)
    assert sets.test.labels[3] == parts["test"][b"fine_labels"][3]


def test_cifar100_refuses_a_wrong_checksum_and_names_the_fix(tmp_path):
    _fake_cifar(tmp_path)
    with pytest.raises(UserError, match="MD5 .* != published"):
        I.cifar100_sets(tmp_path, CPU, val_size=10)  # the real dataset's MD5: the fake file does not match


def test_cifar100_without_the_file_or_a_network_names_the_url(tmp_path):
    with pytest.raises(UserError, match="could not download CIFAR-100 from .*glyphs"):
        I.cifar100_sets(tmp_path, CPU, url="http://127.0.0.1:9/cifar-100-python.tar.gz")
    assert not list(tmp_path.glob("*.part"))  # no half-written archive left behind


def test_a_pickle_with_code_in_it_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    path = tmp_path / "cifar-100-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name in ("train", "test", "meta"):
            blob = pickle.dumps({b"data": Evil()})
            info = tarfile.TarInfo(f"cifar-100-python/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        I.cifar100_sets(tmp_path, CPU, md5=hashlib.md5(path.read_bytes()).hexdigest())


def test_an_imagenet_folder_is_read_resized_and_split(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(1)
    for split, n in (("train", 5), ("val", 2)):
        for c in ("n01", "n02", "n03"):
            (tmp_path / split / c).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(tmp_path / split / c / f"{i}.JPEG")
    sets = I.imagenet_sets(tmp_path, CPU, side=16, val_fraction=0.2)
    assert sets.classes == ["n01", "n02", "n03"] and sets.test.n == 6
    assert sets.train.n + sets.val.n == 15 and sets.val.n == 3
    assert sets.train.images.shape[1:] == (3, 16, 16)
    (tmp_path / "val" / "n03").rename(tmp_path / "val" / "x")
    with pytest.raises(UserError, match="lacks the class folders"):
        I.imagenet_sets(tmp_path, CPU)
    with pytest.raises(UserError, match="train/<class>/ and val/<class>/"):
        I.imagenet_sets(tmp_path / "nothing", CPU)


def test_crop_and_flip_move_pixels_without_inventing_them():
    x = torch.rand(8, 3, 32, 32)
    a = I.crop_flip(x, torch.Generator().manual_seed(0))
    b = I.crop_flip(x, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == x.shape
    assert not torch.equal(a, x)
    # a crop with zero offset and no flip is the identity: find such a draw by brute force over seeds
    for s in range(200):
        y = I.crop_flip(x[:1], torch.Generator().manual_seed(s), pad=1)
        if torch.equal(y, x[:1]):
            break
    else:
        pytest.fail("no draw of 200 left the image as it was")


def test_the_specialists_experiment_runs_on_cifar100_files(tmp_path, monkeypatch, data_dir):
    """The same code path as the glyphs (3 channels, natural-image augmentation), on a generated CIFAR-100 archive."""
    from reproduce.experiments import specialists
    _, md5, _ = _fake_cifar(tmp_path, n_train=1200, n_test=300)
    monkeypatch.setattr(I, "CIFAR100_MD5", md5)
    rec = specialists.run(profile="smoke", seeds=1, device="cpu", results_dir=tmp_path / "results", progress=False,
                          log=lambda *a: None,
                          overrides=[f"dataset=cifar100", f"data_root={tmp_path}", "generalist.epochs=1",
                                     "dustbin.epochs=1", "soft.epochs=1", "clusters=4", "early_stop_images=16"])
    r = rec["results"]
    assert rec["config"]["dataset"] == "cifar100" and r["card"]["channels"] == 3 and len(r["classes"]) == 100
    t3 = r["per_seed"][0]["dustbin"]["table3"]
    assert t3["images"] == 300 and sum(row["images"] for row in r["per_seed"][0]["dustbin"]["table4"]) == 300
