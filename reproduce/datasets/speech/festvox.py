"""Real recorded speech beside the generated corpus: Debian's `festvox-ru` (issue 27 part 3).

The package is the recording corpus of a Russian unit-selection voice (msu_ru_nsh, Nickolay V. Shmyrev, 2005,
BSD-like licence): 620 utterances of one speaker, about 99.5 minutes at 16 kHz, 16-bit mono, with one Festival
label file per utterance (`lab/ru_0001.lab`: after a `#` line, one "END_SECONDS 125 PHONE" line per phone, each phone
starting where the previous one ends). It comes from Debian's mirrors with `apt-get download festvox-ru` (an ordinary
client of a reachable source) and is unpacked with `dpkg -x`; nothing else is downloaded, and the .deb's SHA-256 is
checked before use.

Frames and labels follow the generated corpus exactly (features.log_mel, features.label_frames: 40 log-Mel bands of
25 ms windows every 10 ms, phone x {begin, middle, end}). With a single speaker the split is by utterance: a seeded
`test_fraction` of the utterances is the test set, a `val_fraction` of the rest is validation.
"""
from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

from ...errors import UserError
from ...io import data_dir, sha256_file
from . import features as F

PACKAGE, VERSION = "festvox-ru", "0.5+dfsg-6"
DEB = f"{PACKAGE}_{VERSION}_all.deb"
SHA256 = "21ef3f0f2978ecf2e2eddb367cb0ff4a72572196d28dc69feb84f4177af5e6c4"  # Debian bookworm's, 178,728,512 bytes
VOICE = Path("usr/share/festival/voices/russian/msu_ru_nsh_clunits")
HOW_TO_GET = (f"on a Debian or Ubuntu machine: `apt-get download {PACKAGE}={VERSION}` in {{folder}} (no need to install "
              f"festival), or copy {DEB} there from any Debian mirror (pool/main/f/festvox-ru/)")


def folder(root: Path | None = None) -> Path:
    return Path(root or data_dir()) / "speech" / PACKAGE


def fetch(root: Path | None = None, download: bool = True) -> Path:
    """The unpacked voice folder (with lab/ and wav/), downloading the .deb with apt-get if it is not there yet and
    verifying its SHA-256 before unpacking. A UserError that says how to get it when it cannot be had."""
    dest = folder(root)
    voice = dest / "x" / VOICE
    if (voice / "lab").is_dir() and (voice / "wav").is_dir() and (dest / "x" / ".verified").exists():
        return voice
    dest.mkdir(parents=True, exist_ok=True)
    deb = dest / DEB
    if not deb.exists():
        if not download or shutil.which("apt-get") is None:
            raise UserError(f"the real-speech corpus {DEB} is not in {dest}; get it " + HOW_TO_GET.format(folder=dest))
        proc = subprocess.run(["apt-get", "download", f"{PACKAGE}={VERSION}"], cwd=dest, capture_output=True,
                              text=True, timeout=1800)
        if proc.returncode != 0 or not deb.exists():
            tail = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            raise UserError(f"`apt-get download {PACKAGE}={VERSION}` failed ({tail}); get it "
                            + HOW_TO_GET.format(folder=dest))
    got = sha256_file(deb)
    if got != SHA256:
        raise UserError(f"{deb} has SHA-256 {got}, not Debian's {SHA256} for {PACKAGE} {VERSION}: delete it and "
                        "download it again")
    if shutil.which("dpkg") is None:
        raise UserError(f"unpacking {DEB} needs `dpkg -x` (Debian's dpkg); unpack it by hand into {dest / 'x'}")
    tmp = dest / "x.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(["dpkg", "-x", str(deb), str(tmp)], check=True, capture_output=True)
    shutil.rmtree(dest / "x", ignore_errors=True)
    tmp.rename(dest / "x")  # only a completely unpacked tree gets the final name
    (dest / "x" / ".verified").write_text(SHA256 + "\n")
    return voice


