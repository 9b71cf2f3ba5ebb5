"""``lmstudio-sdk catalog init DIR``: write the manifest that makes a folder of GGUF files a
model catalogue for ``lmstudio-sdk serve --catalog DIR`` (see docs/catalog.md)."""

from __future__ import annotations

import argparse
from typing import Any

from ..server.local.catalog_files import load_manifest, write_manifest
from .arguments import existing_dir


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "catalog",
        help="make a folder of GGUF files a model catalogue",
        description="Model catalogues for `lmstudio-sdk serve --catalog DIR`.",
    )
    sub = parser.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    init = sub.add_parser(
        "init",
        help="write DIR/catalog.json for the GGUF files under DIR",
        description="Describe every *.gguf under DIR (size, SHA-256, quantisation from the "
        "file name) in DIR/catalog.json: one model per subfolder, published as "
        "PUBLISHER/<subfolder>. Edit the file to add names, descriptions and staff picks.",
    )
    init.add_argument(
        "folder", type=existing_dir, metavar="DIR", help="the folder of GGUF files to describe"
    )
    init.add_argument("--publisher", default="local", help="publisher of the models")
    init.set_defaults(func=_init)


def _init(args: argparse.Namespace) -> int:
    path = write_manifest(args.folder, publisher=args.publisher)
    entries = load_manifest(args.folder)
    files = sum(len(e.files) for e in entries)
    print(f"Wrote {path}: {len(entries)} models, {files} files")
    return 0
