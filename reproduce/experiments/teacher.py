"""The MNIST teacher of section 3 (784-1200-1200-10, dropout, jitter, max-norm), shared by every chapter built on
it (mnist, omitted-digit, temperature-sweep, the MNIST explorations): one recipe per profile, trained once into
one checkpoint and loaded by the others."""
from __future__ import annotations

from ..datasets import mnist as mnist_data
from ..profiles import check_int, get_profile
from ..train import DeviceImages
from .common import role_config, train_role

SEED_BASE = 1000  # teacher member i has seed SEED_BASE + i


def teacher_config(profile: str, teacher_seeds: int | None = None) -> dict:
    """{"teacher": the recipe of the MNIST chapter's teacher at `profile`, "seeds": how many members}; None: the
    MNIST profile's seeds (1 reuses the teacher of `reproduce run mnist --seeds 1`)."""
    recipes = get_profile("mnist", profile)
    if teacher_seeds is not None:
        check_int("teacher_seeds", teacher_seeds, 1, 64)
    n = check_int("seeds", recipes["seeds"] if teacher_seeds is None else teacher_seeds, 1, 64)
    return {"teacher": role_config("teacher", recipes["teacher"]), "seeds": n}


def teacher_seeds(n: int) -> list[int]:
    return [SEED_BASE + i for i in range(n)]


def device_data(dev):
    """MNIST (fetched and verified if needed) and its train and test sets resident on `dev`."""
    m = mnist_data.load_mnist()
    return m, DeviceImages(m.train_x, m.train_y, dev), DeviceImages(m.test_x, m.test_y, dev)


def data_and_teacher(cfg: dict, dev, progress: bool):
    """For chapters built on the MNIST teacher: the data on `dev` and the teacher of cfg["teacher"] (with
    cfg["teacher_seeds"] members), loaded from its shared checkpoint or trained on demand."""
    m, train, test = device_data(dev)
    teacher = train_role("teacher", cfg["teacher"], teacher_seeds(cfg["teacher_seeds"]), train, test,
                         progress=progress, label=cfg["profile"])
    return m, train, test, teacher.model
