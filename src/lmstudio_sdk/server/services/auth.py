"""Client identities: first-come-first-served passkeys, or one API token.

Like LM Studio's reference server, the first socket that presents an identifier registers its
passkey; later sockets with that identifier must present the same passkey while any socket of
the identity is open. With an API token configured, only the token's identity is accepted.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["IdentityRegistry", "parse_api_token"]

_TOKEN_RE = re.compile(r"^sk-lm-(?P<id>[A-Za-z0-9]{8}):(?P<key>[A-Za-z0-9]{20})$")


def parse_api_token(token: str) -> tuple[str, str]:
    """(clientIdentifier, clientPasskey) of an ``sk-lm-<8>:<20>`` token; ValueError if malformed."""
    match = _TOKEN_RE.match(token.strip())
    if match is None:
        raise ValueError(
            "an LM Studio API token looks like sk-lm-XXXXXXXX:YYYYYYYYYYYYYYYYYYYY "
            "(8 and 20 letters or digits)"
        )
    return match["id"], match["key"]


# What a token-derived identifier looks like (the 8 characters after "sk-lm-").
_TOKEN_ID = re.compile(r"[A-Za-z0-9]{8}")


@dataclass(slots=True)
class _Identity:
    passkey: str
    sockets: int


class IdentityRegistry:
    """Which identities have open sockets, and with which passkey."""

    def __init__(self, api_token: str | None = None) -> None:
        self._token = parse_api_token(api_token) if api_token is not None else None
        self._identities: dict[str, _Identity] = {}
        self._extra: Callable[[], dict[str, str]] = dict

    def accept_also(self, credentials: Callable[[], dict[str, str]]) -> None:
        """Credentials accepted besides the API token (the registered plugins' own)."""
        self._extra = credentials

    @property
    def requires_token(self) -> bool:
        """Only the API token's identity may connect (every client then holds the token)."""
        return self._token is not None

    def acquire(self, identifier: str, passkey: str) -> str | None:
        """Register one socket; returns None if accepted, else the refusal text."""
        if len(identifier) > 256 or len(passkey) > 256:
            return "Client identifier and passkey must be at most 256 characters long"
        granted = self._extra().get(identifier)
        if granted is not None and not hmac.compare_digest(passkey.encode(), granted.encode()):
            return f'Invalid plugin credentials for client "{identifier}"'
        if self._token is not None and granted is None:
            token_id, token_key = self._token
            if identifier != token_id:
                if _TOKEN_ID.fullmatch(identifier):
                    return (
                        f'Invalid API token for client "{identifier}": this server does not know it'
                    )
                return (
                    f'This server requires an API token; client "{identifier}" did not '
                    "present one (set LM_API_TOKEN or pass api_token=…)"
                )
            if not hmac.compare_digest(passkey.encode(), token_key.encode()):
                return f'Invalid API token for client "{identifier}"'
        known = self._identities.get(identifier)
        if known is None:
            self._identities[identifier] = _Identity(passkey, 1)
            return None
        if not hmac.compare_digest(known.passkey.encode(), passkey.encode()):
            return f'Failed to validate client: Invalid client passkey for client "{identifier}"'
        known.sockets += 1
        return None

    def release(self, identifier: str) -> bool:
        """One socket of the identity closed; True when that was its last one."""
        known = self._identities.get(identifier)
        if known is None:
            return False
        known.sockets -= 1
        if known.sockets > 0:
            return False
        del self._identities[identifier]
        return True

    def open_identities(self) -> dict[str, int]:
        """identifier → number of open sockets."""
        return {k: v.sockets for k, v in self._identities.items()}
