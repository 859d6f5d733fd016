"""Frames, log-Mel filterbanks and phone-state labels of one utterance (numpy only: runs in worker processes).

The paper's front end: 40 Mel filterbank coefficients of 25 ms windows every 10 ms. Frame k covers samples
[round(k * hop), round(k * hop) + win) at the synthesizer's rate (22,050 Hz: a 10 ms hop is 220.5 samples, so
starts are rounded, never resampled). A frame is labelled by the phone its centre sample falls in and by which
third of that phone it is (begin / middle / end): three sub-states per phone, like a 3-state HMM's."""
from __future__ import annotations

import numpy as np

WINDOW_S, HOP_S, N_MELS, N_FFT = 0.025, 0.010, 40, 1024
SILENCE = "sil"
STATES = 3


def mel_filterbank(sample_rate: int, n_fft: int = N_FFT, n_mels: int = N_MELS, fmin: float = 20.0) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters evenly spaced on the HTK mel scale."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = hz(np.linspace(mel(fmin), mel(sample_rate / 2), n_mels + 2))
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lo) / (mid - lo)
    down = (hi - freqs[None]) / (hi - mid)
    return np.maximum(0.0, np.minimum(up, down))


def frame_starts(n_samples: int, sample_rate: int) -> np.ndarray:
    win = int(round(WINDOW_S * sample_rate))
    hop = HOP_S * sample_rate
    n = int((n_samples - win) // hop) + 1 if n_samples >= win else 0
    return np.round(np.arange(n) * hop).astype(np.int64)


def log_mel(wav: np.ndarray, sample_rate: int, fbank: np.ndarray | None = None) -> np.ndarray:
    """(frames, 40) float32 log-Mel energies of a float waveform; pre-emphasis 0.97, Hamming window."""
    win = int(round(WINDOW_S * sample_rate))
    starts = frame_starts(len(wav), sample_rate)
    x = np.append(wav[:1], wav[1:] - 0.97 * wav[:-1]).astype(np.float32)
    frames = x[starts[:, None] + np.arange(win)[None]] * np.hamming(win).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, n=N_FFT, axis=1)) ** 2
    fbank = mel_filterbank(sample_rate) if fbank is None else fbank
    return np.log(power @ fbank.T + 1e-6).astype(np.float32)


def phone_name(event_name: str) -> str:
    """espeak's phoneme mnemonic without stress marks; every pause is one silence phone."""
    name = event_name.lstrip("',%=")
    return SILENCE if name.startswith("_") or not name else name


def segments(phones: list, end: int, n_samples: int) -> tuple[np.ndarray, list[str]]:
    """Boundaries (k+1,) and names (k,) of the utterance's phones, with silence before the first and after the end."""
    bounds, names = [0], [SILENCE]
    for start, raw in phones:
        start = int(min(max(start, 0), n_samples))
        name = phone_name(raw)
        if start > bounds[-1]:
            bounds.append(start)
            names.append(name)
        else:  # a zero-length segment: the later event names it
            names[-1] = name
    if end > bounds[-1] and end < n_samples:
        bounds.append(end)
        names.append(SILENCE)
    bounds.append(max(n_samples, bounds[-1] + 1))
    return np.asarray(bounds, dtype=np.int64), names


def frame_labels(phones: list, end: int, n_samples: int, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """For each frame, (index of its phone segment, its sub-state 0/1/2), from the frame's centre sample."""
    return label_frames(segments(phones, end, n_samples)[0], n_samples, sample_rate)


def label_frames(bounds: np.ndarray, n_samples: int, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """frame_labels() from segment boundaries already computed by segments()."""
    centres = frame_starts(n_samples, sample_rate) + int(round(WINDOW_S * sample_rate)) // 2
    seg = np.searchsorted(bounds, centres, side="right") - 1
    seg = np.clip(seg, 0, len(bounds) - 2)
    frac = (centres - bounds[seg]) / (bounds[seg + 1] - bounds[seg])
    state = np.clip((frac * STATES).astype(np.int64), 0, STATES - 1)
    return seg, state


def add_noise(wav: np.ndarray, snr_db: float, tilt: float, rng: np.random.Generator) -> np.ndarray:
    """wav plus noise at snr_db below the speech power; the noise spectrum falls as f^-tilt (0 white, 1 pink)."""
    n = len(wav)
    spec = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    f = np.arange(n // 2 + 1, dtype=np.float64)
    f[0] = 1.0
    noise = np.fft.irfft(spec * f ** (-tilt / 2), n=n)
    speech_power = float(np.mean(wav.astype(np.float64) ** 2)) + 1e-9
    noise *= np.sqrt(speech_power / (np.mean(noise ** 2) + 1e-12) / 10 ** (snr_db / 10))
    return (wav + noise).astype(np.float32)
