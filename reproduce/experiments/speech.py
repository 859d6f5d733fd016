"""Sections 4 and 6 on the speech-style corpus: Table 1 (baseline, 10x ensemble, distilled at T in {1, 2, 5, 10},
weight 0.5 on the hard term) and Table 5 (3% of the training frames, hard targets vs soft targets from the
full-data model).

The ten ensemble members are the baseline's seeds too: the baseline is reported as their mean and spread, the
ensemble as the accuracy of their averaged probabilities. Every group of members (ensemble; all temperatures x
seeds; the 3% runs) trains as one batched model. The distilled model's T is chosen on the validation frames
(held-out utterances of training speakers); the test-best T is shown beside it.
"""
from __future__ import annotations

import numpy as np
import torch

from ..train import TrainConfig
from ..train.distributed import train_members
from ..errors import UserError, is_int, is_number
from ..train.data import DeviceFrames
from ..profiles import apply_overrides, check_int, get_profile
from ..results import summarize
from ..stats import gain_kept_pct, gap_closed_pct
from ..datasets.speech import corpus as C
from ..datasets.speech import features as F
from .. import phone_error_rate as PER
from .common import Run, experiment, recipe_sized_elsewhere, runs_dir

NAME = "speech"
SEEDS = (2, 64)  # the allowed `seeds` (CLI --seeds, notebook parameter): the ensemble's members
SEEDS_NOTE = "an ensemble needs at least two members"
ROLES = ("baseline", "distilled", "hard3", "soft3")
SEED_BASE = {"baseline": 4000, "distilled": 5000, "hard3": 6000, "soft3": 7000}


def resolve_config(profile: str, seeds: int | None = None, overrides=None) -> dict:
    """`seeds` sets the ensemble size (the baseline's seeds) and the seeds of the 3% runs."""
    r = apply_overrides(get_profile(NAME, profile), overrides)
    ens = check_int("ensemble" if seeds is None else "seeds", r["ensemble"] if seeds is None else seeds, *SEEDS)
    temps = r["temperatures"]
    if not temps or not all(is_number(t) and t > 0 for t in temps):
        raise_bad("temperatures", temps, "a non-empty list of positive numbers")
    if not is_number(r["fraction"]) or not 0 < r["fraction"] <= 1:
        raise_bad("fraction", r["fraction"], "a number in (0, 1]")
    if not r["hidden"] or not all(is_int(h) and h > 0 for h in r["hidden"]):
        raise_bad("hidden", r["hidden"], "a non-empty list of positive layer widths")
    cfg = {"experiment": NAME, "profile": profile, "seeds": ens, "ensemble": ens,
           "distill_seeds": check_int("distill_seeds", r["distill_seeds"], 1, 16), "temperatures": list(temps),
           "fraction": r["fraction"], "hidden": list(r["hidden"]), "corpus": C.check_config(r["corpus"])}
    for role in ROLES:
        cfg[role] = recipe_sized_elsewhere(r[role], role, "`hidden` and the corpus (26 x 40 inputs, one output per "
                                                         "label); results.sizes records them")
    return cfg


def raise_bad(name, value, allowed):
    raise UserError(f"{name}={value!r} must be {allowed}")


def accuracy(errors, n) -> list[float]:
    return [100.0 * (1 - e / n) for e in errors]


def _chunks(model, data: DeviceFrames, chunk: int = 4096):
    """(frame indices, every member's logits (M, n, C)) over the frames in chunks: one forward pass per chunk."""
    for start in range(0, data.n, chunk):
        idx = torch.arange(start, min(start + chunk, data.n), device=data.device)
        yield idx, model(data.crop(idx).unsqueeze(0).expand(model.n_models, -1, -1))


@torch.no_grad()
def ensemble_eval(model, data: DeviceFrames, chunk: int = 4096) -> tuple[list[float], float]:
    """Test frame accuracy of each member, and of their averaged probabilities (the ensemble's prediction)."""
    member_ok = torch.zeros(model.n_models, device=data.device)
    ens_ok = torch.zeros((), device=data.device)
    for idx, logits in _chunks(model, data, chunk):
        y = data.labels[idx]
        member_ok += (logits.argmax(-1) == y).sum(-1)
        ens_ok += (logits.softmax(-1).mean(0).argmax(-1) == y).sum()
    return (100 * member_ok / data.n).tolist(), float(100 * ens_ok / data.n)


