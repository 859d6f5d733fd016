"""Benchmark of the training core against a plain PyTorch loop written as public reproductions write it.

Everything runs side by side in one process, on the same machine, for the same model and batch size; we report
ratios against the reference loop (absolute times on shared machines are noise), warm-up excluded, medians over
repeats. The reference loop lives here only: DataLoader over a Dataset that jitters each image on the CPU,
nn.Sequential, torch.optim.SGD, max-norm by a Python loop over layers.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

import numpy as np
import torch

from .train import gemm
from .train.timing import time_interleaved, time_steps  # noqa: F401 (bench.time_steps is public)
from .train import PAD, DeviceImages, TrainConfig, Trainer, resolve_device
from .errors import UserError

TEACHER = dict(sizes=(784, 1200, 1200, 10), batch_size=100, lr=0.05, momentum=0.9, max_norm=2.5, jitter=2,
               input_dropout=0.2, hidden_dropout=0.5, epochs=1)


class _JitterDataset(torch.utils.data.Dataset):
    def __init__(self, x_u8: np.ndarray, y: np.ndarray, jitter: int, seed: int = 0):
        self.x = np.pad(x_u8, ((0, 0), (PAD, PAD), (PAD, PAD)))
        self.y = torch.as_tensor(y, dtype=torch.int64)
        self.j = jitter
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        dy, dx = self.rng.integers(PAD - self.j, PAD + self.j + 1, 2)
        img = self.x[i, dy:dy + 28, dx:dx + 28].reshape(-1).astype(np.float32) / 255.0
        return torch.from_numpy(img), self.y[i]


def reference_step_fn(x_u8, y, cfg: TrainConfig, device) -> Callable[[], None]:
    """One step of the reference loop on MNIST images jittered on the CPU."""
    return _reference_step(_JitterDataset(x_u8, y, cfg.jitter), cfg, device)


def _reference_step(dataset, cfg: TrainConfig, device) -> Callable[[], None]:
    """One step of the reference loop per call over `dataset` (the DataLoader iterator restarts when exhausted):
    nn.Sequential with cfg's dropout, torch.optim.SGD, max-norm by a Python loop over layers when cfg asks."""
    layers = [torch.nn.Dropout(cfg.input_dropout)] if cfg.input_dropout else []
    sizes = cfg.sizes
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
            if cfg.hidden_dropout:
                layers.append(torch.nn.Dropout(cfg.hidden_dropout))
    model = torch.nn.Sequential(*layers).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    loader = torch.utils.data.DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True, drop_last=True)
    it = iter(loader)

    def step():
        nonlocal it
        try:
            xb, yb = next(it)
        except StopIteration:
            it = iter(loader)
            xb, yb = next(it)
        xb, yb = xb.to(device), yb.to(device)
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if cfg.max_norm:
            with torch.no_grad():
                for m in model:
                    if isinstance(m, torch.nn.Linear):
                        norms = m.weight.norm(dim=1, keepdim=True)
                        m.weight.mul_(torch.clamp(cfg.max_norm / norms, max=1.0))
    return step


def batched_vs_sequential(batched: Callable[[], None], singles: list, device, n_steps: int, repeats: int,
                          warmup: int) -> dict:
    """One row of the batching benchmarks: a step of the members as one batched model against a step of each of the
    same members in turn (their repeats interleaved), in ms per step and the speed-up of batching."""
    from .results import summarize
    t = time_interleaved({"b": batched, "s": lambda: [f() for f in singles]}, device, n_steps, repeats, warmup)[0]
    b, s = statistics.median(t["b"]), statistics.median(t["s"])
    return {"members": len(singles), "batched_ms": 1000 * b, "sequential_ms": 1000 * s, "batched": summarize(t["b"]),
            "sequential": summarize(t["s"]), "speedup": s / b}


