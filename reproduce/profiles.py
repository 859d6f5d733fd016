"""Profiles: one named, documented set of hyperparameters per experiment.

- smoke: tiny (a few thousand images, a few epochs); the whole suite in minutes on 2 CPU cores. CI.
- quick: a meaningful CPU run (tens of epochs, 2 seeds); under an hour on 2 CPU cores.
- paper: the paper's recipe at full size, 3 seeds; meant for one GPU.

Recipes are TrainConfig keyword dicts; units are in core.TrainConfig's field comments.
"""
from __future__ import annotations

import copy

from .catalog import CHAPTERS
from .datasets.speech.corpus import CORPUS_KEYS
from .errors import UserError, is_int
from .train import TrainConfig

PROFILE_NAMES = ("smoke", "quick", "paper")

# The teacher recipe of section 3: 784-1200-1200-10 ReLU, dropout (0.2 inputs, 0.5 hidden), max-norm,
# +-2 px jitter, all 60,000 training images. lr/momentum/max-norm: the best of the measured starting
# points in DESIGN.md (77 errors at ~440 epochs on one H100), run longer here. Those starting points were compared
# on TEST errors (there was no validation split then): the teacher's recipe is test-chosen, and the MNIST chapter
# says so (TEACHER_RECIPE_CHOSEN_ON below); the students' recipes are chosen on validation images.
_TEACHER = dict(sizes=(784, 1200, 1200, 10), batch_size=100, lr=0.05, momentum=0.95, momentum_start=0.5,
                momentum_ramp_epochs=10, lr_schedule="cosine", warmup_epochs=1, max_norm=2.5, jitter=2,
                input_dropout=0.2, hidden_dropout=0.5)
# The small net: 784-800-800-10 ReLU, no regularization at all.
_SMALL = dict(sizes=(784, 800, 800, 10), batch_size=100, lr=0.05, momentum=0.9, lr_schedule="cosine")
# The distilled net: the same 800-800 net, trained on the teacher's soft targets at T = 20 plus the hard
# labels with a much lower weight (section 2), on the unjittered training set (the transfer set).
_DISTILLED = dict(_SMALL, temperature=20.0, hard_weight=0.1)

TEACHER_RECIPE_CHOSEN_ON = ("test errors: lr 0.05 / momentum 0.95 / max-norm 2.5 was the best of four starting "
                            "points measured on one GPU (DESIGN.md), ranked by test errors, since no validation split "
                            "was held out then; the paper does not give these settings either")

MNIST = {
    "smoke": {"seeds": 2, "teacher": dict(_TEACHER, epochs=4, train_subset=5000, momentum_ramp_epochs=1,
                                          warmup_epochs=0, lr=0.1),
              "small": dict(_SMALL, epochs=3, train_subset=5000),
              "distilled": dict(_DISTILLED, epochs=3, train_subset=5000)},
    "quick": {"seeds": 2, "teacher": dict(_TEACHER, epochs=60, eval_every=2),
              "small": dict(_SMALL, epochs=50, eval_every=2),
              "distilled": dict(_DISTILLED, epochs=50, eval_every=2)},
    "paper": {"seeds": 3, "teacher": dict(_TEACHER, epochs=1000, eval_every=10),
              "small": dict(_SMALL, epochs=200, eval_every=5),
              "distilled": dict(_DISTILLED, epochs=400, eval_every=5)},
}

# Section 3, omitted digit: the distilled 800-800 student at T = 20 on transfer sets filtered from the
# training images minus a held-out validation split (used only to choose the bias shift honestly). The 7s-and-8s
# set is about a fifth of the no-3s set, so it gets 4x the epochs to see a similar number of steps.
# The teacher is the MNIST chapter's teacher of the same profile (shared checkpoint); `teacher_seeds` None = that
# chapter's seeds, or e.g. --set teacher_seeds=1 to reuse the teacher of `reproduce run mnist --seeds 1`.
# `teacher_epoch` (absent or null: the teacher's last epoch) picks an earlier, softer state of it among the
# snapshots its run keeps (experiments/teacher.py SNAPSHOT_FRACTIONS), chosen on the validation split.
OMITTED_DIGIT = {
    "smoke": {"seeds": 2, "teacher_seeds": None, "teacher_epoch": None, "val_size": 2000,
              "no3": dict(_DISTILLED, epochs=3, train_subset=5000),
              "only78": dict(_DISTILLED, epochs=3, train_subset=5000)},
    "quick": {"seeds": 2, "teacher_seeds": None, "teacher_epoch": None, "val_size": 5000,
              "no3": dict(_DISTILLED, epochs=30, eval_every=3),
              "only78": dict(_DISTILLED, epochs=120, eval_every=12)},
    "paper": {"seeds": 3, "teacher_seeds": None, "teacher_epoch": None, "val_size": 5000,
              "no3": dict(_DISTILLED, epochs=300, eval_every=10),
              "only78": dict(_DISTILLED, epochs=1200, eval_every=40)},
}