@torch.no_grad()
def soft_target_logits(model, data: DeviceFrames, temperatures, chunk: int = 4096) -> torch.Tensor:
    """(len(temperatures), N, C): T log(mean over members of softmax(z / T)), whose softmax at T is exactly the
    ensemble's averaged soft targets, so the core's loss (which divides by T) sees the averaged distribution."""
    return torch.cat([torch.stack([t * torch.log(torch.softmax(z / t, -1).mean(0).clamp_min(1e-30))
                                   for t in temperatures]) for _, z in _chunks(model, data, chunk)], dim=1)


def _trainer(cfg, role, sizes, seeds, train, test, progress, evals=None, **kw):
    tc = TrainConfig(**dict(cfg[role], sizes=sizes))
    return train_members(tc, seeds, train, test, checkpoint_dir=runs_dir(), progress=progress,
                         name=f"speech-{role}", desc=f"{cfg['profile']} speech {role}", evals=evals, **kw)


def _curves(history: dict, sets: dict) -> dict:
    """Accuracy curves per member: {"epochs": [...], "<set>": [[acc of member e at each epoch] per member]}."""
    epochs = sorted(history)
    out = {"epochs": epochs}
    for key, data in sets.items():
        field = "test_errors" if key == "test" else f"{key}_errors"
        per_epoch = [accuracy(history[ep][field], data.n) for ep in epochs]
        out[key] = [list(m) for m in zip(*per_epoch)]
    return out


def full_data_members(cfg, corpus, d, progress):
    """The net's sizes, the baseline seeds and the trained full-data members (the ensemble); a checkpoint of the same
    config and seeds is reused, so the exploration scripts share the run's members."""
    sizes = [d["train"].dim, *cfg["hidden"], int(corpus["labels"].max()) + 1]
    seeds = [SEED_BASE["baseline"] + i for i in range(cfg["ensemble"])]
    return sizes, seeds, _trainer(cfg, "baseline", sizes, seeds, d["train"], d["test"], progress, {"val": d["val"]})


def device_corpus(cfg, dev, progress, log, corpus: dict | None = None):
    """The corpus (the generated one of cfg["corpus"] unless given, e.g. festvox.load()) and its frame sets."""
    corpus = C.load(cfg["corpus"], progress=progress, log=log) if corpus is None else corpus
    all_frames = DeviceFrames(corpus["feats"], corpus["centres"], corpus["labels"], dev, C.CONTEXT_PAST,
                              C.CONTEXT_FUTURE)
    parts = {s: C.split_indices(corpus, s) for s in C.SPLITS}
    sets = {s: all_frames.subset(idx) for s, idx in parts.items()}
    small = C.utterance_subset(corpus, parts["train"], cfg["fraction"], cfg["corpus"]["seed"])
    sets["train3"] = all_frames.subset(small)
    rng = np.random.default_rng(0)  # train accuracy of full-data models on a fixed sample of training frames
    sets["train_sample"] = sets["train"].subset(rng.choice(sets["train"].n, min(50_000, sets["train"].n), False))
    return corpus, sets


def decoding(corpus: dict, d: dict, val_utterances: int = 150) -> dict:
    """What the phone decoder needs: its model counted on the training labels, a seeded sample of validation
    utterances where its two scales are chosen (their frames, and their labels and utterances) and the test labels
    and utterances; frames are in the order of device_corpus's sets."""
    phones = corpus["phones"].tolist()
    silence = phones.index(F.SILENCE) if F.SILENCE in phones else None
    train, val, test = (C.split_indices(corpus, s) for s in ("train", "val", "test"))
    pm = PER.fit(corpus["labels"][train], corpus["frame_utt"][train], int(corpus["labels"].max()) + 1, silence)
    utts = np.unique(corpus["frame_utt"][val])
    keep = np.random.default_rng(1).choice(utts, min(val_utterances, len(utts)), replace=False)
    pos = np.flatnonzero(np.isin(corpus["frame_utt"][val], keep))
    return {"model": pm, "val_frames": d["val"].subset(pos),
            "val": (corpus["labels"][val[pos]], corpus["frame_utt"][val[pos]]),
            "test": (corpus["labels"][test], corpus["frame_utt"][test])}


@torch.no_grad()
def log_posteriors(model, data: DeviceFrames, members: list[int], average: bool = False, chunk: int = 4096
                   ) -> torch.Tensor:
    """(len(members), N, C) frame log posteriors on the CPU; average: (1, N, C) of the members' averaged
    probabilities (the ensemble's prediction)."""
    out = []
    for _, z in _chunks(model, data, chunk):
        lp = z[members].float().log_softmax(-1)
        if average:
            lp = (torch.logsumexp(lp, 0) - np.log(len(members)))[None]
        out.append(lp.cpu())
    return torch.cat(out, 1)


