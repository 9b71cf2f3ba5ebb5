"""The one error type of the server: what a handler, a service or an engine raises to answer
the current call or channel with rpcError / channelError.

Builders for LM Studio's ``displayData`` codes live here so every endpoint words them alike.
``rootTitle`` is always set to ``title``: TS uses it as the Error message. This module is the
bottom of the server's layers: everything else in ``lmstudio_sdk.server`` may import it.
"""

from __future__ import annotations

import traceback
from typing import Any

from .._protocol.errors import ErrorData, error_data
from .._version import __version__

__all__ = [
    "DEVICE_NOT_FOUND",
    "ServerError",
    "device_not_found",
    "domain_mismatch",
    "error_from_exception",
    "identifier_not_found",
    "impossible_query",
    "no_model_matching_query",
    "not_supported",
    "path_not_found",
    "permission_denied",
    "preset_not_found",
    "specific_model_unloaded",
    "unsupported_feature",
]

SAMPLE_SIZE = 10


class ServerError(Exception):
    """Answer the current call or channel with this error (LM Studio's error data).

    ``display_data`` follows LM Studio's ``displayData`` codes when one fits.
    """

    def __init__(
        self,
        title: str,
        *,
        cause: str | None = None,
        suggestion: str | None = None,
        display_data: dict[str, Any] | None = None,
        machine_data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(title)
        self.title = title
        self.cause = cause
        self.suggestion = suggestion
        self.display_data = display_data
        self.data = error_data(
            title,
            cause=cause,
            suggestion=suggestion,
            display_data=display_data,
            machine_data=machine_data,
        )


def error_from_exception(exc: BaseException) -> ErrorData:
    """The wire error for anything a handler raised."""
    if isinstance(exc, ServerError):
        return exc.data
    # A bug in a handler or an engine: say what happened, keep the stack for developers.
    title = f"Internal server error: {type(exc).__name__}: {exc}"
    data = error_data(title, suggestion="This is a bug in the lmstudio-sdk server or engine.")
    stack = "".join(traceback.format_exception(exc)).rstrip()
    return ErrorData(
        title=data.title,
        root_title=data.root_title,
        suggestion=data.suggestion,
        stack=stack,
    )


def _query_text(query: dict[str, Any]) -> str:
    if not query:
        return "(any model)"
    return ", ".join(f"{k}={v!r}" for k, v in query.items())


def _listing(label: str, names: list[str], when_empty: str) -> str:
    """``"<label>: a, b, c."`` with at most SAMPLE_SIZE names, or ``when_empty``."""
    return f"{label}: {', '.join(names[:SAMPLE_SIZE])}." if names else when_empty


def no_model_matching_query(query: dict[str, Any], loaded: list[str], domain: str) -> ServerError:
    title = (
        f'No model found that fits the query "{query["identifier"]}"'
        if set(query) == {"identifier"}
        else f"No loaded {domain} model matches the query {_query_text(query)}"
    )
    return ServerError(
        title,
        suggestion=_listing(
            f"Loaded {domain} models", loaded, f"No {domain} model is loaded. Load one first."
        ),
        display_data={
            "code": "generic.noModelMatchingQuery",
            "query": query,
            "loadedModelsSample": loaded[:SAMPLE_SIZE],
            "totalLoadedModels": len(loaded),
        },
    )


def impossible_query(
    query: dict[str, Any], loaded: list[str], domain: str, why: str
) -> ServerError:
    """A query no model of this namespace can ever match (``why`` says which member): LM
    Studio's noModelMatchingQuery, with a title that names the reason."""
    error = no_model_matching_query(query, loaded, domain)
    return ServerError(
        f"No {domain} model can match the query {_query_text(query)}: {why}",
        suggestion=error.suggestion,
        display_data=error.display_data,
    )


def path_not_found(path: str, available: list[str]) -> ServerError:
    return ServerError(
        f'Cannot find a model with the key or path "{path}"',
        suggestion=_listing("Downloaded models", available, "No model is downloaded."),
        display_data={
            "code": "generic.pathNotFound",
            "path": path,
            "availablePathsSample": available[:SAMPLE_SIZE],
            "totalModels": len(available),
        },
    )


def identifier_not_found(identifier: str, loaded: list[str]) -> ServerError:
    return ServerError(
        f'No loaded model has the identifier "{identifier}"',
        suggestion=_listing("Loaded models", loaded, "No model is loaded."),
        display_data={
            "code": "generic.identifierNotFound",
            "identifier": identifier,
            "loadedModelsSample": loaded[:SAMPLE_SIZE],
            "totalLoadedModels": len(loaded),
        },
    )


def domain_mismatch(path: str, actual: str, expected: str) -> ServerError:
    namespace = "/llm" if actual == "llm" else "/embedding"
    return ServerError(
        f'"{path}" is an {actual} model, but an {expected} model was requested',
        suggestion=f"Use it through the {namespace} namespace (client.{actual}).",
        display_data={
            "code": "generic.domainMismatch",
            "path": path,
            "actualDomain": actual,
            "expectedDomain": expected,
        },
    )


def specific_model_unloaded() -> ServerError:
    return ServerError(
        "The model this handle refers to has been unloaded",
        suggestion="Get a new handle, e.g. with client.llm.model().",
        display_data={"code": "generic.specificModelUnloaded"},
    )


def unsupported_feature(
    key: str, why: str, suggestion: str, *, engine: str = "llama.cpp"
) -> ServerError:
    """The engine or model cannot honour a config key (the client raises
    UnsupportedFeatureError); the title names the key, ``displayData`` the engine."""
    return ServerError(
        f"{key} is not supported here: {why}",
        suggestion=suggestion,
        display_data={
            "code": "generic.engineDoesNotSupportFeature",
            "feature": key,
            "engineName": f"lmstudio-sdk {engine}",
            "engineType": engine,
            "installedVersion": __version__,
            "supportedVersion": None,
        },
    )


def preset_not_found(identifier: str) -> ServerError:
    return ServerError(
        f'No preset matches "{identifier}"',
        suggestion="The embedded server has no presets; pass the configuration directly.",
        display_data={
            "code": "generic.presetNotFound",
            "specifiedFuzzyPresetIdentifier": identifier,
            "availablePresetsSample": [],
            "totalAvailablePresets": 0,
        },
    )


# errorData codes of this server's own kinds of refusal (the client maps them to
# NotSupportedByServerError, PermissionDeniedError and DeviceNotFoundError).
NOT_SUPPORTED = "notSupported"
PERMISSION_DENIED = "permissionDenied"
DEVICE_NOT_FOUND = "deviceNotFound"


def device_not_found(requested: str, own: str) -> ServerError:
    """A ``deviceIdentifier`` naming an LM Link device this server does not have: it has one,
    itself (``own``); ``null`` (local only) and no identifier mean that one too."""
    return ServerError(
        f'No LM Link device has the identifier "{requested}"',
        cause=f'This server is a single device, "{own}", with no LM Link peers.',
        suggestion=f'Pass deviceIdentifier "{own}", null (this device), or none.',
        machine_data={"code": DEVICE_NOT_FOUND, "deviceIdentifier": requested, "known": [own]},
    )


def not_supported(endpoint: str, reason: str, *, suggestion: str | None = None) -> ServerError:
    """This server does not implement ``endpoint`` ("/namespace/endpoint"); ``reason`` says
    why. The title reads "not implemented: <endpoint>: <why>"; ``errorData`` carries the code
    and the endpoint for clients that map errors to types."""
    return ServerError(
        f"not implemented: {endpoint}: {reason}",
        cause=reason,
        suggestion=suggestion,
        machine_data={"code": NOT_SUPPORTED, "endpoint": endpoint},
    )


def permission_denied(title: str, suggestion: str) -> ServerError:
    return ServerError(title, suggestion=suggestion, machine_data={"code": PERMISSION_DENIED})
