"""One native thread per model call wherever a model is timed (the operational gate) or served (the service).

threadpoolctl limits two kinds of native pools, with different scopes (checked with libgomp and OpenBLAS,
the pools scikit-learn's and numpy's wheels bring):
- OpenMP (HistGradientBoosting's predict): the limit belongs to the thread that sets it. A thread started
  later, such as the service's executor thread that scores a batch, still gets one OpenMP worker per core.
- BLAS: the limit is process-global, so setting and restoring it around each call from concurrent threads
  would race (one thread's restore lifts the limit under another's call).
Hence two helpers: a scoped block for a measurement on one thread, and a once-per-thread limit for the
threads that serve predictions, never restored.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

# One thread, not one per core: the operational gate budgets what one call costs on one core, and the
# service scores concurrent requests on separate threads, which a call fanning out to OpenMP workers
# would compete with. On a loaded machine the spinning workers also inflate the caller's CPU time (a
# runner: gate p99 113 ms with a pool per core, 11.5 ms with one thread, same model; this project's 2-core
# machine with a hog on both cores: 5-81 ms against 4.5-8 ms). Scores do not change: HistGradientBoosting
# splits rows, not sums, between threads (tests/unit/test_native_threads.py: every estimator, bit for bit).
NATIVE_THREADS = 1

_this_thread = threading.local()


@contextmanager
def one_native_thread() -> Iterator[None]:
    """OpenMP and BLAS at NATIVE_THREADS inside the block, restored after: for timing on one thread."""
    with threadpool_limits(limits=NATIVE_THREADS):
        yield


def limit_this_thread() -> None:
    """OpenMP (this thread) and BLAS (process) at NATIVE_THREADS from now on; call it before each model call.

    The first call in a thread costs ~3 ms (threadpoolctl scans the loaded libraries), later ones a
    thread-local lookup. Only libraries loaded by then are limited: call it after the model is loaded.
    """
    if not getattr(_this_thread, "limited", False):
        threadpool_limits(limits=NATIVE_THREADS)
        _this_thread.limited = True
