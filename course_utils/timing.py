"""Wall-clock timing for the notebooks and benchmarks: measured, printed, never asserted (machines differ).

JAX dispatches work asynchronously, so a timer must wait for the result (``jax.block_until_ready``) or it measures
only the dispatch; and the first call of a jitted function includes compiling it. Both helpers handle that.
"""
import time
from contextlib import contextmanager

import jax

__all__ = ["seconds", "timer"]


def seconds(fn, *args, repeats=5, warmup=True):
    """Best wall-clock time of ``repeats`` calls ``fn(*args)``, each waited for; after one untimed call (which
    compiles) unless ``warmup=False``."""
    if warmup:
        jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - start)
    return best


class _Elapsed:
    seconds = float("nan")


@contextmanager
def timer():
    """``with timing.timer() as t: ...`` then ``t.seconds``: the time the block took. Put the results the block
    computes through ``jax.block_until_ready`` inside it, so the time includes the work and not only its dispatch."""
    elapsed = _Elapsed()
    start = time.perf_counter()
    try:
        yield elapsed
    finally:
        elapsed.seconds = time.perf_counter() - start