def core_step_fn(train: DeviceImages, cfg: TrainConfig, n_models: int, graph: bool,
                 manual_backward: bool | None = None, onednn: bool | None = None) -> Callable[[], None]:
    """The core's training step; `onednn` overrides which library a CPU MLP's products go through (train/gemm.py)."""
    trainer = Trainer(cfg, list(range(n_models)), train, use_cuda_graph=graph, progress=False,
                      manual_backward=manual_backward)
    if onednn is not None:
        trainer.model.onednn = onednn
    return trainer.step_fn()


MKL_ROW = "core, eager, E=1, products through MKL"


def flops_per_step(cfg: TrainConfig, n_models: int) -> float:
    """Matmul FLOPs of forward + backward (3x forward) for n_models members at the batch size."""
    macs = sum(a * b for a, b in zip(cfg.sizes[:-1], cfg.sizes[1:]))
    return 3 * 2 * macs * cfg.batch_size * n_models


REFERENCE = "reference loop (DataLoader, nn.Sequential)"


def compare(reference: Callable[[], None], train, cfg: TrainConfig, ensemble: int, dev, n_steps: int, repeats: int,
            warmup: int, log) -> dict:
    """The rows every benchmark reports, side by side: the reference loop, the core eager (and graph-captured on
    CUDA) for one model, E members batched, and E separate models; each with its speed-up per model."""
    from .results import summarize
    graph = dev.type == "cuda"
    kind = "CUDA graph" if graph else "eager"
    steps = {REFERENCE: (reference, 1), "core, eager, E=1": (core_step_fn(train, cfg, 1, graph=False), 1)}
    if not graph:  # the same core with autograd's backward: what the hand-written one is worth
        steps["core, eager, E=1, autograd backward"] = (core_step_fn(train, cfg, 1, graph=False,
                                                                     manual_backward=False), 1)
    if not graph and gemm.use_onednn(cfg.sizes, cfg.batch_size):  # the core on the reference loop's GEMM library
        steps[MKL_ROW] = (core_step_fn(train, cfg, 1, graph=False, onednn=False), 1)  # (MKL): what oneDNN wins
    if graph:
        steps["core, CUDA graph, E=1"] = (core_step_fn(train, cfg, 1, graph=True), 1)
    steps[f"core, {kind}, E={ensemble} batched"] = (core_step_fn(train, cfg, ensemble, graph=graph), ensemble)
    singles = [core_step_fn(train, cfg, 1, graph=graph) for _ in range(ensemble)]
    steps[f"core, {kind}, {ensemble} separate models"] = (lambda: [s() for s in singles], ensemble)
    secs, peak = time_interleaved({k: f for k, (f, _) in steps.items()}, dev, n_steps, repeats, warmup)
    rows = {}
    for name, (_, n_models) in steps.items():
        med = statistics.median(secs[name])
        rows[name] = {"s_per_step": summarize(secs[name]), "median_ms": 1000 * med, "models": n_models,
                      "examples_per_s": n_models * cfg.batch_size / med,
                      "flop_per_s": flops_per_step(cfg, n_models) / med, "peak_mem_mb": peak[name]}
        log(f"{name:<40} {1000 * med:8.3f} ms/step")
    for r in rows.values():
        r["speedup_vs_reference_per_model"] = rows[REFERENCE]["median_ms"] * r["models"] / r["median_ms"]
    return rows


def run(device: str = "auto", n_steps: int = 20, repeats: int = 5, warmup: int = 5, ensemble: int = 10,
        log=print) -> dict:
    from .datasets import mnist as data
    from .results import provenance
    dev = resolve_device(device)
    m = data.load_mnist()
    cfg = TrainConfig(**TEACHER)
    train = DeviceImages(m.train_x, m.train_y, dev)
    t0 = time.perf_counter()
    rows = compare(reference_step_fn(m.train_x, m.train_y, cfg, dev), train, cfg, ensemble, dev, n_steps, repeats,
                   warmup, log)
    rec = {"benchmark": "teacher 784-1200-1200-10, batch 100, dropout, jitter, max-norm", "rows": rows,
           "config": {"n_steps": n_steps, "repeats": repeats, "warmup": warmup, "ensemble": ensemble,
                      "recipe": cfg.to_dict()},
           "provenance": provenance(dev, time.perf_counter() - t0)}
    return rec


