"""Section 5 on the glyph proxy for JFT (or CIFAR-100, or an ImageNet folder): a generalist CNN, clusters of the
classes it confuses (no labels used), dustbin specialists fine-tuned from it, their KL combination at test time;
Table 3 and Table 4. Also section 6's suggestion: full-softmax specialists trained on the generalist's soft targets
(no dustbin, no early stopping), combined the same way.

Nothing is chosen on the test set: clusters come from the validation images, early stopping uses a fixed
validation draw of each specialist's own task, the combination's settings are fixed in the profile.
"""
from __future__ import annotations

import numpy as np
import torch

from ..datasets import image_sets as I
from ..train.cnn_trainer import CNNTrainer, SubsetSampler
from ..train.cnn_transfer import TransferCNNTrainer
from ..train import TrainConfig
from ..train.fingerprint import tensor_digest
from ..io import data_dir
from ..errors import UserError, is_int, is_number
from ..profiles import apply_overrides, check_int, get_profile
from ..results import summarize
from ..stats import gain_kept_pct
from .. import specialist_ensembles as S
from .common import Run, experiment, role_config, runs_dir

NAME = "specialists"
SEEDS = (1, 8)  # the allowed `seeds` (CLI --seeds, notebook parameter): repetitions of the whole pipeline
EXTRA_PARAMS = ("dataset", "data_root")  # notebook parameters that are overrides of the profile
ROLES = ("generalist", "dustbin", "soft", "back")
SEED_BASE = {"generalist": 8000, "dustbin": 9000, "soft": 10000, "back": 11000}  # + 100 * repetition + specialist
TRANSFER_SEED = 77  # the fixed augmented draws of the training images that the distilled-back nets learn from


def resolve_config(profile: str, seeds: int | None = None, overrides=None) -> dict:
    r = apply_overrides(get_profile(NAME, profile), overrides)
    if r["dataset"] not in I.DATASETS:
        raise UserError(f"dataset={r['dataset']!r}; allowed: {', '.join(I.DATASETS)}")
    if r["dataset"] == "imagenet" and not r.get("data_root"):
        raise UserError("dataset='imagenet' needs data_root=<folder with train/ and val/>; "
                        "e.g. --set data_root=/data/imagenet")
    if r["glyph_ranges"] not in I.GLYPH_RANGES:
        raise UserError(f"glyph_ranges={r['glyph_ranges']!r}; allowed: {', '.join(I.GLYPH_RANGES)}")
    arch = r["arch"]
    if not arch["channels"] or not all(is_int(c) and c > 0 for c in arch["channels"]) \
            or not is_int(arch["hidden"]) or arch["hidden"] < 1:
        raise UserError(f"arch={arch!r}: channels must be a non-empty list of positive ints, hidden a positive int")
    if not is_number(r["overlap"]) or not 0 <= r["overlap"] <= 1:
        raise UserError(f"overlap={r['overlap']!r} must be a number in [0, 1]")
    cfg = {"experiment": NAME, "profile": profile,
           "seeds": check_int("seeds", r["seeds"] if seeds is None else seeds, *SEEDS),
           "dataset": r["dataset"], "data_root": r.get("data_root"), "glyph_ranges": r["glyph_ranges"],
           "val_draws": check_int("val_draws", r["val_draws"], 1, 50),
           "test_draws": check_int("test_draws", r["test_draws"], 1, 100),
           "arch": {"channels": list(arch["channels"]), "hidden": arch["hidden"]},
           "clusters": check_int("clusters", r["clusters"], 1, 10_000), "overlap": float(r["overlap"]),
           "max_size": check_int("max_size", r["max_size"], 2, 100_000),
           "early_stop_images": check_int("early_stop_images", r["early_stop_images"], 2, 1_000_000),
           "combine_steps": check_int("combine_steps", r["combine_steps"], 1, 100_000),
           "transfer_draws": check_int("transfer_draws", r["transfer_draws"], 1, 1000),
           "back_widen": _widen(r["back_widen"])}
    for role in ROLES:
        cfg[role] = role_config(role, r[role])
    return cfg


def _widen(v) -> list[int]:
    if not isinstance(v, (list, tuple)) or not v or not all(is_int(m) and 1 <= m <= 16 for m in v):
        raise UserError(f"back_widen={v!r} must be a non-empty list of width multipliers in 1..16 (1: the "
                        "generalist's size), e.g. --set back_widen=[1,2]")
    return [int(m) for m in v]


def load_sets(cfg: dict, device) -> I.ImageSets:
    if cfg["dataset"] == "glyphs":
        return I.glyph_sets(cfg["glyph_ranges"], cfg["val_draws"], cfg["test_draws"], device)
    if cfg["dataset"] == "cifar100":
        return I.cifar100_sets(cfg["data_root"] or data_dir() / "cifar100", device)
    return I.imagenet_sets(cfg["data_root"], device)


