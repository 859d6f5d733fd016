"""A labelled variant, not the paper's recipe: the MNIST student distilled from a "consistent" teacher.

The student (the profile's distilled 800-800 recipe, no dropout) trains on views of the transfer images jittered by up
to 2 px, and each step's soft targets are the teacher's logits on that same view (reproduce/train/consistent.py;
Beyer et al. 2021). The paper's distilled net never saw a jittered image, so this is shown beside the faithful recipe
as an explanation of the gap, never in its place. Transfer set: the training images minus the omitted-digit chapter's
validation split; validation errors are recorded beside test errors, and nothing is chosen on the test set.

    python scripts/explore_mnist_consistent.py --seeds 3 --tag consistent-T20        # the paper profile's teacher
    python scripts/explore_mnist_consistent.py --profile smoke --seeds 2 --tag smoke  # a check in minutes

Writes results/<profile>/mnist-consistent/<tag>.json. Interrupted runs resume from their checkpoint.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reproduce.experiments import mnist, omitted_digit  # noqa: E402
from reproduce.experiments import teacher as shared_teacher  # noqa: E402
from reproduce.experiments.common import runs_dir  # noqa: E402
from reproduce.profiles import get_profile  # noqa: E402
from reproduce.results import RESULTS_DIR, provenance, set_invocation, summarize  # noqa: E402
from reproduce.train import DeviceImages, TrainConfig  # noqa: E402
from reproduce.train.consistent import ConsistentTeacherTrainer  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--profile", default="paper", help="whose teacher and distilled recipe (default paper)")
ap.add_argument("--teacher-seeds", type=int, default=3, help="members of the shared teacher (default 3)")
ap.add_argument("--seeds", type=int, default=3)
ap.add_argument("--jitter", type=int, default=2, help="px (0..2)")
ap.add_argument("--results-dir", default=str(RESULTS_DIR), help="records go to <this>/<profile>/mnist-consistent/")
ap.add_argument("--tag", required=True)
args = ap.parse_args()
set_invocation(["python", "scripts/explore_mnist_consistent.py", *sys.argv[1:]])

dev = torch.device("cpu")
t0 = time.time()
tcfg = shared_teacher.teacher_config(args.profile, args.teacher_seeds)
m, train, test, teacher = shared_teacher.data_and_teacher(
    {"teacher": tcfg["teacher"], "teacher_seeds": tcfg["seeds"], "profile": args.profile}, dev, True)
pool, val_idx = omitted_digit.split_indices(len(m.train_y), get_profile("omitted-digit", args.profile)["val_size"])
val = DeviceImages(m.train_x[val_idx], m.train_y[val_idx], dev)
transfer = DeviceImages(m.train_x[pool], m.train_y[pool], dev)
recipe = dict(get_profile("mnist", args.profile)["distilled"], jitter=args.jitter)
seeds = [mnist.SEED_BASE["distilled"] + i for i in range(args.seeds)]
trainer = ConsistentTeacherTrainer(TrainConfig(**recipe), seeds, transfer, test, teacher=teacher,
                                   evals={"val": val}, checkpoint_dir=runs_dir(), name=f"consistent-{args.tag}",
                                   desc=f"consistent {args.tag}")
res = trainer.run()
hist = {str(k): v for k, v in sorted(res.history.items())}
out = {"test_errors": summarize(res.model.count_errors(test).tolist()),
       "val_errors": summarize(res.model.count_errors(val).tolist()), "seeds": seeds, "recipe": recipe,
       "teacher": f"{args.profile}-profile teacher, {tcfg['seeds']} seeds (student e learns from teacher e mod "
                  f"{tcfg['seeds']})", "teacher_test_errors": teacher.count_errors(test).tolist(),
       "transfer_size": transfer.n, "val_size": val.n, "curves": hist, "wall_s": round(time.time() - t0, 1)}
print(f"consistent teacher: test errors {out['test_errors']['values']} (mean {out['test_errors']['mean']:.1f}), "
      f"validation errors {out['val_errors']['values']}", flush=True)
rec = {"what": "MNIST student distilled from a consistent teacher (jittered views, soft targets on the same view): "
               "a labelled variant, not the paper's recipe", "results": out, "provenance": provenance(dev, out["wall_s"])}
path = Path(args.results_dir) / args.profile / "mnist-consistent" / f"{args.tag}.json"  # apart from the grid records
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(json.dumps(rec, indent=1))
print("wrote", path)
