"""libespeak-ng through ctypes: synthesize a sentence and get, with the audio, the sample at which each
phoneme starts (espeak's phoneme events). One synthesizer per process: the library keeps global state."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass

import numpy as np

from ...errors import UserError

INSTALL_HINT = ("install it with `pip install espeakng-loader` (ships the library and its data), or "
                "`apt-get install libespeak-ng1` / `brew install espeak-ng` for a system copy")

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_EVENT_END, _EVENT_PHONEME, _EVENT_LIST_TERMINATED = 5, 7, 0
_RATE, _PITCH, _RANGE = 1, 3, 4
_POS_CHARACTER, _CHARS_UTF8 = 1, 1


class _Event(ctypes.Structure):
    class _Id(ctypes.Union):
        _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]
    # espeak_EVENT of speak_lib.h; `sample` is the absolute sample index of the event
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _Id)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


def find_library() -> tuple[str, str | None]:
    """(library path, data path or None for the library's default): espeakng-loader first, then the system's."""
    forced = os.environ.get("REPRODUCE_ESPEAK_LIBRARY")
    if forced:
        return forced, os.environ.get("REPRODUCE_ESPEAK_DATA")
    try:
        import espeakng_loader
        return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
    except (ImportError, RuntimeError):
        pass
    system = ctypes.util.find_library("espeak-ng")
    if system:
        return system, None
    raise UserError(f"the speech corpus needs libespeak-ng and none was found; {INSTALL_HINT}")


@dataclass
class Utterance:
    wav: np.ndarray      # int16 samples at `sample_rate`
    phones: list         # [(start sample, phoneme name)] in order, pauses included
    end: int             # sample where the synthesizer said the utterance ends


_SHARED = None


def shared() -> "Synthesizer":
    """The process's synthesizer: libespeak-ng keeps global state and must be initialized once per process
    (a forked worker inherits its parent's, which stays valid; initializing again there yields empty audio)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = Synthesizer()
    return _SHARED


class Synthesizer:
    """A libespeak-ng instance (use `shared()`); `say()` returns the audio and the phoneme start samples."""

    def __init__(self):
        path, data = find_library()
        try:
            self._lib = ctypes.CDLL(path)
        except OSError as e:
            raise UserError(f"libespeak-ng at {path} could not be loaded ({e}); {INSTALL_HINT}") from None
        lib = self._lib
        self._libc = ctypes.CDLL(None)  # the process's C library, whose rand() the synthesizer also uses
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
        self.sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data.encode() if data else None,
                                                 _INITIALIZE_PHONEME_EVENTS)
        if self.sample_rate <= 0:
            raise UserError(f"libespeak-ng at {path} failed to initialize (data folder {data}); {INSTALL_HINT}")
        data_path = ctypes.c_char_p()
        self.version = lib.espeak_Info(ctypes.byref(data_path)).decode()
        self.data_path = data_path.value.decode() if data_path.value else data
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, str]] = []
        self._callback = _CALLBACK(self._collect)  # kept alive on self: the library holds a raw pointer
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, n, events) -> int:
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EVENT_PHONEME:
                self._events.append((ev.type, ev.sample, ev.id.string.decode("utf-8", "replace")))
            elif ev.type == _EVENT_END:
                self._events.append((ev.type, ev.sample, ""))
            i += 1
        return 0

    def variants(self) -> list[str]:
        """The voice variants (+m3, +f2, +klatt...) this copy of espeak-ng ships, sorted."""
        folder = os.path.join(self.data_path or "", "voices", "!v")
        if not os.path.isdir(folder):
            raise UserError(f"espeak-ng's voice variants folder {folder} is missing; {INSTALL_HINT}")
        return sorted(f for f in os.listdir(folder) if not f.startswith("."))

    def say(self, text: str, voice: str, rate: int, pitch: int, pitch_range: int = 50, seed: int = 0) -> Utterance:
        """Deterministic for a seed: espeak's voice jitter draws from its own generator (seeded here) and from
        libc's rand() (seeded here too)."""
        lib = self._lib
        if hasattr(lib, "espeak_ng_SetRandSeed"):
            lib.espeak_ng_SetRandSeed(ctypes.c_long(seed))
        self._libc.srand(ctypes.c_uint(seed & 0xFFFFFFFF))
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise UserError(f"espeak-ng has no voice {voice!r}; see {self.data_path}/voices/!v for variants")
        for param, value in ((_RATE, rate), (_PITCH, pitch), (_RANGE, pitch_range)):
            lib.espeak_SetParameter(param, int(value), 0)
        self._chunks, self._events = [], []
        blob = text.encode("utf-8")
        lib.espeak_Synth(blob, len(blob) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
        wav = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        phones = [(s, name) for kind, s, name in self._events if kind == _EVENT_PHONEME]
        ends = [s for kind, s, _ in self._events if kind == _EVENT_END]
        return Utterance(wav, phones, ends[-1] if ends else len(wav))
