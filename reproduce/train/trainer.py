"""The trainer: E members of one recipe stepped at once, with checkpoints that resume, learning curves, a CUDA
graph of the whole step on GPUs and the hand-written MLP step on CPUs (the package docstring says why)."""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from ..errors import UserError, env_number
from .. import pauses
from ..io import atomic_write
from .config import PAD, TrainConfig, member_generators, schedules
from .data import DeviceImages
from .fingerprint import CODE_DIGEST, config_fingerprint, tensor_digest
from .loss import distillation_loss, hard_cross_entropy
from .mlp import BatchedMLP


# ----------------------------------------------------------------------------------------------------
# The trainer
# ----------------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    model: BatchedMLP
    history: dict = field(default_factory=dict)  # epoch -> {"loss": [E], "test_errors": [E]}
    wall_s: float = 0.0  # training seconds over every process that worked on it (a resumed run adds its own),
    # less the seconds a process was stopped (SIGSTOP while CI ran beside it): work, not waiting
    resumed_from_epoch: int = 0


class Trainer:
    """Trains E members of one recipe at once; `run()` resumes from the checkpoint if it matches.

    The checkpoint is `checkpoint` if given, else `checkpoint_dir/<name>-<fingerprint>.pt`: the fingerprint covers
    the recipe, seeds, data size, device type and teacher, so experiments that need the same model (the MNIST
    teacher, say) share one checkpoint and train it once.
    """

    def __init__(self, cfg: TrainConfig, seeds: Sequence[int], train: DeviceImages, test: DeviceImages | None = None,
                 teacher_logits: torch.Tensor | None = None, temperatures: Sequence[float] | None = None,
                 hard_weights: Sequence[float] | None = None,
                 checkpoint: Path | None = None, checkpoint_dir: Path | None = None,
                 checkpoint_every_s: float | None = None, use_cuda_graph: bool = True, progress: bool = True,
                 name: str = "model", desc: str | None = None, evals: dict | None = None,
                 manual_backward: bool | None = None, snapshot_epochs: Sequence[int] = ()):
        self.snapshot_epochs = frozenset(int(e) for e in snapshot_epochs)  # epochs whose state is also kept aside
        self.evals = dict(evals or {})  # more sets to count errors on at each evaluation: history "<name>_errors"
        self.cfg, self.seeds, self.train, self.test = cfg, [int(s) for s in seeds], train, test
        self.device = train.device
        self.E = len(self.seeds)
        self.n_train = min(cfg.train_subset or train.n, train.n)
        self.B = cfg.batch_size
        if self.B > self.n_train:
            raise UserError(f"batch_size={self.B} is larger than the {self.n_train} training images")
        self.steps_per_epoch = self.n_train // self.B
        self.gens = member_generators(self.seeds, self.device)
        self.model = self._build_model()
        self.bufs = [torch.zeros_like(p) for p in self.model.parameters()]
        self.lr_table, self.mom_table = schedules(cfg, self.steps_per_epoch, self.device)
        self.step = torch.zeros((), dtype=torch.int64, device=self.device)
        self.step_in_epoch = torch.zeros((), dtype=torch.int64, device=self.device)
        self.perm = torch.empty(self.E, self.n_train, dtype=torch.int64, device=self.device)
        self.loss_sum = torch.zeros(self.E, device=self.device)
        self.arange_b = torch.arange(self.B, device=self.device)
        self.distill = cfg.temperature is not None
        if self.distill:
            self._setup_distill(teacher_logits, temperatures, hard_weights)
        self._alloc_randoms()
        if checkpoint_every_s is None:  # seconds between checkpoints; REPRODUCE_CHECKPOINT_EVERY_S=0: every epoch
            checkpoint_every_s = env_number("REPRODUCE_CHECKPOINT_EVERY_S", 60.0)
        self.fingerprint = config_fingerprint({"cfg": cfg.to_dict(), "seeds": self.seeds, "n": self.n_train,
                                               "data": train.digest(),
                                               "temps": list(temperatures) if temperatures is not None else None,
                                               "hard": list(hard_weights) if hard_weights is not None else None,
                                               "teacher": tensor_digest(teacher_logits),
                                               "device": self.device.type, "code": CODE_DIGEST,
                                               # bf16 layers: a run resumes only into the same arithmetic
                                               **({"bf16_layers": list(self.model.bf16)}
                                                  if any(getattr(self.model, "bf16", ())) else {}),
                                               # a resumed history must have the same curves
                                               **({"evals": {k: d.digest() for k, d in self.evals.items()}}
                                                  if self.evals else {}), **self._fingerprint_extra()})
        if checkpoint is None and checkpoint_dir is not None:
            checkpoint = Path(checkpoint_dir) / f"{name}-{self.fingerprint}.pt"
        self.checkpoint, self.checkpoint_every_s = checkpoint, checkpoint_every_s
        self.progress, self.desc = progress, desc or name
        self.use_cuda_graph = (use_cuda_graph and self.device.type == "cuda"
                               and os.environ.get("REPRODUCE_CUDA_GRAPH", "1") != "0")
        # the hand-written MLP backward (BatchedMLP.backward_into): the CPU default for the core's own MLP step
        if manual_backward is None:
            manual_backward = self.device.type == "cpu" and os.environ.get("REPRODUCE_CPU_BACKWARD", "1") != "0"
        self.manual_backward = bool(manual_backward and isinstance(self.model, BatchedMLP)
                                    and type(self)._loss is Trainer._loss)
        self._graph = None

    # -- what a subclass (another model family, another data pipeline) replaces ----------------------------
    def _build_model(self) -> torch.nn.Module:
        return BatchedMLP(self.cfg.sizes, self.gens, self.device, self.cfg.precision, self.B)

    def _setup_distill(self, teacher_logits, temperatures, hard_weights):
        cfg = self.cfg
        if teacher_logits is None:
            raise ValueError("a distillation recipe needs teacher_logits (E or 1, N, C)")
        # member e learns from teacher member e mod E_teacher (one teacher per student seed)
        et = teacher_logits.shape[0]
        self.teacher_logits = teacher_logits[torch.arange(self.E) % et].to(self.device)
        temps = temperatures if temperatures is not None else [cfg.temperature] * self.E
        self.temperature = torch.tensor([float(t) for t in temps], device=self.device)
        if len(temps) != self.E or not bool((self.temperature > 0).all()):
            raise UserError(f"temperatures must be {self.E} positive values, got {list(temps)}")
        # per-member weight of the hard term: 1.0 makes a member a plain, undistilled reference
        hws = hard_weights if hard_weights is not None else [cfg.hard_weight] * self.E
        self.hard_weight = torch.tensor([float(a) for a in hws], device=self.device)
        if len(hws) != self.E or not bool(((self.hard_weight >= 0) & (self.hard_weight <= 1)).all()):
            raise UserError(f"hard_weights must be {self.E} values in [0, 1], got {list(hws)}")

    def _alloc_randoms(self):
        cfg = self.cfg
        h_sizes = cfg.sizes[1:-1]
        # per-member random buffers, filled in place from each member's generator (no cat, graph-safe)
        self._u_in = torch.empty(self.E, self.B, cfg.sizes[0], device=self.device)
        self._u_hid = [torch.empty(self.E, self.B, h, device=self.device) for h in h_sizes]
        self._off = torch.zeros(self.E, self.B, 2, dtype=torch.int64, device=self.device)
        # CPU, hidden dropout 0.5 (the paper's): each keep/drop is one random bit, 63 per int64 draw of the member's
        # generator, instead of one float uniform each (the CPU's Mersenne Twister made those the largest cost of a
        # step outside the GEMMs). Exactly Bernoulli(0.5) either way; only which draws make a mask differs.
        self._bits_hid = None
        if self.device.type == "cpu" and cfg.hidden_dropout == 0.5:
            self._bits_hid = [torch.empty(self.E, self.B, -(-h // 63), dtype=torch.int64) for h in h_sizes]
            self._bit_work = [torch.empty(self.E, self.B, -(-h // 63), 63, dtype=torch.int64) for h in h_sizes]
            self._bit_shifts = torch.arange(63, dtype=torch.int64)

    def _fingerprint_extra(self) -> dict:
        return {}

    def _on_eval(self, point: dict) -> None:
        """Called with each evaluation point (a subclass may add to it or keep the best weights)."""

    def _extra_state(self) -> list:
        return []  # tensors a subclass needs back when resuming (saved with the checkpoint)

    def _load_extra_state(self, tensors: list) -> None:
        pass

    def _finish(self) -> None:
        """Called once training is complete, before the result is returned."""

    # -- one step: sample, augment, forward, loss, backward, SGD, max-norm ------------------------------
    def _draw(self):
        cfg = self.cfg
        for e, g in enumerate(self.gens):
            if cfg.jitter:
                self._off[e].random_(PAD - cfg.jitter, PAD + cfg.jitter + 1, generator=g)
            if cfg.input_dropout:
                self._u_in[e].uniform_(generator=g)
            if cfg.hidden_dropout and self._bits_hid is not None:
                for r in self._bits_hid:
                    r[e].random_(generator=g)  # int64: 63 random bits each
            elif cfg.hidden_dropout:
                for u in self._u_hid:
                    u[e].uniform_(generator=g)

    def _batch(self):
        """This step's inputs (E, B, in), hidden dropout masks (or None) and image indices (E, B)."""
        cfg = self.cfg
        pos = self.step_in_epoch * self.B + self.arange_b
        idx = self.perm[:, pos]  # (E, B): each member's own data order
        offsets = self._off if cfg.jitter else None
        x = self.train.crop(idx, offsets)
        # the uniforms become their masks in place (redrawn every step): no new tensors, which cost page faults on CPU
        if cfg.input_dropout:
            x = x.mul_(self._u_in.ge_(cfg.input_dropout).mul_(1.0 / (1.0 - cfg.input_dropout)))
        masks = None
        if cfg.hidden_dropout and self._bits_hid is not None:
            masks = []
            for r, work, u in zip(self._bits_hid, self._bit_work, self._u_hid):
                bits = torch.bitwise_right_shift(r.unsqueeze(-1), self._bit_shifts, out=work).bitwise_and_(1)
                masks.append(torch.mul(bits.view(self.E, self.B, -1)[..., :u.shape[-1]], 2.0, out=u))
        elif cfg.hidden_dropout:
            masks = [u.ge_(cfg.hidden_dropout).mul_(1.0 / (1.0 - cfg.hidden_dropout)) for u in self._u_hid]
        return x, masks, idx

    def _loss(self):
        x, masks, idx = self._batch()
        return self._head_loss(self.model(x, masks), idx)

    def _head_loss(self, logits, idx):
        """Per-member loss (E,) of a batch's logits (E, B, C) for the training images idx (E, B)."""
        y = self.train.labels[idx]
        if self.distill:
            per = distillation_loss(logits, self.teacher_logits.gather(
                1, idx.unsqueeze(-1).expand(-1, -1, self.teacher_logits.shape[-1])), y,
                self.temperature, self.hard_weight, per_member=True)
        else:
            per = hard_cross_entropy(logits, y)
        return per

    def _update(self, momentum_done: bool = False):
        """SGD with momentum (bufs = momentum * bufs + grad, unless backward_into did it; params -= lr * bufs), then
        max-norm."""
        params = list(self.model.parameters())
        # index_select with the device step counter: no host sync, so CUDA can capture it
        at = self.step.view(1)
        lr = self.lr_table.index_select(0, at).squeeze(0)
        mom = self.mom_table.index_select(0, at).squeeze(0)
        with torch.no_grad():
            grads = [p.grad for p in params]
            if self.device.type == "cuda":  # multi-tensor kernels, captured in the graph
                if not momentum_done:
                    torch._foreach_mul_(self.bufs, mom)
                    torch._foreach_add_(self.bufs, grads)
                torch._foreach_add_(params, torch._foreach_mul(self.bufs, -lr))
            else:  # one pass per tensor and no weight-sized temporaries (on CPU each fresh one costs page faults)
                neg_lr = -lr
                for p, b, g in zip(params, self.bufs, grads):
                    if not momentum_done:
                        torch.addcmul(g, b, mom, out=b)
                    p.addcmul_(b, neg_lr)
            if self.cfg.max_norm:
                self.model.apply_max_norm(self.cfg.max_norm)
            self.step.add_(1)
            self.step_in_epoch.add_(1)

    def _train_step(self):
        if self.manual_backward:
            x, masks, idx = self._batch()
            logits = self.model.forward_for_backward(x, masks).requires_grad_()
            per = self._head_loss(logits, idx)
            (grad_logits,) = torch.autograd.grad(per.sum(), logits)
            # the momentum step rides on the gradient GEMMs; reading the step's momentum costs no sync on CPU
            mom = float(self.mom_table[int(self.step)])
            self.model.backward_into(grad_logits, mom, self.bufs)
        else:
            per = self._loss()
            per.sum().backward()
        self._update(momentum_done=self.manual_backward)
        with torch.no_grad():
            self.loss_sum.add_(per.detach())

    def _zero_grads(self):
        if self.manual_backward:  # backward_into overwrites the gradients
            return
        if self.use_cuda_graph:  # a captured graph needs the same gradient tensors on every replay
            for p in self.model.parameters():
                if p.grad is not None:
                    p.grad.zero_()
        else:  # backward then hands its fresh gradients over instead of zero-fill + accumulate
            for p in self.model.parameters():
                p.grad = None

    def _capture(self):
        """Capture _train_step in a CUDA graph; the warm-up steps are undone, so the math is unchanged."""
        state = (*self.model.parameters(), *self.bufs, self.step, self.step_in_epoch, self.loss_sum)
        saved = [t.detach().clone() for t in state]
        gen_states = [g.get_state() for g in self.gens]
        try:
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(3):
                    self._train_step_with_draw()
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            for g in self.gens:  # custom generators must be known to the graph to advance on each replay
                graph.register_generator_state(g)
            with torch.cuda.graph(graph):
                self._train_step_with_draw()
            self._graph = graph
        finally:
            with torch.no_grad():
                for t, s in zip(state, saved):
                    t.copy_(s)
            for g, s in zip(self.gens, gen_states):
                g.set_state(s)

    def _train_step_with_draw(self):
        self._draw()
        # grads are overwritten, not accumulated: zero them inside the step so the graph can replay it
        self._zero_grads()
        self._train_step()

    def step_fn(self):
        """A callable doing one training step per call, for benchmarks: one data order, positions wrap around."""
        self._new_epoch()
        self._ensure_graph()
        done = [0]

        def step():
            if done[0] == self.steps_per_epoch:  # start the (single) epoch over: schedules and positions
                self.step_in_epoch.zero_()
                self.step.zero_()
                done[0] = 0
            done[0] += 1
            self._one_step()
        return step

    def _new_epoch(self):
        """Each member's own data order for the next epoch, drawn from its own generator."""
        for e, g in enumerate(self.gens):
            self.perm[e].copy_(torch.randperm(self.n_train, generator=g, device=self.device))
        self.step_in_epoch.zero_()
        self.loss_sum.zero_()

    def _ensure_graph(self):
        if self.use_cuda_graph and self._graph is None:
            try:
                self._capture()
            except Exception as err:  # keep training, eagerly, rather than fail a long run
                print(f"[reproduce] CUDA graph capture failed ({err}); running eagerly", file=sys.stderr)
                self.use_cuda_graph = False

    def _one_step(self):
        if self._graph is not None:
            self._graph.replay()
        else:
            self._train_step_with_draw()

    # -- checkpoints ----------------------------------------------------------------------------------
    def state_dict(self, epoch: int, history: dict, wall_s: float = 0.0) -> dict:
        return {"fingerprint": self.fingerprint, "epoch": epoch, "history": json.dumps(history), "wall_s": wall_s,
                "params": [p.detach().cpu() for p in self.model.parameters()],
                "bufs": [b.cpu() for b in self.bufs], "step": int(self.step),
                "gens": [g.get_state() for g in self.gens], "extra": [t.detach().cpu() for t in self._extra_state()]}

    def _save(self, epoch: int, history: dict, wall_s: float = 0.0, state: dict | None = None) -> None:
        if self.checkpoint is not None:
            state = state or self.state_dict(epoch, history, wall_s)
            atomic_write(self.checkpoint, lambda f: torch.save(state, f))

    def snapshot_path(self, epoch: int) -> Path | None:
        """Where the state at `snapshot_epochs` epoch goes: beside the checkpoint, `<checkpoint>-epoch<N>.pt`. A
        Trainer built with `checkpoint=` that path and run(stop_after_epoch=N) gives that model back untrained."""
        if self.checkpoint is None:
            return None
        c = Path(self.checkpoint)
        return c.with_name(f"{c.stem}-epoch{epoch}{c.suffix}")

    def _try_resume(self) -> tuple[int, dict]:
        self._wall_before = 0.0  # seconds earlier processes spent on this checkpoint's epochs
        if self.checkpoint is None or not Path(self.checkpoint).exists():
            return 0, {}
        try:
            state = torch.load(self.checkpoint, map_location="cpu", weights_only=True)
        except Exception as e:  # truncated or corrupt: start over rather than use it
            print(f"[reproduce] checkpoint {self.checkpoint} unreadable ({type(e).__name__}); starting fresh",
                  file=sys.stderr)
            return 0, {}
        if state.get("fingerprint") != self.fingerprint:
            print(f"[reproduce] checkpoint {self.checkpoint} is for another config; starting fresh", file=sys.stderr)
            return 0, {}
        with torch.no_grad():
            for p, s in zip(self.model.parameters(), state["params"]):
                p.copy_(s)
            for b, s in zip(self.bufs, state["bufs"]):
                b.copy_(s)
            self.step.fill_(state["step"])
        for g, s in zip(self.gens, state["gens"]):
            g.set_state(s)
        self._load_extra_state(state.get("extra", []))
        self._wall_before = float(state.get("wall_s", 0.0))  # 0 for a checkpoint written before it was kept
        return int(state["epoch"]), {int(k): v for k, v in json.loads(state["history"]).items()}

    # -- the loop ---------------------------------------------------------------------------------------
    def run(self, stop_after_epoch: int | None = None) -> TrainResult:
        start_epoch, history = self._try_resume()
        pauses.start()
        t0, stopped0 = time.perf_counter(), pauses.paused_seconds()
        last_save = time.monotonic()

        def wall():  # a resumed stage reports the whole stage's time, not only this process's share
            return self._wall_before + time.perf_counter() - t0 - (pauses.paused_seconds() - stopped0)
        end = self.cfg.epochs if stop_after_epoch is None else min(self.cfg.epochs, max(start_epoch, stop_after_epoch))
        bar = _progress(range(start_epoch, end), self.progress, self.desc, self.cfg.epochs, start_epoch)
        for epoch in bar:
            self._new_epoch()
            self._ensure_graph()
            for _ in range(self.steps_per_epoch):
                self._one_step()
            done = epoch + 1
            if done % self.cfg.eval_every == 0 or done == self.cfg.epochs:
                point = {"loss": (self.loss_sum / self.steps_per_epoch).tolist()}
                if self.test is not None:
                    point["test_errors"] = self.model.count_errors(self.test).tolist()
                for key, data in self.evals.items():
                    point[f"{key}_errors"] = self.model.count_errors(data).tolist()
                self._on_eval(point)
                history[done] = point
                if hasattr(bar, "set_postfix"):
                    errs = point.get("test_errors")
                    shown = errs if errs is None or len(errs) <= 4 else f"mean {sum(errs) / len(errs):.0f}, " \
                        f"min {min(errs)}, max {max(errs)}"
                    bar.set_postfix(loss=f"{sum(point['loss']) / self.E:.4f}", err=shown)
            snap = done in self.snapshot_epochs and self.checkpoint is not None
            if snap or done == end or time.monotonic() - last_save >= self.checkpoint_every_s:
                state = self.state_dict(done, history, wall())  # one copy off the device for both files
                if snap:
                    atomic_write(self.snapshot_path(done), lambda f: torch.save(state, f))
                self._save(done, history, state=state)
                last_save = time.monotonic()
        if max(history, default=0) >= self.cfg.epochs:
            self._finish()
        return TrainResult(self.model, history, wall(), start_epoch)


def _progress(it, enabled: bool, desc: str, total: int, initial: int):
    if not enabled:
        return it
    from tqdm.auto import tqdm
    return tqdm(it, desc=desc, total=total, initial=initial, unit="epoch", leave=False,
                disable=os.environ.get("REPRODUCE_NO_PROGRESS") == "1")