def sweep(device: str = "auto", widths=(30, 300), temperatures=12, seeds=3, n_steps: int = 10, repeats: int = 3,
          warmup: int = 3, log=print) -> dict:
    """The temperature sweep's workload: T x seeds distilled students of one width as ONE batched model vs the
    same members trained one after another (a step of each in turn), side by side."""
    from .datasets import mnist as data
    from .results import provenance
    dev = resolve_device(device)
    m = data.load_mnist()
    train = DeviceImages(m.train_x, m.train_y, dev)
    E = temperatures * seeds
    t0 = time.perf_counter()
    rows = {}
    graph = dev.type == "cuda"
    for w in widths:
        cfg = TrainConfig(sizes=(784, w, w, 10), batch_size=100, lr=0.05, momentum=0.9, temperature=20.0,
                          hard_weight=0.1, epochs=1)
        logits = torch.randn(1, train.n, 10, device=dev)
        temps = [1.0 + i for i in range(temperatures) for _ in range(seeds)]
        batched = Trainer(cfg, list(range(E)), train, teacher_logits=logits, temperatures=temps,
                          use_cuda_graph=graph, progress=False).step_fn()
        singles = [Trainer(cfg, [i], train, teacher_logits=logits, temperatures=[temps[i]], use_cuda_graph=graph,
                           progress=False).step_fn() for i in range(E)]
        rows[str(w)] = batched_vs_sequential(batched, singles, dev, n_steps, repeats, warmup)
        log(f"width {w}: {E} members batched {rows[str(w)]['batched_ms']:.2f} ms/step, one after another "
            f"{rows[str(w)]['sequential_ms']:.2f} ms/step: x{rows[str(w)]['speedup']:.2f}")
    return {"benchmark": f"temperature sweep, {temperatures} T x {seeds} seeds per width, batch 100",
            "rows": rows, "config": {"n_steps": n_steps, "repeats": repeats, "warmup": warmup},
            "provenance": provenance(dev, time.perf_counter() - t0)}


SPEECH = dict(sizes=(1040, 1024, 1024, 1024, 1024, 201), batch_size=256, lr=0.05, momentum=0.9, epochs=1)


class _WindowDataset(torch.utils.data.Dataset):
    """What a public reproduction would write: each item slices its 26-frame window out of a CPU feature matrix."""

    def __init__(self, rows: np.ndarray, centres: np.ndarray, labels: np.ndarray, past: int = 20, future: int = 5):
        self.rows, self.centres, self.labels = rows, centres, torch.as_tensor(labels, dtype=torch.int64)
        self.past, self.future = past, future

    def __len__(self):
        return len(self.centres)

    def __getitem__(self, i):
        c = self.centres[i]
        return torch.from_numpy(self.rows[c - self.past:c + self.future + 1].reshape(-1).astype(np.float32)), \
            self.labels[i]


