"""``lmstudio-sdk plugin run|dev DIR``: serve a Python plugin folder on LM Studio (or on
``lmstudio-sdk serve``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Any

from .._exceptions import LMStudioError
from .._protocol.mcp import mcp_target
from .._types import check_timeout
from ..plugin.dev import run_dev
from ..plugin.mcp import run_mcp_plugin
from ..plugin.runner import ENV_BASE_URL, ENV_CLIENT_ID, ENV_CLIENT_KEY, PluginRunner, load_plugin
from .arguments import existing_dir


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "plugin",
        help="run a Python plugin (prompt preprocessor, generator, tools provider)",
        description="Serve a plugin folder (manifest.json + src/plugin.py) on LM Studio.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (
        (
            "run",
            f"serve the plugin with the credentials in ${ENV_CLIENT_ID} / ${ENV_CLIENT_KEY} "
            "(what LM Studio hands a plugin process)",
        ),
        ("dev", "register a development plugin, run it, reload it when its files change"),
    ):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument("directory", type=existing_dir, help="the plugin folder")
        action.add_argument(
            "--host",
            default=None,
            help="host:port or ws:// URL of the server (default: "
            f"${ENV_BASE_URL}, else LM Studio found on this machine)",
        )
        action.set_defaults(func=_run if name == "run" else _dev)
    text = "serve an MCP server's tools as a tools provider plugin (development registration)"
    mcp = actions.add_parser(
        "mcp",
        help=text,
        description=text + ": lmstudio-sdk plugin mcp [--name NAME] -- CMD ARGS, or --url URL",
    )
    mcp.add_argument(
        "--name", default=None, help="the plugin's 'owner/name' or 'name' (owner: mcp)"
    )
    mcp.add_argument("--url", default=None, help="a streamable-HTTP MCP server instead of CMD")
    mcp.add_argument(
        "--host",
        default=None,
        help="host:port or ws:// URL of the server (default: LM Studio found on this machine)",
    )
    mcp.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds each tool call may take (default 30); a late call is a tool error",
    )
    mcp.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS: the MCP server")
    mcp.set_defaults(func=_mcp)


def _host(args: argparse.Namespace) -> str | None:
    host: str | None = args.host or os.environ.get(ENV_BASE_URL) or None
    return host


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    identifier = os.environ.get(ENV_CLIENT_ID)
    passkey = os.environ.get(ENV_CLIENT_KEY)
    if not identifier or not passkey:
        print(
            f"error: {ENV_CLIENT_ID} and {ENV_CLIENT_KEY} must be set (LM Studio sets them "
            "for a plugin process); to try a plugin, use `lmstudio-sdk plugin dev DIR`",
            file=sys.stderr,
        )
        return 2
    try:
        plugin = load_plugin(args.directory)
        runner = PluginRunner(
            plugin, host=_host(args), client_identifier=identifier, client_passkey=passkey
        )
        print(f"plugin {plugin.identifier}: serving (Ctrl-C stops it)", flush=True)
        asyncio.run(runner.run())
    except KeyboardInterrupt:
        print("plugin stopped", flush=True)
        return 0
    except LMStudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _dev(args: argparse.Namespace) -> int:
    try:
        asyncio.run(run_dev(args.directory, _host(args), log=lambda text: print(text, flush=True)))
    except KeyboardInterrupt:
        print("plugin unregistered", flush=True)
        return 0
    except LMStudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _mcp(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    try:
        target = mcp_target(command or None, args.url, None, None)
        asyncio.run(
            run_mcp_plugin(
                target,
                args.host,
                name=args.name,
                tool_timeout=check_timeout(args.timeout),
                log=lambda text: print(text, flush=True),
            )
        )
    except KeyboardInterrupt:
        print("plugin unregistered", flush=True)
        return 0
    except LMStudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
