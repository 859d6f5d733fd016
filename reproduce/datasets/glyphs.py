"""The JFT-style proxy's label space: Unicode glyphs rendered from the fonts matplotlib ships (groundwork for the
specialists chapter, issue 6; not yet used by a chapter).

Many fine-grained classes that come in confusable clusters (e, é, è, ê, ë...; Latin, Greek and Cyrillic letters
that differ by a stroke), like JFT's mushroom types. A class is a code point; code points whose renders are
identical in every face that has them (Latin A, Greek Alpha, Cyrillic A in DejaVu) are merged into one class, since
no model could tell them apart. Test images come from faces that training never sees.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError

SIDE = 32      # master images are SIDE x SIDE uint8
GLYPH = 26     # the glyph's bounding box is scaled to fit GLYPH x GLYPH, centred
RANGES = [(0x21, 0x7E), (0xC0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x1E00, 0x1EFF), (0x2190, 0x21FF),
          (0x2200, 0x22FF)]  # ASCII, Latin-1 and Extended A/B, Greek, Cyrillic, Latin Extended Additional, arrows, math
# matplotlib's text faces with broad coverage; the size variants, display cuts, TeX faces (private encodings) and
# the LastResort fallback (a box for everything) are left out
FACES = [f"DejaVu{fam}{style}" for fam in ("Sans", "SansMono", "Serif")
         for style in ("", "-Bold", "-Oblique" if fam != "Serif" else "-Italic",
                       "-BoldOblique" if fam != "Serif" else "-BoldItalic")] + \
        ["STIXGeneral", "STIXGeneralBol", "STIXGeneralItalic", "STIXGeneralBolIta"]
TEST_FACES = ("DejaVuSans-BoldOblique", "DejaVuSansMono-Oblique", "DejaVuSerif-Italic", "STIXGeneralBolIta")


@dataclass
class Glyphs:
    masters: np.ndarray      # (M, SIDE, SIDE) uint8, ink = 255
    label: np.ndarray        # (M,) class of each master
    face: np.ndarray         # (M,) index into faces
    faces: list[str]
    test_face: np.ndarray    # (len(faces),) bool: held out for test images
    classes: list[str]       # the characters of each class (several when merged)

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def font_paths(extra_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """Face name -> .ttf path: matplotlib's faces in FACES, plus every .ttf/.otf in extra_dir (all used for training)."""
    import matplotlib
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    paths = {name: folder / f"{name}.ttf" for name in FACES if (folder / f"{name}.ttf").exists()}
    if extra_dir is not None:
        extra = Path(extra_dir)
        if not extra.is_dir():
            raise UserError(f"font folder {extra} does not exist; pass a folder of .ttf/.otf files or None")
        for p in sorted([*extra.glob("*.ttf"), *extra.glob("*.otf")]):
            paths[p.stem] = p
    return paths


def render(font, char: str) -> np.ndarray | None:
    """The glyph's ink, cropped to its bounding box, scaled to fit GLYPH x GLYPH and centred in SIDE x SIDE;
    None when the face draws nothing for it."""
    from PIL import Image
    font.set_size(48, 72)
    font.set_text(char, 0.0)
    font.draw_glyphs_to_bitmap(antialiased=True)
    img = np.asarray(font.get_image())
    rows, cols = np.nonzero(img > 32)
    if len(rows) == 0:
        return None
    crop = img[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = crop.shape
    scale = GLYPH / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray(crop).resize((nw, nh), Image.LANCZOS))
    out = np.zeros((SIDE, SIDE), np.uint8)
    top, left = (SIDE - nh) // 2, (SIDE - nw) // 2
    out[top:top + nh, left:left + nw] = small
    return out


def build(min_train_faces: int = 6, extra_dir=None, ranges=RANGES) -> Glyphs:
    """Render every code point of `ranges` in every face; keep those drawn by at least `min_train_faces` training
    faces and one test face; merge code points whose renders are identical in every face that has them."""
    from matplotlib import ft2font
    paths = font_paths(extra_dir)
    faces = list(paths)
    fonts = {name: ft2font.FT2Font(str(p)) for name, p in paths.items()}
    charmaps = {name: set(f.get_charmap()) for name, f in fonts.items()}
    is_test = np.array([name in TEST_FACES for name in faces])
    renders: dict[int, dict[int, np.ndarray]] = {}
    for lo, hi in ranges:
        for cp in range(lo, hi + 1):
            got = {}
            for i, name in enumerate(faces):
                if cp in charmaps[name]:
                    img = render(fonts[name], chr(cp))
                    if img is not None:
                        got[i] = img
            n_test = sum(1 for i in got if is_test[i])
            if len(got) - n_test >= min_train_faces and n_test >= 1:
                renders[cp] = got
    # merge code points that look the same in every face that draws them
    groups: dict[str, list[int]] = {}
    for cp, got in renders.items():
        key = hashlib.sha256(b"".join(i.to_bytes(2, "little") + got[i].tobytes() for i in sorted(got))).hexdigest()
        groups.setdefault(key, []).append(cp)
    classes, masters, label, face = [], [], [], []
    for cps in sorted(groups.values()):
        c = len(classes)
        classes.append("".join(chr(cp) for cp in cps))
        for i, img in sorted(renders[cps[0]].items()):
            masters.append(img)
            label.append(c)
            face.append(i)
    if not classes:
        raise UserError(f"no glyph is drawn by {min_train_faces} training faces and a test face; lower "
                        "min_train_faces or add fonts with extra_dir")
    return Glyphs(np.stack(masters), np.asarray(label), np.asarray(face), faces, is_test, classes)


