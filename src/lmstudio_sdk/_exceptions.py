"""Every exception the SDK raises, in one tree.

    LMStudioError
    ├── LMStudioClientError                         the client's side (the official SDK's family)
    │   ├── LMStudioConnectionError (ConnectionError)  cannot reach the server, or lost it
    │   │   ├── ServerNotFoundError                 discovery found no LM Studio
    │   │   ├── AuthenticationError                 the server refused our identity
    │   │   └── HostUnavailableError                a Pool's host died or is down (names it)
    │   ├── LMStudioProtocolError
    │   │   ├── LocalProtocolError                  we misused the protocol (a bug or API misuse)
    │   │   └── RemoteProtocolError                 the server sent something off-protocol
    │   │       └── LMStudioChannelClosedError      a channel closed before its result
    │   ├── LMStudioCancelledError                  reserved: cancel() never raises, it stops
    │   └── LMStudioUnknownMessageWarning           for warning filters only: never raised
    ├── LMStudioTimeoutError (TimeoutError)         a call's `timeout=` ran out
    ├── LMStudioServerError                         the server answered rpcError / channelError
    │   ├── ModelNotFoundError                      generic.noModelMatchingQuery, pathNotFound,
    │   │                                           identifierNotFound, specificModelUnloaded
    │   ├── PresetNotFoundError                     generic.presetNotFound
    │   ├── DomainMismatchError                     generic.domainMismatch
    │   ├── UnsupportedFeatureError                 generic.engineDoesNotSupportFeature,
    │   │   │                                       generic.missingRuntimeExtension
    │   │   └── NotSupportedByServerError           errorData.code "notSupported": this server
    │   │                                           does not implement the endpoint (says why)
    │   ├── PermissionDeniedError                   errorData.code "permissionDenied"
    │   ├── LMStudioPredictionError                 a prediction ended by a plain server error
    │   └── DeviceNotFoundError                     errorData.code "deviceNotFound": no LM Link
    │                                               device has that identifier (names it)
    ├── LMStudioValueError (ValueError)             bad input from the caller
    │   ├── ConfigKeyError (KeyError)               unknown config key, with a suggestion
    │   └── LMStudioOSError (OSError)               a local file cannot be read
    ├── StructuredOutputError (ValueError)          `.parsed` of a reply that is not the asked type
    ├── ToolCallError                               a tool call of act() went wrong
    │   ├── ToolArgumentsError                      the model's arguments do not fit the tool
    │   ├── InvalidToolRequestError                 the model asked for no tool, or garbled it
    │   └── ToolCallFailedError                     a tool raised (with on_tool_error="raise")
    ├── McpError                                    an MCP server's tools (plugins.mcp_tools)
    │   ├── McpConnectionError                      the MCP server did not start, or hung up
    │   └── McpToolError                            an MCP tool reported an error or timed out
    ├── MissingExtraError (ImportError)             an optional dependency is missing
    └── LMStudioRuntimeError (RuntimeError)         an operation out of order
        ├── LMStudioClientClosedError               the client was closed: make a new one
        └── LMStudioEventLoopError                  an AsyncClient met a second, open event loop

The official SDK's names ``LMStudioWebsocketError``, ``LMStudioModelNotFoundError`` and
``LMStudioPresetNotFoundError`` are the same classes as ``LMStudioConnectionError``,
``ModelNotFoundError`` and ``PresetNotFoundError``.

Transport exceptions are translated in exactly one place per transport; the original is kept
as ``__cause__``. ``asyncio.CancelledError`` and ``KeyboardInterrupt`` are never wrapped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._protocol.errors import ErrorData

__all__ = [
    "AuthenticationError",
    "ConfigKeyError",
    "DeviceNotFoundError",
    "DomainMismatchError",
    "HostUnavailableError",
    "InvalidToolRequestError",
    "LMStudioCancelledError",
    "LMStudioChannelClosedError",
    "LMStudioClientClosedError",
    "LMStudioClientError",
    "LMStudioConnectionError",
    "LMStudioError",
    "LMStudioEventLoopError",
    "LMStudioModelNotFoundError",
    "LMStudioOSError",
    "LMStudioPredictionError",
    "LMStudioPresetNotFoundError",
    "LMStudioProtocolError",
    "LMStudioRuntimeError",
    "LMStudioServerError",
    "LMStudioTimeoutError",
    "LMStudioUnknownMessageWarning",
    "LMStudioValueError",
    "LMStudioWebsocketError",
    "LocalProtocolError",
    "McpConnectionError",
    "McpError",
    "McpToolError",
    "MissingExtraError",
    "ModelNotFoundError",
    "NotSupportedByServerError",
    "PermissionDeniedError",
    "PresetNotFoundError",
    "RemoteProtocolError",
    "ServerNotFoundError",
    "StructuredOutputError",
    "ToolArgumentsError",
    "ToolCallError",
    "ToolCallFailedError",
    "UnsupportedFeatureError",
]


class LMStudioError(Exception):
    """Root of every exception raised by lmstudio_sdk."""


class LMStudioClientError(LMStudioError):
    """A problem found on the client's side: the connection, the protocol (the official
    Python SDK's name for this family)."""


