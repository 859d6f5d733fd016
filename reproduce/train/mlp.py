"""E independent ReLU MLPs as one batched model, with the hand-written CPU forward and backward.

On CPU a step is a few large GEMMs and everything else is memory traffic, so the MLP's forward and backward are
written by hand into buffers allocated once (no autograd graph, no fresh activation or gradient tensors, no
zero-fill-and-accumulate); the gradients are autograd's (tested). A large MLP's products go through oneDNN, member by
member, where this machine runs them faster than MKL's path (gemm.py).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from . import gemm, precision as _precision
from .data import DeviceImages


class BatchedMLP(torch.nn.Module):
    """E independent ReLU MLPs sizes[0]-...-sizes[-1] with weights (E, fan_in, fan_out)."""

    def __init__(self, sizes: Sequence[int], generators: Sequence[torch.Generator], device: torch.device,
                 precision: str = "fp32", rows: int = 100, path: tuple | None = None):
        """path: (oneDNN?, bf16 per layer) instead of this machine's choice (the step probe times each path)."""
        super().__init__()
        self.sizes = tuple(int(s) for s in sizes)
        E = len(generators)
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            # PyTorch's nn.Linear default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn per member from its own stream
            bound = 1.0 / math.sqrt(fan_in)
            w = torch.empty(E, fan_in, fan_out, device=device)
            b = torch.empty(E, 1, fan_out, device=device)
            for e, g in enumerate(generators):
                w[e].uniform_(-bound, bound, generator=g)
                b[e].uniform_(-bound, bound, generator=g)
            self.weights.append(torch.nn.Parameter(w))
            self.biases.append(torch.nn.Parameter(b))
        # the CPU path's products: oneDNN (member by member) or MKL (one bmm for all members), whichever this
        # machine runs faster at these shapes; see gemm.py
        # per layer, bf16 products in training steps of `rows` examples per member (precision.py); all False in fp32
        if path is not None:
            self.onednn, self.bf16 = bool(path[0]), tuple(bool(b) for b in path[1])
        else:
            self.onednn = device.type == "cpu" and gemm.use_onednn(self.sizes, rows, precision)
            self.bf16 = _precision.plan(precision, self.sizes, rows, device)
        self._wb = None  # a training step's bf16 weights (forward_for_backward to backward_into)

    @property
    def n_models(self) -> int:
        return self.weights[0].shape[0]

    def forward(self, x: torch.Tensor, hidden_masks: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """x (E, B, in) -> logits (E, B, out); hidden_masks[i] (already scaled by 1/keep) multiplies hidden layer i."""
        h = x
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = torch.relu(h)
                if hidden_masks is not None:
                    h = h * hidden_masks[i]
        return h

    # -- the CPU training path: forward and backward by hand into buffers allocated once ------------------
    # On CPU every fresh activation or gradient tensor is new memory (page faults) and every zero-fill or
    # accumulate is another pass over the weights; autograd does both each step. The math is autograd's: the same
    # baddbmm / bmm products in the same order (tests check the gradients against autograd's).
    def _buffer(self, key, shape, dtype=torch.float32) -> torch.Tensor:
        """A work tensor kept between steps (also max-norm's, on every device)."""
        bufs = self.__dict__.setdefault("_step_buffers", {})
        t = bufs.get(key)
        if t is None or t.shape != shape:
            t = bufs[key] = torch.empty(shape, device=self.weights[0].device, dtype=dtype)
        return t

    @torch.no_grad()
    def forward_for_backward(self, x: torch.Tensor, hidden_masks: Sequence[torch.Tensor] | None = None):
        """forward(), keeping each layer's input for backward_into(); returns fresh logits (E, B, out)."""
        if self.onednn:
            return self._forward_for_backward_onednn(x, hidden_masks)
        E, B = x.shape[0], x.shape[1]
        self._saved, self._masks = [x], hidden_masks
        h = x
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            if i == last:
                return torch.baddbmm(b, h, w)
            h = torch.baddbmm(b, h, w, out=self._buffer(("h", i), (E, B, w.shape[2])))
            h.clamp_(min=0)
            if hidden_masks is not None:
                h.mul_(hidden_masks[i])
            self._saved.append(h)

    @torch.no_grad()
    def backward_into(self, grad_logits: torch.Tensor, momentum: float | None = None, bufs=None) -> None:
        """Gradients of the loss whose d/dlogits is grad_logits, written into each parameter's .grad; or, given SGD's
        momentum buffers `bufs` (in parameters() order) and the step's `momentum`, bufs = momentum * bufs + gradient
        with .grad untouched: the weight GEMM accumulates into its buffer, which saves writing a weight-sized
        gradient and reading it back (on CPU, this step is bound by passes over the weights)."""
        if self.onednn:
            return self._backward_into_onednn(grad_logits, momentum, bufs)
        g = grad_logits
        n = len(self.weights)
        for i in range(n - 1, -1, -1):
            w, b, a = self.weights[i], self.biases[i], self._saved[i]
            if bufs is not None:
                bufs[i].baddbmm_(a.transpose(1, 2), g, beta=momentum)
                bufs[n + i].mul_(momentum).add_(g.sum(1, keepdim=True))
            else:
                self._ensure_grads(w, b)
                torch.bmm(a.transpose(1, 2), g, out=w.grad)
                torch.sum(g, dim=1, keepdim=True, out=b.grad)
            if i == 0:
                break
            gh = torch.bmm(g, w.transpose(1, 2), out=self._buffer(("g", i), a.shape))
            if self._masks is not None:
                gh.mul_(self._masks[i - 1])
            # ReLU's backward as autograd's (a is relu(.) x mask, zero wherever either is), in place; on CPU
            # masked_fill_(a <= 0, 0) is ~10x slower than this vectorized kernel
            g = torch.ops.aten.threshold_backward.grad_input(gh, a, 0.0, grad_input=gh)
        self._saved = self._masks = None

    @staticmethod
    def _ensure_grads(w, b):
        if w.grad is None or w.grad.shape != w.shape:
            w.grad, b.grad = torch.empty_like(w), torch.empty_like(b)

    # oneDNN multiplies one matrix pair per call, so the members go one after another, each through its own
    # layers; a member's products do not depend on E (alone or batched, its run is the same bit for bit)
    def _forward_for_backward_onednn(self, x, hidden_masks):
        self._saved, self._masks = [[x[e]] for e in range(x.shape[0])], hidden_masks
        # a bf16 layer's weights rounded once per step, for its forward and its input gradient
        self._wb = [self._buffer(("wb", i), w.shape, torch.bfloat16).copy_(w) if on else None
                    for i, (w, on) in enumerate(zip(self.weights, self.bf16))]
        return torch.stack([self._logits_onednn(x[e], e, hidden_masks, saved)
                            for e, saved in enumerate(self._saved)])

    def _backward_into_onednn(self, grad_logits, momentum, bufs):
        n = len(self.weights)
        if bufs is None:
            for w, b in zip(self.weights, self.biases):
                self._ensure_grads(w, b)
        for e, saved in enumerate(self._saved):
            g = grad_logits[e]
            for i in range(n - 1, -1, -1):
                w, b, a = self.weights[i], self.biases[i], saved[i]
                gw = gemm.grad_weight(a, g, bf16=self.bf16[i])
                if bufs is not None:  # bufs = momentum * bufs + gradient, one pass
                    torch.add(gw, bufs[i][e], alpha=momentum, out=bufs[i][e])
                    bufs[n + i][e].mul_(momentum).add_(g.sum(0, keepdim=True))
                else:
                    w.grad[e].copy_(gw)
                    torch.sum(g, dim=0, keepdim=True, out=b.grad[e])
                if i == 0:
                    break
                gh = gemm.grad_input(g, w[e] if self._wb[i] is None else self._wb[i][e], bf16=self.bf16[i])
                if self._masks is not None:
                    gh.mul_(self._masks[i - 1][e])
                g = torch.ops.aten.threshold_backward.grad_input(gh, a, 0.0, grad_input=gh)
        self._saved = self._masks = self._wb = None

    @torch.no_grad()
    def apply_max_norm(self, max_norm: float) -> None:
        """Clip each unit's incoming weight vector to L2 norm <= max_norm (Srivastava et al. 2014)."""
        for i, w in enumerate(self.weights):
            # sqrt of a sum of squares over fan_in, squares in a buffer kept between steps: on CPU, vector_norm over
            # this strided axis is twice as slow, and a fresh weight-sized temporary costs page faults every step
            norms = torch.mul(w, w, out=self._buffer(("sq", i), w.shape)).sum(1, keepdim=True).sqrt_()
            scale = torch.clamp(max_norm / (norms + 1e-12), max=1.0)
            # on CPU a look at the scales costs no sync, and a layer with no unit over the bound (the large hidden
            # layers, for most of training) is left alone instead of multiplied by ones: a pass over it saved
            if w.device.type != "cpu" or bool((scale < 1.0).any()):
                w.mul_(scale)

    @torch.no_grad()
    def predict(self, images: DeviceImages, chunk: int = 2000) -> torch.Tensor:
        """Logits (E, N, out) on all images, unjittered, no dropout."""
        E = self.n_models
        outs = []
        for start in range(0, images.n, chunk):
            idx = torch.arange(start, min(start + chunk, images.n), device=images.device)
            x = images.crop(idx)
            if self.onednn:
                outs.append(torch.stack([self._logits_onednn(x, e) for e in range(E)]))
            else:
                outs.append(self(x.unsqueeze(0).expand(E, -1, -1)))
        return torch.cat(outs, dim=1)

    def _logits_onednn(self, x: torch.Tensor, e: int, hidden_masks=None, saved: list | None = None) -> torch.Tensor:
        """Member e's logits of x (B, in) through oneDNN; masks its hidden layers and appends them to `saved`."""
        last = len(self.weights) - 1
        wb = self._wb if saved is not None else None  # training steps only; predict is fp32
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            if wb is not None and wb[i] is not None:
                x = gemm.linear(x, wb[i][e], b[e, 0], relu=i < last, bf16=True)
            else:
                x = gemm.linear(x, w[e], b[e, 0], relu=i < last)
            if i < last:
                if hidden_masks is not None:
                    x.mul_(hidden_masks[i][e])
                if saved is not None:
                    saved.append(x)
        return x

    def count_errors(self, images: DeviceImages) -> torch.Tensor:
        """Test errors per member (E,), as a device tensor."""
        return (self.predict(images).argmax(-1) != images.labels).sum(-1)

