"""The speech-style corpus: generate (in parallel over cores), label, normalize, cache, and load.

A speaker is an espeak-ng voice variant (+m3, +f2, +klatt...) with its own speaking rate, pitch and pitch
range; test speakers use variants that no training speaker uses. Sentences are random words from a list of the
4,000 most frequent English words (reproduce/speech/words.txt, from the `wordfreq` package's English data,
CC BY-SA 4.0, profanity removed). Each utterance gets additive noise at a random SNR and spectral tilt.
Deterministic for a seed: every speaker's sentences, settings and noise come from its own generator.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import UserError, env_number, is_int, is_number
from ...io import atomic_write, sha256_file
from . import features as F

WORDS = Path(__file__).with_name("words.txt")
CONTEXT_PAST, CONTEXT_FUTURE = 20, 5  # 26 frames in, the label is the 21st's (section 4)
CODE_DIGEST = hashlib.sha256(b"".join(Path(__file__).with_name(f).read_bytes()
                                      for f in ("corpus.py", "features.py", "espeak.py", "words.txt"))).hexdigest()[:12]
SPLITS = {"train": 0, "val": 1, "test": 2}
CORPUS_KEYS = {"seed", "language", "train_speakers", "test_speakers", "utterances_per_speaker", "test_utterances",
               "words", "snr_db", "rate", "pitch", "val_fraction", "test_variant_fraction"}


@dataclass
class Speaker:
    index: int
    split: str      # "train" or "test"
    voice: str      # e.g. "en-us+m3"
    rate: int       # words per minute
    pitch: int      # espeak's 0..100
    pitch_range: int
    utterances: int

    @property
    def name(self) -> str:
        return f"{self.voice} {self.rate}wpm p{self.pitch}/{self.pitch_range}"


def check_config(cfg: dict) -> dict:
    unknown = set(cfg) - CORPUS_KEYS
    missing = CORPUS_KEYS - set(cfg)
    if unknown or missing:
        raise UserError(f"speech corpus config: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}; "
                        f"expected exactly {sorted(CORPUS_KEYS)}")
    for key in ("train_speakers", "test_speakers", "utterances_per_speaker", "test_utterances"):
        if not is_int(cfg[key]) or cfg[key] < 1:
            raise UserError(f"corpus.{key}={cfg[key]!r} must be a positive integer")
    if not is_int(cfg["seed"]):
        raise UserError(f"corpus.seed={cfg['seed']!r} must be an integer")
    if not isinstance(cfg["language"], str) or not cfg["language"]:
        raise UserError(f"corpus.language={cfg['language']!r} must be an espeak-ng language name, e.g. 'en-us'")
    for key, number in (("words", is_int), ("snr_db", is_number), ("rate", is_int), ("pitch", is_int)):
        pair = cfg[key]
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(number(v) for v in pair) \
                or pair[0] > pair[1] or (key == "words" and pair[0] < 1):
            kind = "integers" if number is is_int else "numbers"
            raise UserError(f"corpus.{key}={pair!r} must be [low, high], two {kind} with low <= high"
                            + (", low >= 1" if key == "words" else ""))
    for key in ("val_fraction", "test_variant_fraction"):
        if not is_number(cfg[key]) or not 0 < cfg[key] < 1:
            raise UserError(f"corpus.{key}={cfg[key]!r} must be a number in (0, 1)")
    return cfg



def speakers(cfg: dict, variants: list[str]) -> list[Speaker]:
    """Training and test speakers; test variants are never used by a training speaker."""
    rng = np.random.default_rng([cfg["seed"], 0])
    order = [variants[i] for i in rng.permutation(len(variants))]
    n_test = max(1, int(round(len(order) * cfg["test_variant_fraction"])))
    pools = {"test": order[:n_test], "train": order[n_test:]}
    out = []
    for split, count, utts in (("train", cfg["train_speakers"], cfg["utterances_per_speaker"]),
                               ("test", cfg["test_speakers"], cfg["test_utterances"])):
        pool = pools[split]
        for k in range(count):
            out.append(Speaker(len(out), split, f"{cfg['language']}+{pool[k % len(pool)]}",
                               int(rng.integers(cfg["rate"][0], cfg["rate"][1] + 1)),
                               int(rng.integers(cfg["pitch"][0], cfg["pitch"][1] + 1)),
                               int(rng.integers(30, 71)), utts))
    return out


def _words() -> tuple[list[str], np.ndarray]:
    words = WORDS.read_text().split()
    weights = 1.0 / (np.arange(len(words)) + 20.0)  # Zipf-like: frequent words more often, as in real speech
    return words, weights / weights.sum()


def _speak(job: tuple[dict, Speaker]) -> dict:
    """All utterances of one speaker: features, per-frame phone names and sub-states (runs in a worker)."""
    from .espeak import shared
    cfg, spk = job
    synth = shared()
    rng = np.random.default_rng([cfg["seed"], 1, spk.index])
    words, p = _words()
    fbank = F.mel_filterbank(synth.sample_rate)
    feats, names, states, lengths, seconds, texts = [], [], [], [], 0.0, []
    for _ in range(spk.utterances):
        n_words = int(rng.integers(cfg["words"][0], cfg["words"][1] + 1))
        text = " ".join(words[i] for i in rng.choice(len(words), n_words, p=p))
        u = synth.say(text, spk.voice, spk.rate, spk.pitch, spk.pitch_range, seed=int(rng.integers(2**31)))
        wav = F.add_noise(u.wav.astype(np.float32) / 32768.0, float(rng.uniform(*cfg["snr_db"])),
                          float(rng.uniform(0.0, 1.5)), rng)
        fe = F.log_mel(wav, synth.sample_rate, fbank)
        bounds, seg_names = F.segments(u.phones, u.end, len(u.wav))
        seg, state = F.label_frames(bounds, len(u.wav), synth.sample_rate)
        feats.append(fe)
        names.append(np.asarray(seg_names)[seg])
        states.append(state)
        lengths.append(len(fe))
        seconds += len(u.wav) / synth.sample_rate
        texts.append(text)
    return {"speaker": spk.index, "feats": np.concatenate(feats), "names": np.concatenate(names),
            "states": np.concatenate(states), "lengths": np.asarray(lengths), "seconds": seconds,
            "texts": texts[:3], "version": synth.version}


def _speak_in_fresh_process(job: tuple[dict, Speaker]) -> dict:
    """_speak() in a new Python process. libespeak-ng keeps state from one utterance to the next (pitch flutter,
    wave phase) that neither its seeds nor a re-initialization reset, so only a fresh process replays a speaker
    bit for bit. A plain subprocess, not multiprocessing: that would re-import a user's unguarded __main__."""
    import dataclasses
    import io
    import subprocess
    import sys
    cfg, spk = job
    proc = subprocess.run([sys.executable, "-m", "reproduce.datasets.speech.corpus"], capture_output=True,
                          input=json.dumps({"cfg": cfg, "speaker": dataclasses.asdict(spk)}).encode())
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise UserError(f"synthesizing speaker {spk.name} failed: {tail[0]}")
    with np.load(io.BytesIO(proc.stdout), allow_pickle=False) as z:
        part = {k: z[k] for k in z.files}
    part["speaker"], part["seconds"] = int(part["speaker"]), float(part["seconds"])
    part["texts"], part["version"] = part["texts"].tolist(), str(part["version"])
    return part


