"""What every command that talks to LM Studio (or ``lmstudio-sdk serve``) shares: ``--host``,
``--api-token``, ``--timeout`` and ``--json``, the client they make, and how errors print."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import msgspec

import lmstudio_sdk as lms

from .arguments import positive_number

__all__ = ["add_connection_arguments", "print_json", "with_client"]


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        help="LM Studio or lmstudio-sdk serve address, 'host:port' or ws:// URL (default: "
        "find LM Studio on this machine)",
    )
    parser.add_argument(
        "--api-token", help="API token sk-lm-… (default: $LM_API_TOKEN, $LMSTUDIO_API_TOKEN)"
    )
    parser.add_argument(
        "--timeout",
        type=positive_number,
        default=60.0,
        help="seconds to wait for each answer (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def with_client(args: argparse.Namespace, action: Callable[[lms.Client], int]) -> int:
    """Run ``action`` with a client; an LMStudioError prints as one line and exits 1."""
    try:
        with lms.Client(args.host, api_token=args.api_token, timeout=args.timeout) as client:
            return action(client)
    except lms.LMStudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def print_json(value: Any) -> None:
    """Wire structs as LM Studio sends them (camelCase), one document on stdout."""
    sys.stdout.write(msgspec.json.encode(value).decode() + "\n")
    sys.stdout.flush()
