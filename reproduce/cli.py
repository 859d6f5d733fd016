"""`reproduce` command line: run experiments, fetch data.

    reproduce run mnist --profile quick [--seeds 2] [--device auto] [--rerun] [--set teacher.epochs=5]
    reproduce data mnist
"""
from __future__ import annotations

import argparse
import sys
import time

from .errors import UserError
from .profiles import PROFILE_NAMES, default_profile  # noqa: F401 (default_profile: notebooks)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other user error
        self.exit(2, f"reproduce: error: {message} (see `reproduce --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    from .catalog import EXPERIMENTS
    p = _Parser(prog="reproduce", description="Reproduce 'Distilling the Knowledge in a Neural Network'.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    r = sub.add_parser("run", help="run one experiment and record its result in results/<profile>/")
    r.add_argument("experiment", choices=sorted(EXPERIMENTS))
    r.add_argument("--profile", default="auto", choices=("auto", *PROFILE_NAMES),
                   help="auto = paper on a CUDA GPU, else smoke")
    r.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the profile's)")
    r.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    r.add_argument("--rerun", action="store_true", help="train again even if a matching record exists")
    r.add_argument("--results-dir", default=None, help="where records go (default: the repository's results/)")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="ROLE.FIELD=VALUE",
                   help="override one hyperparameter, e.g. --set teacher.epochs=5 (repeatable)")
    r.add_argument("--no-progress", action="store_true")
    d = sub.add_parser("data", help="fetch, verify and cache a dataset")
    d.add_argument("dataset", choices=["mnist", "speech"])
    d.add_argument("--profile", default="smoke", choices=PROFILE_NAMES, help="speech: which profile's corpus")
    d.add_argument("--set", dest="overrides", action="append", default=[], metavar="corpus.KEY=VALUE",
                   help="speech: override one corpus setting, e.g. --set corpus.train_speakers=20")
    d.add_argument("--record", action="store_true",
                   help="speech: write the corpus card to results/<profile>/speech-corpus.json")
    b = sub.add_parser("bench", help="time the training core against a plain PyTorch loop, side by side")
    b.add_argument("--device", default="auto")
    b.add_argument("--steps", type=int, default=20, help="steps per timed repeat")
    b.add_argument("--repeats", type=int, default=5)
    b.add_argument("--ensemble", type=int, default=10, help="E for the batched-vs-separate comparison")
    b.add_argument("--record", action="store_true", help="write results/bench/<device>.json")
    b.add_argument("--sweep", action="store_true", help="time the batched temperature sweep against "
                                                        "training its members one after another instead")
    b.add_argument("--speech", action="store_true", help="time the speech chapter's frame classifier instead "
                                                         "(synthetic 26 x 40 windows, the paper profile's net)")
    b.add_argument("--specialists", action="store_true", help="time E dustbin specialists batched against one "
                                                              "after another instead (glyphs, CNN)")
    b.add_argument("--scaling", action="store_true", help="time one epoch against the data size and the number of "
                                                          "members batched instead (is the growth linear?); one "
                                                          "epoch per repeat, --steps and --ensemble do not apply")
    b.add_argument("--precision", action="store_true", help="the machine's fp32 and bf16 GEMM peaks at the steps' "
                                                          "shapes and each step's fraction of them, fp32 against "
                                                          "bf16 (CPU)")
    v = sub.add_parser("verdicts", help="print (or --write) the verdicts of the recorded paper/quick runs")
    v.add_argument("--write", action="store_true", help="update results/verdicts.json (after recording a run)")
    return p


def _record_corpus_card(profile: str, cfg: dict, card: dict, wall_s: float, results_dir=None):
    """results/<profile>/speech-corpus.json: a corpus's card with its config and provenance, so that a profile's
    corpus can be described (and checked against the issue's size targets) without training on it. Written here:
    data modules never write records."""
    import torch

    from .results import provenance, write_record
    rec = {"experiment": "speech-corpus", "profile": profile, "config": {"corpus": cfg}, "results": {"corpus": card},
           "provenance": provenance(torch.device("cpu"), wall_s)}
    return write_record(rec, profile, "speech-corpus", results_dir)


def main(argv=None) -> int:
    from .results import set_invocation
    args = build_parser().parse_args(argv)
    set_invocation(["reproduce", *(sys.argv[1:] if argv is None else argv)])  # records name this command line
    try:
        if args.command == "run":
            from .experiments import get
            profile = default_profile() if args.profile == "auto" else args.profile
            try:
                get(args.experiment).run(profile=profile, seeds=args.seeds, device=args.device,
                                         overrides=args.overrides, rerun=args.rerun, results_dir=args.results_dir,
                                         progress=not args.no_progress)
            finally:
                import torch.distributed as dist
                if dist.is_available() and dist.is_initialized():  # under torchrun: leave the group cleanly
                    dist.destroy_process_group()
        elif args.command == "bench":
            import re

            from . import bench
            from .io import atomic_write_json
            from .results import RESULTS_DIR
            if args.steps < 1 or args.repeats < 1 or args.ensemble < 2:
                raise UserError("--steps and --repeats must be >= 1 and --ensemble >= 2")
            if sum([args.sweep, args.speech, args.specialists, args.scaling, args.precision]) > 1:
                raise UserError("--sweep, --speech, --specialists, --scaling and --precision are different benchmarks; give one "
                                "of them")
            if args.precision:
                rec = bench.precision("cpu" if args.device == "auto" else args.device, n_steps=min(args.steps, 5),
                                      repeats=args.repeats)
            elif args.scaling:
                rec = bench.scaling(args.device, repeats=args.repeats)
            elif args.specialists:
                rec = bench.specialists(args.device, members=args.ensemble, n_steps=args.steps, repeats=args.repeats)
            elif args.sweep:
                rec = bench.sweep(args.device, n_steps=args.steps, repeats=args.repeats)
            elif args.speech:
                rec = bench.speech(args.device, n_steps=args.steps, repeats=args.repeats, ensemble=args.ensemble)
            else:
                rec = bench.run(args.device, args.steps, args.repeats, ensemble=args.ensemble)
                for name, r in rec["rows"].items():
                    print(f"{name:<44} {r['median_ms']:9.3f} ms/step  {r['examples_per_s']:10.0f} ex/s  "
                          f"x{r['speedup_vs_reference_per_model']:.2f} per model vs reference")
            if args.record:
                device = rec["provenance"]["device"] + (f" {rec['cpu']['cpu_model']}" if args.precision else
                                                        f" {rec['provenance']['cpu_model']}" if args.specialists
                                                        and rec["provenance"]["device"].startswith("CPU") else "")
                slug = re.sub(r"[^A-Za-z0-9]+", "-", device).strip("-").lower()
                folder = ("bench-precision" if args.precision else
                          "bench-sweep" if args.sweep else "bench-speech" if args.speech else
                          "bench-specialists" if args.specialists else "bench-scaling" if args.scaling else "bench")
                path = RESULTS_DIR / folder / f"{slug}.json"
                atomic_write_json(path, rec)
                print(f"recorded {path}")
        elif args.command == "verdicts":
            import json

            from .io import atomic_write_json
            from .results import RESULTS_DIR, git_commit
            from .scorecard import VERDICTS_FILE, recorded_verdicts
            verdicts = recorded_verdicts()
            if args.write:
                meta = {"what": "verdicts of the recorded paper/quick runs by the scorecard's rule; the tests fail "
                                "if a re-recorded run would make one worse", "commit": git_commit()}
                atomic_write_json(RESULTS_DIR / VERDICTS_FILE, {"meta": meta, "verdicts": verdicts})
                print(f"wrote {RESULTS_DIR / VERDICTS_FILE}")
            else:
                print(json.dumps(verdicts, indent=1))
        elif args.command == "data" and args.dataset == "speech":
            from .experiments.speech import resolve_config
            from .datasets.speech import corpus as C
            cfg = resolve_config(args.profile, None, args.overrides)["corpus"]
            t0 = time.perf_counter()
            card = C.card(C.load(cfg))
            if args.record:
                path = _record_corpus_card(args.profile, cfg, card, time.perf_counter() - t0)
                print(f"wrote {path}")
            print(f"speech corpus ready at {C.cache_path(cfg)}: {card['hours']['train']:.2f} h train "
                  f"({card['speakers']['train']} speakers), {card['hours']['test']:.2f} h test "
                  f"({card['speakers']['test']} speakers), {card['labels']} labels, generated in "
                  f"{card['generation_s']} s")
        elif args.command == "data":
            from .datasets.mnist import cache_path, load_mnist
            m = load_mnist()
            print(f"MNIST ready at {cache_path()} (from {m.source}): {len(m.train_y)} train, {len(m.test_y)} test")
        return 0
    except UserError as e:
        print(f"reproduce: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        import errno
        if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
            where = e.filename or "the data or results folder"
            print(f"reproduce: error: cannot write {where}: {e.strerror}. Free space or permissions there, or point "
                  "REPRODUCE_DATA_DIR / --results-dir elsewhere; nothing recorded before was changed", file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        print("reproduce: interrupted; rerun the same command to resume from the last checkpoint", file=sys.stderr)
        return 130
    finally:
        set_invocation(None)


if __name__ == "__main__":
    sys.exit(main())
