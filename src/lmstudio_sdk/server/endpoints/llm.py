"""/llm: predictions (chat, raw completion) and prompt templates, plus model management."""

from __future__ import annotations

from typing import Any

import msgspec

from ..._protocol.kv_config import collapse
from ..._protocol.packets.llm import (
    ApplyPromptTemplateParameter,
    ApplyPromptTemplateResult,
    CompleteRawTextCreationParameter,
    PredictCreationParameter,
    PredictToolCallGenerationEndPacket,
    PredictToolCallGenerationFailedPacket,
    PreloadDraftModelParameter,
)
from ..._protocol.packets.shared import (
    ChatHistoryData,
    FilePart,
    FragmentToken,
    KVConfigStack,
    LLMInstanceInfo,
    ModelSpecifier,
    PredictFragmentPacket,
    PredictionFragment,
    PredictionStats,
    PredictPromptProcessingProgressPacket,
    PredictSuccessPacket,
    PredictToolCallGenerationArgumentFragmentGeneratedPacket,
    PredictToolCallGenerationNameReceivedPacket,
    PredictToolCallGenerationStartPacket,
    SerializedError,
    TextPart,
    TokenCandidate,
)
from ..engines.base import (
    DRAFT_MODEL_KEY,
    CancelToken,
    FragmentGenerated,
    PredictionFinished,
    PredictionRequest,
    PromptProgress,
    TokenLogProb,
    ToolCallArgumentFragment,
    ToolCallEnded,
    ToolCallFailed,
    ToolCallNameReceived,
    ToolCallStarted,
)
from ..errors import ServerError, preset_not_found, unsupported_feature
from ..services.models import Instance
from . import model_management
from .config import prediction_config
from .context import CallContext, ChannelContext, ChannelEndpoint, NamespaceTable, RpcEndpoint
from .plugin_use import preprocess_history
from .prediction_logs import log_prediction_input, log_prediction_output

__all__ = ["TABLE"]


def _referenced_files(ctx: ChannelContext, history: ChatHistoryData | None) -> dict[str, bytes]:
    """The bytes of the uploaded files a chat refers to (only the caller's own uploads)."""
    if history is None:
        return {}
    return {
        part.identifier: ctx.files.read(part.identifier, ctx.client_identifier)
        for message in history.messages
        for part in message.content
        if isinstance(part, FilePart)
    }


async def _predict(
    ctx: ChannelContext,
    specifier: ModelSpecifier,
    stack: KVConfigStack,
    preset: str | None,
    *,
    history: Any = None,
    raw_prompt: str | None = None,
) -> None:
    if preset is not None:
        raise preset_not_found(preset)
    models = ctx.models
    instance = models.find(specifier, "llm")
    config = prediction_config(stack)
    token = CancelToken()
    ctx.on_cancel(token.set)
    instance.cancel_tokens.add(token)
    try:
        if history is not None:
            history = await preprocess_history(ctx, history, config, instance.identifier)
        async with models.use(instance, "processingPrompt"):
            request = PredictionRequest(
                config=config,
                history=history,
                raw_prompt=raw_prompt,
                cancel=token,
                files=_referenced_files(ctx, history),
            )
            log_prediction_input(ctx, instance, history, raw_prompt)
            output: list[str] = []
            finished = await _stream_prediction(ctx, instance, request, output)
            stop_reason = finished.stop_reason
            if stop_reason == "userStopped" and instance.unloading and not ctx.cancelled.is_set():
                stop_reason = "modelUnloaded"
            stats = PredictionStats(
                stop_reason=stop_reason,
                stop_string=finished.stop_string,
                tokens_per_second=finished.tokens_per_second,
                time_to_first_token_sec=finished.time_to_first_token_sec,
                total_time_sec=finished.total_time_sec,
                prompt_tokens_count=finished.prompt_tokens_count,
                predicted_tokens_count=finished.predicted_tokens_count,
                total_tokens_count=finished.prompt_tokens_count + finished.predicted_tokens_count,
                used_draft_model_key=finished.used_draft_model_key,
                total_draft_tokens_count=finished.total_draft_tokens_count,
                accepted_draft_tokens_count=finished.accepted_draft_tokens_count,
                rejected_draft_tokens_count=finished.rejected_draft_tokens_count,
                ignored_draft_tokens_count=finished.ignored_draft_tokens_count,
            )
            log_prediction_output(ctx, instance, "".join(output), stats)
            model_info = instance.instance_info()
            assert isinstance(model_info, LLMInstanceInfo)  # found in the "llm" domain
            ctx.send(
                PredictSuccessPacket(
                    stats=stats,
                    model_info=model_info,
                    load_model_config=instance.load_config,
                    prediction_config=config,
                )
            )
    finally:
        instance.cancel_tokens.discard(token)


def _wire_tokens(tokens: tuple[TokenLogProb, ...] | None) -> list[FragmentToken] | None:
    if tokens is None:
        return None
    return [
        FragmentToken(
            text=t.text,
            id=t.id,
            log_prob=t.log_prob,
            candidates=[TokenCandidate(text=c[0], id=c[1], log_prob=c[2]) for c in t.candidates]
            or None,
        )
        for t in tokens
    ]


