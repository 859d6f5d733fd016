"""Exploration (validation-led) of the speech Table 1 recipe at CPU scale: does a corpus with more speakers and fewer
epochs (less overfitting, closer to the paper's regime), or a longer-trained distilled model, let the distilled model
keep more of the ensemble's gain? Not part of `reproduce run speech`; the speech chapter shows its records.

    python scripts/explore_speech_recipe.py B 2,5,10     # 120 training speakers, 4 epochs everywhere
    python scripts/explore_speech_recipe.py A24 5,10     # the quick profile, the distilled model trained 24 epochs
    python scripts/explore_speech_recipe.py P3 1,2       # the paper profile, the distilled model trained 3 epochs

Writes results/<profile>/speech-explore/<variant>.json (the records there came from this script at the commit they
name). One distilled seed per temperature; the paper run's ensemble checkpoint is reused when it is there.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from reproduce.experiments import speech as S
from reproduce.results import provenance

variant = sys.argv[1]
PROFILE = {"B": "quick", "A24": "quick", "P3": "paper"}[variant]
CONTROL = {"P3": 3}  # epochs of a hard-target member trained as long as the student (its control)
V = {
 "P3": {"distilled.epochs": 3, "distilled.eval_every": 1},
 "B": {"corpus.train_speakers": 120, "baseline.epochs": 4, "distilled.epochs": 4, "baseline.eval_every": 1,
       "distilled.eval_every": 1},
 "A24": {"distilled.epochs": 24, "distilled.eval_every": 4},
}[variant]
temps = [float(t) for t in sys.argv[2].split(",")]
cfg = S.resolve_config(PROFILE, None, V)
cfg["temperatures"] = temps
dev = torch.device("cpu")
t0 = time.time()
corpus, d = S.device_corpus(cfg, dev, True, print)
print("frames", {k: v.n for k, v in d.items()})
sizes, _, base = S.full_data_members(cfg, corpus, d, True)
out = {"variant": variant, "overrides": V, "frames": {k: v.n for k, v in d.items()}}
for split in ("test", "val", "train_sample"):
    m, e = S.ensemble_eval(base.model, d[split])
    out[f"members_{split}"] = float(np.mean(m)); out[f"ensemble_{split}"] = e
print(json.dumps(out), flush=True)
teacher = S.soft_target_logits(base.model, d["train"], temps)
seeds_d = [S.SEED_BASE["distilled"] for _ in temps]
dist = S._trainer(cfg, "distilled", sizes, seeds_d, d["train"], d["test"], True, {"val": d["val"]},
                  teacher_logits=teacher, temperatures=temps,
                  hard_weights=[cfg["distilled"]["hard_weight"]] * len(temps))
for ep in sorted(dist.history):
    h = dist.history[ep]
    out.setdefault("dist_curve", {})[ep] = {"test": S.accuracy(h["test_errors"], d["test"].n),
                                           "val": S.accuracy(h["val_errors"], d["val"].n)}
last = dist.history[max(dist.history)]
te, va = S.accuracy(last["test_errors"], d["test"].n), S.accuracy(last["val_errors"], d["val"].n)
out["distilled"] = {str(t): {"test": a, "val": b} for t, a, b in zip(temps, te, va)}
for split, acc in (("test", te), ("val", va)):
    out[f"kept_{split}"] = {str(t): S.gain_kept_pct(a, out[f"members_{split}"], out[f"ensemble_{split}"])
                            for t, a in zip(temps, acc)}
if variant in CONTROL:
    # the control a longer-trained student needs: one hard-target member trained as long, so that what the
    # student gains over the baseline is not just the extra epochs
    cfg_c = dict(cfg, baseline=dict(cfg["baseline"], epochs=CONTROL[variant], eval_every=1))
    ctl = S._trainer(cfg_c, "baseline", sizes, [S.SEED_BASE["baseline"]], d["train"], d["test"], True,
                     {"val": d["val"]})
    lc = ctl.history[max(ctl.history)]
    out["control"] = {"epochs": CONTROL[variant], "test": S.accuracy(lc["test_errors"], d["test"].n)[0],
                      "val": S.accuracy(lc["val_errors"], d["val"].n)[0]}
    for split in ("test", "val"):
        out[f"kept_vs_control_{split}"] = {
            str(t): S.gain_kept_pct(out["distilled"][str(t)][split], out["control"][split], out[f"ensemble_{split}"])
            for t in temps}
out["wall_s"] = time.time() - t0
print("RESULT", json.dumps(out), flush=True)
rec = {"what": f"speech Table 1 recipe exploration (validation-led), {PROFILE} corpus", "profile": PROFILE, "variant": variant,
       "command": f"python scripts/explore_speech_recipe.py {variant} {sys.argv[2]}", "results": out,
       "provenance": provenance(dev, out["wall_s"])}
path = Path(f"results/{PROFILE}/speech-explore") / f"{variant}.json"
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(json.dumps(rec, indent=1))
