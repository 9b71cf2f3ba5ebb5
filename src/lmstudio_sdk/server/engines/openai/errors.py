"""The typed errors of the openai engine: every upstream failure names the upstream and the
endpoint, and answers only the call that met it (the server keeps serving)."""

from __future__ import annotations

from ...errors import ServerError

__all__ = [
    "no_upstream_for",
    "not_supported_by_upstream",
    "unfinished_stream",
    "upstream_dropped",
    "upstream_refused",
    "upstream_timed_out",
]


def not_supported_by_upstream(what: str, endpoint: str, upstream: str) -> ServerError:
    return ServerError(
        f"{what} is not supported by the upstream {upstream}",
        cause=f"The upstream has no {endpoint} endpoint (or refused it).",
        suggestion="Use an upstream that offers it (llama-cpp-python's server or vLLM "
        "tokenize), or do without.",
        display_data={"code": "openai.notSupportedByUpstream", "endpoint": endpoint},
    )


def upstream_refused(upstream: str, endpoint: str, status: int, message: str) -> ServerError:
    return ServerError(
        f"The upstream {upstream} answered {endpoint} with HTTP {status}: {message}",
        cause=message,
        display_data={"code": "openai.upstreamError", "endpoint": endpoint, "status": status},
    )


def upstream_timed_out(upstream: str, endpoint: str, seconds: float) -> ServerError:
    return ServerError(
        f"The upstream {upstream} did not answer {endpoint} within {seconds:g} s",
        suggestion="Check that the upstream is running and not overloaded.",
        display_data={"code": "openai.upstreamTimeout", "endpoint": endpoint},
    )


def upstream_dropped(upstream: str, endpoint: str, detail: str) -> ServerError:
    return ServerError(
        f"The connection to the upstream {upstream} failed during {endpoint}: {detail}",
        suggestion="The upstream may have stopped; other upstreams keep serving.",
        display_data={"code": "openai.upstreamDropped", "endpoint": endpoint},
    )


def no_upstream_for(model: str, upstreams: list[str]) -> ServerError:
    return ServerError(
        f'No healthy upstream serves the model "{model}"',
        cause=f"Upstreams: {', '.join(upstreams) or '(none)'}.",
        suggestion="Start an upstream that serves it, or wait for the health check to see "
        "one come back.",
        display_data={"code": "openai.noUpstream", "model": model},
    )


def unfinished_stream(upstream: str, endpoint: str) -> ServerError:
    return ServerError(
        f"The upstream {upstream} ended {endpoint} without finishing the reply",
        cause="The stream closed with no finish_reason and no [DONE]. llama-cpp-python's "
        "server does this when the request fails, e.g. a prompt longer than its context.",
        suggestion="See the upstream's log for the reason.",
        display_data={"code": "openai.unfinishedStream", "endpoint": endpoint},
    )
