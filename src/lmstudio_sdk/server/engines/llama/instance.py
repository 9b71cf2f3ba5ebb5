"""What a prediction reads and updates on the loaded model it runs on.

A structural type, so that ``prediction.py`` and its helpers do not import ``model.py`` (which
starts predictions): ``LlamaLoadedModel`` satisfies it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ...._protocol.packets.shared import EmbeddingModelInfo, LLMInfo

__all__ = ["LlamaInstance"]


class LlamaInstance(Protocol):
    _llm: Any  # llama_cpp.Llama
    _lc: Any  # the llama_cpp module
    _vocab: Any
    _vision: Any | None
    _scheduler: Any  # BatchScheduler (typed loosely: the scheduler imports generation)
    _batch_size: int
    _n_ctx: int
    _n_threads: int
    _bos_id: int
    _bos_text: str
    _eos_text: str
    _unloading: bool

    @property
    def info(self) -> LLMInfo | EmbeddingModelInfo: ...

    def _check_open(self) -> None: ...

    def _piece(self, token: int, *, special: bool = False) -> bytes: ...

    def _tokenize(self, text: str, *, add_bos: bool, special: bool) -> list[int]: ...

    def _chat_template(self) -> str: ...

    def _native_tools(self, template: str) -> bool: ...

    def _warn_unsupported(self, unsupported: Sequence[tuple[str, Any]]) -> None: ...

    def _draft_model(self, key: str) -> Any: ...  # speculative.DraftModel
