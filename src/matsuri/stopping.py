"""Ctrl-C, SIGTERM and a closed terminal stop long work the same way: as a KeyboardInterrupt,
so `finally` blocks run (a build removes its temporary files, a run ends its sandbox)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def stoppable() -> Iterator[None]:
    """Within the block, those signals raise KeyboardInterrupt (even where a parent shell ignores
    SIGINT); outside the main thread, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise_interrupt) for s in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