def synthetic_frames(cfg: TrainConfig, dev, n: int):
    """n random frames of 26 x 40 context windows with random labels, as the core's DeviceFrames and as the
    reference loop's Dataset (the same rows, centres and labels)."""
    from .train.data import DeviceFrames
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((n + 25, cfg.sizes[0] // 26)).astype(np.float16)
    centres = np.arange(20, n + 20)
    labels = rng.integers(0, cfg.sizes[-1], n)
    return DeviceFrames(rows, centres, labels, dev), _WindowDataset(rows, centres, labels)


def speech(device: str = "auto", sizes=SPEECH["sizes"], n_frames: int = 50_000, ensemble: int = 10,
           n_steps: int = 10, repeats: int = 3, warmup: int = 3, log=print) -> dict:
    """The speech chapter's frame classifier (the `paper` profile's 4 x 1024 net, batch 256, 26 x 40 inputs) on
    synthetic frames: a DataLoader loop against the core (E = 1, E batched, E separate), side by side."""
    from .results import provenance
    dev = resolve_device(device)
    cfg = TrainConfig(**dict(SPEECH, sizes=tuple(sizes)))
    frames, windows = synthetic_frames(cfg, dev, n_frames)
    t0 = time.perf_counter()
    out = compare(_reference_step(windows, cfg, dev), frames, cfg, ensemble, dev, n_steps, repeats, warmup, log)
    return {"benchmark": f"speech frame classifier {'-'.join(map(str, cfg.sizes))}, batch {cfg.batch_size}, "
                         "26 x 40 context windows gathered per batch", "rows": out,
            "config": {"n_steps": n_steps, "repeats": repeats, "warmup": warmup, "ensemble": ensemble,
                       "n_frames": n_frames, "recipe": cfg.to_dict()},
            "provenance": provenance(dev, time.perf_counter() - t0)}


def specialists(device: str = "auto", members: int = 12, n_steps: int = 5, repeats: int = 3, warmup: int = 2,
                log=print) -> dict:
    """The specialists chapter's workload: E dustbin specialists (glyphs, half-and-half sampling, augmentation on
    the device) as ONE batched model in each convolution layout (conv_layout.py) vs the same E trained one after
    another, all side by side; and a forward pass over test images (the specialists' predictions) in each layout.
    The network is the `paper` profile's on CUDA and the `quick` profile's on a CPU (the paper's is too slow there)."""
    from .datasets import image_sets as I
    from . import specialist_ensembles as S
    from .train import conv_layout
    from .train.cnn_trainer import CNNTrainer, SubsetSampler
    from .profiles import get_profile
    from .results import provenance, summarize
    dev = resolve_device(device)
    prof = get_profile("specialists", "paper" if dev.type == "cuda" else "quick")
    cfg = TrainConfig(**dict(prof["dustbin"], epochs=1))
    sets = I.glyph_sets("all", 1, 1, dev)
    pool = sets.train
    C = int(pool.labels.max()) + 1
    subsets = [list(range(i * 80, (i + 1) * 80)) for i in range(members)]  # the paper profile's widest
    n_out = 81
    graph = dev.type == "cuda"
    layouts = conv_layout.LAYOUTS if dev.type == "cpu" else ("grouped",)

    def trainer(sel, layout=None):
        subs = [subsets[i] for i in sel]
        t = CNNTrainer(cfg, [100 + i for i in sel], pool, prof["arch"], n_out,
                       sampler=SubsetSampler(pool.labels, subs, C), label_map=S.label_maps(subs, C, n_out),
                       use_cuda_graph=graph, progress=False)
        if layout is not None:
            t.model.layout = t.model.predict_layout = layout
        return t
    t0 = time.perf_counter()
    batched = {lay: trainer(list(range(members)), lay) for lay in layouts}
    auto = trainer(list(range(members))).model
    chosen, chosen_predict = auto.layout, auto.predict_layout
    singles = [trainer([i]).step_fn() for i in range(members)]
    steps = {lay: t.step_fn() for lay, t in batched.items()}
    secs = time_interleaved({**steps, "sequential": lambda: [f() for f in singles]}, dev, n_steps, repeats,
                            warmup)[0]
    s = statistics.median(secs["sequential"])
    x = sets.test.batch(torch.arange(min(1024, sets.test.n), device=dev))
    xs = x.unsqueeze(0).expand(members, *x.shape)

    def forward(model):
        def f():
            with torch.no_grad():
                for i in range(0, x.shape[0], 256):
                    model(xs[:, i:i + 256])
        return f
    fwd = time_interleaved({lay: forward(t.model) for lay, t in batched.items()}, dev, 1, repeats, 1)[0]
    rows = {}
    for lay in layouts:
        b = statistics.median(secs[lay])
        rows[f"specialists, {lay}"] = {
            "members": members, "layout": lay, "chosen": lay == chosen,
            "chosen_for_predictions": lay == chosen_predict, "batched_ms": 1000 * b,
            "sequential_ms": 1000 * s, "batched": summarize(secs[lay]), "sequential": summarize(secs["sequential"]),
            "speedup": s / b, "predict_images_per_s": members * x.shape[0] / statistics.median(fwd[lay])}
        log(f"{members} specialists batched ({lay}{', chosen' if lay == chosen else ''}) {1000 * b:.1f} ms/step, "
            f"one after another {1000 * s:.1f} ms/step: x{s / b:.2f}; predictions "
            f"{rows[f'specialists, {lay}']['predict_images_per_s']:.0f} member-images/s"
            f"{' (chosen)' if lay == chosen_predict else ''}")
    return {"benchmark": f"{members} dustbin specialists, CNN {prof['arch']}, batch {cfg.batch_size} per member, "
                         "glyph augmentation on the device, in each convolution layout", "rows": rows,
            "config": {"n_steps": n_steps, "repeats": repeats, "warmup": warmup, "recipe": cfg.to_dict(),
                       "arch": prof["arch"]},
            "provenance": provenance(dev, time.perf_counter() - t0)}


# data sizes (training images) for the epoch-cost scaling; a GPU's step is so short that small epochs would time
# mostly the launch of the first step
SCALING_N = {"cpu": (1500, 3000, 6000, 12000), "cuda": (7500, 15000, 30000, 60000)}
SCALING_E = (1, 2, 4, 8, 16)
# how far the per-example (or per-member) cost may drift before we call the growth worse than linear: above the
# run-to-run spread of these machines, far below what a quadratic term would add over an 8x or 16x range
LINEAR_TOLERANCE = 0.15


def epoch_fn(trainer: Trainer) -> Callable[[], None]:
    """One whole epoch per call, as Trainer.run trains it (each member's new data order, then every step), without
    evaluation or checkpoints; the schedule restarts with each call so it never runs off its table."""
    def epoch():
        trainer._new_epoch()
        trainer._ensure_graph()
        trainer.step.zero_()
        for _ in range(trainer.steps_per_epoch):
            trainer._one_step()
    return epoch


def scaling_summary(epoch_s_by_n: dict[int, float], epoch_s_by_e: dict[int, float]) -> dict:
    """From median epoch times, the two claims of the design: an epoch's cost grows linearly in the data (cost per
    example at every N within LINEAR_TOLERANCE of the smallest N's) and no worse than linearly in the members E
    (cost per member at every E at most (1 + LINEAR_TOLERANCE) x one member's)."""
    n0 = min(epoch_s_by_n)
    per_example = {n: (t / n) / (epoch_s_by_n[n0] / n0) for n, t in epoch_s_by_n.items()}
    per_member = {e: t / (e * epoch_s_by_e[1]) for e, t in epoch_s_by_e.items()}
    return {"per_example_vs_smallest_n": per_example, "per_member_vs_one": per_member,
            "linear_in_data": all(abs(r - 1) <= LINEAR_TOLERANCE for r in per_example.values()),
            "at_most_linear_in_members": all(r <= 1 + LINEAR_TOLERANCE for r in per_member.values()),
            "tolerance": LINEAR_TOLERANCE}


def scaling(device: str = "auto", sizes_n=None, members=SCALING_E, n_for_members: int | None = None,
            repeats: int = 3, warmup: int = 1, images=None, log=print) -> dict:
    """The cost of one training epoch of the MNIST teacher (batch 100) against the data size at E = 1, and against
    the number of members E batched at the smallest data size; every setup timed in turn, one epoch per repeat."""
    from .results import provenance, summarize
    dev = resolve_device(device)
    if images is None:
        from .datasets import mnist as data
        m = data.load_mnist()
        images = (m.train_x, m.train_y)
    x, y = images
    ns = tuple(sizes_n or SCALING_N.get(dev.type, SCALING_N["cpu"]))
    if max(ns) > len(y):
        raise UserError(f"data sizes {ns} exceed the {len(y)} images given; pass smaller sizes_n")
    n_e = n_for_members or ns[0]
    cfg = TrainConfig(**TEACHER)
    graph = dev.type == "cuda"
    subsets = {n: DeviceImages(x[:n], y[:n], dev) for n in sorted(set(ns) | {n_e})}

    def setup(n, e):
        return epoch_fn(Trainer(cfg, list(range(e)), subsets[n], use_cuda_graph=graph, progress=False))
    keys = list(dict.fromkeys([(n, 1) for n in ns] + [(n_e, e) for e in members]))  # (N, E) setups, once each
    t0 = time.perf_counter()
    secs = time_interleaved({k: setup(*k) for k in keys}, dev, 1, repeats, warmup)[0]
    med = {k: statistics.median(v) for k, v in secs.items()}
    summary = scaling_summary({n: med[(n, 1)] for n in ns}, {e: med[(n_e, e)] for e in members})
    rows = {f"N={n}, E={e}": {"images": n, "members": e, "epoch_s": med[(n, e)], "epoch": summarize(secs[(n, e)]),
                              "steps": n // cfg.batch_size} for n, e in keys}
    log(f"per-example cost vs N={ns[0]}: " + ", ".join(f"N={n} x{r:.2f}" for n, r in
                                                     summary["per_example_vs_smallest_n"].items()))
    log(f"per-member cost vs E=1 at N={n_e}: " + ", ".join(f"E={e} x{r:.2f}" for e, r in
                                                         summary["per_member_vs_one"].items()))
    return {"benchmark": f"one training epoch of the teacher {'-'.join(map(str, cfg.sizes))}, batch "
                         f"{cfg.batch_size}: against the data size (E = 1) and the members batched (N = {n_e})",
            "rows": rows, "summary": {k: ({str(a): b for a, b in v.items()} if isinstance(v, dict) else v)
                                      for k, v in summary.items()},
            "config": {"sizes_n": list(ns), "members": list(members), "n_for_members": n_e, "repeats": repeats,
                       "warmup": warmup, "recipe": cfg.to_dict()},
            "provenance": provenance(dev, time.perf_counter() - t0)}


# Recipes whose steps the precision benchmark times: the MNIST teacher, the speech chapter's net at `paper` (and
# its GPU-sized option, where a large product shows bf16's full gain)
PRECISION_RECIPES = {"MNIST teacher 784-1200-1200-10, batch 100": TEACHER,
                     "speech 1040-1024x4-201, batch 256": SPEECH,
                     "speech, GPU-sized 1040-2560x4-201, batch 256": dict(SPEECH, sizes=(1040, 2560, 2560, 2560,
                                                                                          2560, 201))}


def precision(device: str = "cpu", n_steps: int = 5, repeats: int = 3, warmup: int = 2, recipes=None,
              log=print) -> dict:
    """The machine's fp32 and bf16 GEMM peaks at the shapes each step multiplies (train/precision.py's probe), and
    each recipe's step, side by side in one process: the plain PyTorch loop, the core in fp32, the core with bf16
    where the probe chose it, and the core with bf16 in every layer; each with its achieved fraction of the
    peaks."""
    from .datasets import mnist as data
    from .machine import cpu_info
    from .results import provenance
    from .train import precision as P
    dev = resolve_device(device)
    if dev.type != "cpu":
        raise UserError("the precision benchmark is for the CPU path (bf16 products are CPU-only here); "
                        "use --device cpu")
    t0 = time.perf_counter()
    out = {}
    for name, recipe in (recipes or PRECISION_RECIPES).items():
        cfg = TrainConfig(**recipe)
        shapes = [(cfg.batch_size, a, b) for a, b in zip(cfg.sizes[:-1], cfg.sizes[1:])]
        probes = {f"{r}x{a}x{b}": P.decide(r, a, b, fresh=True) for r, a, b in shapes}  # plan() below reads these
        step_probe = P.decide_step(cfg.sizes, cfg.batch_size, fresh=True)  # and this, which decides
        # the peaks at this step's shapes: the best GFLOP/s any of its layer products reached in the probe, per path
        paths = {"fp32 MKL": "mkl", "fp32 oneDNN": "fp32", "bf16": "bf16"}
        peak = {k: max(v[f"{p}_gflops"] for v in probes.values()) for k, p in paths.items()
                if f"{p}_gflops" in next(iter(probes.values()))}
        peak["fp32"] = max(peak["fp32 MKL"], peak["fp32 oneDNN"])
        if cfg.sizes[0] == 784:
            m = data.load_mnist()
            train, reference = DeviceImages(m.train_x, m.train_y, dev), reference_step_fn(m.train_x, m.train_y, cfg,
                                                                                           dev)
        else:
            train, ds = synthetic_frames(cfg, dev, 20_000)
            reference = _reference_step(ds, cfg, dev)
        chosen = P.plan("bf16", cfg.sizes, cfg.batch_size, dev)
        onednn = gemm.use_onednn(cfg.sizes, cfg.batch_size)
        steps = {REFERENCE: reference, "core, fp32": core_step_fn(train, cfg, 1, graph=False)}
        # the core on the library auto did not choose: what the choice is worth here
        other = "core, fp32 through MKL" if onednn else "core, fp32 through oneDNN"
        if gemm._works():
            steps[other] = core_step_fn(train, cfg, 1, graph=False, onednn=not onednn)
        bf16_rows = (("core, bf16 where the probe chose it", chosen), ("core, bf16 in every layer", (True,) * len(shapes)))
        for label, layers in bf16_rows if P.available() and gemm._works() else ():
            trainer = Trainer(TrainConfig(**dict(recipe, precision="bf16")), [0], train, use_cuda_graph=False,
                              progress=False)
            if any(layers):  # bf16 products exist on the oneDNN path only
                trainer.model.onednn = True
            trainer.model.bf16 = tuple(layers)
            steps[label] = trainer.step_fn()
        secs, _ = time_interleaved(steps, dev, n_steps, repeats, warmup)
        flop = flops_per_step(cfg, 1)
        rows = {}
        for label in steps:
            med = statistics.median(secs[label])
            rows[label] = {"median_ms": 1000 * med, "gflop_per_s": flop / med / 1e9,
                           "of_fp32_peak": flop / med / 1e9 / peak["fp32"],
                           **({"of_bf16_peak": flop / med / 1e9 / peak["bf16"]} if "bf16" in peak else {})}
            log(f"{name}: {label:<38} {1000 * med:8.2f} ms/step  {flop / med / 1e9:6.1f} GFLOP/s "
                f"({100 * rows[label]['of_fp32_peak']:.0f}% of the fp32 peak)")
        base = rows["core, fp32"]["median_ms"]
        for r in rows.values():
            r["speedup_vs_core_fp32"] = base / r["median_ms"]
        out[name] = {"probe": probes, "step_probe": step_probe, "peak_gflops": peak, "bf16_layers": list(chosen),
                     "core_fp32_library": "oneDNN" if onednn else "MKL",
                     "chosen": P.describe("bf16", chosen), "rows": rows, "recipe": cfg.to_dict()}
    return {"benchmark": "GEMM peaks in fp32 (MKL and oneDNN) and bf16 at the steps' shapes, and each step's fraction "
                         "of them",
            "recipes": out, "cpu": cpu_info(), "bf16_available": P.available(),
            "config": {"n_steps": n_steps, "repeats": repeats, "warmup": warmup, "min_gain": P.MIN_GAIN,
                       "onednn_min_gain": P.ONEDNN_MIN_GAIN},
            "provenance": provenance(dev, time.perf_counter() - t0)}