def generate(cfg: dict, workers: int | None = None, progress: bool = True) -> dict:
    """The corpus as numpy arrays plus its card; parallel over `workers` processes (default: all cores)."""
    from .espeak import shared
    check_config(cfg)
    t0 = time.perf_counter()
    spk = speakers(cfg, shared().variants())
    jobs = [(cfg, s) for s in spk]
    workers = workers or env_number("REPRODUCE_WORKERS", 0, int) or os.cpu_count() or 1
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(min(workers, len(jobs))) as pool:
        parts = list(_bar(pool.map(_speak_in_fresh_process, jobs), progress, len(jobs)))
    return assemble(cfg, spk, parts, time.perf_counter() - t0)


def _bar(it, enabled, total):
    if not enabled:
        return it
    from tqdm.auto import tqdm
    return tqdm(it, total=total, desc="synthesizing speakers", unit="speaker", leave=False,
                disable=os.environ.get("REPRODUCE_NO_PROGRESS") == "1")


def assemble(cfg: dict, spk: list[Speaker], parts: list[dict], gen_s: float) -> dict:
    """Labels from the phone inventory, utterance splits, normalization by training statistics, context padding."""
    rng = np.random.default_rng([cfg["seed"], 2])
    inventory = sorted(set(np.concatenate([p["names"] for p in parts]).tolist()))
    index = {name: i for i, name in enumerate(inventory)}
    feats, labels, utt_split, utt_speaker, utt_len = [], [], [], [], []
    for part in parts:
        s = spk[part["speaker"]]
        lab = np.asarray([index[n] for n in part["names"]], dtype=np.int64) * F.STATES + part["states"]
        off = 0
        for n in part["lengths"]:
            feats.append(part["feats"][off:off + n])
            labels.append(lab[off:off + n])
            off += n
            split = "test" if s.split == "test" else ("val" if rng.random() < cfg["val_fraction"] else "train")
            utt_split.append(SPLITS[split])
            utt_speaker.append(s.index)
            utt_len.append(n)
    utt_split, utt_len = np.asarray(utt_split), np.asarray(utt_len)
    train_rows = np.concatenate([f for f, sp in zip(feats, utt_split) if sp == SPLITS["train"]])
    mean, std = train_rows.mean(0), train_rows.std(0) + 1e-5
    # each utterance padded by copies of its edge frames, so every frame has its full 26-frame context
    rows, centres, pos = [], [], 0
    for f in feats:
        f = (f - mean) / std
        padded = np.concatenate([np.repeat(f[:1], CONTEXT_PAST, 0), f, np.repeat(f[-1:], CONTEXT_FUTURE, 0)])
        rows.append(padded.astype(np.float16))
        centres.append(pos + CONTEXT_PAST + np.arange(len(f)))
        pos += len(padded)
    frame_utt = np.repeat(np.arange(len(utt_len)), utt_len)
    hours = {name: float(sum(p["seconds"] for p in parts if spk[p["speaker"]].split == name) / 3600)
             for name in ("train", "test")}
    card = {"hours": hours, "frames": {k: int(utt_len[utt_split == v].sum()) for k, v in SPLITS.items()},
            "utterances": {k: int((utt_split == v).sum()) for k, v in SPLITS.items()},
            "speakers": {k: sum(s.split == k for s in spk) for k in ("train", "test")},
            "voices": {k: sorted({s.voice for s in spk if s.split == k}) for k in ("train", "test")},
            "labels": len(inventory) * F.STATES, "phones": len(inventory), "snr_db": cfg["snr_db"],
            "generation_s": round(gen_s, 1), "espeak_version": parts[0]["version"],
            "example_sentences": parts[0]["texts"], "config": cfg}
    return {"feats": np.concatenate(rows), "centres": np.concatenate(centres), "labels": np.concatenate(labels),
            "frame_utt": frame_utt, "utt_split": utt_split, "utt_speaker": np.asarray(utt_speaker),
            "phones": np.asarray(inventory), "mean": mean, "std": std, "card": np.asarray(json.dumps(card))}


