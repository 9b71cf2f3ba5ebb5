"""``lmstudio-sdk get TERM``: search LM Studio's catalogue (or the embedded server's) and download
the best match, with a progress bar, in the habits of ``lms get``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import lmstudio_sdk as lms

from .connection import add_connection_arguments, print_json, with_client
from .progress import ProgressDisplay, human_bytes


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "get",
        help="search for a model and download it",
        description="Search the catalogue for TERM and download the best match's recommended "
        "file (or --quant). Prints the model key to load it with.",
    )
    parser.add_argument("term", help="what to search for, e.g. 'smollm2'")
    parser.add_argument("--quant", help="download this quantisation, e.g. Q4_K_M")
    parser.add_argument("--list", action="store_true", help="only list the matches and their files")
    parser.add_argument("--limit", type=int, default=10, help="most matches to list (1-25)")
    add_connection_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return with_client(args, lambda client: _get(client, args))


def _get(client: lms.Client, args: argparse.Namespace) -> int:
    results = client.repository.search_models(args.term, limit=args.limit)
    if not results:
        print(f"error: no model matches {args.term!r}", file=sys.stderr)
        return 1
    if args.list:
        return _list(results, args.json)
    entry = results[0]
    options = entry.get_download_options()
    option = _choose(options, args.quant)
    if option is None:
        quants = ", ".join(o.quantization or o.name for o in options)
        print(f"error: {entry.name} has no {args.quant}; choose from {quants}", file=sys.stderr)
        return 1
    if not args.json:
        print(
            f"Downloading {entry.identifier.identifier} {option.quantization or option.name} "
            f"({human_bytes(option.size_bytes)})",
            file=sys.stderr,
        )
    with ProgressDisplay(option.name, unit="bytes") as bar:
        key = option.download(
            on_progress=lambda u: bar.update(
                u.downloaded_bytes, u.total_bytes, u.speed_bytes_per_second
            )
        )
    if args.json:
        print_json(
            {
                "modelKey": key,
                "identifier": entry.identifier.identifier,
                "file": option.name,
                "sizeBytes": option.size_bytes,
            }
        )
    else:
        print(f"Downloaded. Load it with: lmstudio-sdk load {key}")
    return 0


def _choose(options: list[lms.DownloadOption], quant: str | None) -> lms.DownloadOption | None:
    if quant is not None:
        wanted = quant.lower()
        return next((o for o in options if (o.quantization or "").lower() == wanted), None)
    return next((o for o in options if o.recommended), options[0] if options else None)


def _list(results: list[lms.ModelSearchResult], as_json: bool) -> int:
    found = [(r, r.get_download_options()) for r in results]
    if as_json:
        print_json(
            [
                {"name": r.name, "identifier": r.data.identifier, "options": [o.data for o in opts]}
                for r, opts in found
            ]
        )
        return 0
    for result, options in found:
        flag = " (staff pick)" if result.staff_pick else ""
        print(f"{result.identifier.identifier}{flag}")
        for o in options:
            mark = " *" if o.recommended else ""
            print(f"  {o.quantization or '-':8} {human_bytes(o.size_bytes):>10}  {o.name}{mark}")
    return 0
