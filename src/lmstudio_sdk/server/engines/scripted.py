"""A deterministic, dependency-free engine for tests and demos.

Nothing here is a language model: replies are computed from the prompt, so that a test can
predict every fragment. The last user message may carry one directive:

* ``!long N``            reply with N tokens: ``word0 word1 … word{N-1}``
* ``!tool NAME {json}``  call tool NAME with the JSON arguments (only when tools are configured
                         with ``llm.prediction.tools``; an unknown tool name or bad JSON gives a
                         ``toolCallGenerationFailed``); stop reason ``toolCalls``. Several
                         ``!tool`` lines make several calls in one round, in order. NAME
                         is the name the model is shown (``toolNaming`` applied); the
                         call carries the tool's own name, as in LM Studio.
* ``!error``             the engine raises :class:`ServerError` (the client sees a channelError)
* ``!think TEXT``        reasoning fragments (start tag, reasoning, end tag), then the answer
* ``!say TEXT``          reply with TEXT itself (e.g. JSON, for structured-output tests)

Otherwise the reply is ``You said: <last user text>``. After a tool round (the last message
is a tool result) the reply is ``Tool result: <content>``, so that a client's tool loop ends.

Tokens: words and punctuation, each carrying its leading whitespace; ids are CRC-32 based and
therefore stable across processes. Embeddings: L2-normalised signed hashed bag of words.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
import zlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from ..._protocol.packets.shared import (
    ChatHistoryData,
    EmbeddingModelInfo,
    FilePart,
    KVConfig,
    KVConfigField,
    LLMInfo,
    PromptProcessingDetails,
    Quantization,
    TextPart,
    ToolCallRequest,
    ToolCallRequestPart,
    ToolCallResultPart,
)
from ..errors import ServerError
from .base import (
    EngineEvent,
    FragmentGenerated,
    LoadedModel,
    PredictionFinished,
    PredictionRequest,
    PromptProgress,
    ToolCallArgumentFragment,
    ToolCallEnded,
    ToolCallFailed,
    ToolCallNameReceived,
    ToolCallStarted,
    refuse_draft_model,
)
from .stop_strings import StopStringStreamer
from .tool_naming import TOOL_NAMINGS, rename_tools

__all__ = [
    "SCRIPTED_EMBEDDING_KEY",
    "SCRIPTED_LLM_KEY",
    "SCRIPTED_VISION_KEY",
    "ScriptedEngine",
    "ScriptedModel",
    "scripted_embedding",
    "scripted_token_id",
    "scripted_tokenize",
]

SCRIPTED_LLM_KEY = "scripted-echo-1b"
SCRIPTED_VISION_KEY = "scripted-vision-1b"
SCRIPTED_EMBEDDING_KEY = "scripted-embed-small"

VOCAB_SIZE = 50_000
DEFAULT_LLM_CONTEXT = 4096
LOAD_STEPS = 4
REASONING_TEXT = "Let me think about that."

# Whitespace belongs to the token that follows it; trailing whitespace is a token of its own.
# Concatenating the pieces gives back the input exactly.
_TOKEN_RE = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")
_WORD_RE = re.compile(r"\w+")


def scripted_tokenize(text: str) -> list[str]:
    """The token texts of ``text``."""
    return _TOKEN_RE.findall(text)


def scripted_token_id(token: str) -> int:
    # crc32, never hash(): ids must not change between processes (PYTHONHASHSEED).
    return zlib.crc32(token.encode("utf-8")) % VOCAB_SIZE


def scripted_embedding(text: str, dim: int) -> list[float]:
    """Signed hashed bag of lower-cased words, L2-normalised.

    Equal texts give equal vectors; texts sharing words have a positive cosine similarity,
    unrelated texts one close to zero (the sign bit cancels hash collisions on average).
    """
    vector = [0.0] * dim
    for word in _WORD_RE.findall(text.lower()):
        digest = zlib.crc32(word.encode("utf-8"))
        sign = 1.0 if (digest >> 31) & 1 == 0 else -1.0
        vector[digest % dim] += sign
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        vector[0] = 1.0  # still a unit vector for empty or word-less input
        return vector
    return [v / norm for v in vector]


def _catalogue() -> list[LLMInfo | EmbeddingModelInfo]:
    def llm(key: str, display: str, *, vision: bool, size: int) -> LLMInfo:
        path = f"lmstudio-sdk/{key}-GGUF/{key}-Q4_K_M.gguf"
        return LLMInfo(
            model_key=key,
            format="gguf",
            display_name=display,
            publisher="lmstudio-sdk",
            path=path,
            size_bytes=size,
            indexed_model_identifier=path,
            device_identifier=None,
            params_string="1B",
            architecture="llama",
            quantization=Quantization(name="Q4_K_M", bits=4),
            max_context_length=8192,
            vision=vision,
            trained_for_tool_use=True,
        )

    embed_path = f"lmstudio-sdk/{SCRIPTED_EMBEDDING_KEY}-GGUF/{SCRIPTED_EMBEDDING_KEY}-F16.gguf"
    return [
        llm(SCRIPTED_LLM_KEY, "Scripted Echo 1B", vision=False, size=807_694_464),
        llm(SCRIPTED_VISION_KEY, "Scripted Vision 1B", vision=True, size=851_734_528),
        EmbeddingModelInfo(
            model_key=SCRIPTED_EMBEDDING_KEY,
            format="gguf",
            display_name="Scripted Embed Small",
            publisher="lmstudio-sdk",
            path=embed_path,
            size_bytes=67_108_864,
            indexed_model_identifier=embed_path,
            device_identifier=None,
            params_string="33M",
            architecture="bert",
            quantization=Quantization(name="F16", bits=16),
            max_context_length=512,
        ),
    ]


class ScriptedEngine:
    """Deterministic engine: three catalogue models, echo replies, hashed embeddings."""

    name = "scripted"

    def __init__(
        self, *, token_delay: float = 0.0, load_delay: float = 0.0, embedding_dim: int = 64
    ) -> None:
        if token_delay < 0 or load_delay < 0:
            raise ValueError("delays must not be negative")
        if embedding_dim < 1:
            raise ValueError("embedding_dim must be at least 1")
        self.token_delay = token_delay
        self.load_delay = load_delay
        self.embedding_dim = embedding_dim
        self._models = _catalogue()

    def list_models(self) -> list[LLMInfo | EmbeddingModelInfo]:
        return list(self._models)

    async def load(
        self,
        info: LLMInfo | EmbeddingModelInfo,
        config: KVConfig,
        on_progress: Callable[[float], None],
    ) -> LoadedModel:
        if info not in self._models:
            raise ServerError(
                f'The scripted engine cannot load "{info.model_key}"',
                suggestion="Use one of the scripted catalogue models.",
            )
        is_llm = isinstance(info, LLMInfo)
        key = "llm.load.contextLength" if is_llm else "embedding.load.contextLength"
        requested = config.get(key)
        default = min(DEFAULT_LLM_CONTEXT, info.max_context_length)
        context = requested if isinstance(requested, int) and requested > 0 else default
        context = min(context, info.max_context_length)
        for step in range(1, LOAD_STEPS + 1):
            await asyncio.sleep(self.load_delay / LOAD_STEPS)
            on_progress(step / LOAD_STEPS)
        # Echo what the client asked for, with the context length actually used.
        fields = [f for f in config.fields if f.key != key]
        fields.insert(0, KVConfigField(key=key, value=context))
        return ScriptedModel(self, info, context, KVConfig(fields=fields))


def _checkbox_int(value: Any) -> int | None:
    if isinstance(value, dict) and value.get("checked") is True:
        inner = value.get("value")
        if isinstance(inner, int) and not isinstance(inner, bool):
            return inner
    return None


def _message_text(content: list[Any]) -> str:
    return "".join(part.text for part in content if isinstance(part, TextPart))


def _tools(config: KVConfig) -> tuple[list[dict[str, Any]], dict[str, str]] | None:
    """The configured tools as the model sees them (``toolNaming`` applied) and the way back
    from the model's names to the tools' own; None when tool use is off."""
    setting = config.get("llm.prediction.tools")
    if not isinstance(setting, dict) or setting.get("type") != "toolArray":
        return None
    tools = [
        t
        for t in setting.get("tools") or []
        if isinstance(t, dict)
        and isinstance(t.get("function"), dict)
        and isinstance(t["function"].get("name"), str)
    ]
    naming = config.get("llm.prediction.toolNaming")
    if naming is not None and naming not in TOOL_NAMINGS:
        raise ServerError(
            f"llm.prediction.toolNaming must be one of {', '.join(TOOL_NAMINGS)}, not {naming!r}"
        )
    return rename_tools(tools, naming)


class ScriptedModel:
    """One loaded scripted model."""

    def __init__(
        self,
        engine: ScriptedEngine,
        info: LLMInfo | EmbeddingModelInfo,
        context_length: int,
        load_config: KVConfig,
    ) -> None:
        self._engine = engine
        self._info = info
        self._context_length = context_length
        self._load_config = load_config
        self.unloaded = False

    @property
    def info(self) -> LLMInfo | EmbeddingModelInfo:
        return self._info

    @property
    def context_length(self) -> int:
        return self._context_length

    @property
    def load_config(self) -> KVConfig:
        return self._load_config

    async def tokenize(self, text: str) -> list[int]:
        return [scripted_token_id(t) for t in scripted_tokenize(text)]

    def apply_prompt_template(
        self,
        history: ChatHistoryData,
        *,
        omit_bos_token: bool = False,
        omit_eos_token: bool = False,
        tools: list[dict[str, Any]] | None = None,
    ) -> str:
        """ChatML-like: ``<s>`` BOS, one ``<|im_start|>role … <|im_end|>`` block per message."""
        if not isinstance(self._info, LLMInfo):
            raise ServerError(f'"{self._info.model_key}" is an embedding model; it has no template')
        out: list[str] = [] if omit_bos_token else ["<s>"]
        if tools:
            out.append(f"<|im_start|>system\n# Tools\n{json.dumps(tools)}<|im_end|>\n")
        for message in history.messages:
            body: list[str] = []
            for part in message.content:
                if isinstance(part, TextPart):
                    body.append(part.text)
                elif isinstance(part, FilePart):
                    body.append(f"<{part.file_type}:{part.name}>")
                elif isinstance(part, ToolCallRequestPart):
                    request = {
                        "name": part.tool_call_request.name,
                        "arguments": part.tool_call_request.arguments or {},
                    }
                    body.append(f"<tool_call>{json.dumps(request)}</tool_call>")
                elif isinstance(part, ToolCallResultPart):
                    body.append(part.content)
            out.append(f"<|im_start|>{message.role}\n{''.join(body)}<|im_end|>\n")
        out.append("<|im_start|>assistant\n")
        if not omit_eos_token and history.messages and history.messages[-1].role == "assistant":
            out.append("</s>")
        return "".join(out)

    async def embed(self, text: str) -> list[float]:
        if not isinstance(self._info, EmbeddingModelInfo):
            raise ServerError(f'"{self._info.model_key}" is not an embedding model')
        tokens = len(scripted_tokenize(text))
        if tokens > self._context_length:
            raise ServerError(
                f"The input is {tokens} tokens long; the model's context holds "
                f"{self._context_length}",
                suggestion="Split the text, or load the model with a longer context length.",
            )
        await asyncio.sleep(0)
        return scripted_embedding(text, self._engine.embedding_dim)

    async def unload(self) -> None:
        self.unloaded = True

    # -- prediction ---------------------------------------------------------------------------

    def predict(self, request: PredictionRequest) -> AsyncIterator[EngineEvent]:
        if not isinstance(self._info, LLMInfo):
            raise ServerError(f'"{self._info.model_key}" is an embedding model; it cannot predict')
        refuse_draft_model(request.config, "scripted")
        return self._predict(request)

    async def _predict(self, request: PredictionRequest) -> AsyncIterator[EngineEvent]:
        start = time.perf_counter()
        config = request.config
        shown = _tools(config)
        tools = shown[1] if shown is not None else None
        if request.history is not None:
            tool_list = shown[0] if shown else None
            prompt = self.apply_prompt_template(request.history, tools=tool_list)
        else:
            prompt = request.raw_prompt or ""
        prompt_tokens = len(scripted_tokenize(prompt))
        for progress in (0.0, 1.0):
            done = int(prompt_tokens * progress)
            yield PromptProgress(
                progress,
                PromptProcessingDetails(
                    cached_token_count=0,
                    total_prompt_token_count=prompt_tokens,
                    processed_prompt_token_count=done,
                    unprocessed_prompt_token_count=prompt_tokens - done,
                ),
            )
            await asyncio.sleep(0)

        plan = self._plan(request, tools)
        if isinstance(plan, ServerError):
            raise plan

        max_tokens = _checkbox_int(config.get("llm.prediction.maxPredictedTokens"))
        raw_stops = config.get("llm.prediction.stopStrings") or []
        stops = [s for s in raw_stops if isinstance(s, str) and s]
        stream = StopStringStreamer(stops)
        predicted = 0
        first_token_at: float | None = None
        stop_reason = "eosFound"
        stop_string: str | None = None

        for kind, payload in plan:
            if kind == "tool":
                assert isinstance(payload, list)
                for event in payload:
                    if request.cancel.is_set():
                        stop_reason = "userStopped"
                        break
                    await asyncio.sleep(self._engine.token_delay)
                    if first_token_at is None:
                        first_token_at = time.perf_counter()
                    if isinstance(event, ToolCallArgumentFragment):
                        predicted += 1
                    if isinstance(event, ToolCallEnded):
                        stop_reason = "toolCalls"
                    yield event
                if stop_reason == "userStopped":
                    break
                continue
            assert isinstance(payload, str)
            reasoning_type = kind
            if max_tokens is not None and predicted >= max_tokens:
                stop_reason = "maxPredictedTokensReached"
                break
            if prompt_tokens + predicted >= self._context_length:
                stop_reason = "contextLengthReached"
                break
            # Cancellation is checked before every token, as the engine contract asks.
            if request.cancel.is_set():
                stop_reason = "userStopped"
                break
            await asyncio.sleep(self._engine.token_delay)
            predicted += 1
            if first_token_at is None:
                first_token_at = time.perf_counter()
            if reasoning_type in ("reasoningStartTag", "reasoningEndTag"):
                # Tags never contain stop strings worth matching; flush what is held back first.
                for fragment in stream.flush():
                    yield fragment
                yield FragmentGenerated(payload, 1, reasoning_type, is_structural=False)
                continue
            fragments, found = stream.push(payload, reasoning_type)
            for fragment in fragments:
                yield fragment
            if found is not None:
                stop_reason, stop_string = "stopStringFound", found
                break
        if stop_string is None:
            for fragment in stream.flush():
                yield fragment

        end = time.perf_counter()
        total = end - start
        ttft = (first_token_at - start) if first_token_at is not None else None
        generation_time = end - (first_token_at if first_token_at is not None else start)
        tps = predicted / generation_time if predicted and generation_time > 0 else None
        yield PredictionFinished(
            stop_reason=stop_reason,
            prompt_tokens_count=prompt_tokens,
            predicted_tokens_count=predicted,
            time_to_first_token_sec=ttft,
            total_time_sec=total,
            tokens_per_second=tps,
            stop_string=stop_string,
        )

    def _plan(
        self, request: PredictionRequest, tools: Mapping[str, str] | None
    ) -> list[tuple[str, str | list[EngineEvent]]] | ServerError:
        """What to generate: ("none"|"reasoning…", token text) or ("tool", events)."""
        if request.history is None:
            text = (request.raw_prompt or "").strip()
            directive = _directive(text.splitlines()[-1] if text else "")
            if directive is None:
                words = _WORD_RE.findall(request.raw_prompt or "")
                reply = "".join(f" {w}" for w in reversed(words)) or " ..."
                return [("none", t) for t in scripted_tokenize(reply)]
            return self._plan_directive(directive, tools, 0)

        messages = request.history.messages
        if messages and messages[-1].role == "tool":
            results = [p.content for p in messages[-1].content if isinstance(p, ToolCallResultPart)]
            reply = "Tool result: " + ", ".join(results)
            return [("none", t) for t in scripted_tokenize(reply)]
        last_user = next((m for m in reversed(messages) if m.role == "user"), None)
        text = _message_text(list(last_user.content)) if last_user is not None else ""
        directive = _directive(text.strip())
        if directive is None:
            return [("none", t) for t in scripted_tokenize(f"You said: {text}")]
        return self._plan_directive(directive, tools, len(messages))

    def _plan_directive(
        self, directive: tuple[str, str], tools: Mapping[str, str] | None, salt: int
    ) -> list[tuple[str, str | list[EngineEvent]]] | ServerError:
        name, rest = directive
        if name == "error":
            return ServerError(
                "The scripted engine failed on purpose (!error)",
                cause="The prompt contained the !error directive.",
                suggestion="Remove !error from the message.",
            )
        if name == "long":
            try:
                count = int(rest.split()[0]) if rest.split() else 0
            except ValueError:
                count = 0
            return [("none", f"word{i}" if i == 0 else f" word{i}") for i in range(count)]
        if name == "think":
            plan: list[tuple[str, str | list[EngineEvent]]] = [("reasoningStartTag", "<think>")]
            plan += [("reasoning", t) for t in scripted_tokenize(REASONING_TEXT)]
            plan.append(("reasoningEndTag", "</think>"))
            plan += [("none", t) for t in scripted_tokenize(f"You said: {rest}")]
            return plan
        if name == "tool" and tools is not None:
            calls = re.split(r"\n\s*!tool\b", rest)
            return [
                ("tool", _tool_call_events(call, tools, salt * 100 + index))
                for index, call in enumerate(calls)
            ]
        if name == "say":
            return [("none", t) for t in scripted_tokenize(rest)]
        # A directive that does not apply (e.g. !tool without tools) is echoed like any text.
        return [("none", t) for t in scripted_tokenize(f"You said: !{name} {rest}".rstrip())]


def _directive(text: str) -> tuple[str, str] | None:
    match = re.match(r"!(long|tool|error|think|say)\b\s*(.*)", text, re.DOTALL)
    return (match[1], match[2]) if match else None


def _tool_call_events(rest: str, tools: Mapping[str, str], salt: int) -> list[EngineEvent]:
    """The events of one call; ``tools`` maps the names the model sees to the tools' own."""
    name, _, args_text = rest.strip().partition(" ")
    args_text = args_text.strip() or "{}"
    raw = f"<tool_call>{name} {args_text}</tool_call>"
    call_id = f"call_{zlib.crc32(f'{salt}:{name}:{args_text}'.encode()):08x}"
    events: list[EngineEvent] = [ToolCallStarted(call_id)]
    if name not in tools:
        events.append(ToolCallFailed(f'The model called an unknown tool "{name}"', raw))
        return events
    name = tools[name]
    events.append(ToolCallNameReceived(name))
    try:
        arguments = json.loads(args_text)
    except json.JSONDecodeError as exc:
        events.append(ToolCallFailed(f"The tool call arguments are not valid JSON: {exc}", raw))
        return events
    if not isinstance(arguments, dict):
        events.append(ToolCallFailed("The tool call arguments are not a JSON object", raw))
        return events
    events += [ToolCallArgumentFragment(t) for t in scripted_tokenize(args_text)]
    request = ToolCallRequest(name=name, arguments=arguments, id=call_id)
    events.append(ToolCallEnded(request, raw))
    return events