class LMStudioRuntimeError(LMStudioError, RuntimeError):
    """An operation out of order (e.g. a call on a closed client)."""


class LMStudioConnectionError(LMStudioClientError, ConnectionError):
    """The server could not be reached, or the connection was lost."""


class ServerNotFoundError(LMStudioConnectionError):
    """No LM Studio answered on the discovery ports or at the given address."""


class AuthenticationError(LMStudioConnectionError):
    """The server refused the client's identity (wrong API token or passkey)."""


class HostUnavailableError(LMStudioConnectionError):
    """A ``Pool`` host failed a call (died, refused, timed out) or no healthy host is left.

    ``host`` names the host (``None`` when no host at all could take the call).
    """

    def __init__(self, message: str, *, host: str | None) -> None:
        super().__init__(message)
        self.host = host


class LMStudioTimeoutError(LMStudioError, TimeoutError):
    """A call did not complete within its timeout."""


class LMStudioServerError(LMStudioError):
    """The server reported an error for one call or channel.

    ``data`` holds everything the server sent (title, cause, suggestion, display data).
    """

    def __init__(self, data: ErrorData) -> None:
        self.data = data
        super().__init__(data.describe())

    @property
    def title(self) -> str:
        """The server's one-line description of the error."""
        return self.data.title

    @property
    def display_code(self) -> str | None:
        """LM Studio's error kind (``generic.noModelMatchingQuery``, …), if the server sent one."""
        return self.data.display_code

    @property
    def display_data(self) -> dict[str, Any]:
        """LM Studio's structured details (``code`` and its fields); empty when none came."""
        return self.data.display_data or {}


class ModelNotFoundError(LMStudioServerError):
    """No model matches the query, path or identifier."""


class PresetNotFoundError(LMStudioServerError):
    """The named preset does not exist on the server."""


class DomainMismatchError(LMStudioServerError):
    """The model exists but is of another domain (e.g. an embedding model used as an LLM)."""


class UnsupportedFeatureError(LMStudioServerError):
    """The engine behind the model cannot do what was asked."""


class NotSupportedByServerError(UnsupportedFeatureError):
    """This server does not implement the endpoint or feature; the message says why (the
    embedded server's ``docs/server.md`` lists every endpoint it leaves out)."""


class PermissionDeniedError(LMStudioServerError):
    """The server refused a privileged call (e.g. ``request_shutdown()`` from a guest)."""


class LMStudioPredictionError(LMStudioServerError):
    """The server ended a prediction with an error of no more specific kind."""


class DeviceNotFoundError(LMStudioServerError):
    """No LM Link device has the ``device_identifier`` a call named (``.device_identifier``)."""

    @property
    def device_identifier(self) -> str | None:
        """The device identifier the server did not know, if it named it."""
        value = (self.data.error_data or {}).get("deviceIdentifier")
        return value if isinstance(value, str) else None


class LMStudioProtocolError(LMStudioClientError):
    """The protocol was violated by one side."""


class LocalProtocolError(LMStudioProtocolError):
    """The client used the protocol wrongly (e.g. sent on a finished channel)."""


class RemoteProtocolError(LMStudioProtocolError):
    """The server sent a message that breaks the protocol for this call."""


class LMStudioChannelClosedError(RemoteProtocolError):
    """The server closed a channel (a prediction, a download) before sending its result."""


class LMStudioCancelledError(LMStudioClientError):
    """Reserved for the official SDK's name: ``cancel()`` never raises here; a cancelled
    prediction ends normally, with ``stop_reason == "userStopped"``."""


class LMStudioUnknownMessageWarning(LMStudioClientError, UserWarning):
    """The official SDK warns with this on an unknown message; this SDK logs such messages
    once instead (``lmstudio_sdk`` logger), so the class is here for warning filters only."""


# The official SDK's names for the same classes.
LMStudioWebsocketError = LMStudioConnectionError
LMStudioModelNotFoundError = ModelNotFoundError
LMStudioPresetNotFoundError = PresetNotFoundError


class LMStudioValueError(LMStudioError, ValueError):
    """An argument is invalid."""


class LMStudioOSError(LMStudioValueError, OSError):
    """A local file given to the SDK cannot be read (the ``OSError`` is the ``__cause__``)."""


