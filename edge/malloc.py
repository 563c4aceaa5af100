"""glibc malloc settings for a long-running frame pipeline (no-ops on other C libraries).

glibc gives threads that allocate concurrently their own arenas (up to 8 per core), and each arena
keeps the pages of freed multi-megabyte frame buffers. The daemon has a handful of threads, so two
arenas are plenty; trimming now and then hands freed pages back to the system. Measured on the
1280x720 bench: about 8-10 MB less RSS, no extra work per frame (unlike a fixed mmap threshold,
which makes every frame buffer a fresh mmap and costs ~1.5 ms of page faults per frame).
"""
from __future__ import annotations

import ctypes
import ctypes.util

M_ARENA_MAX = -8


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except (OSError, AttributeError):
        return None


def limit_arenas(arenas: int = 2) -> bool:
    """Call before starting threads. True when the C library accepted it."""
    libc = _libc()
    return bool(libc and libc.mallopt(M_ARENA_MAX, int(arenas)))


def trim() -> None:
    """Return free heap pages to the system (a few ms; call occasionally, not per frame)."""
    libc = _libc()
    if libc:
        libc.malloc_trim(0)
