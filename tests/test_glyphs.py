"""The glyph label space (groundwork for the specialists chapter): enough fine-grained classes, confusable
neighbours kept apart, identical renders merged, test faces never used for training."""
import numpy as np
import pytest

from reproduce.datasets import glyphs
from reproduce.errors import UserError


@pytest.fixture(scope="module")
def g():
    return glyphs.build()


def test_a_thousand_classes_from_sixteen_faces(g):
    assert g.n_classes >= 1000 and len(g.faces) == 16 and g.test_face.sum() == 4
    assert g.masters.dtype == np.uint8 and g.masters.shape[1:] == (32, 32)
    per_class = np.bincount(g.label)
    assert per_class.min() >= 7  # >= 6 training faces and >= 1 test face each
    for c in range(0, g.n_classes, 97):  # every class has a test face and training faces
        faces = g.face[g.label == c]
        assert g.test_face[faces].any() and (~g.test_face[faces]).sum() >= 6


def test_confusable_letters_stay_apart_and_identical_renders_merge(g):
    of = {ch: i for i, chars in enumerate(g.classes) for ch in chars}
    assert len({of[c] for c in "eéèêë"}) == 5
    assert of["Ð"] == of["Đ"]  # the same drawing in every face: one class
    # glyphs are centred and scaled: ink fills the box and stays off the border
    m = g.masters[g.label == of["e"]]
    assert (m[:, :2].max() == 0) and m.max() == 255


def test_rendering_is_deterministic(g):
    again = glyphs.build(ranges=[(0x61, 0x7A)])
    of = {ch: i for i, chars in enumerate(g.classes) for ch in chars}
    a = g.masters[g.label == of["q"]]
    b = again.masters[again.label == again.classes.index("q")]
    assert np.array_equal(a, b)


def test_a_missing_font_folder_is_named():
    with pytest.raises(UserError, match="does not exist"):
        glyphs.font_paths("/nonexistent/fonts")


def test_augmentation_is_on_the_device_deterministic_and_changes_the_image(g):
    import torch
    masters = torch.as_tensor(g.masters)
    idx = torch.arange(0, 64)
    a = glyphs.augment(masters, idx, torch.Generator().manual_seed(3))
    b = glyphs.augment(masters, idx, torch.Generator().manual_seed(3))
    c = glyphs.augment(masters, idx, torch.Generator().manual_seed(4))
    assert a.shape == (64, 1, 32, 32) and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    plain = masters[idx].unsqueeze(1).float() / 255
    off = dict(rotate_deg=0.0, scale=(1.0, 1.0), shear=0.0, shift_px=0.0, stroke_p=0.0, blur_max=0.0,
               noise_max=0.0, clutter_p=0.0)
    same = glyphs.augment(masters, idx, torch.Generator().manual_seed(3), off)
    assert torch.allclose(same, plain, atol=1e-5)  # every transformation off: the master itself
    assert (a - plain).abs().mean() > 0.02  # on: a visibly different image, ink still where the glyph is
    assert ((a > 0.5) & (plain > 0.5)).sum() > 0.3 * (plain > 0.5).sum()
