"""``lmstudio-sdk status``: which server answers, its version, engines, hardware and loaded
models."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import msgspec

from .. import Client, LMStudioError
from .._protocol.results import HardwareSurvey

__all__ = ["add_connection_options", "register"]


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """--host and --api-token, as `chat` has them."""
    parser.add_argument(
        "--host", help="server address, 'host:port' or ws:// URL (default: find LM Studio here)"
    )
    parser.add_argument("--api-token", help="API token (default: $LM_API_TOKEN)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "status",
        help="show the server: version, process, engines, hardware, loaded models",
        description="Ask an LM Studio (or `lmstudio-sdk serve`) about itself.",
    )
    add_connection_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        with Client(args.host, api_token=args.api_token, timeout=30) as client:
            version = client.system.get_lmstudio_version()
            status: dict[str, Any] = {
                "url": client.base_url,
                "version": version,
                "info": client.system.get_info(),
                "engines": client.runtime.list_engines(),
                "hardware": client.runtime.survey_hardware(),
                "loaded": [
                    m.identifier for m in client.llm.list_loaded() + client.embedding.list_loaded()
                ],
            }
    except LMStudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(msgspec.json.encode(status).decode())
        return 0
    version, info = status["version"], status["info"]
    print(f"server:   {status['url']}")
    print(f"version:  LM Studio {version.version} (build {version.build}), pid {info.pid}")
    for engine in status["engines"]:
        print(f"engine:   {engine.name} {engine.version} ({engine.engine}, {engine.platform})")
    _print_hardware(status["hardware"])
    loaded = status["loaded"]
    print(f"loaded:   {', '.join(loaded) if loaded else 'none'}")
    return 0


def _print_hardware(survey: HardwareSurvey) -> None:
    for engine in survey.engines:
        if engine.compatibility.message:
            print(f"hardware: {engine.compatibility.message}")
        hardware = engine.hardware_survey
        if hardware is not None and hardware.gpu_survey_result.gpu_info:
            for gpu in hardware.gpu_survey_result.gpu_info:
                print(f"gpu:      {gpu.name}")
