"""The training core: E models trained as ONE batched model on device-resident data.

Why this shape (airbench / hlb-CIFAR10 style):
- the whole dataset lives on the device as uint8 (data.py); batches are sampled, jittered and dropped out there,
  so the hot loop has no DataLoader, no host copies and (on CUDA) no host syncs inside an epoch;
- weights carry a leading model axis (E, fan_in, fan_out) and every layer is one `torch.baddbmm` (mlp.py), so an
  ensemble, a seed sweep or a temperature sweep costs one optimizer step for all members;
- every member owns a torch.Generator seeded from its own seed (config.member_generators), which draws its
  initialization, its data order, its jitter and its dropout masks: in exact arithmetic member e's run depends on its
  seed alone, not on E or on the other members, so members can be sharded across processes (distributed.py). In
  floating point it holds bit for bit where a member's products go through oneDNN one member at a time (large MLPs on
  CPU, on Intel and AMD alike), and to float rounding where they go through one batched MKL product (small MLPs on
  CPU): MKL may block a batch of 3 differently from a batch of 1 (it does on Intel Xeons; not on the AMD EPYC of the
  records), and training carries that last-bit difference along. tests/test_core.py checks it against a tolerance
  measured on the CPU at hand (tests/tolerances.py: MEMBER_REL_DIFF);
- schedules are device tensors indexed by a device step counter (config.schedules), which lets CUDA capture the
  whole step (sample, augment, forward, backward, SGD, max-norm) in one CUDA graph (trainer.py);
- on CPU the MLP's forward and backward are written by hand into buffers allocated once (mlp.py), and a large MLP's
  products go through oneDNN where MKL's path is slower (gemm.py);
- checkpoints are keyed by the recipe, the seeds, the data, the teacher and the digest of this package's training
  code (fingerprint.py), so a run resumes only into the same computation.

This package imports nothing above it (datasets, records, experiments, reports); the names below are its public API.
"""
from .config import PAD, TrainConfig, member_generators, resolve_device, schedules
from .data import DeviceFrames, DeviceImages
from .fingerprint import CODE_DIGEST, config_fingerprint, tensor_digest
from .mlp import BatchedMLP
from .trainer import Trainer, TrainResult

__all__ = ["PAD", "TrainConfig", "member_generators", "resolve_device", "schedules", "DeviceFrames", "DeviceImages",
           "CODE_DIGEST", "config_fingerprint", "tensor_digest", "BatchedMLP", "Trainer", "TrainResult"]
