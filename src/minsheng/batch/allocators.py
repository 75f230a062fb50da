"""How the memory allocators under a batch job are set up (glibc for numpy and Python,
jemalloc inside Polars).

A batch job allocates and frees many large temporary arrays. Handing freed memory back to the
operating system and taking fresh pages again costs page faults and page zeroing, measured at
several percent of a job's CPU (``docs/batch.md``). This module holds the settings that avoid
most of it; it imports nothing heavy, so the command line can apply them before Polars is
loaded (jemalloc reads its settings once, when it starts).
"""

from __future__ import annotations

import ctypes
import os
import sys

MALLOC_KEEP = {"MALLOC_MMAP_THRESHOLD_": str(1 << 28), "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
               "MALLOC_TOP_PAD_": str(1 << 28)}
"""glibc's allocator told to keep freed memory for reuse: the chunks' many large temporary
arrays then cost no fresh pages (page faults, zeroing), about 1 CPU-second in 10 million
claims. Set for the worker processes when they start; the main process calls ``mallopt``."""

_MALLOPT = {"MALLOC_TRIM_THRESHOLD_": -1, "MALLOC_TOP_PAD_": -2, "MALLOC_MMAP_THRESHOLD_": -3}
"""glibc's ``mallopt`` parameter number of each of :data:`MALLOC_KEEP`'s settings."""

POLARS_JEMALLOC = {"POLARS_THP": "1",
                   "_RJEM_MALLOC_CONF": "dirty_decay_ms:3000,muzzy_decay_ms:3000"}
"""Polars' jemalloc on transparent huge pages (``POLARS_THP``: one page fault per 2 MiB
instead of per 4 KiB), and keeping freed pages for 3 s instead of Polars' default 0.5 s (its
``_RJEM_MALLOC_CONF`` is appended to Polars' own). On 10 million claims with two processes:
page faults ~710 k → ~175 k and memory handed back to the system 6.5 → 3.7 GB (both steady
from run to run); CPU 1–5 % less in three series of interleaved runs (4 to 8 pairs each),
which is within this shared VM's noise; peak memory 1.9–2.0 → 2.35–2.4 GB. Keeping freed
pages for good (``-1``) raised the peak to ~3 GB for no clear further gain."""


def keep_freed_memory() -> None:
    """:data:`MALLOC_KEEP` for this process (glibc only; elsewhere nothing happens)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    for name, value in MALLOC_KEEP.items():
        libc.mallopt(_MALLOPT[name], int(value))


def prepare_batch_process() -> None:
    """Apply :data:`POLARS_JEMALLOC` to this process, if Polars is not loaded yet, and so to
    the worker processes it starts; a setting already in the environment is kept. The command
    line calls it before a batch job (a library caller may set the variables itself)."""
    if "polars" in sys.modules:
        return
    for name, value in POLARS_JEMALLOC.items():
        os.environ.setdefault(name, value)


WORKER_ENVIRONMENT = {"POLARS_MAX_THREADS": "1", **MALLOC_KEEP}
"""Set for each batch worker process as it starts: Polars on one thread (the workers are the
parallelism) and glibc keeping freed memory. Everything else, the allocator settings of
:func:`prepare_batch_process` included, comes from this process's environment."""
