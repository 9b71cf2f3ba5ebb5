"""Client identity: API tokens, environment variables, guest identities."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping

import msgspec

from .._exceptions import LMStudioValueError
from . import envelope as wire

__all__ = ["TOKEN_ENV_VARS", "Identity", "resolve_identity"]

# TS 2.0 and LM Studio's docs use LM_API_TOKEN; the official Python SDK 1.6 uses
# LMSTUDIO_API_TOKEN. We honour both, in that order.
TOKEN_ENV_VARS = ("LM_API_TOKEN", "LMSTUDIO_API_TOKEN")

_TOKEN_PATTERN = re.compile(r"^sk-lm-(?P<id>[A-Za-z0-9]{8}):(?P<key>[A-Za-z0-9]{20})$")


class Identity(msgspec.Struct, frozen=True):
    """The identifier/passkey pair every socket of one client presents."""

    client_identifier: str
    client_passkey: str

    def auth_packet(self) -> wire.AuthPacket:
        return wire.AuthPacket(
            auth_version=1,
            client_identifier=self.client_identifier,
            client_passkey=self.client_passkey,
        )

    @classmethod
    def from_token(cls, token: str, *, source: str = "api_token") -> Identity:
        match = _TOKEN_PATTERN.match(token.strip())
        if match is None:
            raise LMStudioValueError(
                f"{source} is not an LM Studio API token: expected 'sk-lm-' followed by "
                "8 letters or digits, ':' and 20 letters or digits"
            )
        return cls(match["id"], match["key"])

    @classmethod
    def guest(cls) -> Identity:
        def token() -> str:
            return base64.b64encode(
                os.urandom(18)
            ).decode()  # os.urandom: `secrets` costs 3 ms to import

        return cls("guest:" + token(), token())


def resolve_identity(
    api_token: str | None = None, environ: Mapping[str, str] | None = None
) -> Identity:
    """Token argument, else the first non-empty token variable, else a fresh guest."""
    if api_token is not None:
        return Identity.from_token(api_token)
    env = os.environ if environ is None else environ
    for name in TOKEN_ENV_VARS:
        value = env.get(name, "")
        if value:
            return Identity.from_token(value, source=f"${name}")
    return Identity.guest()
