"""Seconds this process spent stopped (SIGSTOP, a suspended host), so that a record can say how much of its wall time
was no work: on these 2-core machines a long background run is paused while CI runs beside it, and a stage's wall
time counts the pause.

A daemon thread looks at the clock once a second. A look that comes late while the process used almost no CPU means
it was stopped; a late look with CPU spent is a thread that held the GIL (a long C call), which is work, not a pause.
Only this process's pauses are known: a run resumed from checkpoints does not know those of the process before it.
"""
from __future__ import annotations

import threading
import time

TICK_S = 1.0  # how often the watcher looks at the clock
LATE_S = 5.0  # a look this late is a stop or a held GIL, never a busy machine's scheduling delay (milliseconds)

_lock = threading.Lock()
_paused_s = 0.0
_thread: threading.Thread | None = None


def stopped_seconds(gap_s: float, cpu_s: float, tick_s: float = TICK_S, late_s: float = LATE_S) -> float:
    """Of a `gap_s` between two looks meant to be `tick_s` apart, the seconds the process was stopped, given the CPU
    seconds it used meanwhile (all threads): none unless the look came late, and none of the time spent computing."""
    if gap_s - tick_s < late_s:
        return 0.0
    return max(0.0, gap_s - tick_s - cpu_s)


def _watch() -> None:
    global _paused_s
    wall, cpu = time.monotonic(), time.process_time()
    while True:
        time.sleep(TICK_S)
        now_wall, now_cpu = time.monotonic(), time.process_time()
        stopped = stopped_seconds(now_wall - wall, now_cpu - cpu)
        if stopped:
            with _lock:
                _paused_s += stopped
        wall, cpu = now_wall, now_cpu


def start() -> None:
    """Start watching (once per process; later calls do nothing)."""
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_watch, name="pause-watcher", daemon=True)
            _thread.start()


def paused_seconds() -> float:
    """The seconds this process has been stopped since `start()`."""
    with _lock:
        return _paused_s
