"""``lmstudio-sdk log stream``: the server's diagnostics events as they happen (each
prediction's input and output, the server's own log records)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import msgspec

from .. import (
    Client,
    LMStudioError,
    LogEvent,
    PredictionInputLog,
    PredictionOutputLog,
    RuntimeLog,
    ServerLog,
)
from .status import add_connection_options

__all__ = ["register"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number of events")
    return value


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "log",
        help="stream the server's logs (predictions' inputs and outputs, server records)",
        description="Diagnostics logs of an LM Studio or `lmstudio-sdk serve`.",
    )
    sub = parser.add_subparsers(dest="log_command", required=True, metavar="ACTION")
    stream = sub.add_parser(
        "stream",
        help="print diagnostics events as they happen, until Ctrl-C",
        description="Print each diagnostics event: llm.prediction.input, "
        "llm.prediction.output, server.log, runtime.log.",
    )
    add_connection_options(stream)
    stream.add_argument(
        "--count", type=_positive_int, help="stop after this many events (default: never)"
    )
    stream.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        with Client(args.host, api_token=args.api_token, timeout=30) as client:
            with client.diagnostics.stream_logs() as logs:
                if not args.json:
                    print(f"streaming logs of {client.base_url} (Ctrl-C to stop)", file=sys.stderr)
                for seen, event in enumerate(logs, start=1):
                    print(_json(event) if args.json else _text(event), flush=True)
                    if args.count is not None and seen >= args.count:
                        break
    except LMStudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _json(event: LogEvent) -> str:
    return msgspec.json.encode(event).decode()


def _text(event: LogEvent) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(event.timestamp / 1000))
    stamp += f".{int(event.timestamp) % 1000:03d}"
    data = event.data
    if isinstance(data, PredictionInputLog):
        return f"{stamp} llm.prediction.input  [{data.model_identifier}]\n{data.input}"
    if isinstance(data, PredictionOutputLog):
        stats = ""
        if data.stats is not None:
            stats = f" ({data.stats.predicted_tokens_count} tokens, {data.stats.stop_reason})"
        return f"{stamp} llm.prediction.output [{data.model_identifier}]{stats}\n{data.output}"
    if isinstance(data, ServerLog):
        return f"{stamp} server.log [{data.level}] {data.content}"
    if isinstance(data, RuntimeLog):
        return f"{stamp} runtime.log [{data.level}] {data.engine_name}: {data.message}"
    return f"{stamp} {data!r}"  # pragma: no cover - the decoder keeps only the types above
