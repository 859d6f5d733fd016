"""The MNIST teacher of section 3 (784-1200-1200-10, dropout, jitter, max-norm), shared by every chapter built on
it (mnist, omitted-digit, temperature-sweep, the MNIST explorations): one recipe per profile, trained once into
one checkpoint and loaded by the others."""
from __future__ import annotations

from ..datasets import mnist as mnist_data
from ..profiles import check_int, get_profile
from ..errors import UserError
from ..train import DeviceImages, Trainer, TrainConfig
from .common import role_config, runs_dir, train_role

SEED_BASE = 1000  # teacher member i has seed SEED_BASE + i
# the teacher's state is also kept at these fractions of its epochs: earlier, softer teachers are candidates that
# the omitted-digit students' teacher is chosen among, on validation (load_snapshot)
SNAPSHOT_FRACTIONS = (0.1, 0.2, 0.3, 0.5, 0.75)


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


def snapshot_epochs(recipe: dict) -> list[int]:
    """The epochs at which the teacher of `recipe` keeps its state aside (whole epochs, at least 1)."""
    return sorted({max(1, int(f * recipe["epochs"])) for f in SNAPSHOT_FRACTIONS} - {recipe["epochs"]})


def kept_epochs(recipe: dict) -> list[int]:
    """Every epoch whose state a teacher run keeps: the snapshots and the last."""
    return snapshot_epochs(recipe) + [recipe["epochs"]]


def train_teacher(recipe: dict, n: int, train, test, progress: bool = True, label: str = ""):
    """The shared teacher of `recipe` with n members: trained, resumed or loaded from its checkpoint."""
    return train_role("teacher", recipe, teacher_seeds(n), train, test, progress=progress, label=label,
                      snapshot_epochs=snapshot_epochs(recipe))


def load_snapshot(recipe: dict, n: int, epoch: int, train, test=None):
    """The teacher of `recipe` (n members) as it was after `epoch` epochs, from the snapshot its run kept."""
    if epoch == recipe["epochs"]:
        return train_teacher(recipe, n, train, test, progress=False).model
    if epoch not in kept_epochs(recipe):
        raise UserError(f"teacher epoch {epoch}: the teacher keeps its state at epochs {kept_epochs(recipe)}; "
                        "choose one of those")
    t = Trainer(TrainConfig(**recipe), teacher_seeds(n), train, test, checkpoint_dir=runs_dir(), name="teacher",
                progress=False)
    path = t.snapshot_path(epoch)
    if not path.exists():
        raise UserError(f"no snapshot of this teacher at epoch {epoch} ({path}): it is kept only by a teacher run "
                        "that passes that epoch with this code; train the teacher again (delete its checkpoint "
                        f"{t.checkpoint}) to keep them")
    t.checkpoint = path
    result = t.run(stop_after_epoch=epoch)
    if result.resumed_from_epoch != epoch:
        raise UserError(f"the snapshot {path} is not this teacher's state at epoch {epoch}; delete it")
    return result.model


def device_data(dev):
    """MNIST (fetched and verified if needed) and its train and test sets resident on `dev`."""
    m = mnist_data.load_mnist()
    return m, DeviceImages(m.train_x, m.train_y, dev), DeviceImages(m.test_x, m.test_y, dev)


def data_and_teacher(cfg: dict, dev, progress: bool):
    """For chapters built on the MNIST teacher: the data on `dev` and the teacher of cfg["teacher"] (with
    cfg["teacher_seeds"] members), loaded from its shared checkpoint or trained on demand."""
    m, train, test = device_data(dev)
    teacher = train_teacher(cfg["teacher"], cfg["teacher_seeds"], train, test, progress, cfg["profile"])
    return m, train, test, teacher.model
