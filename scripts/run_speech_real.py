"""Tables 1 and 5 of the speech chapter on real recorded speech (Debian's festvox-ru, one speaker, about 99.5 minutes;
reproduce/datasets/speech/festvox.py), with the recipes of a speech profile and the net sized for this corpus.

    python scripts/run_speech_real.py quick                          # the quick recipes, 3 x 256
    python scripts/run_speech_real.py quick --set hidden=[96,96] --set baseline.epochs=6

Writes results/<profile>/speech-real.json (the speech chapter shows it beside the generated corpus). The corpus is
fetched with `apt-get download festvox-ru` on first use; where it cannot be had, this says so and writes nothing.
"""
import argparse
import sys
import time

import torch

from reproduce.datasets.speech import festvox
from reproduce.errors import UserError
from reproduce.experiments import speech as S
from reproduce.io import atomic_write_json
from reproduce.results import RESULTS_DIR, provenance

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("profile", choices=("smoke", "quick", "paper"))
ap.add_argument("--set", action="append", default=[], metavar="ROLE.FIELD=VALUE")
ap.add_argument("--results-dir", default=str(RESULTS_DIR))
args = ap.parse_args()
try:
    cfg = S.resolve_config(args.profile, None, args.set)
    t0 = time.time()
    corpus = festvox.load()
except UserError as e:
    sys.exit(f"error: {e}")
cfg["corpus"] = dict(festvox.REAL_CORPUS, source=f"{festvox.PACKAGE} {festvox.VERSION}", sha256=festvox.SHA256)
dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
_, d = S.device_corpus(cfg, dev, True, print, corpus=corpus)
card, out = S.tables(cfg, corpus, d, True, print)
wall = time.time() - t0
rec = {"experiment": "speech-real", "profile": args.profile, "config": cfg, "overrides": args.set,
       "command": "python scripts/run_speech_real.py " + " ".join(sys.argv[1:]),
       "data_source": f"Debian {festvox.DEB} (SHA-256 {festvox.SHA256[:16]}...), recorded speech of one speaker",
       "results": out, "provenance": provenance(dev, wall)}
path = atomic_write_json(f"{args.results_dir}/{args.profile}/speech-real.json", rec)
print(f"recorded {path} in {wall / 60:.1f} min")
