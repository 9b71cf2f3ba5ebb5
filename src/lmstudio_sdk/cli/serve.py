"""``lmstudio-sdk serve``: run the embedded LM Studio-compatible server until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

from ..server import LMStudioServer
from ..server.engines import ENGINE_NAMES, EngineUnavailableError, create_engine
from ..server.engines.aliases import AliasedEngine, ModelAlias, parse_alias
from ..server.engines.base import Engine
from ..server.local.catalog_files import CatalogFormatError
from ..server.services.auth import parse_api_token
from .arguments import existing_dir, positive_number, tcp_port

DEFAULT_PORT = 41343  # the first of LM Studio's discovery ports, so zero-config clients find us


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run an LM Studio-compatible SDK server",
        description=(
            "Serve LM Studio's SDK API (WebSockets and discovery HTTP) on one port. "
            "Official LM Studio SDKs and lmstudio-sdk clients can connect to it."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=tcp_port,
        default=DEFAULT_PORT,
        help="port to listen on; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINE_NAMES,
        default="scripted",
        help="scripted: deterministic test engine; llama: llama.cpp; openai: in front of "
        "OpenAI-compatible servers given with --upstream (default: %(default)s)",
    )
    parser.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="URL",
        help="openai engine: an OpenAI-compatible server, e.g. http://gpu1:8000 (repeat for "
        "several; requests go to the one with the fewest in flight)",
    )
    parser.add_argument(
        "--upstream-api-key",
        default=None,
        metavar="KEY",
        help="openai engine: sent to every upstream as 'Authorization: Bearer KEY'",
    )
    parser.add_argument(
        "--models-dir",
        type=existing_dir,
        default=None,
        help="GGUF models for the llama engine (default: $LMSTUDIO_SDK_MODELS_DIR, else "
        "LM Studio's models folder, else ~/.local/share/lmstudio-sdk/models)",
    )
    parser.add_argument(
        "--catalog",
        type=existing_dir,
        default=None,
        metavar="DIR",
        help="a model catalogue folder (model files and catalog.json, see docs/catalog.md) "
        "that clients search and download from into --models-dir",
    )
    parser.add_argument(
        "--download-rate",
        type=positive_number,
        default=None,
        metavar="BYTES_PER_S",
        help="cap catalogue download speed (bytes per second)",
    )
    parser.add_argument(
        "--api-token",
        default=None,
        help="accept only clients presenting this sk-lm-XXXXXXXX:YYYYYYYYYYYYYYYYYYYY token",
    )
    parser.add_argument("--threads", type=int, default=None, help="llama engine CPU threads")
    parser.add_argument(
        "--token-delay",
        type=float,
        default=0.0,
        help="scripted engine: seconds per generated token (default: %(default)s)",
    )
    parser.add_argument(
        "--load-delay",
        type=float,
        default=0.0,
        help="scripted engine: seconds each model load takes (default: %(default)s)",
    )
    parser.add_argument(
        "--auth-timeout",
        type=float,
        default=10.0,
        help="seconds a new socket has to authenticate before it is refused and closed "
        "(default: %(default)s, as LM Studio)",
    )
    parser.add_argument(
        "--faithful-errors",
        action="store_true",
        help="as LM Studio: an unknown endpoint or an invalid parameter only gets a "
        "communicationWarning and never an answer (default: also end it with an error)",
    )
    parser.add_argument(
        "--alias",
        action="append",
        default=[],
        type=_alias,
        metavar="NAME=KEY",
        help="also serve the model KEY as NAME, a model key or publisher/repo (then keyed as "
        "LM Studio keys that folder); repeat for several. E.g. "
        "hugging-quants/llama-3.2-1b-instruct=smollm2-135m-instruct",
    )
    parser.add_argument(
        "--record",
        default=None,
        metavar="FILE",
        help="write every WebSocket frame, both directions, to FILE as JSON lines (namespace, "
        "connection id, monotonic time; passkeys and tokens redacted)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests and loads")
    parser.set_defaults(func=run)


def _alias(text: str) -> ModelAlias:
    try:
        return parse_alias(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_engine(args: argparse.Namespace) -> Engine:
    engine = create_engine(
        args.engine,
        models_dir=args.models_dir,
        n_threads=args.threads,
        token_delay=args.token_delay,
        load_delay=getattr(args, "load_delay", 0.0),
        upstreams=getattr(args, "upstream", []),
        upstream_api_key=getattr(args, "upstream_api_key", None),
    )
    aliases: list[ModelAlias] = getattr(args, "alias", [])
    if not aliases:
        return engine
    aliased = AliasedEngine(engine, aliases)
    missing = aliased.missing_targets()
    if missing:
        raise ValueError(
            f"--alias: no model with key {', '.join(map(repr, missing))} to serve under another "
            "name (see `lmstudio-sdk models list`)"
        )
    return aliased


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.auth_timeout <= 0:
        print("lmstudio-sdk serve: --auth-timeout must be positive", file=sys.stderr)
        return 2
    if args.api_token is not None:
        try:
            parse_api_token(args.api_token)
        except ValueError as exc:
            print(f"lmstudio-sdk serve: --api-token: {exc}", file=sys.stderr)
            return 2
    if args.upstream and args.engine != "openai":
        print("lmstudio-sdk serve: --upstream needs --engine openai", file=sys.stderr)
        return 2
    try:
        engine = build_engine(args)
    except (EngineUnavailableError, ValueError) as exc:
        print(f"lmstudio-sdk serve: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(engine, args))
    except CatalogFormatError as exc:
        print(f"lmstudio-sdk serve: --catalog: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. the port is taken, or the record file cannot be written
        if args.record is not None and exc.filename == args.record:
            print(f"lmstudio-sdk serve: --record: {exc}", file=sys.stderr)
            return 2
        print(
            f"lmstudio-sdk serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
        )
        return 1
    return 0


async def _serve(engine: Engine, args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
    async with LMStudioServer(
        engine,
        host=args.host,
        port=args.port,
        api_token=args.api_token,
        auth_timeout=args.auth_timeout,
        faithful_errors=args.faithful_errors,
        catalog=getattr(args, "catalog", None),
        models_dir=args.models_dir,
        download_bytes_per_second=getattr(args, "download_rate", None),
        record=args.record,
    ) as server:
        # Tests and scripts parse exactly this line.
        print(f"LM Studio SDK server listening on {server.url}", flush=True)
        # Until Ctrl-C / SIGTERM, or until a client with the API token asked for a shutdown.
        signalled = asyncio.ensure_future(stop.wait())
        stopped = asyncio.ensure_future(server.wait_stopped())
        await asyncio.wait((signalled, stopped), return_when=asyncio.FIRST_COMPLETED)
        signalled.cancel()
        stopped.cancel()