def phone_error_rates(model, d: dict, dec: dict, members: list[int], average: bool = False) -> dict:
    """Test phone error rate (%) of each member (or of their average), the decoder's scales (decoding()) chosen on
    validation utterances with the first member (or the average)."""
    scales = PER.choose_scales(log_posteriors(model, dec["val_frames"], members[:1], average)[0], *dec["val"],
                               dec["model"])
    test = log_posteriors(model, d["test"], members, average)
    rates = [PER.error_rate(lp, *dec["test"], dec["model"], scales["lm_weight"], scales["prior_scale"]) for lp in test]
    return {"test_per": rates[0] if average else summarize(rates), **scales}


@experiment(NAME, resolve_config)
def run(run_: Run, progress: bool, log):
    """Table 1 and Table 5 on the generated corpus; run() (common.experiment) reuses or records the result."""
    corpus, d = device_corpus(run_.cfg, run_.device, progress, log)
    card, out = tables(run_.cfg, corpus, d, progress, log)
    return f"generated with libespeak-ng {card['espeak_version']} (corpus {C.fingerprint(run_.cfg['corpus'])})", out


def tables(cfg: dict, corpus: dict, d: dict, progress: bool, log) -> tuple[dict, dict]:
    """Table 1 and Table 5 on a corpus's frame sets (device_corpus): its card and the results."""
    card = C.card(corpus)
    # Table 1: the ensemble (= baseline seeds), then all temperatures x seeds distilled from it as one model
    sizes, seeds_b, base = full_data_members(cfg, corpus, d, progress)
    params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    out = {"corpus": {k: v for k, v in card.items() if k != "config"}, "sizes": sizes,
           "regime": {"parameters": params, "train_frames": d["train"].n, "frames_per_parameter": d["train"].n / params}}
    members, ens = ensemble_eval(base.model, d["test"])
    val_members, val_ens = ensemble_eval(base.model, d["val"])
    train_members, train_ens = ensemble_eval(base.model, d["train_sample"])
    out["baseline"] = {"seeds": seeds_b, "test_acc": summarize(members), "val_acc": summarize(val_members),
                       "train_acc": summarize(train_members), "wall_s": round(base.wall_s, 2),
                       "curves": _curves(base.history, {"test": d["test"], "val": d["val"]})}
    out["ensemble"] = {"members": cfg["ensemble"], "test_acc": ens, "val_acc": val_ens, "train_acc": train_ens}
    log(f"baseline {np.mean(members):.2f}% (members {min(members):.2f}..{max(members):.2f}), ensemble {ens:.2f}%")
    # the proxy's counterpart of the paper's WER: phone error rates after Viterbi with a phone bigram
    dec = decoding(corpus, d)
    per = {"baseline": phone_error_rates(base.model, d, dec, list(range(min(3, cfg["ensemble"])))),
           "ensemble": phone_error_rates(base.model, d, dec, list(range(cfg["ensemble"])), average=True),
           "distilled": {}}
    out["phone_error_rate"] = per

    temps, ns = cfg["temperatures"], cfg["distill_seeds"]
    # one batched model per temperature (its seeds), each with only its own soft targets in memory: all T x seeds
    # in one model held a copy of the (N, C) targets per member, 35 GB on the `paper` corpus
    seeds_d = [SEED_BASE["distilled"] + s for s in range(ns)]
    test_d, val_d, train_d, wall_d = {}, {}, {}, 0.0
    for t in temps:
        teacher = soft_target_logits(base.model, d["train"], [t])
        dist = _trainer(cfg, "distilled", sizes, seeds_d, d["train"], d["test"], progress,
                        {"val": d["val"], "train": d["train_sample"]}, teacher_logits=teacher,
                        temperatures=[t] * ns, hard_weights=[cfg["distilled"]["hard_weight"]] * ns)
        del teacher
        last = dist.history[max(dist.history)]  # the last epoch is always evaluated: no second pass over the data
        test_d[t], val_d[t] = accuracy(last["test_errors"], d["test"].n), accuracy(last["val_errors"], d["val"].n)
        train_d[t], wall_d = accuracy(last["train_errors"], d["train_sample"].n), wall_d + dist.wall_s
        per["distilled"][str(t)] = phone_error_rates(dist.model, d, dec, list(range(ns)))
        del dist
    by_t = {str(t): {"test_acc": summarize(test_d[t]), "val_acc": summarize(val_d[t]),
                     "train_acc": summarize(train_d[t])} for t in temps}
    best_val = max(temps, key=lambda t: by_t[str(t)]["val_acc"]["mean"])
    best_test = max(temps, key=lambda t: by_t[str(t)]["test_acc"]["mean"])
    base_acc = out["baseline"]["test_acc"]["mean"]
    kept = lambda t: gain_kept_pct(by_t[str(t)]["test_acc"]["mean"], base_acc, ens)  # noqa: E731
    out["distilled"] = {"seeds": seeds_d, "by_temperature": by_t, "hard_weight":
                        cfg["distilled"]["hard_weight"], "best_t_by_val": best_val, "best_t_by_test": best_test,
                        "test_acc": by_t[str(best_val)]["test_acc"], "wall_s": round(wall_d, 2),
                        "gain_kept_pct": kept(best_val), "gain_kept_pct_test_best_t": kept(best_test)}
    log(f"distilled at T={best_val} (chosen on validation) {by_t[str(best_val)]['test_acc']['mean']:.2f}%: "
        f"keeps {kept(best_val):.0f}% of the ensemble's gain")

    # Table 5: 3% of the training utterances; hard targets vs soft targets from the full-data (baseline) models
    small = d["train3"]
    curve_sets = {"test": d["test"], "val": d["val"], "train": small}
    seeds_h = [SEED_BASE["hard3"] + i for i in range(min(cfg["ensemble"], 3))]
    hard = _trainer(cfg, "hard3", sizes, seeds_h, small, d["test"], progress, {"val": d["val"], "train": small})
    full_logits = base.model.predict(small)[: len(seeds_h)]
    seeds_s = [SEED_BASE["soft3"] + i for i in range(len(seeds_h))]
    soft = _trainer(cfg, "soft3", sizes, seeds_s, small, d["test"], progress, {"val": d["val"], "train": small},
                    teacher_logits=full_logits)
    for role, res in (("hard3", hard), ("soft3", soft)):
        curves = _curves(res.history, curve_sets)
        final_test, final_train = [c[-1] for c in curves["test"]], [c[-1] for c in curves["train"]]
        # early stopping as the paper needed it: each member's epoch of best VALIDATION accuracy
        peak = [int(np.argmax(v)) for v in curves["val"]]
        out[role] = {"seeds": seeds_h if role == "hard3" else seeds_s, "frames": small.n,
                     "fraction_of_train_frames": small.n / d["train"].n,
                     "test_acc_final": summarize(final_test), "train_acc_final": summarize(final_train),
                     "test_acc_early_stopped": summarize([curves["test"][m][p] for m, p in enumerate(peak)]),
                     "train_acc_early_stopped": summarize([curves["train"][m][p] for m, p in enumerate(peak)]),
                     "early_stop_epoch": [curves["epochs"][p] for p in peak], "curves": curves,
                     "wall_s": round(res.wall_s, 2)}
    per["hard3"] = phone_error_rates(hard.model, d, dec, list(range(len(seeds_h))))
    per["soft3"] = phone_error_rates(soft.model, d, dec, list(range(len(seeds_s))))
    log("phone error rates (test, %): " + ", ".join(
        f"{k} {v['test_per'] if isinstance(v['test_per'], float) else v['test_per']['mean']:.1f}"
        for k, v in per.items() if k != "distilled") + f", distilled at T={best_val} "
        f"{per['distilled'][str(best_val)]['test_per']['mean']:.1f}")
    full, h = out["baseline"]["test_acc"]["mean"], out["hard3"]["test_acc_final"]["mean"]
    soft_acc = out["soft3"]["test_acc_final"]["mean"]
    # the paper's comparison is with the early-stopped hard-target model (44.5%); the final one is shown too
    out["soft3"]["gap_recovered_pct_early_stopped"] = gap_closed_pct(
        soft_acc, out["hard3"]["test_acc_early_stopped"]["mean"], full)
    out["soft3"]["gap_recovered_pct_final"] = gap_closed_pct(soft_acc, h, full)
    log(f"3%: hard {h:.2f}% final (early-stopped {out['hard3']['test_acc_early_stopped']['mean']:.2f}%), soft "
        f"{out['soft3']['test_acc_final']['mean']:.2f}%, full {full:.2f}%")
    return card, out