@torch.no_grad()
def folded_predictions(model, data: I.FixedImages, fold, chunk: int = 512) -> list[torch.Tensor]:
    """Each member's test probabilities folded to (N, |S| + 1) chunk by chunk, never holding (E, N, C) logits."""
    parts = []
    for start in range(0, data.n, chunk):
        x = data.batch(torch.arange(start, min(start + chunk, data.n), device=data.device))
        parts.append(fold(model(x.unsqueeze(0).expand(model.E, *x.shape))))
    return [torch.cat(p) for p in zip(*parts)]


def early_stop_draw(val: I.FixedImages, subsets, label_map, k: int, seed: int):
    """Per specialist, k validation images, half from its classes and half from the rest, with its own labels."""
    rng = np.random.default_rng(seed)
    y = val.labels.cpu().numpy()
    rows = []
    for s in subsets:
        inside = np.isin(y, s)
        a, b = np.nonzero(inside)[0], np.nonzero(~inside)[0]
        if len(a) == 0:
            raise UserError("a specialist's classes have no validation images; raise val_draws")
        rows.append(np.concatenate([rng.choice(a, k // 2), rng.choice(b, k - k // 2)]))
    idx = torch.as_tensor(np.stack(rows))
    return val, idx, label_map.gather(1, val.labels.cpu()[idx])


def _trainer(cfg, role, seeds, sets, n_out, progress, label, **kw):
    return CNNTrainer(TrainConfig(**cfg[role]), seeds, sets.train, cfg["arch"], n_out, checkpoint_dir=runs_dir(),
                      progress=progress, name=f"specialists-{role}", desc=f"{cfg['profile']} {label}", **kw).run()


@experiment(NAME, resolve_config)
def run(run_: Run, progress: bool, log):
    """Table 3 and Table 4 (dustbin specialists, and full-softmax soft-target specialists) for each seed."""
    cfg, dev = run_.cfg, run_.device
    sets = load_sets(cfg, dev)
    C = sets.n_classes
    log(f"{sets.source}: {sets.train.n} training images, {sets.val.n} validation, {sets.test.n} test")
    out = {"card": sets.card, "classes": sets.classes, "per_seed": []}

    seeds_g = [SEED_BASE["generalist"] + r for r in range(cfg["seeds"])]
    gen = _trainer(cfg, "generalist", seeds_g, sets, C, progress, "generalist", test=sets.test,
                   evals={"val": sets.val})
    generalist = gen.model
    epochs = sorted(gen.history)
    out["generalist"] = {"seeds": seeds_g, "wall_s": round(gen.wall_s, 2), "epochs": epochs,
                         "test_acc_curve": [[100 * (1 - gen.history[ep]["test_errors"][r] / sets.test.n)
                                             for ep in epochs] for r in range(cfg["seeds"])],
                         # fresh augmented draws of the TRAINING faces (the images training sees are such draws,
                         # new every step): close to the test curve = the paper's capacity-limited regime
                         "val_acc_curve": [[100 * (1 - gen.history[ep]["val_errors"][r] / sets.val.n)
                                            for ep in epochs] for r in range(cfg["seeds"])],
                         "parameters": sum(p.numel() for p in generalist.parameters()) // generalist.E,  # per member
                         "training_images_seen": cfg["generalist"]["epochs"] * sets.train.n}
    # section 7's open question: every seed's generalist + specialists, distilled back into one net, learn from the
    # combined posterior q on a fixed set of augmented draws of the training images (cnn_transfer.py says why fixed)
    transfer = I.fixed_draws(sets.train, cfg["transfer_draws"], TRANSFER_SEED)
    log_q, log_pg = [], []
    for r in range(cfg["seeds"]):
        res, q, pg = _one_seed(cfg, r, generalist.select([r]), sets, progress, log, transfer)
        out["per_seed"].append(res)
        log_q.append(torch.log(q.clamp_min(1e-12)))
        log_pg.append(torch.log(pg.clamp_min(1e-12)))
    del generalist
    out["distilled_back"] = _distill_back(cfg, sets, transfer, log_q, log_pg, out["per_seed"], progress, log)
    del log_q, log_pg
    summary = {}
    for variant in ("dustbin", "soft"):
        t3 = [s[variant]["table3"] for s in out["per_seed"]]
        summary[variant] = {k: summarize([t[k] for t in t3]) for k in
                            ("test_acc_combined", "conditional_acc_combined", "relative_top1_gain_pct")}
        summary[variant]["table4_pooled"] = _pool([s[variant]["table4"] for s in out["per_seed"]])
        summary[variant]["table4_row0_pooled"] = _pool_row0([s[variant]["table4_row0"] for s in out["per_seed"]])
        for who in ("specialist", "generalist"):  # on each specialist's own classes, averaged over specialists
            summary[variant][f"in_subset_{who}_acc"] = summarize(
                [s[variant]["in_subset"][f"mean_{who}_acc"] for s in out["per_seed"]])
    t3 = [s["dustbin"]["table3"] for s in out["per_seed"]]
    summary["generalist"] = {k: summarize([t[k] for t in t3]) for k in
                             ("test_acc_generalist", "conditional_acc_generalist")}
    summary["n_specialists"] = summarize([s["n_specialists"] for s in out["per_seed"]])
    summary["distilled_back"] = {name: {k: summarize([s[k] for s in v["per_seed"]]) for k in v["per_seed"][0]}
                                 for name, v in out["distilled_back"]["nets"].items()}
    out["summary"] = summary
    g, d = summary["generalist"]["test_acc_generalist"], summary["dustbin"]["relative_top1_gain_pct"]
    log(f"generalist {g['mean']:.2f}% top-1; with dustbin specialists {d['mean']:+.2f}% relative, with soft-target "
        f"specialists {summary['soft']['relative_top1_gain_pct']['mean']:+.2f}%")
    return sets.source, out


def _distill_back(cfg, sets, transfer, log_q, log_pg, per_seed, progress, log) -> dict:
    """For each width multiplier, one net per seed trained on that seed's q (students) and, side by side in the
    same batched model with the same seeds, one on the seed's generalist alone (controls: the same transfer set,
    recipe and initialization, so the difference is what the specialists add)."""
    R, C = cfg["seeds"], sets.n_classes
    teacher = torch.stack(log_q + log_pg)  # members 0..R-1 students, R..2R-1 controls
    seeds = [SEED_BASE["back"] + r for r in range(R)] * 2
    out = {"transfer_images": transfer.n, "transfer_draws": cfg["transfer_draws"], "nets": {}}
    for m in cfg["back_widen"]:
        arch = {"channels": [c * m for c in cfg["arch"]["channels"]], "hidden": cfg["arch"]["hidden"] * m}
        name = "generalist-sized" if m == 1 else f"{m}x wider"
        t = TransferCNNTrainer(TrainConfig(**cfg["back"]), seeds, transfer, arch, C, sets.test,
                               teacher_logits=teacher, checkpoint_dir=runs_dir(), progress=progress,
                               name="specialists-back", desc=f"{cfg['profile']} distilled back ({name})").run()
        acc = 100 * (t.model.predict(sets.test).argmax(-1) == sets.test.labels).float().mean(-1)
        rows = [{"generalist_acc": s["dustbin"]["table3"]["test_acc_generalist"],
                 "combined_acc": s["dustbin"]["table3"]["test_acc_combined"],
                 "student_acc": float(acc[r]), "control_acc": float(acc[R + r])} for r, s in enumerate(per_seed)]
        for row in rows:  # the share of the ensemble's gain over the generalist that one net keeps
            row["gain_kept_pct"] = gain_kept_pct(row["student_acc"], row["generalist_acc"], row["combined_acc"])
        out["nets"][name] = {"arch": arch, "per_seed": rows, "wall_s": round(t.wall_s, 2)}
        for r, row in enumerate(rows):
            log(f"seed {r} distilled back ({name}): {row['student_acc']:.2f}% top-1 from q, {row['control_acc']:.2f}% "
                f"from the generalist alone; generalist {row['generalist_acc']:.2f}%, generalist + specialists "
                f"{row['combined_acc']:.2f}%")
    return out


def _one_seed(cfg, r: int, generalist, sets, progress, log, transfer) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """Table 3 and 4 for one seed's pipeline; also the combined posterior q and the generalist's p on the transfer
    set (for _distill_back)."""
    C = sets.n_classes
    p_val = torch.softmax(generalist.predict(sets.val)[0], -1)
    subsets = S.specialist_subsets(p_val, cfg["clusters"], cfg["overlap"], max_size=cfg["max_size"], seed=r)
    del p_val
    if not subsets:
        raise UserError(f"no cluster of {cfg['clusters']} has two classes; raise `clusters` or train the "
                        "generalist longer")
    E = len(subsets)
    n_out = max(len(s) for s in subsets) + 1
    sampler = SubsetSampler(sets.train.labels, subsets, C)
    shifts = [S.dustbin_shift(f) for f in sampler.fraction]
    lmap = S.label_maps(subsets, C, n_out)
    gen_digest = tensor_digest(torch.cat([p.detach().flatten() for p in generalist.parameters()]))
    log(f"seed {r}: {E} specialists of {min(map(len, subsets))}..{max(map(len, subsets))} classes "
        f"({sum(map(len, subsets))} memberships for {C} classes)")
    p_test = torch.softmax(generalist.predict(sets.test)[0], -1)
    res = {"seed": r, "n_specialists": E, "subsets": subsets, "sizes": [len(s) for s in subsets],
           "natural_fraction": sampler.fraction, "dustbin_shift": shifts,
           "generalist_test_acc": float(100 * (p_test.argmax(1) == sets.test.labels).float().mean())}

    seeds_d = [SEED_BASE["dustbin"] + 100 * r + e for e in range(E)]
    dust = _trainer(cfg, "dustbin", seeds_d, sets, n_out, progress, f"dustbin specialists (seed {r})",
                    sampler=sampler, label_map=lmap, out_mask=S.output_masks(subsets, n_out),
                    init=S.init_from_generalist(generalist, 0, subsets), init_digest=gen_digest,
                    early_stop=early_stop_draw(sets.val, subsets, lmap, cfg["early_stop_images"], 100 + r))
    fold = lambda z: S.dustbin_probs(z, subsets, shifts)  # noqa: E731
    probs = folded_predictions(dust.model, sets.test, fold)
    res["dustbin"] = S.evaluate(p_test, sets.test.labels, subsets, probs, cfg["combine_steps"])
    fixed = I.as_fixed(transfer)
    p_transfer = torch.softmax(generalist.predict(fixed)[0], -1)
    q_transfer = S.combined_posterior(p_transfer, subsets, folded_predictions(dust.model, fixed, fold),
                                      cfg["combine_steps"])
    epochs = sorted(dust.history)
    val = np.array([dust.history[ep]["val_loss"] for ep in epochs])  # (epochs, E)
    res["dustbin"]["early_stop_epoch"] = [epochs[i] for i in val.argmin(0)]
    res["dustbin"]["val_loss_curve"] = {"epochs": epochs, "mean": val.mean(1).tolist()}
    res["dustbin"]["wall_s"] = round(dust.wall_s, 2)
    del dust, probs

    seeds_s = [SEED_BASE["soft"] + 100 * r + e for e in range(E)]
    soft = _trainer(cfg, "soft", seeds_s, sets, C, progress, f"soft-target specialists (seed {r})",
                    sampler=sampler, init=S.init_from_generalist(generalist, 0, None), init_digest=gen_digest,
                    teacher=generalist)
    probs = folded_predictions(soft.model, sets.test, lambda z: S.full_softmax_probs(z, subsets))
    res["soft"] = S.evaluate(p_test, sets.test.labels, subsets, probs, cfg["combine_steps"])
    res["soft"]["wall_s"] = round(soft.wall_s, 2)
    for v in ("dustbin", "soft"):
        t = res[v]["table3"]
        log(f"seed {r} {v}: top-1 {t['test_acc_generalist']:.2f}% -> {t['test_acc_combined']:.2f}% "
            f"({t['relative_top1_gain_pct']:+.2f}% relative); conditional {t['conditional_acc_generalist']:.2f}% -> "
            f"{t['conditional_acc_combined']:.2f}%")
        i = res[v]["in_subset"]
        log(f"seed {r} {v}: on their own classes specialists {i['mean_specialist_acc']:.2f}% vs the generalist "
            f"{i['mean_generalist_acc']:.2f}% (better in {i['specialists_better']} of {E})")
    return res, q_transfer, p_transfer


def _pool_row0(splits: list[dict]) -> dict:
    """Table 4's row 0 split (no active specialist / active but not covering the true class), summed over seeds."""
    return {part: _pool([[dict(split[part], covering="0")] for split in splits])[0] for part in splits[0]}


def _pool(tables: list[list[dict]]) -> list[dict]:
    """Table 4 summed over seeds: images and changes added, the relative change recomputed."""
    rows = {}
    for table in tables:
        for row in table:
            acc = rows.setdefault(row["covering"], {"covering": row["covering"], "images": 0,
                                                    "generalist_correct": 0, "delta_correct": 0})
            for k in ("images", "generalist_correct", "delta_correct", "wrong_to_right", "right_to_wrong"):
                if k in row:  # the two directions: records from commit 87333ab on
                    acc[k] = acc.get(k, 0) + row[k]
    order = [str(i) for i in range(10)] + ["10 or more"]
    out = [rows[k] for k in order if k in rows]
    for row in out:
        base = row["generalist_correct"]
        row["relative_change_pct"] = 100 * row["delta_correct"] / base if base else float("nan")
    return out
