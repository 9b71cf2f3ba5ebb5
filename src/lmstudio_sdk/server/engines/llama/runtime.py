"""llama-cpp-python itself: importing it on demand, thread counts, model-load progress."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

from ...errors import ServerError

__all__ = [
    "LOAD_LOCK",
    "default_thread_count",
    "llama_cpp_module",
    "model_progress",
    "parallel_context",
]


def default_thread_count() -> int:
    """1 on machines with ≤2 cores (spinning OpenMP workers collapse under contention), else
    all cores but one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return 1 if cores <= 2 else cores - 1


def llama_cpp_module() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ServerError(
            "The llama.cpp engine is not installed",
            cause=str(exc),
            suggestion="Run scripts/install-engine.sh, or pip install 'lmstudio-sdk[server]'.",
        ) from exc
    return llama_cpp


LOAD_LOCK = threading.Lock()


@contextlib.contextmanager
def model_progress(callback: Callable[[float], bool]) -> Iterator[None]:
    """Route llama.cpp's model-load progress to ``callback`` for one ``Llama(...)`` call.

    ``Llama.__init__`` builds its ``llama_model_params`` itself and offers no progress
    parameter, so for the duration of the constructor we wrap the function it gets them from
    and set ``progress_callback`` on the result. Loads are serialised by ``LOAD_LOCK`` so the
    wrapper never leaks into another load. If the binding ever changes shape, loading still
    works, just with staged progress.
    """
    llama_cpp = llama_cpp_module()
    module = llama_cpp.llama_cpp
    original = getattr(module, "llama_model_default_params", None)
    cb_type = getattr(module, "llama_progress_callback", None)
    if original is None or cb_type is None:
        yield
        return

    def on_progress(progress: float, _user_data: Any) -> bool:
        try:
            return bool(callback(float(progress)))
        except Exception:  # never let an exception cross the C boundary
            return True

    c_callback = cb_type(on_progress)

    def patched() -> Any:
        params = original()
        params.progress_callback = c_callback
        params.progress_callback_user_data = None
        return params

    module.llama_model_default_params = patched
    try:
        yield
    finally:
        module.llama_model_default_params = original


@contextlib.contextmanager
def parallel_context(n_seq_max: int, *, unified: bool) -> Iterator[None]:
    """Make the context of one ``Llama(...)`` call hold ``n_seq_max`` sequences, each in a KV
    stream of its own (``n_ctx / n_seq_max`` cells), or all in one ``unified`` cache.

    Separate streams keep each sequence's cells contiguous from cell 0 in position order, so
    its attention sums in the same order however other sequences come and go: batched greedy
    output then equals the same request run alone. A unified cache would interleave the
    sequences' cells, and llama.cpp's SIMD sums of the attention depend on where the cells
    lie (logits moved by up to 0.47 on SmolLM2), which flips greedy choices; it costs no extra
    memory, though.

    ``Llama.__init__`` starts from ``llama_context_default_params()`` and sets neither field for
    an LLM, so, as in :func:`model_progress`, the defaults are wrapped for the duration of the
    constructor (under ``LOAD_LOCK``).
    """
    module = llama_cpp_module().llama_cpp
    original = module.llama_context_default_params

    def patched() -> Any:
        params = original()
        params.n_seq_max = n_seq_max
        params.kv_unified = unified
        return params

    module.llama_context_default_params = patched
    try:
        yield
    finally:
        module.llama_context_default_params = original