# ----------------------------------------------------------------------------------------------------
# Augmentation on the device: every training image is a master redrawn with its own affine warp, stroke width,
# blur, noise and clutter, so a few thousand masters give an endless stream of distinct images.
# ----------------------------------------------------------------------------------------------------
AUGMENT = dict(rotate_deg=10.0,    # uniform in +-, degrees
               scale=(0.85, 1.1),  # uniform zoom factor
               shear=0.15,         # uniform in +-, x-shear
               shift_px=2.0,       # uniform in +-, pixels
               stroke_p=0.5,       # probability of thickening (half) or thinning (half) the strokes by 1 px
               blur_max=0.7,       # blend weight of a 3x3 box blur, uniform in [0, blur_max]
               noise_max=0.12,     # standard deviation of additive Gaussian noise, uniform in [0, noise_max]
               clutter_p=0.3,      # probability of a faint, shifted fragment of another glyph behind the glyph
               clutter_alpha=0.35)  # its intensity


def augment(masters, idx, generator, cfg: dict | None = None):
    """Float images (B, 1, SIDE, SIDE) in [0, 1] of masters[idx] (masters: uint8 (M, SIDE, SIDE) on the device)."""
    import math

    import torch
    import torch.nn.functional as F
    c = dict(AUGMENT, **(cfg or {}))
    dev, B = masters.device, idx.shape[0]
    u = lambda *shape: torch.rand(*shape, device=dev, generator=generator)  # noqa: E731
    x = masters[idx].unsqueeze(1).float().div_(255.0)
    ang = (u(B) * 2 - 1) * math.radians(c["rotate_deg"])
    sc = c["scale"][0] + u(B) * (c["scale"][1] - c["scale"][0])
    sh = (u(B) * 2 - 1) * c["shear"]
    t = (u(B, 2) * 2 - 1) * (2 * c["shift_px"] / SIDE)
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack([torch.stack([cos, -sin + sh, t[:, 0]], 1), torch.stack([sin, cos, t[:, 1]], 1)], 1)
    x = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), align_corners=False)
    pick = u(B).view(B, 1, 1, 1)
    thick, thin = F.max_pool2d(x, 3, 1, 1), -F.max_pool2d(-x, 3, 1, 1)
    half = c["stroke_p"] / 2
    x = torch.where(pick < half, thick, torch.where(pick < c["stroke_p"], thin, x))
    blur = F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    w = u(B).view(B, 1, 1, 1) * c["blur_max"]
    x = (1 - w) * x + w * blur
    other = masters[torch.randint(0, masters.shape[0], (B,), device=dev, generator=generator)]
    # each image's fragment shifted by its own offset of up to 12 px, through the sampler: no host sync
    move = (u(B, 2) * 2 - 1) * (24 / SIDE)
    eye = torch.eye(2, device=dev).expand(B, 2, 2)
    frag = F.grid_sample(other.unsqueeze(1).float().div(255.0),
                         F.affine_grid(torch.cat([eye, move.unsqueeze(-1)], 2), list(x.shape), align_corners=False),
                         align_corners=False)
    has = (u(B) < c["clutter_p"]).view(B, 1, 1, 1)
    x = torch.where(has, torch.maximum(x, c["clutter_alpha"] * frag), x)
    x = x + torch.randn(x.shape, device=dev, generator=generator) * (u(B).view(B, 1, 1, 1) * c["noise_max"])
    return x.clamp_(0.0, 1.0)


def plot_examples(g: Glyphs, chars: str = "eéèêëeēĕėę", generator_seed: int = 0):
    """A cluster of confusable classes: each class's masters in every face (test faces marked) and augmented draws."""
    import matplotlib.pyplot as plt
    import torch
    of = {ch: i for i, cs in enumerate(g.classes) for ch in cs}
    classes = list(dict.fromkeys(of[ch] for ch in chars if ch in of))
    n_faces = len(g.faces)
    fig, axes = plt.subplots(len(classes), n_faces + 4, figsize=((n_faces + 4) * 0.55, len(classes) * 0.6))
    masters = torch.as_tensor(g.masters)
    gen = torch.Generator().manual_seed(generator_seed)
    for r, c in enumerate(classes):
        rows = {int(f): m for f, m in zip(g.face[g.label == c], g.masters[g.label == c])}
        for f in range(n_faces):
            ax = axes[r, f]
            if f in rows:
                ax.imshow(rows[f], cmap="gray_r" if not g.test_face[f] else "Reds", vmin=0, vmax=255)
            ax.set_axis_off()
        idx = torch.as_tensor(np.nonzero(g.label == c)[0][:4])
        for k, img in enumerate(augment(masters, idx, gen)):
            axes[r, n_faces + k].imshow(img[0].numpy(), cmap="Blues", vmin=0, vmax=1)
            axes[r, n_faces + k].set_axis_off()
        axes[r, 0].set_title(g.classes[c], fontsize=8, loc="left", x=-0.6, y=0.2)
    fig.suptitle("masters in each face (red: held-out test faces), then augmented training draws (blue)", fontsize=9)
    fig.tight_layout()
    return fig
