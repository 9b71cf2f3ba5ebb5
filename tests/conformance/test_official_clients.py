"""The official clients, unchanged, against our server: each scenario is its own test.

The scenario scripts (ts_scenarios.mjs for @lmstudio/sdk 2.0.0, py_official_scenarios.py for
lmstudio 1.5.0 sync and async) run once per session and engine and report what the client
observed; the checks below hold every client to the same expectations, so a failure names the
client, the engine, the scenario and the fact that did not hold.

Two engines (the ``engine`` fixture): against ``scripted`` the replies are echoes and are checked
word for word; against ``llama`` (llama.cpp on SmolLM2-135M and MiniLM, temperature 0) only
their structure is checked, since the text differs between builds and CPUs. EXPECTATIONS holds
what differs.

Features a client lacks have no scenario for it: lmstudio 1.5.0 has no LM Studio version call
(``lmstudio_version`` is TypeScript only).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from .harness import ClientRuns, EngineSetup

# Fixture set-up (servers + script runs) is charged to the first test of each client.
pytestmark = [pytest.mark.conformance, pytest.mark.timeout(300)]

Detail = dict[str, Any]

UNKNOWN_MODEL = "no-such-model"


@dataclass(frozen=True)
class Expectations:
    """What the checks expect of one engine (the scripts' ENGINES tables hold the inputs)."""

    llm_key: str
    llm_path: str
    vision_key: str
    embedding_key: str
    # Scripted replies are exact echoes; llama replies are only checked for structure.
    exact_text: bool
    # maxTokens of the respond/complete/image predictions (None: not limited).
    max_tokens: int | None
    # A prediction error's message contains one of these.
    error_fragments: tuple[str, ...]
    # Embeddings carry meaning: related sentences are closer than unrelated ones.
    semantic_embeddings: bool
    embedding_dim: int | None
    # toolChoice "required" makes the model call a tool (llama-cpp-python's server forces a
    # call only when exactly one tool is offered: with two, SmolLM2 may answer directly).
    forced_tool_calls: bool = True


EXPECTATIONS = {
    "scripted": Expectations(
        llm_key="scripted-echo-1b",
        llm_path="lmstudio-sdk/scripted-echo-1b-GGUF/scripted-echo-1b-Q4_K_M.gguf",
        vision_key="scripted-vision-1b",
        embedding_key="scripted-embed-small",
        exact_text=True,
        max_tokens=None,
        error_fragments=("!error", "failed on purpose"),
        semantic_embeddings=False,
        embedding_dim=None,
    ),
    "llama": Expectations(
        llm_key="smollm2-135m-instruct",
        llm_path="HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/SmolLM2-135M-Instruct-Q4_1.gguf",
        vision_key="smollm2-135m-instruct",
        embedding_key="text-embedding-all-minilm-l6-v2",
        exact_text=False,
        max_tokens=24,
        # The scenario's prompt is longer than the context, under the stopAtLimit policy.
        error_fragments=("does not fit in the context",),
        semantic_embeddings=True,
        embedding_dim=384,
    ),
    # The same models behind llama-cpp-python's server: model ids are the paths.
    "openai": Expectations(
        llm_key="smollm2-135m-instruct",
        llm_path="smollm2-135m-instruct",
        vision_key="smollm2-135m-instruct",
        embedding_key="text-embedding-all-minilm-l6-v2",
        exact_text=False,
        max_tokens=24,
        # llama-cpp-python ends the stream unfinished on a prompt longer than its context.
        error_fragments=("without finishing the reply",),
        semantic_embeddings=True,
        embedding_dim=384,
        forced_tool_calls=False,
    ),
}

# Both engines' prompt templates are ChatML (SmolLM2's own; the scripted engine imitates it).
TEMPLATE_USER_TURN = "<|im_start|>user"
TEMPLATE_END_OF_TURN = "<|im_end|>"
FINISHED = {"eosFound", "maxPredictedTokensReached"}


# -- checks, one per scenario (shared by all clients and engines) -------------------------------


def check_structured(d: Detail, x: Expectations) -> None:
    # The client's own zod parsing succeeded (the scenario would have failed otherwise).
    parsed = d["parsed"]
    assert set(parsed) == {"name", "age"}, d
    assert isinstance(parsed["name"], str) and isinstance(parsed["age"], int), d
    assert json.loads(d["content"]) == parsed
    sent = d["sentStructured"]
    assert sent["type"] == "json" and set(sent["jsonSchema"]["required"]) == {"name", "age"}, sent


def check_lmstudio_version(d: Detail, x: Expectations) -> None:
    assert isinstance(d["version"], str) and d["version"], d
    assert isinstance(d["build"], int) and d["build"] >= 0, d


def check_list_downloaded(d: Detail, x: Expectations) -> None:
    by_key = {m["modelKey"]: m for m in d["models"]}
    assert set(by_key) >= {x.llm_key, x.vision_key, x.embedding_key}, sorted(by_key)
    assert by_key[x.llm_key]["type"] == "llm"
    assert by_key[x.vision_key]["type"] == "llm"
    assert by_key[x.embedding_key]["type"] == "embedding"
    assert by_key[x.llm_key]["path"] == x.llm_path


def check_get_or_load(d: Detail, x: Expectations) -> None:
    # A model loaded on demand gets its model key as identifier, as in LM Studio.
    assert d["identifier"] == x.llm_key
    assert d["modelKey"] == x.llm_key
    assert d["infoModelKey"] == x.llm_key
    assert d["path"] == x.llm_path


def check_list_loaded(d: Detail, x: Expectations) -> None:
    matching = [m for m in d["models"] if m["modelKey"] == x.llm_key]
    assert matching, f"{x.llm_key} is not listed as loaded: {d['models']}"
    assert x.llm_key in [m["identifier"] for m in matching]


def check_load(d: Detail, x: Expectations) -> None:
    assert d["identifier"] == d["requestedIdentifier"]
    assert d["modelKey"] == x.llm_key
    progress = d["progress"]
    assert progress, "the progress callback was never called"
    assert all(0.0 <= p <= 1.0 for p in progress), progress
    assert progress == sorted(progress), f"progress went backwards: {progress}"
    assert progress[-1] == 1.0, f"progress did not end at 1: {progress}"
    assert d["ttlMs"] == 300_000, "ttl=300 s was not reported back as ttlMs"


def check_act_two_tools(d: Detail, x: Expectations) -> None:
    """The official act() with two tools: calls the server reported under the tools' names,
    with arguments that fit their schema, results sent back, and an answer in the last round."""
    calls, messages = d["calls"], d["messages"]
    if not calls and not x.forced_tool_calls:
        assert d["rounds"] == 1 and [m["role"] for m in messages] == ["assistant"], d
        assert messages[0]["text"].strip(), "no answer"
        return
    assert calls, "no tool was called"
    assert [c["name"] for c in calls] == [r["name"] for r in d["requested"]], d
    for call in calls:
        assert call["name"] in ("add", "multiply"), call
        assert all(isinstance(v, int) for v in call["arguments"].values()), call
    assert all(r["id"] for r in d["requested"]), "a tool call came without an id"
    roles = [m["role"] for m in messages]
    assert roles == ["assistant", "tool", "assistant"], roles
    assert messages[0]["toolCallRequests"] == [c["name"] for c in calls]
    expected = [
        str(c["arguments"]["a"] + c["arguments"]["b"])
        if c["name"] == "add"
        else str(c["arguments"]["a"] * c["arguments"]["b"])
        for c in calls
    ]
    assert messages[1]["toolCallResults"] == expected, messages[1]
    assert d["rounds"] == 2, d["rounds"]
    if x.exact_text:
        assert calls == [
            {"name": "add", "arguments": {"a": 2, "b": 3}},
            {"name": "multiply", "arguments": {"a": 4, "b": 5}},
        ]
        assert messages[2]["text"] == "Tool result: 5, 20"
    else:
        assert messages[2]["text"].strip(), "no answer after the tool round"


def check_unload(d: Detail, x: Expectations) -> None:
    assert d["unloaded"] in d["before"], d
    assert d["unloaded"] not in d["after"], d


def _check_prediction(d: Detail, stop_reasons: set[str]) -> None:
    """What every prediction shows, whatever the engine."""
    fragments = d["fragments"]
    stats = d["stats"]
    assert fragments, "no fragment was streamed"
    assert all(isinstance(f, str) and f for f in fragments), fragments
    assert stats["stopReason"] in stop_reasons, stats
    assert stats["promptTokensCount"] > 0, stats
    assert stats["predictedTokensCount"] > 0, stats
    # A fragment holds at least one token (several when a character spans tokens).
    assert len(fragments) <= stats["predictedTokensCount"], (len(fragments), stats)
    assert d["content"].strip(), f"empty reply: {d['content']!r}"


def _check_finished_reply(d: Detail, x: Expectations) -> None:
    """A reply that ended by itself: on EOS, or at the configured token limit."""
    _check_prediction(d, {"eosFound"} if x.exact_text else FINISHED)
    stats = d["stats"]
    assert d["content"] == "".join(d["fragments"]), "the fragments do not add up to the result"
    if x.max_tokens is not None:
        assert stats["predictedTokensCount"] <= x.max_tokens, stats
        if stats["stopReason"] == "maxPredictedTokensReached":
            assert stats["predictedTokensCount"] == x.max_tokens, stats


def check_respond(d: Detail, x: Expectations) -> None:
    _check_finished_reply(d, x)
    if x.exact_text:
        fragments = d["fragments"]
        expected = f"You said: {d['userText']}"
        assert len(fragments) >= len(expected.split()), f"not streamed word by word: {fragments}"
        assert d["content"] == expected
        assert d["stats"]["predictedTokensCount"] == len(fragments), d["stats"]


def check_complete(d: Detail, x: Expectations) -> None:
    _check_finished_reply(d, x)
    if x.exact_text:
        assert len(d["fragments"]) >= 2, d["fragments"]
        words = d["content"].split()
        assert all(word in words for word in d["prompt"].split()), (d["prompt"], d["content"])


def check_cancel(d: Detail, x: Expectations) -> None:
    _check_prediction(d, {"userStopped"})
    received = d["fragments"]
    cancel_after = d["cancelAfter"]
    assert cancel_after <= len(received) < d["requestedTokens"], f"{len(received)} fragments"
    assert d["stats"]["predictedTokensCount"] < d["requestedTokens"], d["stats"]
    assert d["content"].startswith("".join(received[:cancel_after])), d["content"][:200]


def check_prediction_error(d: Detail, x: Expectations) -> None:
    message = d["error"]["message"]
    assert any(fragment in message for fragment in x.error_fragments), d["error"]


def check_tokenize(d: Detail, x: Expectations) -> None:
    tokens = d["tokens"]
    assert len(tokens) >= len(d["text"].split()), tokens
    assert all(isinstance(t, int) and t >= 0 for t in tokens), tokens


def check_count_tokens(d: Detail, x: Expectations) -> None:
    assert d["count"] > 0
    assert d["count"] == d["tokenizeLength"], d


def check_context_length(d: Detail, x: Expectations) -> None:
    assert isinstance(d["contextLength"], int) and d["contextLength"] > 0, d
    assert d["contextLength"] == d["infoContextLength"], d


def check_apply_prompt_template(d: Detail, x: Expectations) -> None:
    formatted = d["formatted"]
    user_text = d["userText"]
    assert user_text in formatted, formatted
    assert formatted != user_text, "no template was applied"
    turn = formatted.find(TEMPLATE_USER_TURN)
    assert turn != -1, f"no {TEMPLATE_USER_TURN!r} in {formatted!r}"
    text_at = formatted.find(user_text, turn)
    assert text_at != -1, f"the user text is not in the user turn: {formatted!r}"
    assert TEMPLATE_END_OF_TURN in formatted[text_at:], (
        f"the user turn is not closed: {formatted!r}"
    )


def _unit_vector(vector: Sequence[Any], dim: int | None) -> None:
    assert len(vector) > 1, vector
    if dim is not None:
        assert len(vector) == dim, f"{len(vector)} dimensions, expected {dim}"
    assert all(isinstance(v, float | int) and math.isfinite(v) for v in vector)
    assert math.isclose(math.hypot(*vector), 1.0, abs_tol=1e-3), "not L2-normalised"


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(p * q for p, q in zip(a, b, strict=True))  # both are unit vectors


def check_embed(d: Detail, x: Expectations) -> None:
    assert d["modelKey"] == x.embedding_key
    anchor, related, unrelated = d["embedding"], d["related"], d["unrelated"]
    for vector in (anchor, related, unrelated):
        _unit_vector(vector, x.embedding_dim)
    assert anchor != related and anchor != unrelated, "different texts, same embedding"
    if x.semantic_embeddings:
        near, far = _cosine(anchor, related), _cosine(anchor, unrelated)
        assert near > far, f"cos(related)={near:.3f} <= cos(unrelated)={far:.3f}: {d['texts']}"


def check_unknown_model(d: Detail, x: Expectations) -> None:
    assert UNKNOWN_MODEL in d["error"]["message"], d["error"]


def check_image(d: Detail, x: Expectations) -> None:
    # SmolLM2's projector has random weights, so the reply is noise: only its shape counts.
    assert d["file"]["type"] == "image", d["file"]
    assert d["file"]["sizeBytes"] > 0, d["file"]
    assert d["modelKey"] == x.vision_key
    _check_finished_reply(d, x)
    with_image, text_only = d["stats"]["promptTokensCount"], d["textOnlyPromptTokens"]
    assert with_image > text_only, f"the image added no prompt tokens: {with_image} vs {text_only}"
    if x.exact_text:
        assert d["content"] == f"You said: {d['userText']}", d["content"]


def check_retrieve(d: Detail, x: Expectations) -> None:
    # Real retrieval: the query is about bread, so bread.txt's chunks rank first (by shared
    # words on the scripted engine, by meaning with MiniLM).
    entries = d["entries"]
    assert len(entries) == 3, entries
    assert entries[0]["source"] == "bread.txt", entries
    assert entries[0]["content"] in d["texts"]["bread"], entries[0]
    scores = [e["score"] for e in entries]
    assert scores == sorted(scores, reverse=True) and -1 <= scores[-1] <= scores[0] <= 1, scores
    steps = [(event[1], event[2]) for event in d["events"] if event[0] == "stepEnd"]
    for name in ("bread.txt", "planets.md"):
        assert [s for n, s in steps if n == name] == ["loading", "chunking", "embedding"], steps
    assert d["events"][0] == ["list", "bread.txt", "planets.md"]
    assert d["events"][-1] == ["searched"]
    assert d["parsed"]["content"] == d["texts"]["bread"]
    assert d["parsed"]["parser"] == d["library"] and d["library"]["library"] == "lmstudio-sdk"
    assert d["path"].startswith("/") and d["path"].endswith(".txt"), d["path"]


# lmstudio 1.5.0 cannot turn the string `error` of a refused auth reply into its exception and
# raises this ValueError instead (fixed in 1.6.0b1); TypeScript insists on the string.
PY_1_5_AUTH_DEFECT = "dictionary update sequence element #0 has length 1; 2 is required"


def check_auth_refused(d: Detail, x: Expectations) -> None:
    error = d["error"]
    if error["name"] == "ValueError" and error["message"] == PY_1_5_AUTH_DEFECT:
        return
    assert "authenticat" in error["message"].lower(), error


def check_auth_right_token(d: Detail, x: Expectations) -> None:
    assert d["loadedCount"] >= 0
    assert x.llm_key in d["downloadedKeys"], d


def check_stream_logs(d: Detail, x: Expectations) -> None:
    del x
    assert d["outputs"], f"no llm.prediction.output of {d['identifier']}: {d['kinds']}"
    assert set(d["outputs"]) <= set(d["replies"]), d
    assert all("log round" in text for text in d["inputs"]), d["inputs"]
    assert set(d["kinds"]) <= {"server.log", "llm.prediction.input", "llm.prediction.output"}
    assert all(t > 1_700_000_000_000 for t in d["timestamps"])


CHECKS: dict[str, Callable[[Detail, Expectations], None]] = {
    "lmstudio_version": check_lmstudio_version,
    "structured": check_structured,
    "list_downloaded": check_list_downloaded,
    "get_or_load": check_get_or_load,
    "list_loaded": check_list_loaded,
    "load": check_load,
    "unload": check_unload,
    "respond": check_respond,
    "complete": check_complete,
    "cancel": check_cancel,
    "prediction_error": check_prediction_error,
    "tokenize": check_tokenize,
    "count_tokens": check_count_tokens,
    "context_length": check_context_length,
    "apply_prompt_template": check_apply_prompt_template,
    "embed": check_embed,
    "unknown_model": check_unknown_model,
    "image": check_image,
    "retrieve": check_retrieve,
    "act_two_tools": check_act_two_tools,
    "stream_logs": check_stream_logs,
    "auth_wrong_token": check_auth_refused,
    "auth_no_token": check_auth_refused,
    "auth_right_token": check_auth_right_token,
}

# Scenarios in which the client is expected to fail; it may log about that failure.
EXPECTED_ERRORS = {
    "prediction_error",
    "unknown_model",
    "auth_wrong_token",
    "auth_no_token",
}

# Scenarios an engine cannot serve, with a fragment of the typed error the client gets instead:
# the OpenAI API has no prompt-template endpoint, and llama-cpp-python's server has no vision
# projector for SmolLM2 (it ends the stream unfinished).
REFUSED: dict[str, dict[str, str]] = {
    "openai": {
        "apply_prompt_template": "not supported by the upstream",
        "image": "without finishing the reply",
    },
}

# Scenarios only the TypeScript script runs (lmstudio 1.5.0 has no version call, no log
# stream and no retrieval; its act() is exercised by our own act() in
# tests/llama/test_sdk_e2e.py instead).
TS_ONLY = ("lmstudio_version", "stream_logs", "act_two_tools", "structured", "retrieve")
COMMON = [name for name in CHECKS if name not in TS_ONLY]
TS_SCENARIOS = [*TS_ONLY, *COMMON]
PY_SCENARIOS = [f"{flavour}.{name}" for flavour in ("sync", "async") for name in COMMON]


def _check(runs: ClientRuns, engine: EngineSetup, scenario: str) -> None:
    __tracebackhide__ = True
    result, run = runs.get(scenario)
    if result is None:
        pytest.fail(f"the script reported nothing for {scenario!r}\n{run.diagnostics()}")
    detail = result.detail
    base = scenario.rpartition(".")[2]
    refused = REFUSED.get(engine.name, {}).get(base)
    if refused is not None:
        assert not result.ok, f"{scenario} was expected to be refused: {detail}"
        assert refused in detail["error"]["message"], detail["error"]
        return
    if not result.ok:
        pytest.fail(f"{scenario} failed in the official client: {detail}\n{run.diagnostics()}")
    if base not in EXPECTED_ERRORS:
        complaints = [
            line for line in detail.get("clientLog", []) if line.startswith(("warn", "error"))
        ]
        assert not complaints, f"the official client complained during {scenario}: {complaints}"
    try:
        CHECKS[base](detail, EXPECTATIONS[engine.name])
    except (AssertionError, KeyError) as error:
        observed = repr(detail)
        if len(observed) > 3000:
            observed = observed[:3000] + " …"
        raise AssertionError(
            f"{scenario} ({engine.name} engine): {error}\nobserved: {observed}"
        ) from error


@pytest.mark.parametrize("scenario", TS_SCENARIOS)
def test_typescript_sdk_2_0_0(ts_runs: ClientRuns, engine: EngineSetup, scenario: str) -> None:
    _check(ts_runs, engine, scenario)


@pytest.mark.parametrize("scenario", PY_SCENARIOS)
def test_python_lmstudio_1_5_0(py_runs: ClientRuns, engine: EngineSetup, scenario: str) -> None:
    _check(py_runs, engine, scenario)
