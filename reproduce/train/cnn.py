"""E independent small CNNs as ONE model (groundwork for the specialists chapter, issue 6): the members' channels
are stacked, conv weights (E*out, in, k, k) as for a grouped convolution with groups=E, so member e only ever sees
its own channels; the classifier head is a batched matmul over (E, B, features) like core.BatchedMLP.

The convolutions run in whichever layout is fastest on this machine for the model's shape (conv_layout.py: one
grouped convolution in NCHW or channels-last, or one convolution per member); input (E, B, C, H, W) either way.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from . import conv_layout

# images per member in a prediction's chunk: on the 2-core Xeon a 2-member forward pass ran 2.5x faster in chunks
# of 128-256 than of 1024 (activations that stay in cache)
PREDICT_CHUNK = 256


class BatchedCNN(torch.nn.Module):
    """E members, each: [conv3x3(c) - ReLU - conv3x3(c) - ReLU - maxpool2] per entry of `channels`, then a linear
    layer to `hidden` units, ReLU, and a linear layer to `n_classes`. He-uniform weights (PyTorch's default
    left a 4-conv net without normalization stuck at chance for epochs), zero biases; drawn per member from its
    own generator."""

    def __init__(self, channels: Sequence[int], hidden: int, n_classes: int, side: int,
                 generators: Sequence[torch.Generator], device: torch.device, in_channels: int = 1,
                 rows: int = PREDICT_CHUNK, layout: str | None = None):
        super().__init__()
        self.E = E = len(generators)
        self.channels, self.hidden, self.n_classes, self.side = tuple(channels), hidden, n_classes, side
        self.in_channels = in_channels
        # added to the logits: 0 for a member's real outputs, -1e9 for the padding of members with fewer classes
        # (finite, so that 0 * log q stays 0 in a soft-target loss)
        self.register_buffer("out_mask", None)
        self.convs = torch.nn.ParameterList()
        self.conv_biases = torch.nn.ParameterList()
        c_in = in_channels
        for c in self.channels:
            for _ in range(2):
                w = torch.empty(E, c, c_in, 3, 3, device=device)
                b = torch.empty(E, c, device=device)
                bound = math.sqrt(6.0 / (c_in * 9))  # He (Kaiming) uniform: keeps ReLU activations from fading
                for e, g in enumerate(generators):
                    w[e].uniform_(-bound, bound, generator=g)
                    b[e].zero_()
                self.convs.append(torch.nn.Parameter(w.reshape(E * c, c_in, 3, 3)))
                self.conv_biases.append(torch.nn.Parameter(b.reshape(E * c)))
                c_in = c
        feat = c_in * (side // 2 ** len(self.channels)) ** 2
        self.head = torch.nn.ParameterList()
        self.head_biases = torch.nn.ParameterList()
        for fan_in, fan_out, gain in ((feat, hidden, 6.0), (hidden, n_classes, 1.0)):
            w = torch.empty(E, fan_in, fan_out, device=device)
            b = torch.empty(E, 1, fan_out, device=device)
            bound = math.sqrt(gain / fan_in)
            for e, g in enumerate(generators):
                w[e].uniform_(-bound, bound, generator=g)
                b[e].zero_()
            self.head.append(torch.nn.Parameter(w))
            self.head_biases.append(torch.nn.Parameter(b))
        # how the members' convolutions run (conv_layout.py), in training and in predictions: the same function in
        # every layout, so they are chosen for the machine at hand and the `rows` images per member of a step
        self.layout, self.predict_layout = (layout, layout) if layout else conv_layout.choose(
            E, rows, self.channels, hidden, n_classes, side, in_channels, torch.device(device))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(E, B, 1, H, W) -> (E, B, features)."""
        layout = self.layout if torch.is_grad_enabled() else self.predict_layout
        return conv_layout.features(x, self.convs, self.conv_biases, self.E, layout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(E, B, 1, H, W) -> logits (E, B, n_classes)."""
        h = self.features(x)
        h = F.relu(torch.baddbmm(self.head_biases[0], h, self.head[0]))
        z = torch.baddbmm(self.head_biases[1], h, self.head[1])
        return z if self.out_mask is None else z + self.out_mask

    @property
    def n_models(self) -> int:
        return self.E

    @torch.no_grad()
    def predict(self, data, chunk: int = PREDICT_CHUNK) -> torch.Tensor:
        """Logits (E, N, n_classes) on all of `data` (image_sets.FixedImages), unaugmented."""
        outs = []
        for start in range(0, data.n, chunk):
            idx = torch.arange(start, min(start + chunk, data.n), device=data.device)
            x = data.batch(idx)
            outs.append(self(x.unsqueeze(0).expand(self.E, *x.shape)))
        return torch.cat(outs, dim=1)

    def count_errors(self, data) -> torch.Tensor:
        return (self.predict(data).argmax(-1) != data.labels).sum(-1)

    @torch.no_grad()
    def select(self, members: list[int]) -> "BatchedCNN":
        """A new BatchedCNN of the given members (copies of their weights), e.g. one seed's generalist."""
        dev = self.convs[0].device
        out = BatchedCNN(self.channels, self.hidden, self.n_classes, self.side,
                         [torch.Generator(device=dev) for _ in members], dev, self.in_channels)  # layout: for predict
        idx = torch.as_tensor(members, device=dev)
        for dst, src in zip(out.parameters(), self.parameters()):
            dst.copy_(src.view(self.E, -1)[idx].view_as(dst))
        if self.out_mask is not None:
            out.out_mask = self.out_mask[idx]
        return out

    def member(self, e: int) -> torch.nn.Sequential:
        """Member e as a plain nn.Sequential with copies of its weights (for tests and export)."""
        layers, c_in = [], self.in_channels
        k = 0
        for c in self.channels:
            for j in range(2):
                conv = torch.nn.Conv2d(c_in, c, 3, padding=1)
                with torch.no_grad():
                    conv.weight.copy_(self.convs[k].view(self.E, c, c_in, 3, 3)[e])
                    conv.bias.copy_(self.conv_biases[k].view(self.E, c)[e])
                layers += [conv, torch.nn.ReLU()]
                c_in = c
                k += 1
            layers.append(torch.nn.MaxPool2d(2))
        layers.append(torch.nn.Flatten())
        for i, (w, b) in enumerate(zip(self.head, self.head_biases)):
            lin = torch.nn.Linear(w.shape[1], w.shape[2])
            with torch.no_grad():
                lin.weight.copy_(w[e].T)
                lin.bias.copy_(b[e, 0])
            layers.append(lin)
            if i == 0:
                layers.append(torch.nn.ReLU())
        return torch.nn.Sequential(*layers).to(w.device)
