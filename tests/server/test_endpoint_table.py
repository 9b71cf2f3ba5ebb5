"""Every endpoint of the vendored TS SDK 2.0 schema, except /plugins (driven by tests/plugins),
gets an answer from the embedded server: a schema-valid result or packet, a well-formed error of
an endpoint it implements, or, for an endpoint it leaves out, the typed "not implemented:
<endpoint>: <why>" refusal; never silence or a hang. ``docs/server.md`` lists every endpoint of
every namespace.

Parameters are made from the schema itself (the smallest valid value), then checked against
it, so that a refusal is never the parameter's fault.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import jsonschema

from lmstudio_sdk.server import LMStudioServer
from lmstudio_sdk.server.router import ROUTER, Route
from lmstudio_sdk.server.unimplemented import REASONS

from .helpers import EMBED_KEY, LLM_KEY, TIMEOUT, RawClient, connect, load
from .test_wire_schema import SCHEMA, WireTap, _is_void, _python_regex

DOCS = Path(__file__).resolve().parents[2] / "docs" / "server.md"
ELSEWHERE: set[str] = set()  # owned by other work; listed in docs only
# The plugin-process endpoints refuse every caller but a registered plugin, and the consumer
# ones need a running plugin: tests/plugins drives each of them end to end instead.
DRIVEN_ELSEWHERE = ELSEWHERE | {"plugins"}
# Channels that by design send nothing until something happens: alive (no packets ever).
QUIET_CHANNELS = {("system", "alive")}
QUIET_SECONDS = 0.5
# Implemented, but the scripted engine these calls run on cannot do it: its typed refusal.
ENGINE_REFUSALS = {"/llm preloadDraftModel"}

_STRINGS = ("x", "scripted-echo-1b", "1.0.0", "GGUF", "a")


def sample(schema: Any, key: str = "", known: dict[str, Any] | None = None) -> Any:
    """The smallest value valid against ``schema`` (required members only); a member named
    in ``known`` gets that value (a real model key, a real file) if it fits the schema."""
    if not isinstance(schema, dict):
        return None
    if known and key in known and schema.get("type") in ("string", "array"):
        return known[key]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        branch = next(b for b in schema["anyOf"] if not _is_void(b))
        return sample(branch, key, known)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        props = schema.get("properties", {})
        required = schema.get("required", [])
        return {name: sample(props.get(name, {}), name, known) for name in required}
    if kind == "array":
        items = schema.get("items", {})
        return [sample(items, key, known) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
        return max(1, low) if schema.get("maximum", 1) >= 1 else low
    if kind == "boolean":
        return False
    if kind == "string":
        pattern = schema.get("pattern")
        low = schema.get("minLength", 0)
        for text in _STRINGS:
            if len(text) >= low and (pattern is None or re.search(pattern, text)):
                return text
        return "x" * max(low, 1)
    if kind == "null":
        return None
    return {}


def _valid(schema: Any, value: Any) -> None:
    errors = list(jsonschema.Draft7Validator(_python_regex(schema)).iter_errors(value))
    assert not errors, f"the sample {value!r} breaks the schema: {errors[0].message}"


def endpoints() -> list[tuple[str, str, str]]:
    return sorted(
        (namespace, kind, endpoint)
        for namespace, kinds in SCHEMA.items()
        for kind in ("rpc", "channel")
        for endpoint in kinds[kind]
    )


SERVED = [e for e in endpoints() if e[0] not in DRIVEN_ELSEWHERE]


def _handled(namespace: str, kind: str, endpoint: str) -> bool:
    route = (
        ROUTER.rpc(f"/{namespace}", endpoint)
        if kind == "rpc"
        else ROUTER.channel(f"/{namespace}", endpoint)
    )
    return isinstance(route, Route)


def test_each_endpoint_is_handled_or_has_a_reason_never_both() -> None:
    for namespace, kind, endpoint in endpoints():
        handled = _handled(namespace, kind, endpoint)
        reason = (namespace, endpoint) in REASONS
        assert handled != reason, f"/{namespace} {endpoint}: handled={handled} reason={reason}"
    assert set(REASONS) <= {(ns, ep) for ns, _, ep in endpoints()}, "a reason for nothing"


def test_the_document_lists_every_endpoint_with_its_status() -> None:
    text = DOCS.read_text()
    for namespace, kind, endpoint in endpoints():
        rows = [
            line
            for line in text.splitlines()
            if line.startswith("|") and f"`{endpoint}`" in line and f"/{namespace}" in line
        ]
        assert rows, f"docs/server.md has no row for /{namespace} {endpoint}"
        row = rows[0]
        if namespace in ELSEWHERE:
            assert "in progress elsewhere" in row, row
        elif _handled(namespace, kind, endpoint):
            assert "implemented" in row and "not implemented" not in row, row
        else:
            assert "not implemented" in row and REASONS[(namespace, endpoint)] in row, row


def _known(namespace: str, upload: str | None = None) -> dict[str, Any]:
    """Real values for members the sample would otherwise make up (``upload``: the handle of a
    file the caller uploaded, for the /files endpoints that read one)."""
    key = EMBED_KEY if namespace == "embedding" else LLM_KEY
    known: dict[str, Any] = {
        "modelKey": key,
        "identifier": key,
        "name": "hello.txt",
        "contentBase64": "aGVsbG8=",
    }
    if upload is not None:
        known |= {"fileIdentifier": upload, "fileName": upload, "fileIdentifiers": [upload]}
    return known


def _parameter(namespace: str, kind: str, endpoint: str, upload: str | None = None) -> Any:
    spec = SCHEMA[namespace][kind][endpoint]
    schema = spec["parameter" if kind == "rpc" else "creationParameter"]
    if _is_void(schema) or any(_is_void(b) for b in schema.get("anyOf", [])):
        return None  # omitted
    value = sample(schema, known=_known(namespace, upload))
    _valid(schema, value)
    if spec.get("serialization") == "superjson":
        return {"json": value}
    return value


def _check_refusal(error: dict[str, Any], namespace: str, endpoint: str) -> None:
    path = f"/{namespace}/{endpoint}"
    assert error["errorData"] == {"code": "notSupported", "endpoint": path}, error
    assert error["title"].startswith(f"not implemented: {path}: "), error["title"]
    assert error["cause"] and error["title"].endswith(error["cause"])
    if (namespace, endpoint) in REASONS:
        assert error["cause"] == REASONS[(namespace, endpoint)]


async def _answer(
    client: RawClient, namespace: str, kind: str, endpoint: str, upload: str | None = None
) -> str:
    """Ask once; return how the server answered ("result", "error", "refusal", "quiet")."""
    parameter = _parameter(namespace, kind, endpoint, upload)
    if kind == "rpc":
        frame = await (
            client.call(endpoint) if parameter is None else client.call(endpoint, parameter)
        )
        if frame["type"] == "rpcResult":
            return "result"  # the tap checks it against the schema
        error = frame["error"]
    else:
        channel_id = await (
            client.open_channel(endpoint)
            if parameter is None
            else client.open_channel(endpoint, parameter)
        )
        timeout = QUIET_SECONDS if (namespace, endpoint) in QUIET_CHANNELS else TIMEOUT
        try:
            frame = await client.wait_for(lambda f: f.get("channelId") == channel_id, timeout)
        except TimeoutError:
            assert (namespace, endpoint) in QUIET_CHANNELS, f"/{namespace} {endpoint}: silence"
            return "quiet"
        if frame["type"] == "channelSend":
            # A packet: the channel runs. End it the way its client would.
            stop = "stop" if endpoint in ("streamLogs", "retrieve") else "cancel"
            await client.channel_send(channel_id, {"type": stop})
            await client.channel_end(channel_id)
            return "result"
        if frame["type"] == "channelClose":
            return "result"
        error = frame["error"]
    if error.get("errorData", {}).get("code") == "notSupported":
        _check_refusal(error, namespace, endpoint)
        return "refusal"
    assert _handled(namespace, kind, endpoint), f"/{namespace} {endpoint}: {error}"
    assert error["title"], error
    if f"/{namespace} {endpoint}" in ENGINE_REFUSALS:
        code = error.get("displayData", {}).get("code")
        assert code == "generic.engineDoesNotSupportFeature", error
    return "error"


async def test_every_endpoint_answers(lms: LMStudioServer) -> None:
    tap = WireTap()
    answers: dict[str, list[str]] = {}
    namespaces = sorted({ns for ns, _, _ in SERVED})
    for namespace in namespaces:
        async with tap.connect(lms.url, f"/{namespace}") as client:
            upload = None
            if namespace in ("llm", "embedding"):
                await load(client, LLM_KEY if namespace == "llm" else EMBED_KEY)
            if namespace == "files":
                # parseDocument, retrieve and the two file RPCs read an upload of the caller's;
                # retrieve embeds with the loaded embedding model.
                async with connect(lms.url, "/embedding") as embedding:
                    await load(embedding, EMBED_KEY)
                uploaded = await client.rpc(
                    "uploadFileBase64", {"name": "hello.txt", "contentBase64": "aGVsbG8="}
                )
                upload = uploaded["identifier"]
            for ns, kind, endpoint in SERVED:
                if ns != namespace or (ns, endpoint) == ("system", "requestShutdown"):
                    continue  # shutdown as a guest is refused; test_namespaces covers it
                answer = _answer(client, ns, kind, endpoint, upload)
                how = await asyncio.wait_for(answer, TIMEOUT * 2)
                answers.setdefault(how, []).append(f"/{ns} {endpoint}")
    checked, problems = tap.invalid_frames()
    assert not problems, "\n".join(problems)
    refused = {e for e in answers.get("refusal", [])}
    expected = {f"/{ns} {ep}" for ns, _, ep in SERVED if (ns, ep) in REASONS}
    assert expected <= refused
    # What the server implements answers a valid call with a valid result, never an error
    # (but for what the scripted engine cannot do).
    assert set(answers.get("error", [])) == ENGINE_REFUSALS, answers.get("error")
    assert answers["quiet"] == ["/system alive"]
    print(f"\n{checked} frames valid; answers: { {k: len(v) for k, v in answers.items()} }")


async def test_the_warning_carries_the_reason(lms: LMStudioServer) -> None:
    """LM Studio only warns about an unhandled call (what faithful mode does); the warning
    carries the same 'not implemented: <endpoint>: <why>' text as the error."""
    async with connect(lms.url, "/runtime") as runtime:
        await runtime.call("searchRuntimeExtensions", {"query": "x", "includeIncompatible": False})
        warning = await runtime.wait_warning("rpcEndpointUnhandled")
        assert warning["warning"].startswith("not implemented: /runtime/searchRuntimeExtensions: ")
