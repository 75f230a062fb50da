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

POLARS_JEMALLOC = {"_RJEM_MALLOC_CONF": "dirty_decay_ms:3000,muzzy_decay_ms:3000"}
"""Polars' jemalloc keeping freed pages for 3 s instead of Polars' default 0.5 s (its
``_RJEM_MALLOC_CONF`` is appended to Polars' own). On 10 million claims with two processes:
memory handed back to the system 6.5 → 3.7 GB. Keeping freed pages for good (``-1``) raised the
peak to ~3 GB for no clear further gain."""

NO_HUGE_PAGES = {"NUMPY_MADVISE_HUGEPAGE": "0"}
"""numpy asks for transparent huge pages on every array of 4 MiB or more (``madvise``); Polars
does when ``POLARS_THP`` is set, which is left unset. On this VM a fresh huge page costs far
more than its 512 small pages: the kernel zeroing huge pages (``clear_page_erms`` under
``folio_zero_user``) was 23% of all CPU samples of a 10-million-claim job (``perf record``).
Without them, in 4 interleaved pairs: 5.8–6.8 s against 7.0–7.8 s, system CPU 1.9–3.4 s against
3.9–5.5 s (docs/batch.md, sitting 10). Sitting 8 had turned Polars' on (``POLARS_THP=1``): its
fewer page faults did not make the job faster."""


def keep_freed_memory() -> None:
    """:data:`MALLOC_KEEP` for this process (glibc only; elsewhere nothing happens)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    for name, value in MALLOC_KEEP.items():
        libc.mallopt(_MALLOPT[name], int(value))


def prepare_batch_process() -> None:
    """Apply :data:`NO_HUGE_PAGES` and, if Polars is not loaded yet, :data:`POLARS_JEMALLOC` to
    this process and so to the worker processes it starts; a setting already in the environment
    is kept. The command line calls it before a batch job (a library caller may set the
    variables itself)."""
    for name, value in NO_HUGE_PAGES.items():
        os.environ.setdefault(name, value)
    if "numpy" in sys.modules:  # numpy reads its variable when loaded: tell it now
        _numpy_huge_pages(os.environ["NUMPY_MADVISE_HUGEPAGE"] != "0")
    if "polars" in sys.modules:
        return
    for name, value in POLARS_JEMALLOC.items():
        os.environ.setdefault(name, value)


def _numpy_huge_pages(wanted: bool) -> None:
    from numpy._core import multiarray  # (numpy 2; numpy reads NUMPY_MADVISE_HUGEPAGE itself)

    setter = getattr(multiarray, "_set_madvise_hugepage", None)
    if setter is not None:
        setter(wanted)


WORKER_ENVIRONMENT = {"POLARS_MAX_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", **MALLOC_KEEP}
"""Set for each batch worker process as it starts: Polars on one thread (the workers are the
parallelism), numpy's OpenBLAS without threads of its own (nothing here multiplies matrices,
yet its idle threads were seen spinning: about 1% of a 10-million-claim job's CPU samples in
each process) and glibc keeping freed memory. Everything else, the allocator settings of
:func:`prepare_batch_process` included, comes from this process's environment."""