# Section 3, temperature sweep: students of several widths distilled at many T (the paper's T = 20 recipe
# otherwise), all temperatures and seeds of one width batched; the teacher is the MNIST chapter's (`teacher_seeds`
# as above).
_T_ALL = [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 15, 20]
_STUDENT = {k: v for k, v in _DISTILLED.items() if k != "sizes"}  # 784-w-w-10 for each of `widths`
TEMPERATURE_SWEEP = {
    "smoke": {"seeds": 2, "teacher_seeds": None, "widths": [30, 300], "temperatures": [1, 2.5, 4, 10, 20],
              "student": dict(_STUDENT, epochs=2, train_subset=5000)},
    "quick": {"seeds": 3, "teacher_seeds": None, "widths": [30, 100, 300], "temperatures": _T_ALL,
              "student": dict(_STUDENT, epochs=8, eval_every=2)},
    "paper": {"seeds": 3, "teacher_seeds": None, "widths": [30, 100, 300, 800], "temperatures": _T_ALL,
              "student": dict(_STUDENT, epochs=100, eval_every=10)},
}

# Sections 4 and 6, speech: a frame classifier on the generated speech-style corpus (reproduce/speech). The paper's
# net is 8 x 2560 ReLU (85M parameters) on 700M frames: 8.2 frames per parameter, a baseline at 63.4% train / 58.9%
# test, far from saturation. `paper` is sized by that regime, not by the paper's absolute size, so that it runs in
# well under an hour on 2 CPU cores: 3 x 128 ReLU (0.19M parameters) on the 10.6 h corpus (3.6M frames: 18.8 frames
# per parameter), one epoch (14,000 steps) per full-data model. 3 x 240 for 2 epochs (8.7 frames per parameter) ran at
# 21 min per epoch of the ten-member ensemble here, about 2 h 40 min for the chapter: too long to finish inside one
# working session, whose end discards a run's checkpoints on these machines. The large net stays a documented
# GPU-sized option (SPEECH_GPU_OVERRIDES). No dropout, as in the paper's baseline. The 3% runs take the same number of steps as a full-data run
# (epochs / fraction), so the hard-target model has the chance to overfit that the paper reports. Table 1's
# distilled model uses the paper's recipe (T in {1, 2, 5, 10}, weight 0.5 on the hard term). The paper does not give
# Table 5's: soft targets on 3% use T = 20 and no hard term, chosen on VALIDATION frames of the quick corpus over T in
# {1, 2, 5, 10, 20, 50} x hard weight {0, 0.5} (scripts/explore_speech_soft3.py,
# results/quick/speech-explore-3pct/grid.json); Table 1's recipe (T = 2, weight 0.5) let the model memorize the 3%
# hard labels.
_CORPUS = dict(seed=2015, language="en-us", words=[4, 12], snr_db=[0, 20], rate=[130, 220], pitch=[25, 75],
               val_fraction=0.05, test_variant_fraction=0.2)
_FRAMES = dict(batch_size=256, lr=0.05, momentum=0.9, lr_schedule="cosine", warmup_epochs=0.5)
_SOFT = dict(temperature=2.0, hard_weight=0.5)
_SOFT3 = dict(temperature=20.0, hard_weight=0.0)


def _speech_roles(epochs: int, eval_every: int, small_epochs: int, small_eval_every: int,
                  precision: str = "fp32") -> dict:
    """The four recipes of the speech chapter: full-data baseline and distilled, 3% hard and soft targets."""
    full, small = dict(_FRAMES, epochs=epochs, eval_every=eval_every, precision=precision), \
        dict(_FRAMES, epochs=small_epochs, eval_every=small_eval_every, precision=precision)
    return {"baseline": full, "distilled": dict(full, **_SOFT), "hard3": small, "soft3": dict(small, **_SOFT3)}