async def _stream_prediction(
    ctx: ChannelContext, instance: Instance, request: PredictionRequest, output: list[str]
) -> PredictionFinished:
    """Send the engine's events as packets; the generated text goes into ``output``."""
    events = instance.model.predict(request)
    try:
        async for event in events:
            match event:
                case PromptProgress(progress=progress, details=details):
                    ctx.send(
                        PredictPromptProcessingProgressPacket(progress=progress, details=details)
                    )
                case FragmentGenerated():
                    instance.status = "generating"
                    fragment = PredictionFragment(
                        content=event.content,
                        tokens_count=event.tokens_count,
                        contains_drafted=event.contains_drafted,
                        reasoning_type=event.reasoning_type,
                        is_structural=event.is_structural,
                        tokens=_wire_tokens(event.tokens),
                    )
                    ctx.send(PredictFragmentPacket(fragment=fragment))
                    output.append(event.content)
                case ToolCallStarted(tool_call_id=call_id):
                    instance.status = "generating"
                    ctx.send(PredictToolCallGenerationStartPacket(tool_call_id=call_id))
                case ToolCallNameReceived(name=name):
                    ctx.send(PredictToolCallGenerationNameReceivedPacket(name=name))
                case ToolCallArgumentFragment(content=content):
                    ctx.send(
                        PredictToolCallGenerationArgumentFragmentGeneratedPacket(content=content)
                    )
                case ToolCallEnded(request=tool_request, raw_content=raw_content):
                    ctx.send(
                        PredictToolCallGenerationEndPacket(
                            tool_call_request=tool_request, raw_content=raw_content
                        )
                    )
                case ToolCallFailed(title=title, raw_content=raw_content):
                    error = msgspec.convert(
                        msgspec.to_builtins(ServerError(title).data), SerializedError
                    )
                    ctx.send(
                        PredictToolCallGenerationFailedPacket(error=error, raw_content=raw_content)
                    )
                case PredictionFinished():
                    return event
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
    raise ServerError(
        "The engine ended the prediction without a result",
        suggestion="This is a bug in the engine.",
    )


# The template TS 1.x and the official Python SDK send (layer "completeModeFormatting") to turn
# predict into a raw text completion: it concatenates the message contents.
_RAW_COMPLETION_TEMPLATE = "{% for message in messages %}{{ message['content'] }}{% endfor %}"


def _raw_completion_prompt(p: PredictCreationParameter) -> str | None:
    """The raw prompt when this predict is a text completion in disguise, else None."""
    template = collapse(p.prediction_config_stack).get("llm.prediction.promptTemplate")
    if not isinstance(template, dict) or template.get("type") != "jinja":
        return None
    jinja = template.get("jinjaPromptTemplate")
    if not isinstance(jinja, dict) or jinja.get("template") != _RAW_COMPLETION_TEMPLATE:
        return None
    return "".join(
        part.text
        for message in p.history.messages
        for part in message.content
        if isinstance(part, TextPart)
    )


async def predict(ctx: ChannelContext, p: PredictCreationParameter) -> None:
    raw_prompt = _raw_completion_prompt(p)
    await _predict(
        ctx,
        p.model_specifier,
        p.prediction_config_stack,
        p.fuzzy_preset_identifier,
        history=p.history if raw_prompt is None else None,
        raw_prompt=raw_prompt,
    )


async def complete_raw_text(ctx: ChannelContext, p: CompleteRawTextCreationParameter) -> None:
    await _predict(
        ctx,
        p.model_specifier,
        p.prediction_config_stack,
        p.fuzzy_preset_identifier,
        raw_prompt=p.raw_prompt,
    )


async def apply_prompt_template(
    ctx: CallContext, p: ApplyPromptTemplateParameter
) -> ApplyPromptTemplateResult:
    instance = ctx.models.find(p.specifier, "llm")
    # The engine takes tool definitions as builtins, as they come in a prediction config.
    tools: Any = msgspec.to_builtins(p.opts.tool_definitions)
    if tools is None:
        setting = prediction_config(p.prediction_config_stack).get("llm.prediction.tools")
        if isinstance(setting, dict) and setting.get("type") == "toolArray":
            tools = setting.get("tools")
    ctx.models.touch(instance)
    formatted = instance.model.apply_prompt_template(
        p.history,
        omit_bos_token=bool(p.opts.omit_bos_token),
        omit_eos_token=bool(p.opts.omit_eos_token),
        tools=tools or None,
    )
    return ApplyPromptTemplateResult(formatted=formatted)


async def preload_draft_model(ctx: CallContext, p: PreloadDraftModelParameter) -> None:
    """Load a draft model next to an LLM now, so that its first speculative prediction does
    not wait for it (the official SDKs' ``unstable_preloadDraftModel``). Unlike LM Studio,
    which treats this as a hint, an engine that cannot decode speculatively, a draft model
    that does not exist, and one whose vocabulary differs are refused here."""
    instance = ctx.models.find(p.specifier, "llm")
    preload = getattr(instance.model, "preload_draft_model", None)
    if preload is None:
        engine = ctx.models.engine.name
        draft = p.draft_model_key
        raise unsupported_feature(
            DRAFT_MODEL_KEY,
            f"the {engine} engine has no speculative decoding (draft model {draft!r})",
            "Serve with the llama engine to use a draft model.",
            engine=engine,
        )
    ctx.models.touch(instance)
    await preload(p.draft_model_key)


TABLE = NamespaceTable(
    "/llm",
    rpcs={
        **model_management.RPCS,
        "applyPromptTemplate": RpcEndpoint(apply_prompt_template),
        "preloadDraftModel": RpcEndpoint(preload_draft_model),
    },
    channels={
        **model_management.CHANNELS,
        "predict": ChannelEndpoint(predict),
        "completeRawText": ChannelEndpoint(complete_raw_text),
    },
)
