"""Every public method of the client's namespaces, handles and streams, fed an unknown keyword
and wrong-typed values generated from its signature: each call must raise a typed
LMStudioError, never a builtin exception, a hang (the client's timeout bounds every wait) or a
silent success. Written once for the async face; ``scripts/unasync.py`` generates the sync twin.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk._async.models import PredictionOptions
from tests.conftest import RunningServer

ECHO = "scripted-echo-1b"
EMBED = "scripted-embed-small"


def echo_tool(text: str) -> str:
    """Echo the text."""
    return text


# Valid values for required parameters, by name, so that only the value under test is wrong.
VALID: dict[str, Any] = {
    "tools": [echo_tool],
    "chat": "hi",
    "prompt": "hi",
    "text": "hi",
    "key": ECHO,
    "identifier": "no-such-instance",
    "source": b"hello",
    "model_key": ECHO,
    "draft_model": ECHO,
    "model_specifier": "no-such-instance",
    "src": b"hello",
    "title": "hi",
    "code": "misuse-flag",
    "value": True,
    "engine": lms.EngineSpecifier(name="lmstudio-sdk-scripted", version="0"),
    "model_format": "GGUF",
    "plugin_identifier": "tests/no-such-plugin",
    "name": "add",
    "option": "acme/Tiny-Chat-GGUF/Tiny-Chat-Q8_0.gguf",  # a download identifier, not an option
    "disabled": "yes",  # not a bool: LM Link setters must refuse before reaching the server
    "device_name": "",
    "device_identifier": "",
    "query": "bread",
    # A handle the server never issued: each call is refused before or at the server.
    "file": lms.FilePart(
        name="a.txt", identifier="0 - 0.txt", size_bytes=1, file_type="text/plain"
    ),
    "files": [
        lms.FilePart(name="a.txt", identifier="0 - 0.txt", size_bytes=1, file_type="text/plain")
    ],
}


class _Opaque:
    """A value no public parameter takes."""


def wrong_values(annotation: str) -> list[Any]:
    """Values of the wrong type for a parameter, judged from its annotation's text."""
    values: list[Any] = [_Opaque()]
    if not any(word in annotation for word in ("float", "int", "Timeout", "Any")):
        values.append(12345)
    if not any(word in annotation for word in ("bytes", "FileSource", "Any")):
        values.append(b"bytes")
    return values


def public_methods(target: object) -> list[tuple[str, Callable[..., Any]]]:
    return [
        (name, getattr(target, name))
        for name in dir(target)
        if not name.startswith("_") and inspect.ismethod(getattr(target, name))
    ]


Call = tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any]]


def calls(target: object) -> list[Call]:
    """(description, method, args, kwargs) of every misuse of every public method of target."""
    out: list[Call] = []
    for name, method in public_methods(target):
        parameters = inspect.signature(method).parameters
        required = [
            p.name
            for p in parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        args = tuple(VALID[n] for n in required)
        out.append((f"{name}(bogus_keyword=1)", method, args, {"bogus_keyword": 1}))
        for parameter in parameters.values():
            if parameter.kind is parameter.VAR_KEYWORD:  # **options: each option in turn
                options = PredictionOptions.__optional_keys__
                for option in sorted(options):
                    wrong = {option: _Opaque()}
                    out.append((f"{name}({option}=<wrong>)", method, args, wrong))
                continue
            for value in wrong_values(str(parameter.annotation)):
                if parameter.name in required:
                    wrong_args = tuple(value if n == parameter.name else VALID[n] for n in required)
                    out.append((f"{name}({parameter.name}={value!r})", method, wrong_args, {}))
                else:
                    kwargs = {parameter.name: value}
                    out.append((f"{name}({parameter.name}={value!r})", method, args, kwargs))
    return out


async def call(method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if inspect.iscoroutinefunction(inspect.unwrap(method)):
        return await method(*args, **kwargs)
    return method(*args, **kwargs)


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[lms.AsyncClient]:
    async with lms.AsyncClient(server.url, timeout=5) as client:
        yield client


async def test_every_public_method_refuses_misuse_with_a_typed_error(
    client: lms.AsyncClient,
) -> None:
    # Loaded, not model(): a just-in-time load evicts the previous JIT-loaded model (as LM
    # Studio does), so model(EMBED) would unload a JIT-loaded ECHO under the test.
    llm = await client.llm.load(ECHO, identifier=f"misuse-llm-{id(client)}")
    embedder = await client.embedding.load(EMBED, identifier=f"misuse-embed-{id(client)}")
    stream = llm.respond_stream("hi")
    logs = await client.diagnostics.stream_logs()
    generator = client.plugins.generator("tests/no-such-plugin")
    tools = client.plugins.plugin_tools("tests/no-such-plugin")
    targets: list[object] = [client.llm, client.embedding, client.files, llm, embedder, stream]
    targets += [client.system, client.runtime, client.diagnostics, client.repository, logs]
    targets += [client.plugins, generator, generator.respond_stream("hi"), tools]
    checked = 0
    failures = []
    for target in targets:
        for description, method, args, kwargs in calls(target):
            where = f"{type(target).__name__}.{description}"
            try:
                result = await call(method, args, kwargs)
            except lms.LMStudioError:
                checked += 1
                continue
            except Exception as exc:  # a builtin exception escaped: report it
                failures.append(f"{where} raised {type(exc).__name__}: {exc}")
                continue
            failures.append(f"{where} succeeded silently, returning {result!r}")
    assert not failures, "\n".join(failures)
    assert checked > 100
    # Nothing reached the server as garbage: everything still works.
    assert (await llm.respond("hi")).content
    assert await embedder.embed("hi")
    await llm.unload()
    await embedder.unload()
    assert "misuse-flag" not in await client.system.get_experiment_flags()