SPEECH = {
    "smoke": {"ensemble": 3, "distill_seeds": 1, "temperatures": [1, 2, 5, 10], "fraction": 0.1, "hidden": [128, 128],
              "corpus": dict(_CORPUS, train_speakers=8, test_speakers=3, utterances_per_speaker=12, test_utterances=6),
              **_speech_roles(3, 1, 30, 3)},
    "quick": {"ensemble": 10, "distill_seeds": 2, "temperatures": [1, 2, 5, 10], "fraction": 0.03,
              "hidden": [256, 256, 256],
              "corpus": dict(_CORPUS, train_speakers=40, test_speakers=10, utterances_per_speaker=30,
                             test_utterances=20),
              **_speech_roles(12, 2, 400, 16)},
    "paper": {"ensemble": 10, "distill_seeds": 3, "temperatures": [1, 2, 5, 10], "fraction": 0.03,
              "hidden": [128, 128, 128],
              "corpus": dict(_CORPUS, train_speakers=100, test_speakers=20, utterances_per_speaker=150,
                             test_utterances=40),
              # bf16 products where this CPU runs them faster (the probe keeps a layer fp32 otherwise, as it does at
              # 3 x 128, below gemm.MIN_MACS_PER_EXAMPLE): on the 4 x 1024 recipe they matched fp32 within the seed
              # spread on validation (results/precision/speech-amd-epyc.json)
              **_speech_roles(1, 1, 33, 3, precision="bf16")},
}
# The GPU-sized speech recipe (about 45 h on 2 CPU cores, minutes on one GPU): 4 x 1024 on the same corpus, 12 epochs;
# 0.8 frames per parameter, so it memorizes its corpus (results/quick/speech.json shows the same at 3 x 256 on 0.84 h).
# `reproduce run speech --profile paper --set hidden=[1024,1024,1024,1024] --set baseline.epochs=12 ...`, all of:
SPEECH_GPU_OVERRIDES = {"hidden": [1024, 1024, 1024, 1024], "baseline.epochs": 12, "baseline.eval_every": 2,
                        "distilled.epochs": 12, "distilled.eval_every": 2, "hard3.epochs": 400,
                        "hard3.eval_every": 20, "soft3.epochs": 400, "soft3.eval_every": 20}

# Section 5, specialists, on the glyph proxy for JFT (reproduce/glyphs.py) or CIFAR-100 / an ImageNet folder. A
# small CNN generalist; specialists start from it and fine-tune on half their classes, half the rest, with early
# stopping on a fixed validation draw of their own task (dustbin) or on the generalist's soft targets with a full
# softmax and no early stopping (section 6's suggestion). `clusters` is k of the k-means; `overlap` lets a class
# join every centre within (1 + overlap) x its nearest distance; `max_size` caps a specialist's classes. overlap 0.15
# was chosen on VALIDATION images of the quick generalist: 0.05 left almost no image covered by two specialists
# (Table 4 would have two rows), 0.15 to 0.5 give rows up to 4-7 covering specialists with a similar spread.
# `seeds` repeats the whole pipeline (generalist, clusters, specialists); each stage of all seeds is one model.
_CNN = dict(sizes=(), batch_size=128, lr=0.1, momentum=0.9, lr_schedule="cosine", warmup_epochs=1)
_SPEC = dict(_CNN, batch_size=64, lr=0.02, warmup_epochs=0)
_SPEC_SOFT = dict(_SPEC, temperature=2.0, hard_weight=0.2)
# section 7's open question, the generalist + specialists distilled back into one net: q at temperature 1 (it is
# already a posterior), the hard labels at a low weight as in section 2
_BACK = dict(_CNN, temperature=1.0, hard_weight=0.1)
SPECIALISTS = {
    "smoke": {"seeds": 2, "dataset": "glyphs", "data_root": None, "glyph_ranges": "latin", "val_draws": 1, "test_draws": 2,
              "arch": dict(channels=[8, 16], hidden=64), "clusters": 8, "overlap": 0.15, "max_size": 40,
              "early_stop_images": 128, "combine_steps": 150,
              "generalist": dict(_CNN, epochs=6, batch_size=64), "dustbin": dict(_SPEC, epochs=2, batch_size=32),
              "soft": dict(_SPEC_SOFT, epochs=2, batch_size=32),
              "transfer_draws": 1, "back_widen": [1], "back": dict(_BACK, epochs=3, batch_size=64)},
    "quick": {"seeds": 2, "dataset": "glyphs", "data_root": None, "glyph_ranges": "all", "val_draws": 2, "test_draws": 3,
              "arch": dict(channels=[16, 32], hidden=256), "clusters": 24, "overlap": 0.15, "max_size": 80,
              "early_stop_images": 256, "combine_steps": 300,
              "generalist": dict(_CNN, epochs=20, eval_every=2),
              "dustbin": dict(_SPEC, batch_size=32, epochs=4, eval_every=1),
              "soft": dict(_SPEC_SOFT, batch_size=32, epochs=4, eval_every=1),
              "transfer_draws": 2, "back_widen": [1], "back": dict(_BACK, epochs=10, eval_every=2)},
    # sized by the paper's regime, not its size (issue 28): JFT's generalist was capacity-limited on effectively
    # unlimited data; ours sees every image once (a new augmentation each step), with the quick profile's small CNN
    # (0.9M parameters) trained longer, 3 seeds, at least 30 specialists. About 3 h on 2 CPU cores (generalist,
    # 32 dustbin specialists x 8 epochs and 32 soft-target ones x 3 a seed, predictions, one net distilled back);
    # SPECIALISTS_GPU_OVERRIDES is the large CNN, for a GPU. Dustbin epochs 8, not 3: with 3, 95 of 96 specialists
    # had their lowest VALIDATION loss at their last epoch (early stopping never stopped them; be2099f's record)
    "paper": {"seeds": 3, "dataset": "glyphs", "data_root": None, "glyph_ranges": "all", "val_draws": 2, "test_draws": 3,
              "arch": dict(channels=[16, 32], hidden=256), "clusters": 32, "overlap": 0.15, "max_size": 80,
              "early_stop_images": 256, "combine_steps": 300,
              "generalist": dict(_CNN, epochs=30, eval_every=5),
              "dustbin": dict(_SPEC, batch_size=32, epochs=8, eval_every=1),
              "soft": dict(_SPEC_SOFT, batch_size=32, epochs=3, eval_every=1),
              "transfer_draws": 2, "back_widen": [1], "back": dict(_BACK, epochs=10, eval_every=5)},
}
# The GPU-sized specialists recipe (days on 2 CPU cores): a 64-128-channel CNN, 48 clusters, longer training, more
# validation and test draws, and a 2x wider distilled-back net beside the generalist-sized one;
# `reproduce run specialists --profile paper --set arch.channels=[64,128] --set arch.hidden=512 ...`, all of:
SPECIALISTS_GPU_OVERRIDES = {"val_draws": 4, "test_draws": 10, "arch.channels": [64, 128], "arch.hidden": 512,
                             "clusters": 48, "max_size": 100, "early_stop_images": 1024,
                             "generalist.batch_size": 256, "generalist.epochs": 60,
                             "dustbin.batch_size": 128, "dustbin.epochs": 8, "soft.batch_size": 128, "soft.epochs": 8,
                             "transfer_draws": 4, "back_widen": [1, 2], "back.batch_size": 256, "back.epochs": 30}

