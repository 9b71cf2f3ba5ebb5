"""The ``lmstudio-sdk`` command line: subcommands grouped by module in this package.

Each subcommand module exposes ``register(subparsers)``, which adds its parsers (``manage``
adds ``ls``, ``ps``, ``load`` and ``unload``) and sets ``func`` (taking the parsed namespace,
returning an exit code) as each parser's default.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__

# Module names under lmstudio_sdk.cli, in the order `--help` lists them.
_SUBCOMMAND_MODULES: tuple[str, ...] = (
    "chat",
    "manage",
    "get",
    "serve",
    "models",
    "catalog",
    "status",
    "log",
    "plugin",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lmstudio-sdk",
        description="Chat with, manage and serve local LLMs over LM Studio's SDK API.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _SUBCOMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
