"""Image datasets for the specialists chapter, resident on the device: the generated glyph proxy for JFT (default),
CIFAR-100 and an ImageNet-style folder. Each gives the same three things, so one code path trains on any of them:

- `train`: an ImagePool, uint8 (M, C, H, W) on the device, from which training batches are drawn and augmented on
  the device with each member's own generator (glyphs: affine, stroke, blur, noise, clutter; natural images:
  random 4-px crop and horizontal flip);
- `val`: fixed images never trained on, for the clusters (the generalist's confusions) and early stopping;
- `test`: fixed test images.
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import glyphs as G
from ..train import config_fingerprint
from ..errors import UserError

CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
CIFAR100_MD5 = "eb9058c3a382ffc7106e4002c42a8d85"  # published with the dataset
DATASETS = ("glyphs", "cifar100", "imagenet")
# the augmentation code is part of what a checkpoint trained on a pool saw (ImagePool.digest)
AUGMENT_CODE = hashlib.sha256(b"".join((Path(__file__).parent / f).read_bytes()
                                       for f in ("image_sets.py", "glyphs.py"))).hexdigest()[:12]


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a.cpu().numpy() if torch.is_tensor(a) else a).tobytes())
    return h.hexdigest()[:16]


class FixedImages:
    """uint8 images (N, C, H, W) and labels on the device; `batch(idx)` gives float images in [0, 1]."""

    def __init__(self, images, labels, device):
        self.images = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images).to(device)
        self.labels = torch.as_tensor(np.asarray(labels) if not torch.is_tensor(labels) else labels,
                                      dtype=torch.int64).to(device)
        self.n, self.device = len(self.labels), torch.device(device)
        self._digest = None

    def digest(self) -> str:
        if self._digest is None:
            self._digest = _digest(self.images, self.labels)
        return self._digest

    def batch(self, idx):
        return self.images[idx].float().div_(255.0)


class ImagePool(FixedImages):
    """Training images with an augmentation drawn on the device: 'glyph' or 'natural' (crop + flip) or 'none'."""

    def __init__(self, images, labels, device, augment: str, augment_cfg: dict | None = None):
        super().__init__(images, labels, device)
        if augment not in ("glyph", "natural", "none"):
            raise UserError(f"augment={augment!r}; allowed: 'glyph', 'natural', 'none'")
        self.augment, self.augment_cfg = augment, dict(augment_cfg or {})
        if augment == "glyph" and self.images.shape[1] != 1:
            raise UserError("glyph augmentation needs single-channel images")

    def digest(self) -> str:
        return config_fingerprint([super().digest(), self.augment, self.augment_cfg, AUGMENT_CODE])

    def draw(self, idx, generator):
        """Float images (B, C, H, W) of pool[idx], each with its own augmentation from `generator`."""
        if self.augment == "glyph":
            return G.augment(self.images[:, 0], idx, generator, self.augment_cfg)
        x = self.batch(idx)
        if self.augment == "natural":
            x = crop_flip(x, generator)
        return x


def fixed_draws(pool: ImagePool, draws: int, seed: int, chunk: int = 4096) -> ImagePool:
    """`draws` augmented draws of every pool image, made once from `seed` and stored as uint8, as a pool that
    augments no further."""
    idx = torch.arange(pool.n, device=pool.device).repeat_interleave(draws)
    gen = torch.Generator(device=pool.device).manual_seed(seed)
    x = torch.cat([pool.draw(idx[i:i + chunk], gen) for i in range(0, len(idx), chunk)])
    return ImagePool(x.mul(255).round_().clamp_(0, 255).to(torch.uint8), pool.labels[idx], pool.device, "none")


def as_fixed(pool: ImagePool) -> FixedImages:
    """The same images, for predictions (FixedImages.batch)."""
    return FixedImages(pool.images, pool.labels, pool.device)


def crop_flip(x, generator, pad: int = 4):
    """Random crop after `pad` px of reflection padding, and a random horizontal flip; one gather, no host sync."""
    B, C, H, W = x.shape
    dev = x.device
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    oy = torch.randint(0, 2 * pad + 1, (B, 1, 1), device=dev, generator=generator)
    ox = torch.randint(0, 2 * pad + 1, (B, 1, 1), device=dev, generator=generator)
    flip = torch.rand(B, 1, 1, device=dev, generator=generator) < 0.5
    cols = torch.arange(W, device=dev).view(1, 1, W)
    cols = torch.where(flip, W - 1 - cols, cols) + ox
    rows = torch.arange(H, device=dev).view(1, H, 1) + oy
    pos = (rows * (W + 2 * pad) + cols).view(B, 1, H * W).expand(B, C, H * W)
    return padded.reshape(B, C, -1).gather(-1, pos).view(B, C, H, W)


@dataclass
class ImageSets:
    train: ImagePool
    val: FixedImages
    test: FixedImages
    classes: list[str]
    source: str
    card: dict

    @property
    def n_classes(self) -> int:
        return len(self.classes)


# ----------------------------------------------------------------------------------------------------
# Glyphs (the JFT-style proxy)
# ----------------------------------------------------------------------------------------------------
GLYPH_RANGES = {"all": G.RANGES, "latin": [(0x21, 0x7E), (0xC0, 0x17F)]}  # latin: ASCII, Latin-1, Extended-A


def glyph_sets(ranges: str, val_draws: int, test_draws: int, device, seed: int = 0, font_dir=None) -> ImageSets:
    """Training pool: the masters of the training faces. Validation: `val_draws` augmented draws of every training
    master (new images of training faces, never trained on as such). Test: `test_draws` augmented draws of every
    master of the held-out test faces. Both drawn once, from fixed seeds, and stored as uint8."""
    if ranges not in GLYPH_RANGES:
        raise UserError(f"glyph ranges {ranges!r}; allowed: {', '.join(GLYPH_RANGES)}")
    g = G.build(extra_dir=font_dir, ranges=GLYPH_RANGES[ranges])
    is_test = g.test_face[g.face]
    tr, te = ~is_test, is_test
    masters = torch.as_tensor(g.masters).to(device)

    def fixed(sel, draws, s):
        idx = torch.as_tensor(np.repeat(np.nonzero(sel)[0], draws)).to(device)
        gen = torch.Generator(device=device).manual_seed(s)
        out = torch.cat([G.augment(masters, idx[i:i + 4096], gen) for i in range(0, len(idx), 4096)])
        return out.mul(255).round_().to(torch.uint8), g.label[idx.cpu().numpy()]

    val_x, val_y = fixed(tr, val_draws, seed + 1)
    test_x, test_y = fixed(te, test_draws, seed + 2)
    pool = ImagePool(g.masters[tr][:, None], g.label[tr], device, "glyph")
    card = {"classes": g.n_classes, "merged_code_points": sum(len(c) - 1 for c in g.classes),
            "faces": len(g.faces), "train_faces": [f for f, t in zip(g.faces, g.test_face) if not t],
            "test_faces": [f for f, t in zip(g.faces, g.test_face) if t], "train_masters": int(tr.sum()),
            "val_images": int(len(val_y)), "test_images": int(len(test_y)), "side": G.SIDE, "ranges": ranges}
    return ImageSets(pool, FixedImages(val_x, val_y, device), FixedImages(test_x, test_y, device), g.classes,
                     f"glyphs rendered from matplotlib's fonts ({len(g.faces)} faces, {g.n_classes} classes)", card)


# ----------------------------------------------------------------------------------------------------
# CIFAR-100 (canonical URL, MD5 checked before anything is unpickled)
# ----------------------------------------------------------------------------------------------------
class _ArraysOnly(pickle.Unpickler):
    """CIFAR's pickles hold dicts of lists and numpy arrays; nothing else is admitted."""
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"),
               ("_codecs", "encode")}  # how protocol-2 pickles written by Python 3 carry bytes; harmless

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def cifar100_archive(root: Path, url: str | None = None, md5: str | None = None) -> Path:
    """The verified archive in root: downloaded from `url` when missing. A wrong checksum is an error naming both."""
    url, md5 = url or CIFAR100_URL, md5 or CIFAR100_MD5  # read at call time (tests pin others)
    root.mkdir(parents=True, exist_ok=True)
    path = root / "cifar-100-python.tar.gz"
    if not path.exists():
        tmp = path.with_suffix(".part")
        try:
            with urllib.request.urlopen(url, timeout=30) as r, open(tmp, "wb") as f:
                while chunk := r.read(1 << 20):
                    f.write(chunk)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise UserError(f"could not download CIFAR-100 from {url} ({e}); put cifar-100-python.tar.gz in {root} "
                            "by hand, or use dataset='glyphs', which needs no download") from None
        os.replace(tmp, path)
    got = hashlib.md5(path.read_bytes()).hexdigest()
    if got != md5:
        raise UserError(f"{path}: MD5 {got} != published {md5}; delete the file and download it again")
    return path


