"""Client construction: addresses, identities, namespaces (no server needed)."""

from __future__ import annotations

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response

import lmstudio_sdk as lms
from lmstudio_sdk._async.client import base_url_from_host
from lmstudio_sdk._transport.common import connect_error


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1:1234", "ws://127.0.0.1:1234"),
        ("localhost:41343", "ws://localhost:41343"),
        ("[::1]:1234", "ws://[::1]:1234"),
        ("ws://127.0.0.1:1234", "ws://127.0.0.1:1234"),
        ("ws://127.0.0.1:1234/", "ws://127.0.0.1:1234"),
        ("wss://example.test/lmstudio", "wss://example.test/lmstudio"),
        ("wss://example.test/a/b/", "wss://example.test/a/b"),
        ("http://127.0.0.1:1234", "ws://127.0.0.1:1234"),
        ("https://example.test", "wss://example.test"),
    ],
)
def test_base_urls(host: str, expected: str) -> None:
    assert base_url_from_host(host) == expected


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        ("127.0.0.1", "needs a port"),
        ("ftp://example.test", "unsupported URL scheme"),
        ("ws://example.test/?x=1", "query"),
        ("ws://user:pw@example.test", "user"),
        ("ws:///path", "no host"),
    ],
)
def test_bad_base_urls(host: str, problem: str) -> None:
    with pytest.raises(lms.LMStudioValueError, match=problem):
        base_url_from_host(host)


def test_bad_api_token_is_rejected_up_front() -> None:
    with pytest.raises(lms.LMStudioValueError, match="sk-lm-"):
        lms.Client("127.0.0.1:1", api_token="not-a-token")


def test_token_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LM_API_TOKEN", "sk-lm-abcdEFGH:abcdefghijABCDEFGHIJ")
    client = lms.Client("127.0.0.1:1")
    assert client._identity.client_identifier == "abcdEFGH"


async def test_unknown_namespace_is_a_value_error() -> None:
    async with lms.AsyncClient("127.0.0.1:1") as client:
        with pytest.raises(lms.LMStudioValueError, match="unknown namespace 'lm'"):
            await client.rpc("lm", "listLoaded")


def test_connection_refused_says_what_to_do() -> None:
    from tests.conftest import free_port

    with lms.Client(f"127.0.0.1:{free_port()}", timeout=5) as client:
        with pytest.raises(lms.LMStudioConnectionError, match="lmstudio-sdk serve"):
            client.system.list_downloaded_models()


# -- misuse of the constructor: a typed LMStudioValueError naming the argument, on both faces --

FACES = [lms.Client, lms.AsyncClient]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1:1234/", "ws://127.0.0.1:1234"),
        ("localhost:1234/lmstudio/", "ws://localhost:1234/lmstudio"),
        ("[::1]:1234/", "ws://[::1]:1234"),
    ],
)
def test_host_port_with_a_path_or_trailing_slash_is_normalised(host: str, expected: str) -> None:
    assert base_url_from_host(host) == expected


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize(
    ("host", "problem"),
    [
        ("127.0.0.1:99999", "port 99999 .*1 to 65535"),
        ("127.0.0.1:0", "port 0 .*1 to 65535"),
        ("ws://127.0.0.1:70000", "port 70000 .*1 to 65535"),
        ("127.0.0.1:http", "port .*'http'"),
        ("", "host '' is empty"),
    ],
)
def test_impossible_hosts_are_value_errors(face: type, host: str, problem: str) -> None:
    with pytest.raises(lms.LMStudioValueError, match=problem) as caught:
        face(host)
    assert "host" in str(caught.value)


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize(
    ("timeout", "problem"),
    [
        (-1, "timeout=-1"),
        (0, "timeout=0"),
        ("x", "timeout='x'"),
        (float("nan"), "timeout=nan"),
        (float("inf"), "timeout=inf"),
        (True, "timeout=True"),
        ([5], r"timeout=\[5\]"),
    ],
)
def test_impossible_timeouts_are_value_errors(face: type, timeout: object, problem: str) -> None:
    with pytest.raises(lms.LMStudioValueError, match=problem) as caught:
        face("127.0.0.1:1", timeout=timeout)
    assert "None to wait forever" in str(caught.value)


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"host": 1234}, "host must be a string"),
        ({"host": b"127.0.0.1:1"}, "host must be a string"),
        ({"api_token": 42}, "api_token must be a string"),
        ({"timout": 5}, "unknown argument 'timout'; did you mean 'timeout'"),
        ({"api_key": "x"}, "unknown argument 'api_key'; did you mean 'api_token'"),
        ({"verbose": True}, "unknown argument 'verbose'"),
    ],
)
def test_wrong_types_and_unknown_keywords_are_value_errors(
    face: type, kwargs: dict[str, object], problem: str
) -> None:
    kwargs.setdefault("host", "127.0.0.1:1")
    with pytest.raises(lms.LMStudioValueError, match=problem):
        face(**kwargs)


@pytest.mark.parametrize("face", FACES)
def test_valid_timeouts(face: type) -> None:
    for timeout in (None, 1, 0.5, 60.0):
        face("127.0.0.1:1", timeout=timeout)


async def test_a_bad_per_call_timeout_is_a_value_error() -> None:
    async with lms.AsyncClient("127.0.0.1:1") as client:
        with pytest.raises(lms.LMStudioValueError, match="timeout=-1"):
            await client.system.get_lmstudio_version(timeout=-1)
    with lms.Client("127.0.0.1:1") as sync_client:
        with pytest.raises(lms.LMStudioValueError, match="timeout='5'"):
            sync_client.rpc("system", "version", timeout="5")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (403, lms.LMStudioConnectionError, "path prefix"),
        (404, lms.LMStudioConnectionError, "path prefix"),
        (401, lms.AuthenticationError, "proxy"),
        (407, lms.AuthenticationError, "proxy"),
        (500, lms.LMStudioConnectionError, "HTTP 500"),
    ],
)
def test_upgrade_refusals_say_what_they_are(
    status: int, error: type[lms.LMStudioError], words: str
) -> None:
    url = "ws://127.0.0.1:1234/prefix/llm"
    translated = connect_error(url, InvalidStatus(Response(status, "x", Headers(), b"")))
    assert type(translated) is error
    assert url in str(translated) and f"HTTP {status}" in str(translated)
    assert words in str(translated)
