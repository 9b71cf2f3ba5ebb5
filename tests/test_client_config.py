"""Client construction: addresses, identities, namespaces (no server needed)."""

from __future__ import annotations

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk._async.client import base_url_from_host


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
