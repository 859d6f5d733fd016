"""Digests that key checkpoints and records: of a config, of a tensor, and of the code that trains."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

# Checkpoints are keyed by the code that trains, too: a change to the core or the loss never resumes an old run.
_TRAINING_CODE = ("config.py", "data.py", "mlp.py", "trainer.py", "loss.py", "gemm.py", "precision.py")
CODE_DIGEST = hashlib.sha256(b"".join((Path(__file__).parent / f).read_bytes()
                                      for f in _TRAINING_CODE)).hexdigest()[:12]


def config_fingerprint(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def tensor_digest(t: torch.Tensor | None) -> str | None:
    if t is None:
        return None
    # the array's own buffer, not a bytes copy of it: the speech soft targets are gigabytes
    return hashlib.sha256(memoryview(t.detach().cpu().contiguous().numpy()).cast("B")).hexdigest()[:16]
