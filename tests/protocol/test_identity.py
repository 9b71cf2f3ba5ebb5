"""Identity: API tokens, the two environment variables, guest identities."""

from __future__ import annotations

import base64
import re

import pytest

from lmstudio_sdk._exceptions import LMStudioValueError
from lmstudio_sdk._protocol import envelope as wire
from lmstudio_sdk._protocol.identity import TOKEN_ENV_VARS, Identity, resolve_identity

TOKEN = "sk-lm-abcdEFGH:abcdefghijABCDEFGHIJ"
OTHER = "sk-lm-12345678:ABCDEFGHIJabcdefghij"
GUEST = re.compile(r"^guest:[A-Za-z0-9+/]{24}$")


def test_token_is_split_into_identifier_and_passkey() -> None:
    # protocol.md §5.1: TS 2.0 with this token sends exactly these two fields.
    identity = Identity.from_token(TOKEN)
    assert identity == Identity("abcdEFGH", "abcdefghijABCDEFGHIJ")
    assert wire.encode(identity.auth_packet()) == (
        '{"authVersion":1,"clientIdentifier":"abcdEFGH","clientPasskey":"abcdefghijABCDEFGHIJ"}'
    )


def test_surrounding_whitespace_is_ignored() -> None:
    assert Identity.from_token(f"  {TOKEN}\n") == Identity("abcdEFGH", "abcdefghijABCDEFGHIJ")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abcdEFGH:abcdefghijABCDEFGHIJ",
        "sk-lm-abcdEFG:abcdefghijABCDEFGHIJ",
        "sk-lm-abcdEFGHI:abcdefghijABCDEFGHIJ",
        "sk-lm-abcdEFGH:abcdefghijABCDEFGHI",
        "sk-lm-abcdEFGH:abcdefghijABCDEFGHIJK",
        "sk-lm-abcd_FGH:abcdefghijABCDEFGHIJ",
        "sk-lm-abcdEFGH-abcdefghijABCDEFGHIJ",
        "SK-LM-abcdEFGH:abcdefghijABCDEFGHIJ",
        "sk-lm-abcdEFGH:abcdefghijABCDEFGHIJ\nx",
        "sk-lm-abcdéFGH:abcdefghijABCDEFGHIJ",
    ],
)
def test_malformed_tokens_are_refused_without_echoing_them(token: str) -> None:
    with pytest.raises(LMStudioValueError) as info:
        Identity.from_token(token)
    message = str(info.value)
    assert message == (
        "api_token is not an LM Studio API token: expected 'sk-lm-' followed by 8 letters or "
        "digits, ':' and 20 letters or digits"
    )
    assert isinstance(info.value, ValueError)


def test_guest_identities_are_random_and_shaped_like_ts() -> None:
    first, second = Identity.guest(), Identity.guest()
    for identity in (first, second):
        assert GUEST.match(identity.client_identifier)
        assert len(base64.b64decode(identity.client_identifier.removeprefix("guest:"))) == 18
        assert len(base64.b64decode(identity.client_passkey, validate=True)) == 18
        assert len(identity.client_passkey) == 24
    assert first != second
    assert first.client_passkey != second.client_passkey


def test_env_var_order() -> None:
    assert TOKEN_ENV_VARS == ("LM_API_TOKEN", "LMSTUDIO_API_TOKEN")


@pytest.mark.parametrize(
    ("api_token", "environ", "expected"),
    [
        (TOKEN, {"LM_API_TOKEN": OTHER, "LMSTUDIO_API_TOKEN": OTHER}, Identity.from_token(TOKEN)),
        (None, {"LM_API_TOKEN": TOKEN, "LMSTUDIO_API_TOKEN": OTHER}, Identity.from_token(TOKEN)),
        (None, {"LMSTUDIO_API_TOKEN": OTHER}, Identity.from_token(OTHER)),
        (None, {"LM_API_TOKEN": "", "LMSTUDIO_API_TOKEN": OTHER}, Identity.from_token(OTHER)),
    ],
)
def test_resolve_identity_precedence(
    api_token: str | None, environ: dict[str, str], expected: Identity
) -> None:
    assert resolve_identity(api_token, environ) == expected


def test_no_token_anywhere_gives_a_guest() -> None:
    identity = resolve_identity(
        None, {"LM_API_TOKEN": "", "LMSTUDIO_API_TOKEN": "", "OTHER": TOKEN}
    )
    assert GUEST.match(identity.client_identifier)


@pytest.mark.parametrize("name", ["LM_API_TOKEN", "LMSTUDIO_API_TOKEN"])
def test_a_malformed_env_token_names_the_variable(name: str) -> None:
    with pytest.raises(LMStudioValueError, match=rf"^\${name} is not an LM Studio API token"):
        resolve_identity(None, {name: "not-a-token"})


def test_an_explicit_empty_token_is_an_error_not_a_guest() -> None:
    with pytest.raises(LMStudioValueError, match=r"^api_token is not"):
        resolve_identity("", {})


def test_os_environ_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LM_API_TOKEN", raising=False)
    monkeypatch.setenv("LMSTUDIO_API_TOKEN", OTHER)
    assert resolve_identity() == Identity("12345678", "ABCDEFGHIJabcdefghij")
    monkeypatch.setenv("LM_API_TOKEN", TOKEN)
    assert resolve_identity() == Identity("abcdEFGH", "abcdefghijABCDEFGHIJ")
    monkeypatch.delenv("LM_API_TOKEN")
    monkeypatch.delenv("LMSTUDIO_API_TOKEN")
    assert GUEST.match(resolve_identity().client_identifier)
