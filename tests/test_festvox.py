"""The real-speech corpus (festvox-ru): label files, frame labels, the utterance split, and the fetch's checks, on
tiny files in the package's format (the real .deb is 179 MB and comes from Debian's mirrors on first use)."""
import wave

import numpy as np
import pytest

from reproduce.datasets.speech import corpus as C
from reproduce.datasets.speech import festvox as V
from reproduce.errors import UserError

LAB = "separator ;\nnfields 1\n#\n0.30000 125 pau\n0.45000 125 k\n0.70000 125 a\n0.80000 125 t\n"


def _voice(tmp_path, n=6, seconds=1.0, rate=16000):
    voice = tmp_path / "voice"
    (voice / "lab").mkdir(parents=True)
    (voice / "wav").mkdir()
    rng = np.random.default_rng(0)
    for i in range(1, n + 1):
        if i == 3:
            continue  # the package's numbering has gaps
        with wave.open(str(voice / "wav" / f"ru_{i:04d}.wav"), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
            w.writeframes((rng.standard_normal(int(seconds * rate)) * 3000).astype("<i2").tobytes())
        (voice / "lab" / f"ru_{i:04d}.lab").write_text(LAB)
    (voice / "lab" / "ru_0099.lab").write_text(LAB)  # a label file without a recording is skipped
    return voice


def test_label_file_is_read_after_its_header_and_pauses_are_silence():
    ends, names = V.read_lab(LAB)
    assert ends.tolist() == [0.3, 0.45, 0.7, 0.8] and names == ["sil", "k", "a", "t"]
    with pytest.raises(UserError, match="no '#' line"):
        V.read_lab("0.1 125 a\n")
    with pytest.raises(UserError, match="non-decreasing"):
        V.read_lab("#\n0.5 125 a\n0.4 125 b\n")


def test_every_frame_is_labelled_by_the_phone_its_centre_falls_in(tmp_path):
    voice = _voice(tmp_path)
    u = V.utterance(voice / "wav" / "ru_0001.wav", voice / "lab" / "ru_0001.lab")
    assert u["feats"].shape == (98, 40) and len(u["names"]) == len(u["states"]) == 98
    centre_s = (np.arange(98) * 160 + 200) / 16000  # 10 ms hop, 25 ms window (400 samples) at 16 kHz
    expect = np.where(centre_s < 0.3, "sil", np.where(centre_s < 0.45, "k", np.where(
        centre_s < 0.7, "a", np.where(centre_s < 0.8, "t", "sil"))))
    assert (u["names"] == expect).all()  # after the last label: silence
    k = u["states"][u["names"] == "k"]
    assert k[0] == 0 and k[-1] == 2 and (np.diff(k) >= 0).all()


def test_corpus_splits_by_utterance_and_normalizes_by_training_frames(tmp_path):
    voice = _voice(tmp_path, n=11)
    corpus = V.build(voice, dict(V.REAL_CORPUS, test_fraction=0.3, val_fraction=0.2))
    card = C.card(corpus)
    assert sum(card["utterances"].values()) == 10 and card["utterances"]["test"] == 3
    assert card["labels"] == 4 * 3 and card["espeak_version"].startswith("festvox-ru")
    train = C.split_indices(corpus, "train")
    x = corpus["feats"][corpus["centres"][train]].astype(np.float64)
    assert np.allclose(x.mean(0), 0, atol=0.02) and np.allclose(x.std(0), 1, atol=0.02)
    per_utt = corpus["utt_split"][corpus["frame_utt"]]
    assert all(len(set(per_utt[corpus["frame_utt"] == u])) == 1 for u in range(10))


def test_fetch_names_the_fix_when_the_package_is_missing_or_altered(tmp_path):
    with pytest.raises(UserError, match="apt-get download festvox-ru=0.5"):
        V.fetch(tmp_path, download=False)
    V.folder(tmp_path).mkdir(parents=True, exist_ok=True)
    (V.folder(tmp_path) / V.DEB).write_bytes(b"not the package")
    with pytest.raises(UserError, match="SHA-256 .* not Debian's"):
        V.fetch(tmp_path, download=False)