def cifar100_sets(root: Path, device, val_size: int | None = None, url: str | None = None, md5: str | None = None,
                  seed: int = 0) -> ImageSets:
    """CIFAR-100's 100 fine classes: training images minus `val_size` held out for validation, the 10,000 test
    images (val_size None: 5,000, or a tenth of a smaller training set). Colour kept (3 channels); natural-image
    augmentation."""
    path = cifar100_archive(Path(root), url, md5)
    md5 = md5 or CIFAR100_MD5
    parts = {}
    with tarfile.open(path) as tar:
        for name in ("train", "test", "meta"):
            member = tar.extractfile(f"cifar-100-python/{name}")
            parts[name] = _ArraysOnly(io.BytesIO(member.read()), encoding="bytes").load()
    names = [n.decode() for n in parts["meta"][b"fine_label_names"]]
    x = {k: np.asarray(parts[k][b"data"], np.uint8).reshape(-1, 3, 32, 32) for k in ("train", "test")}
    y = {k: np.asarray(parts[k][b"fine_labels"], np.int64) for k in ("train", "test")}
    if val_size is None:
        val_size = min(5000, len(y["train"]) // 10)
    if not 0 < val_size < len(y["train"]):
        raise UserError(f"val_size={val_size} must be between 1 and {len(y['train']) - 1}")
    perm = np.random.default_rng(seed).permutation(len(y["train"]))
    val, tr = perm[:val_size], perm[val_size:]
    card = {"classes": len(names), "train_images": len(tr), "val_images": val_size, "test_images": len(y["test"]),
            "side": 32, "channels": 3}
    return ImageSets(ImagePool(x["train"][tr], y["train"][tr], device, "natural"),
                     FixedImages(x["train"][val], y["train"][val], device), FixedImages(x["test"], y["test"], device),
                     names, f"CIFAR-100 ({path.name}, MD5 {md5})", card)


# ----------------------------------------------------------------------------------------------------
# ImageNet-style folder: root/train/<class>/*.{JPEG,jpg,png}, root/val/<class>/... (the usual layout)
# ----------------------------------------------------------------------------------------------------
IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}