def fingerprint(cfg: dict) -> str:
    return hashlib.sha256(json.dumps([cfg, CODE_DIGEST], sort_keys=True).encode()).hexdigest()[:16]


def cache_path(cfg: dict, root: Path | None = None) -> Path:
    from ...io import data_dir
    return Path(root or data_dir()) / "speech" / f"corpus-{fingerprint(cfg)}.npz"


def load(cfg: dict, root: Path | None = None, progress: bool = True, log=print) -> dict:
    """The cached corpus if its checksum holds, else generated and cached (atomically, with a SHA-256 sidecar)."""
    path = cache_path(cfg, root)
    side = path.with_suffix(".npz.sha256")
    if path.exists() and side.exists():
        if sha256_file(path) == side.read_text().split()[0]:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        log(f"[reproduce] cached corpus {path} fails its checksum; generating it again")
    from ...io import check_writable
    check_writable(path.parent)  # before minutes of synthesis, not after
    corpus = generate(cfg, progress=progress)
    atomic_write(path, lambda f: np.savez(f, **corpus))
    atomic_write(side, lambda f: f.write(f"{sha256_file(path)}  {path.name}\n"), mode="w")
    return corpus


def card(corpus: dict) -> dict:
    return json.loads(str(corpus["card"]))


def split_indices(corpus: dict, split: str) -> np.ndarray:
    """Frame indices (into centres/labels) of one split."""
    return np.nonzero(corpus["utt_split"][corpus["frame_utt"]] == SPLITS[split])[0]


def utterance_subset(corpus: dict, frames: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """The frames of a random `fraction` of the utterances that `frames` belong to (the paper's '3% of data')."""
    utts = np.unique(corpus["frame_utt"][frames])
    rng = np.random.default_rng([seed, 3])
    keep = rng.choice(utts, max(1, int(math.ceil(len(utts) * fraction))), replace=False)
    return frames[np.isin(corpus["frame_utt"][frames], keep)]


if __name__ == "__main__":  # one speaker, for _speak_in_fresh_process: job as JSON on stdin, npz on stdout
    import sys
    job = json.loads(sys.stdin.buffer.read())
    try:
        out = _speak((job["cfg"], Speaker(**job["speaker"])))
    except UserError as e:
        sys.exit(f"{e}")
    out = {k: np.asarray(v) for k, v in out.items()}
    np.savez(sys.stdout.buffer, **out)
