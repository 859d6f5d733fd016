"""Speech frames resident on the device: one float16 matrix of normalized log-Mel rows per corpus, and for
each labelled frame the row of its centre; a batch gathers the 26-frame context windows on the device.
Duck-types core.DeviceImages (n, labels, device, digest, crop), so the training core trains on it unchanged."""
from __future__ import annotations

import numpy as np
import torch

from .core import _tensor_digest, config_fingerprint


class DeviceFrames:
    def __init__(self, rows, centres, labels, device: torch.device, past: int = 20, future: int = 5,
                 rows_on_device: torch.Tensor | None = None):
        self.device = device
        self.rows = rows_on_device if rows_on_device is not None else torch.as_tensor(rows).to(device)
        self.centres = torch.as_tensor(np.asarray(centres), dtype=torch.int64).to(device)
        self.labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64).to(device)
        self.n = len(self.centres)
        self.past, self.future = past, future
        self.dim = (past + 1 + future) * self.rows.shape[1]
        self._rel = torch.arange(-past, future + 1, device=device)
        self._digest = None

    def subset(self, frames) -> "DeviceFrames":
        """The frames at these indices, sharing the rows already on the device."""
        idx = torch.as_tensor(np.asarray(frames), dtype=torch.int64, device=self.device)
        return DeviceFrames(None, self.centres[idx], self.labels[idx], self.device, self.past, self.future,
                            rows_on_device=self.rows)

    def digest(self) -> str:
        if self._digest is None:
            self._digest = config_fingerprint([_tensor_digest(self.centres), _tensor_digest(self.labels),
                                               _tensor_digest(self.rows[:: max(1, len(self.rows) // 1000)])])
        return self._digest

    def crop(self, idx: torch.Tensor, offsets: torch.Tensor | None = None) -> torch.Tensor:
        """Float inputs (..., 26 * 40) for frame indices idx (...); offsets (image jitter) do not apply to speech."""
        window = self.centres[idx].unsqueeze(-1) + self._rel  # (..., 26)
        # index_select gathers whole rows several times faster than advanced indexing on CPU
        rows = self.rows.index_select(0, window.reshape(-1))
        return rows.view(*idx.shape, self.dim).to(torch.float32)
