"""The whole public surface of the official Python SDK (``lmstudio`` 1.5), walked name by name.

Every name its modules export (the union of their ``__all__``: what ``import lmstudio`` gives)
and every public method and attribute of its clients, namespaces, handles, streams and results
is looked up on ``lmstudio_sdk``. A name is *identical* when ours exists, is the same kind
(callable / attribute, coroutine / not) and takes every parameter name and position the
official one takes (``inspect.signature``, ``**options`` TypedDicts included). Anything else
must be listed, with its reason, in ``DELIBERATE_DIFFERENCES``; a listed name that has since
become identical fails the test too, so the list (and ``docs/migration.md``, checked against
it) stays true. ``pytest -s`` prints the summary line.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

import lmstudio_sdk as lms

lmstudio = pytest.importorskip("lmstudio")
official_sync = importlib.import_module("lmstudio.sync_api")
official_async = importlib.import_module("lmstudio.async_api")
official_json = importlib.import_module("lmstudio.json_api")

DOC = Path(__file__).resolve().parent.parent / "docs" / "migration.md"
OFFICIAL_MODULES = ("sdk_api", "schemas", "history", "json_api", "async_api", "sync_api")


def official_names() -> list[str]:
    """What ``import lmstudio`` exports: its ``__init__`` star-imports these modules."""
    names: set[str] = set()
    for module in OFFICIAL_MODULES:
        names.update(importlib.import_module(f"lmstudio.{module}").__all__)
    return sorted(names)


# -- which of our objects stands for which official class ----------------------------------------
# Instances where attributes are set per instance (a client's namespaces): making a client, a
# dynamic handle or a stream sends nothing, so no server is needed for the walk.

_CLIENT = lms.Client("127.0.0.1:9")
_ASYNC_CLIENT = lms.AsyncClient("127.0.0.1:9")


class _Absent:
    """Stands for a class we do not have: every member of the official one is then missing."""


def _our(name: str) -> object:
    return getattr(lms, name, _Absent)


def _ours() -> dict[str, tuple[type[Any], object]]:
    """Official class path -> (the official class, our counterpart: a class or an instance)."""
    o_sync, o_async, o_json = official_sync, official_async, official_json
    llm, allm = _CLIENT.llm.handle("m"), _ASYNC_CLIENT.llm.handle("m")
    return {
        "Client": (o_sync.Client, _CLIENT),
        "AsyncClient": (o_async.AsyncClient, _ASYNC_CLIENT),
        "Client.llm": (o_sync._SyncSessionLlm, _CLIENT.llm),
        "Client.embedding": (o_sync._SyncSessionEmbedding, _CLIENT.embedding),
        "Client.files": (o_sync._SyncSessionFiles, _CLIENT.files),
        "Client.repository": (o_sync._SyncSessionRepository, _CLIENT.repository),
        "Client.system": (o_sync._SyncSessionSystem, _CLIENT.system),
        "AsyncClient.llm": (o_async._AsyncSessionLlm, _ASYNC_CLIENT.llm),
        "AsyncClient.embedding": (o_async._AsyncSessionEmbedding, _ASYNC_CLIENT.embedding),
        "AsyncClient.files": (o_async._AsyncSessionFiles, _ASYNC_CLIENT.files),
        "AsyncClient.repository": (o_async._AsyncSessionRepository, _ASYNC_CLIENT.repository),
        "AsyncClient.system": (o_async._AsyncSessionSystem, _ASYNC_CLIENT.system),
        "LLM": (o_sync.LLM, llm),
        "EmbeddingModel": (o_sync.EmbeddingModel, _CLIENT.embedding.handle("e")),
        "AsyncLLM": (o_async.AsyncLLM, allm),
        "AsyncEmbeddingModel": (o_async.AsyncEmbeddingModel, _ASYNC_CLIENT.embedding.handle("e")),
        "DownloadedLlm": (o_sync.DownloadedLlm, _our("DownloadedLlm")),
        "DownloadedEmbeddingModel": (
            o_sync.DownloadedEmbeddingModel,
            _our("DownloadedEmbeddingModel"),
        ),
        "AsyncDownloadedLlm": (o_async.AsyncDownloadedLlm, _our("AsyncDownloadedLlm")),
        "AsyncDownloadedEmbeddingModel": (
            o_async.AsyncDownloadedEmbeddingModel,
            _our("AsyncDownloadedEmbeddingModel"),
        ),
        "PredictionStream": (o_sync.PredictionStream, llm.respond_stream("hi")),
        "AsyncPredictionStream": (o_async.AsyncPredictionStream, allm.respond_stream("hi")),
        "PredictionResult": (o_json.PredictionResult, lms.PredictionResult),
        "PredictionRoundResult": (o_json.PredictionRoundResult, _our("PredictionRoundResult")),
        "ActResult": (o_json.ActResult, lms.ActResult),
        "LlmInfo": (lmstudio.LlmInfo, _our("LlmInfo")),
        "LlmInstanceInfo": (lmstudio.LlmInstanceInfo, _our("LlmInstanceInfo")),
        "EmbeddingModelInfo": (lmstudio.EmbeddingModelInfo, lms.EmbeddingModelInfo),
        "EmbeddingModelInstanceInfo": (
            lmstudio.EmbeddingModelInstanceInfo,
            lms.EmbeddingModelInstanceInfo,
        ),
        "LlmPredictionStats": (lmstudio.LlmPredictionStats, _our("LlmPredictionStats")),
        "LlmPredictionFragment": (lmstudio.LlmPredictionFragment, _our("LlmPredictionFragment")),
        "FileHandle": (lmstudio.FileHandle, _our("FileHandle")),
        **{
            name: (getattr(lmstudio, name), _our(name))
            for name in (
                "LlmLoadModelConfig",
                "EmbeddingLoadModelConfig",
                "LlmPredictionConfig",
                "ChatHistoryData",
                "UserMessage",
                "AssistantResponse",
                "SystemPrompt",
                "ToolResultMessage",
                "TextData",
                "ToolCallRequest",
                "ToolCallResultData",
                "DownloadProgressUpdate",
                "ModelQuery",
                "SerializedLMSExtendedError",
            )
        },
        "Chat": (lmstudio.Chat, lms.Chat),
        "ToolFunctionDef": (lmstudio.ToolFunctionDef, lms.ToolFunctionDef),
        "AvailableModel": (o_sync.AvailableModel, lms.ModelSearchResult),
        "AsyncAvailableModel": (o_async.AsyncAvailableModel, lms.AsyncModelSearchResult),
        "ModelDownloadOption": (o_sync.ModelDownloadOption, lms.DownloadOption),
        "AsyncModelDownloadOption": (o_async.AsyncModelDownloadOption, lms.AsyncDownloadOption),
    }


# -- what differs on purpose, and why -------------------------------------------------------------
# Keys: a top-level name (``llm``), a member (``Client.llm.connect``) or one parameter of a
# member (``LLM.respond(history)``). docs/migration.md repeats each, with the same reason.

_SESSION = (
    "the official namespaces are websocket sessions with their own connect/disconnect; ours "
    "share the client's socket pool, which opens a socket on first use and reopens it after "
    "a drop, so there is nothing to connect by hand"
)
_RAW = (
    "an escape hatch into the official SDK's internal message structs; ours is "
    "client.rpc(namespace, endpoint, parameter) on the client, with plain JSON values"
)
_CLIENT_BACKREF = (
    "a namespace does not hand out its client (the layering keeps namespaces on the socket "
    "pool); keep the client you made"
)
_SPECIFIER_POS = (
    "ours names the first parameter `chat` (any chat: a Chat, a string, a list of messages); "
    "passed by position, as every official example does, it is the same"
)

_RENAMED = (
    "ours names this parameter {ours!r}: passed by position, as the official examples do, it "
    "is the same; only the keyword differs"
)

DELIBERATE_DIFFERENCES: dict[str, str] = {
    "AnyLMStudioStruct": (
        "the base of the official SDK's own message structs; ours are msgspec Structs "
        "(lms.BaseModel is a msgspec.Struct, as there)"
    ),
    "ModelLoadResult": (
        "the official SDK's raw load-channel result; ours hands back the model handle, whose "
        ".identifier, .info.instance_reference and .info.path are the same three fields"
    ),
    "PredictionRoundResult.from_result": (
        "act() builds its rounds itself: each ActResult.results item is a PredictionResult "
        "(= PredictionRoundResult) with round_index set"
    ),
    "FileHandle.type": (
        "the constant 'file' (the wire tag); FilePart is a tagged msgspec Struct, whose tag is "
        "not an attribute"
    ),
    "Chat.add_user_message(_files)": (
        "a private parameter of the official SDK (underscore-named); pass FileParts in images="
    ),
    "AsyncPredictionStream.result": (
        "ours waits for the end (consuming what was not iterated), so it is awaited: "
        "`await stream.result()`; the official one is a plain method valid only after the "
        "stream was consumed. `await stream.wait_for_result()` is the same on both"
    ),
    "LLM.apply_prompt_template(opts)": (
        "ours takes config= (prediction settings) instead of the official opts struct, whose "
        "fields (omit BOS/EOS tokens, tool definitions) the template endpoint decides itself"
    ),
    "AsyncLLM.apply_prompt_template(opts)": (
        "ours takes config= (prediction settings) instead of the official opts struct, whose "
        "fields (omit BOS/EOS tokens, tool definitions) the template endpoint decides itself"
    ),
}
for _struct in ("LlmLoadModelConfig", "EmbeddingLoadModelConfig", "LlmPredictionConfig"):
    for _method in ("to_dict", "from_dict"):
        DELIBERATE_DIFFERENCES[f"{_struct}.{_method}"] = (
            "ours are the configs as read back (get_load_config()), plain msgspec Structs: "
            "msgspec.structs.asdict(c) gives their fields; config= takes the struct itself or a "
            "dict (snake_case or camelCase keys)"
        )
for _method in ("to_dict", "from_dict"):
    DELIBERATE_DIFFERENCES[f"SerializedLMSExtendedError.{_method}"] = (
        "ours is ErrorData (exc.data of an LMStudioServerError), not a wire struct; its fields "
        "are the same"
    )
for _tagged in ("TextData", "ToolCallRequest", "ToolCallResultData"):
    DELIBERATE_DIFFERENCES[f"{_tagged}.type"] = (
        "a constant (the wire tag); ours is a tagged msgspec Struct, whose tag is not an attribute"
    )
for _face in ("", "Async"):
    for _ns in ("llm", "embedding"):
        DELIBERATE_DIFFERENCES[f"{_face}Client.{_ns}.unload(model_identifier)"] = _RENAMED.format(
            ours="identifier"
        )
    DELIBERATE_DIFFERENCES[f"{_face}Client.files.prepare_image(src)"] = _RENAMED.format(
        ours="source"
    )
    DELIBERATE_DIFFERENCES[f"{_face}Client.repository.search_models(search_term)"] = (
        _RENAMED.format(ours="term")
    )
    DELIBERATE_DIFFERENCES[f"{_face}Client.repository.search_models(compatibility_types)"] = (
        _RENAMED.format(ours="compatibility")
    )
    for _method in ("respond", "respond_stream", "apply_prompt_template"):
        DELIBERATE_DIFFERENCES[f"{_face}LLM.{_method}(history)"] = _SPECIFIER_POS
    for _handle in ("LLM", "EmbeddingModel"):
        for _method in ("count_tokens", "tokenize"):
            DELIBERATE_DIFFERENCES[f"{_face}{_handle}.{_method}(input)"] = _RENAMED.format(
                ours="text"
            )
    DELIBERATE_DIFFERENCES[f"{_face}EmbeddingModel.embed(input)"] = _RENAMED.format(ours="text")
for _face in ("Client", "AsyncClient"):
    for _ns in ("llm", "embedding", "files", "repository", "system"):
        for _member in ("connect", "disconnect", "connected", "API_NAMESPACE"):
            DELIBERATE_DIFFERENCES[f"{_face}.{_ns}.{_member}"] = _SESSION
        DELIBERATE_DIFFERENCES[f"{_face}.{_ns}.remote_call"] = _RAW
        DELIBERATE_DIFFERENCES[f"{_face}.{_ns}.client"] = _CLIENT_BACKREF
        DELIBERATE_DIFFERENCES[f"{_face}.{_ns}.{'close' if _face == 'Client' else 'aclose'}"] = (
            "a namespace shares the client's sockets: close the client (client.close() / "
            "aclose() or `with`), which closes them all"
        )


# -- the walk ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    name: str
    problem: str | None  # None: identical


def _is_callable_member(member: object) -> bool:
    return isinstance(member, staticmethod | classmethod) or inspect.isfunction(member)


def _function(member: object) -> Callable[..., Any]:
    if isinstance(member, staticmethod | classmethod):
        return typing.cast(Callable[..., Any], member.__func__)
    return typing.cast(Callable[..., Any], member)


def _params(fn: Callable[..., Any], *, bound: bool) -> list[inspect.Parameter]:
    params = list(inspect.signature(fn).parameters.values())
    if bound and params and params[0].name in ("self", "cls"):
        params = params[1:]
    return params


def _annotation(fn: Callable[..., Any], name: str) -> Any:
    """One annotation, evaluated in the function's module (others may name TYPE_CHECKING-only
    types: those are looked up among the public names)."""
    raw = inspect.unwrap(fn)
    annotation = raw.__annotations__.get(name)
    if isinstance(annotation, str):
        scope = {**{n: getattr(lms, n) for n in lms.__all__}, **raw.__globals__}
        return eval(annotation, scope)  # our own source
    return annotation


def _keyword_names(fn: Callable[..., Any], params: list[inspect.Parameter]) -> set[str] | None:
    """Names accepted as keywords; None when a bare ``**kwargs`` takes any name."""
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    for p in params:
        if p.kind is not p.VAR_KEYWORD:
            continue
        hint = _annotation(fn, p.name)
        if typing.get_origin(hint) is typing.Unpack:
            typed_dict = typing.get_args(hint)[0]
            names |= typed_dict.__required_keys__ | typed_dict.__optional_keys__
        elif hint is not typing.Never:
            return None
    return names


def _is_async(fn: Callable[..., Any]) -> bool:
    """A coroutine function, or one returning an awaitable object (our streams)."""
    if inspect.iscoroutinefunction(inspect.unwrap(fn)):
        return True
    returned = _annotation(fn, "return")
    origin = typing.get_origin(returned) or returned
    return isinstance(origin, type) and hasattr(origin, "__await__")


def compare_call(
    name: str, official: Callable[..., Any], ours: Callable[..., Any]
) -> Iterator[Finding]:
    """Each parameter the official callable accepts (by position or by name) ours accepts too;
    ours requires nothing more."""
    o_params = _params(official, bound=True)
    u_params = _params(ours, bound=True)
    u_positional = [p for p in u_params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    u_star_args = any(p.kind is p.VAR_POSITIONAL for p in u_params)
    u_keywords = _keyword_names(ours, u_params)
    problems: dict[str, str] = {}
    for index, p in enumerate(o_params):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if index >= len(u_positional) and not u_star_args:
                problems[p.name] = f"not accepted at position {index}"
                continue
            if (
                p.kind is p.POSITIONAL_OR_KEYWORD
                and index < len(u_positional)
                and u_positional[index].name != p.name
            ):
                problems[p.name] = f"position {index} is named {u_positional[index].name!r}"
                continue
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            if u_keywords is not None and p.name not in u_keywords:
                problems[p.name] = "not accepted as a keyword"
    o_names = {p.name for p in o_params}
    for index, p in enumerate(u_params):
        required = p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        if required and p.name not in o_names and index >= len(o_params):
            problems[f"+{p.name}"] = "required by ours, not by the official one"
    for param, problem in problems.items():
        yield Finding(f"{name}({param})", problem)
    if _is_async(official) != _is_async(ours):
        yield Finding(name, "one is awaited, the other not")


def compare_member(
    name: str, official: object, ours_owner: object, member: str
) -> Iterator[Finding]:
    try:
        ours = inspect.getattr_static(ours_owner, member)
    except AttributeError:
        fields = {
            *getattr(ours_owner, "__struct_fields__", ()),
            *getattr(ours_owner, "__dataclass_fields__", ()),
        }
        if member not in fields:
            yield Finding(name, "missing")
            return
        ours = None
    if _is_callable_member(official):
        if not (_is_callable_member(ours) or callable(ours)) or isinstance(ours, type):
            yield Finding(name, "a method there, an attribute here")
            return
        bound = getattr(ours_owner, member)
        yield from compare_call(name, _function(official), bound)
        return
    if _is_callable_member(ours):
        yield Finding(name, "an attribute there, a method here")
        return
    yield Finding(name, None)


def _official_members(cls: type[Any]) -> dict[str, object]:
    members: dict[str, object] = {}
    for member in dir(cls):
        if not member.startswith("_"):
            members[member] = inspect.getattr_static(cls, member)
    if issubclass(cls, msgspec.Struct):
        for field in cls.__struct_fields__:
            members.setdefault(field, None)
    return members


def walk() -> list[Finding]:
    findings: list[Finding] = []
    for name in official_names():
        official = getattr(lmstudio, name)
        if not hasattr(lms, name):
            findings.append(Finding(name, "missing"))
            continue
        ours = getattr(lms, name)
        if inspect.isfunction(official):
            found = list(compare_call(name, official, ours))
            findings.extend(found)
            if not found:
                findings.append(Finding(name, None))
        elif isinstance(official, type) and not isinstance(ours, type):
            findings.append(Finding(name, "a class there, not here"))
        else:
            findings.append(Finding(name, None))
    for path, (official_cls, ours_obj) in _ours().items():
        for member, official in sorted(_official_members(official_cls).items()):
            name = f"{path}.{member}"
            found = list(compare_member(name, official, ours_obj, member))
            problems = [f for f in found if f.problem is not None]
            findings.extend(problems or [Finding(name, None)])
    return findings


FINDINGS = walk()


def test_every_official_name_exists_here_or_is_a_listed_difference() -> None:
    unlisted = [
        f"{f.name}: {f.problem}"
        for f in FINDINGS
        if f.problem and f.name not in DELIBERATE_DIFFERENCES
    ]
    assert not unlisted, "add these, or list them in DELIBERATE_DIFFERENCES:\n" + "\n".join(
        unlisted
    )


def test_every_listed_difference_is_still_a_difference() -> None:
    different = {f.name for f in FINDINGS if f.problem}
    stale = sorted(set(DELIBERATE_DIFFERENCES) - different)
    assert not stale, f"these now match the official SDK; drop them from the list: {stale}"


def test_the_migration_doc_lists_every_difference() -> None:
    text = DOC.read_text()
    missing = [name for name in DELIBERATE_DIFFERENCES if f"`{name}`" not in text]
    assert not missing, f"docs/migration.md does not mention: {missing}"


def test_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """``migration: N names, M identical, K listed differences``: N official names and members
    walked, M of them identical here, K listed items (a name, or one parameter of it)."""
    names = {f.name.split("(")[0] for f in FINDINGS}
    identical = {f.name for f in FINDINGS if f.problem is None}
    different = {f.name.split("(")[0] for f in FINDINGS if f.problem}
    with capsys.disabled():
        print(
            f"\nmigration: {len(names)} names, {len(identical)} identical, "
            f"{len(DELIBERATE_DIFFERENCES)} listed differences"
        )
    assert identical.isdisjoint(different)
    assert len(identical) + len(different) == len(names)
    assert len(names) > 400  # the walk found the official surface (not an empty import)