# each experiment's recipes are the constant named like it (omitted-digit: OMITTED_DIGIT), so the list is catalog's
EXPERIMENTS = {c.name: globals()[c.key.upper()] for c in CHAPTERS}
ARCH_KEYS = {"channels", "hidden"}


def default_profile() -> str:
    """What profile="auto" means on this machine: `paper` on a CUDA GPU, else `smoke`."""
    import torch
    return "paper" if torch.cuda.is_available() else "smoke"


def check_profile(profile: str) -> str:
    if profile not in PROFILE_NAMES:
        raise UserError(f"unknown profile {profile!r}; allowed: {', '.join(PROFILE_NAMES)}")
    return profile


def get_profile(experiment: str, profile: str) -> dict:
    """A deep copy of the experiment's recipes at this profile."""
    if experiment not in EXPERIMENTS:
        raise UserError(f"unknown experiment {experiment!r}; allowed: {', '.join(EXPERIMENTS)}")
    return copy.deepcopy(EXPERIMENTS[experiment][check_profile(profile)])


def check_int(name: str, value, lo: int, hi: int) -> int:
    """An integer parameter in [lo, hi], else a UserError that names it and the range."""
    if not is_int(value) or not lo <= value <= hi:
        raise UserError(f"{name}={value!r} must be an integer from {lo} to {hi}")
    return value


def apply_overrides(recipes: dict, overrides: dict | list | None) -> dict:
    """Apply {"teacher.epochs": 5} or ["teacher.epochs=5"] to a profile's recipes, checking every key."""
    if not overrides:
        return recipes
    if isinstance(overrides, (list, tuple)):
        pairs = {}
        for item in overrides:
            if "=" not in item:
                raise UserError(f"override {item!r} must look like ROLE.FIELD=VALUE, e.g. teacher.epochs=5")
            k, v = item.split("=", 1)
            pairs[k.strip()] = _parse_value(v.strip())
        overrides = pairs
    train_fields = set(TrainConfig.__dataclass_fields__)
    for key, value in overrides.items():
        role, _, name = key.partition(".")
        top = [k for k, v in recipes.items() if not isinstance(v, dict)]  # seeds, val_size, ...
        if key in top:
            recipes[key] = value
            continue
        if role not in recipes or role in top:
            roles = [r for r in recipes if r not in top]
            raise UserError(f"override {key!r}: unknown role {role!r}; allowed: {', '.join(roles)} "
                            f"(or {', '.join(top)})")
        fields = CORPUS_KEYS if role == "corpus" else ARCH_KEYS if role == "arch" else train_fields
        if name not in fields:
            raise UserError(f"override {key!r}: unknown field {name!r}; allowed: {', '.join(sorted(fields))}")
        recipes[role][name] = value
    return recipes


def _parse_value(text: str):
    import json
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