def read_lab(text: str) -> tuple[np.ndarray, list[str]]:
    """(end times in seconds, phone names) of a Festival label file; the header ends at the `#` line."""
    lines = text.splitlines()
    if "#" not in [ln.strip() for ln in lines]:
        raise UserError("not a Festival label file: no '#' line ends its header")
    body = lines[[ln.strip() for ln in lines].index("#") + 1:]
    ends, names = [], []
    for n, line in enumerate(body, 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise UserError(f"label line {n} {line!r}: expected 'END_SECONDS COLOUR PHONE'")
        ends.append(float(parts[0]))
        names.append(F.SILENCE if parts[2] in ("pau", "#", "sil") else parts[2])
    if not ends or any(b < a for a, b in zip(ends, ends[1:])):
        raise UserError("label file: phone end times must be present and non-decreasing")
    return np.asarray(ends), names


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise UserError(f"{path}: expected 16-bit mono PCM, got {8 * w.getsampwidth()}-bit x {w.getnchannels()}")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0, w.getframerate()


def utterance(wav_path: Path, lab_path: Path) -> dict:
    """Features (frames, 40), each frame's phone name and sub-state, and the duration in seconds."""
    wav, rate = read_wav(wav_path)
    ends, names = read_lab(lab_path.read_text())
    # phone k spans [end[k-1], end[k]); the first starts at 0; whatever follows the last label is silence
    bounds = [0] + [int(round(e * rate)) for e in ends]
    seg_names = list(names)
    if bounds[-1] < len(wav):
        bounds.append(len(wav))
        seg_names.append(F.SILENCE)
    keep = [0] + [i for i in range(1, len(bounds)) if bounds[i] > bounds[i - 1]]  # drop zero-length phones
    bounds = np.asarray([bounds[i] for i in keep])
    seg_names = [seg_names[i - 1] for i in keep[1:]]
    seg, state = F.label_frames(bounds, len(wav), rate)
    feats = F.log_mel(wav, rate)
    return {"feats": feats, "names": np.asarray(seg_names)[seg], "states": state, "seconds": len(wav) / rate}


def utterance_ids(voice: Path) -> list[str]:
    """Utterances with both a recording and a label file (the package numbers them with gaps: no ru_0007)."""
    labs = {p.stem for p in (voice / "lab").glob("*.lab")}
    ids = sorted(labs & {p.stem for p in (voice / "wav").glob("*.wav")})
    if not ids:
        raise UserError(f"{voice}: no utterance has both lab/ID.lab and wav/ID.wav")
    return ids


def build(voice: Path, cfg: dict) -> dict:
    """The corpus in the generated corpus's arrays (corpus.assemble): test utterances are a seeded `test_fraction`,
    validation a `val_fraction` of the rest, normalized by the training frames' statistics."""
    from . import corpus as C
    ids = utterance_ids(voice)
    rng = np.random.default_rng([cfg["seed"], 3])
    test = set(rng.choice(len(ids), max(1, int(round(cfg["test_fraction"] * len(ids)))), replace=False).tolist())
    groups = {"train": [i for i in range(len(ids)) if i not in test], "test": sorted(test)}
    spk, parts = [], []
    for k, (split, members) in enumerate(groups.items()):
        utts = [utterance(voice / "wav" / f"{ids[i]}.wav", voice / "lab" / f"{ids[i]}.lab") for i in members]
        spk.append(C.Speaker(k, split, "msu_ru_nsh", 0, 0, 0, len(utts)))
        parts.append({"speaker": k, "feats": np.concatenate([u["feats"] for u in utts]),
                      "names": np.concatenate([u["names"] for u in utts]),
                      "states": np.concatenate([u["states"] for u in utts]),
                      "lengths": np.asarray([len(u["feats"]) for u in utts]),
                      "seconds": sum(u["seconds"] for u in utts), "texts": [ids[i] for i in members[:3]],
                      "version": f"{PACKAGE} {VERSION}"})
    return C.assemble(dict(cfg, snr_db=None), spk, parts, 0.0)


REAL_CORPUS = {"seed": 2015, "val_fraction": 0.1, "test_fraction": 0.15}


def load(cfg: dict | None = None, root: Path | None = None, download: bool = True, log=print) -> dict:
    """The real-speech corpus, built once and cached (with its SHA-256) beside the package."""
    import hashlib
    import json

    from ...io import atomic_write
    from . import corpus as C
    cfg = dict(REAL_CORPUS, **(cfg or {}))
    key = hashlib.sha256(json.dumps([cfg, SHA256, C.CODE_DIGEST, Path(__file__).read_bytes().hex()],
                                    sort_keys=True).encode()).hexdigest()[:16]
    path = folder(root) / f"corpus-{key}.npz"
    side = path.with_suffix(".sha256")
    if path.exists() and side.exists() and sha256_file(path) == side.read_text().split()[0]:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    voice = fetch(root, download)
    log(f"building the real-speech corpus from {voice}")
    corpus = build(voice, cfg)
    atomic_write(path, lambda f: np.savez(f, **corpus))
    side.write_text(f"{sha256_file(path)}  {path.name}\n")
    return corpus
