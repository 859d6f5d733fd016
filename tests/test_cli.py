"""User errors: one line on stderr naming the problem and the fix, exit code 2, no traceback."""
import subprocess
import sys

import pytest

from reproduce.train import TrainConfig
from reproduce.errors import UserError
from reproduce.experiments import mnist
from reproduce.profiles import apply_overrides, get_profile
from reproduce.chapter import check_params
from reproduce.results import REPO_ROOT


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "reproduce.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.mark.parametrize("args, words", [
    (["run", "nosuch"], ["invalid choice", "nosuch", "mnist"]),
    (["run", "mnist", "--profile", "huge"], ["invalid choice", "huge", "smoke"]),
    (["run", "mnist", "--profile", "smoke", "--seeds", "0"], ["seeds=0", "1 to 64"]),
    (["run", "mnist", "--profile", "smoke", "--seeds", "two"], ["--seeds", "invalid int"]),
    (["run", "mnist", "--profile", "smoke", "--set", "teacher.epoch=3"], ["unknown field", "epochs"]),
    (["run", "mnist", "--profile", "smoke", "--set", "student.epochs=3"], ["unknown role", "distilled"]),
    (["run", "mnist", "--profile", "smoke", "--set", "teacher.jitter=9"], ["jitter=9", "0..2"]),
    (["run", "mnist", "--profile", "smoke", "--set", "epochs"], ["ROLE.FIELD=VALUE"]),
    (["run", "mnist", "--profile", "smoke", "--set", "teacher.epochs=abc"], ["teacher.epochs='abc'", "an integer"]),
    (["run", "omitted-digit", "--profile", "smoke", "--set", "no3.lr=null"], ["no3.lr=None", "a number"]),
    (["run", "speech", "--profile", "smoke", "--set", "ensemble=1"], ["ensemble=1", "2 to 64"]),
    (["data", "speech", "--set", "corpus.words=[3]"], ["corpus.words=[3]", "[low, high]"]),
])
def test_bad_input_is_one_clear_line(args, words):
    done = cli(*args)
    assert done.returncode == 2, done.stderr
    err = done.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) <= 2, err  # argparse prints usage + one line
    for w in words:
        assert w in err, (w, err)


def test_missing_gpu_is_a_clear_error():
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    done = cli("run", "mnist", "--profile", "smoke", "--device", "cuda", "--results-dir", "/nonexistent-never-written")
    assert done.returncode == 2 and "no CUDA GPU" in done.stderr and "Traceback" not in done.stderr


def test_a_bad_device_is_an_error_even_when_a_record_matches():
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert mnist.resolve_config("smoke") and (REPO_ROOT / "results" / "smoke" / "mnist.json").exists()
    done = cli("run", "mnist", "--profile", "smoke", "--device", "cuda")  # the committed smoke record matches
    assert done.returncode == 2 and "no CUDA GPU" in done.stderr and "reusing" not in done.stdout


@pytest.mark.parametrize("field, value, words", [
    ("epochs", "3", "an integer"), ("epochs", 2.5, "an integer"), ("epochs", True, "an integer"),
    ("lr", None, "a number"), ("lr", "0.1", "a number"), ("max_norm", "x", "a number or null"),
    ("lr_schedule", 1, "a string"), ("sizes", [784], "at least two"), ("sizes", [784, 0, 10], "positive"),
    ("sizes", "784,10", "a list"), ("temperature", [2.0], "a number or null"),
])
def test_train_config_checks_every_fields_type(field, value, words):
    with pytest.raises(UserError, match=f"^{field}=") as e:
        TrainConfig(**{field: value})
    assert words in str(e.value)


def test_train_config_takes_the_types_it_should():
    cfg = TrainConfig(lr=1, max_norm=None, temperature=3, sizes=[784, 30, 10], warmup_epochs=0)
    assert cfg.lr == 1 and cfg.sizes == (784, 30, 10)
    assert TrainConfig(sizes=()).sizes == ()  # a CNN role, shaped by its arch


def test_overrides_reach_the_config():
    cfg = mnist.resolve_config("smoke", overrides=["teacher.epochs=1", "distilled.temperature=8"])
    assert cfg["teacher"]["epochs"] == 1 and cfg["distilled"]["temperature"] == 8
    assert get_profile("mnist", "smoke")["teacher"]["epochs"] != 1  # profiles themselves are untouched
    assert apply_overrides({"seeds": 2, "a": {}}, {"seeds": 5})["seeds"] == 5


@pytest.mark.parametrize("kw, name", [
    (dict(profile="fast"), "profile"), (dict(seeds=0), "seeds"), (dict(seeds=2.5), "seeds"),
    (dict(seeds=True), "seeds"), (dict(device="tpu"), "device"), (dict(rerun="yes"), "rerun"),
    (dict(results_dir=""), "results_dir"), (dict(overrides="teacher.epochs=5"), "overrides"),
    (dict(overrides=[5]), "overrides"),
])
def test_notebook_parameters_are_checked(kw, name):
    params = dict(profile="smoke", seeds=None, device="auto", rerun=False, results_dir="results")
    params.update(kw)
    with pytest.raises(UserError, match=f"parameter {name}="):
        check_params(**params)


def test_profiles_name_the_paper_recipe():
    paper = get_profile("mnist", "paper")
    t = paper["teacher"]
    assert t["sizes"] == (784, 1200, 1200, 10) and t["jitter"] == 2 and t["max_norm"]
    assert t["input_dropout"] == 0.2 and t["hidden_dropout"] == 0.5 and "train_subset" not in t
    assert paper["small"]["sizes"] == (784, 800, 800, 10) and not paper["small"].get("hidden_dropout")
    assert paper["distilled"]["temperature"] == 20 and paper["distilled"]["hard_weight"] < 0.5
    assert paper["seeds"] >= 3


@pytest.mark.parametrize("text, kind, expect", [
    ("", float, 60.0), ("  ", float, 60.0), ("0", float, 0.0), ("2.5", float, 2.5), ("3", int, 3),
    ("abc", float, "a number >= 0"), ("-1", float, "a number >= 0"), ("nan", float, "a number"),
    ("2.5", int, "an integer >= 0"), ("-2", int, "an integer"),
])
def test_numbers_from_the_environment_are_checked(monkeypatch, text, kind, expect):
    from reproduce.errors import env_number
    monkeypatch.setenv("REPRODUCE_TEST_NUMBER", text)
    if isinstance(expect, str):
        with pytest.raises(UserError, match=f"^REPRODUCE_TEST_NUMBER='{text}' must be {expect}"):
            env_number("REPRODUCE_TEST_NUMBER", 60.0 if kind is float else 0, kind)
    else:
        assert env_number("REPRODUCE_TEST_NUMBER", 60.0, kind) == expect


def test_a_bad_checkpoint_interval_is_one_clear_line(tmp_path):
    import os
    done = cli("run", "mnist", "--profile", "smoke", "--rerun", "--results-dir", str(tmp_path),
               env=dict(os.environ, REPRODUCE_CHECKPOINT_EVERY_S="abc"))
    assert done.returncode == 2 and "REPRODUCE_CHECKPOINT_EVERY_S='abc'" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "smoke" / "mnist.json").exists()
