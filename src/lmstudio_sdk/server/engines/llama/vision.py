"""Images in a prompt: llama.cpp's multimodal projector (mmproj) through its MTMD helpers."""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable, Sequence
from typing import Any

from ...errors import ServerError
from .batch import TokenBatch, decode_tokens

__all__ = ["create_vision_handler"]

_log = logging.getLogger("lmstudio_sdk.server.engines.llama")

_VISION_CLASS: Any = None
_MTMD_LOG_CALLBACK: Any = None  # kept referenced: llama.cpp holds the C pointer


def _silence_mtmd_logging(mtmd: Any) -> None:
    """Send mtmd's own logging to Python's logger at debug level.

    By default mtmd prints to stderr at every image prediction, and its lines contain the whole
    rendered prompt: user text must not leak into server logs unless asked for (-v).
    """
    global _MTMD_LOG_CALLBACK
    if _MTMD_LOG_CALLBACK is None:
        import llama_cpp

        def forward(_level: int, text: bytes, _user_data: Any) -> None:
            if _log.isEnabledFor(logging.DEBUG):
                _log.debug("mtmd: %s", text.decode("utf-8", "replace").rstrip())

        _MTMD_LOG_CALLBACK = llama_cpp.llama_log_callback(forward)
    mtmd.mtmd_log_set(_MTMD_LOG_CALLBACK, None)
    mtmd.mtmd_helper_log_set(_MTMD_LOG_CALLBACK, None)


def create_vision_handler(clip_model_path: str) -> Any:
    """Create the vision handler (the class is built on first use, so that importing this
    module does not need llama_cpp)."""
    global _VISION_CLASS
    if _VISION_CLASS is None:
        _VISION_CLASS = _define_vision_class()
    return _VISION_CLASS(clip_model_path)


def _define_vision_class() -> Any:
    from llama_cpp.llama_chat_format import MTMDChatHandler

    class VisionHandler(MTMDChatHandler):
        """llama-cpp-python's MTMD handler, used for its projector context and bitmap loading.

        Its ``__call__`` renders the template with list-valued ``content`` (which templates that
        concatenate strings, like SmolLM2's, reject), fetches images by URL and runs its own
        completion; we need none of that. We render the prompt ourselves with the media marker in
        the text, then :meth:`eval_prompt` tokenises it into text and image chunks and evaluates
        them into one sequence of the batch context, after which the scheduler samples it.
        """

        def __init__(self, clip_model_path: str) -> None:
            super().__init__(clip_model_path, verbose=False, use_gpu=False)

        def attach(self, llm: Any) -> None:
            self._init_mtmd_context(llm)
            _silence_mtmd_logging(self._mtmd_cpp)

        def marker(self) -> str:
            value: bytes = self._mtmd_cpp.mtmd_default_marker()
            return value.decode("utf-8")

        def eval_prompt(
            self,
            ctx: Any,
            seq_id: int,
            n_batch: int,
            text: str,
            images: Sequence[bytes],
            on_chunk: Callable[[int, int], bool],
            n_ctx: int,
        ) -> int | None:
            """Evaluate the prompt into sequence ``seq_id`` of ``ctx`` (a raw llama_context,
            whose cells of that sequence are empty); the last position gets logits. Returns
            the number of positions used, or None if ``on_chunk`` asked to stop."""
            import llama_cpp

            mtmd = self._mtmd_cpp
            bitmaps = []
            batch = TokenBatch(llama_cpp, n_batch)
            try:
                for blob in images:
                    try:
                        bitmaps.append(self._create_bitmap_from_bytes(blob))
                    except ValueError as exc:
                        raise ServerError("The image cannot be decoded", cause=str(exc)) from exc
                input_text = mtmd.mtmd_input_text()
                encoded = text.encode("utf-8")
                input_text.text = encoded
                input_text.text_len = len(encoded)
                input_text.add_special = True
                input_text.parse_special = True
                chunks = mtmd.mtmd_input_chunks_init()
                if chunks is None:
                    raise ServerError("Failed to prepare the image prompt")
                try:
                    array = (mtmd.mtmd_bitmap_p_ctypes * len(bitmaps))(*bitmaps)
                    result = mtmd.mtmd_tokenize(
                        self.mtmd_ctx, chunks, ctypes.byref(input_text), array, len(bitmaps)
                    )
                    if result != 0:
                        raise ServerError(f"Failed to tokenize the image prompt (code {result})")
                    n_chunks = mtmd.mtmd_input_chunks_size(chunks)
                    total = sum(
                        int(
                            mtmd.mtmd_input_chunk_get_n_tokens(
                                mtmd.mtmd_input_chunks_get(chunks, i)
                            )
                        )
                        for i in range(n_chunks)
                    )
                    if total >= n_ctx:
                        raise ServerError(
                            f"The prompt ({total} tokens) does not fit in the context "
                            f"({n_ctx} tokens)"
                        )
                    if not on_chunk(0, total):
                        return None
                    n_past = 0
                    for i in range(n_chunks):
                        chunk = mtmd.mtmd_input_chunks_get(chunks, i)
                        last = i == n_chunks - 1
                        kind = mtmd.mtmd_input_chunk_get_type(chunk)
                        if kind == mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
                            n_out = ctypes.c_size_t()
                            ptr = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(n_out))
                            tokens = [int(ptr[j]) for j in range(n_out.value)]
                            decode_tokens(batch, ctx, tokens, seq_id, n_past, last)
                            n_past += len(tokens)
                        else:
                            new_n_past = llama_cpp.llama_pos(0)
                            result = mtmd.mtmd_helper_eval_chunk_single(
                                self.mtmd_ctx,
                                ctx,
                                chunk,
                                llama_cpp.llama_pos(n_past),
                                llama_cpp.llama_seq_id(seq_id),
                                n_batch,
                                last,
                                ctypes.byref(new_n_past),
                            )
                            if result != 0:
                                raise ServerError(f"Failed to encode the image (code {result})")
                            n_past = int(new_n_past.value)
                        if not on_chunk(n_past, total):
                            return None
                finally:
                    mtmd.mtmd_input_chunks_free(chunks)
            finally:
                batch.close()
                for bitmap in bitmaps:
                    mtmd.mtmd_bitmap_free(bitmap)
            return n_past

    return VisionHandler