def _load_folder(folder: Path, classes: list[str], side: int):
    from PIL import Image
    xs, ys = [], []
    for c, name in enumerate(classes):
        files = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for p in files:
            with Image.open(p) as im:
                im = im.convert("RGB")
                s = min(im.size)  # centre square, then resize: the aspect ratio is kept
                left, top = (im.width - s) // 2, (im.height - s) // 2
                im = im.crop((left, top, left + s, top + s)).resize((side, side), Image.BILINEAR)
                xs.append(np.asarray(im, np.uint8).transpose(2, 0, 1))
            ys.append(c)
    return np.stack(xs), np.asarray(ys, np.int64)


def imagenet_sets(root: Path, device, side: int = 32, val_fraction: float = 0.1, seed: int = 0) -> ImageSets:
    """Images resized to side x side; `val/` is the test set, and `val_fraction` of train/ is held out for
    validation. The class list is train/'s subfolders, sorted."""
    root = Path(root)
    if not (root / "train").is_dir() or not (root / "val").is_dir():
        raise UserError(f"{root} must hold train/<class>/ and val/<class>/ folders of images (ImageNet's layout)")
    classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    missing = [c for c in classes if not (root / "val" / c).is_dir()]
    if not classes or missing:
        raise UserError(f"{root}/val lacks the class folders {missing[:5]} of train/" if missing else
                        f"{root}/train has no class folders")
    x, y = _load_folder(root / "train", classes, side)
    tx, ty = _load_folder(root / "val", classes, side)
    perm = np.random.default_rng(seed).permutation(len(y))
    n_val = max(1, int(round(val_fraction * len(y))))
    val, tr = perm[:n_val], perm[n_val:]
    card = {"classes": len(classes), "train_images": len(tr), "val_images": n_val, "test_images": len(ty),
            "side": side, "channels": 3}
    return ImageSets(ImagePool(x[tr], y[tr], device, "natural"), FixedImages(x[val], y[val], device),
                     FixedImages(tx, ty, device), classes, f"image folder {root} ({len(classes)} classes)", card)
