"""Scale-out with torchrun: the members of one batched model (ensemble members, temperatures x seeds, specialists)
are sharded across ranks; each rank trains its share as one batched model, and every rank receives all members.

    torchrun --nproc_per_node=2 -m reproduce.cli run speech --profile quick

Member g goes to rank g % world_size and keeps its own seed, temperature and teacher, so a member trained on any
rank is the member a single process trains: the recorded result does not depend on the number of ranks. Only rank
0 takes the experiment's lock, shows progress and writes the record. Single-process (no torchrun) is the default
and needs none of this. A rank's checkpoint covers its own members, so a rerun after a crash resumes each shard
(with the same number of ranks; another count reshards and starts the shards afresh).
"""
from __future__ import annotations

import os

import torch

from .mlp import BatchedMLP
from .trainer import Trainer, TrainResult


def world() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) outside torchrun."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def is_main() -> bool:
    return world()[0] == 0


def local_device(device: torch.device) -> torch.device:
    """Under torchrun on GPUs, each rank takes the GPU of its LOCAL_RANK."""
    if device.type == "cuda" and world()[1] > 1 and device.index is None:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


def init(device: torch.device) -> None:
    """Join the process group once (gloo on CPU, nccl on CUDA) when launched by torchrun."""
    import torch.distributed as dist
    if world()[1] > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def train_members(cfg, seeds, train, test=None, *, teacher_logits=None, temperatures=None, hard_weights=None,
                  evals=None, **trainer_kw) -> TrainResult:
    """Trainer(...).run() for all members, sharded across torchrun's ranks when there are several."""
    rank, size = world()
    E = len(seeds)
    if size == 1:
        return Trainer(cfg, seeds, train, test, teacher_logits=teacher_logits, temperatures=temperatures,
                       hard_weights=hard_weights, evals=evals, **trainer_kw).run()
    import torch.distributed as dist
    init(train.device)
    mine = [g for g in range(E) if g % size == rank]
    pick = lambda xs: None if xs is None else [xs[g] for g in mine]  # noqa: E731
    part = None
    if mine:
        teach = None
        if teacher_logits is not None:  # member g learns from teacher g mod E_teacher, as in one process
            teach = teacher_logits[torch.tensor([g % teacher_logits.shape[0] for g in mine],
                                                device=teacher_logits.device)]
        kw = dict(trainer_kw, progress=trainer_kw.get("progress", True) and rank == 0)
        res = Trainer(cfg, pick(seeds), train, test, teacher_logits=teach, temperatures=pick(temperatures),
                      hard_weights=pick(hard_weights), evals=evals, **kw).run()
        part = {"members": mine, "params": [p.detach().cpu() for p in res.model.parameters()],
                "history": res.history, "wall_s": res.wall_s, "resumed": res.resumed_from_epoch}
    parts = [None] * size
    dist.all_gather_object(parts, part)
    parts = [p for p in parts if p is not None]
    model = BatchedMLP(cfg.sizes, [torch.Generator(device=train.device) for _ in range(E)], train.device)
    with torch.no_grad():
        for p in parts:
            idx = torch.tensor(p["members"], device=train.device)
            for full, shard in zip(model.parameters(), p["params"]):
                full.index_copy_(0, idx, shard.to(train.device))
    history = {}
    for epoch in parts[0]["history"]:
        point = {}
        for key in parts[0]["history"][epoch]:
            vals = [None] * E
            for p in parts:
                for j, g in enumerate(p["members"]):
                    vals[g] = p["history"][epoch][key][j]
            point[key] = vals
        history[epoch] = point
    return TrainResult(model, history, max(p["wall_s"] for p in parts), min(p["resumed"] for p in parts))