class ConfigKeyError(LMStudioValueError, KeyError):
    """A config dict has a key that LM Studio does not know.

    The message names the key and suggests the closest known one.
    """

    def __init__(self, key: str, *, where: str, suggestion: str | None) -> None:
        self.key = key
        self.suggestion = suggestion
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        self.message = f"unknown {where} key {key!r}{hint}"
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.message


class StructuredOutputError(LMStudioError, ValueError):
    """A structured reply is not what was asked for: not JSON (typically because ``max_tokens``
    cut it off), or JSON that does not validate as the ``response_format`` type.

    ``raw_text`` is what the model produced; ``stop_reason`` is why it stopped
    (``"maxPredictedTokensReached"``, ``"contextLengthReached"``, ...); ``target`` names what
    the reply should have been (the ``response_format`` type's name, or ``"JSON value"``);
    ``error`` is the parser's or validator's own exception (also the ``__cause__``).
    """

    def __init__(
        self,
        message: str,
        *,
        raw_text: str,
        stop_reason: str,
        target: str = "JSON value",
        error: BaseException | None = None,
    ) -> None:
        self.raw_text = raw_text
        self.stop_reason = stop_reason
        self.target = target
        self.error = error
        super().__init__(message)


class LMStudioClientClosedError(LMStudioRuntimeError):
    """The client was closed (``close()`` on the sync face, ``aclose()`` on the async one).

    A closed client never reconnects behind the caller's back: make a new client instead.
    """


class LMStudioEventLoopError(LMStudioRuntimeError):
    """An ``AsyncClient`` was used from an event loop other than the one its sockets belong to,
    while that loop is still open (a closed loop's sockets are dropped and reopened instead)."""


_SERVER_ERROR_BY_CODE: dict[str, type[LMStudioServerError]] = {
    "generic.noModelMatchingQuery": ModelNotFoundError,
    "generic.pathNotFound": ModelNotFoundError,
    "generic.identifierNotFound": ModelNotFoundError,
    "generic.specificModelUnloaded": ModelNotFoundError,
    "generic.presetNotFound": PresetNotFoundError,
    "generic.domainMismatch": DomainMismatchError,
    "generic.engineDoesNotSupportFeature": UnsupportedFeatureError,
    "generic.missingRuntimeExtension": UnsupportedFeatureError,
}


# errorData.code: the kinds the lmstudio-sdk server adds (LM Studio's displayData has none).
_SERVER_ERROR_BY_ERROR_CODE: dict[str, type[LMStudioServerError]] = {
    "notSupported": NotSupportedByServerError,
    "permissionDenied": PermissionDeniedError,
    "deviceNotFound": DeviceNotFoundError,
}


def server_error(data: ErrorData) -> LMStudioServerError:
    """Build the most specific exception for an error the server sent."""
    cls = _SERVER_ERROR_BY_CODE.get(data.display_code or "") or _SERVER_ERROR_BY_ERROR_CODE.get(
        data.error_code or "", LMStudioServerError
    )
    return cls(data)


class ToolCallError(LMStudioError):
    """A tool call of ``act()`` went wrong.

    ``tool_name`` and ``tool_call_id`` name the call when there was one. By default ``act()``
    turns these into tool results the model sees (so it can try again); the handlers decide.
    """

    def __init__(
        self, message: str, *, tool_name: str | None = None, tool_call_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.tool_name = tool_name
        self.tool_call_id = tool_call_id


class ToolArgumentsError(ToolCallError):
    """The model's arguments do not fit the tool's signature (the message says how)."""


class InvalidToolRequestError(ToolCallError):
    """The model asked for a tool that does not exist, or produced a call that did not parse."""


class ToolCallFailedError(ToolCallError):
    """A tool raised; the tool's exception is ``__cause__`` (with ``on_tool_error="raise"``)."""


class McpError(LMStudioError):
    """An MCP server's tools (``client.plugins.mcp_tools``) failed."""


class McpConnectionError(McpError):
    """The MCP server could not be started or reached, or it exited or hung up (for a command,
    the message ends with the last lines it wrote to stderr)."""


class McpToolError(McpError):
    """An MCP tool reported an error (``isError``), or did not answer within its timeout
    (``timed_out``). In ``act()`` the model sees the message, as for any tool that raises."""

    def __init__(self, message: str, *, tool_name: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.tool_name = tool_name
        self.timed_out = timed_out


class MissingExtraError(LMStudioError, ImportError):
    """A feature needs an optional dependency that is not installed: ``pip install
    'lmstudio-sdk[EXTRA]'`` (``extra`` names it)."""

    def __init__(self, message: str, *, extra: str) -> None:
        super().__init__(message)
        self.extra = extra
