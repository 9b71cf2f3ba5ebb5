"""``lmstudio-sdk ls | ps | load | unload``: manage the models of LM Studio (or of
``lmstudio-sdk serve``) in the habits of LM Studio's own ``lms`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import lmstudio_sdk as lms

from .arguments import positive_number
from .connection import add_connection_arguments, print_json, with_client
from .progress import ProgressDisplay, human_bytes

Info = lms.LLMInfo | lms.EmbeddingModelInfo
InstanceInfo = lms.LLMInstanceInfo | lms.EmbeddingModelInstanceInfo


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be positive")
    return value


def register(subparsers: Any) -> None:
    ls = subparsers.add_parser(
        "ls", help="list downloaded models", description="List the models LM Studio has."
    )
    kind = ls.add_mutually_exclusive_group()
    kind.add_argument("--llm", action="store_true", help="only LLMs")
    kind.add_argument("--embedding", action="store_true", help="only embedding models")
    add_connection_arguments(ls)
    ls.set_defaults(func=run_ls)

    ps = subparsers.add_parser(
        "ps", help="list loaded models", description="List the models loaded in LM Studio."
    )
    add_connection_arguments(ps)
    ps.set_defaults(func=run_ps)

    load = subparsers.add_parser(
        "load",
        help="load a model",
        description="Load a downloaded model (a new instance, even if one is loaded).",
    )
    load.add_argument("key", help="model key (see `lmstudio-sdk ls`) or path")
    load.add_argument("--context-length", type=_positive_int, help="context length in tokens")
    load.add_argument("--ttl", type=positive_number, help="unload after this many idle seconds")
    load.add_argument("--identifier", help="the identifier to load it as")
    add_connection_arguments(load)
    load.set_defaults(func=run_load)

    unload = subparsers.add_parser(
        "unload", help="unload models", description="Unload a loaded model, or all of them."
    )
    which = unload.add_mutually_exclusive_group(required=True)
    which.add_argument("identifier", nargs="?", help="identifier (see `lmstudio-sdk ps`)")
    which.add_argument("--all", "-a", action="store_true", help="unload every loaded model")
    add_connection_arguments(unload)
    unload.set_defaults(func=run_unload)


def _table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


# -- ls ------------------------------------------------------------------------------------------


def run_ls(args: argparse.Namespace) -> int:
    domain = "llm" if args.llm else "embedding" if args.embedding else None
    return with_client(args, lambda client: _ls(client, domain, args.json))


def _ls(client: lms.Client, domain: str | None, as_json: bool) -> int:
    models = client.system.list_downloaded_models(domain)
    if as_json:
        print_json(models)
        return 0
    if not models:
        print("You have no models. Get one with: lmstudio-sdk get TERM")
        return 0
    loaded = {m.info.model_key for m in _loaded(client) if m.info is not None}
    total = sum(m.size_bytes for m in models)
    print(f"You have {len(models)} models, taking up {human_bytes(total)} of disk space.\n")
    for title, wanted in (("LLM", "llm"), ("EMBEDDING", "embedding")):
        group = [m for m in models if m.domain == wanted]
        if not group:
            continue
        rows = [(title, "PARAMS", "ARCH", "SIZE", "")]
        rows += [
            (
                m.model_key,
                m.params_string or "",
                m.architecture or "",
                human_bytes(m.size_bytes),
                "✓ LOADED" if m.model_key in loaded else "",
            )
            for m in group
        ]
        _table(rows)
        print()
    return 0


def _loaded(client: lms.Client) -> list[lms.LLM | lms.EmbeddingModel]:
    return [*client.llm.list_loaded(), *client.embedding.list_loaded()]


# -- ps ------------------------------------------------------------------------------------------


def run_ps(args: argparse.Namespace) -> int:
    return with_client(args, lambda client: _ps(client, args.json))


def _ps(client: lms.Client, as_json: bool) -> int:
    infos = [m.info for m in _loaded(client) if m.info is not None]
    if as_json:
        print_json(infos)
        return 0
    if not infos:
        print("No models are loaded. Load one with: lmstudio-sdk load KEY")
        return 0
    rows = [("IDENTIFIER", "MODEL", "TYPE", "SIZE", "CONTEXT", "TTL")]
    for info in infos:
        ttl = f"{info.ttl_ms / 1000:g}s" if info.ttl_ms is not None else ""
        rows.append(
            (
                info.identifier,
                info.model_key,
                info.domain,
                human_bytes(info.size_bytes),
                str(info.context_length),
                ttl,
            )
        )
    _table(rows)
    return 0


# -- load ----------------------------------------------------------------------------------------


def run_load(args: argparse.Namespace) -> int:
    return with_client(args, lambda client: _load(client, args))


def _load(client: lms.Client, args: argparse.Namespace) -> int:
    key: str = args.key
    downloaded = client.system.list_downloaded_models()
    match = next((m for m in downloaded if key in (m.model_key, m.path)), None)
    namespace: lms.LLMNamespace | lms.EmbeddingNamespace = (
        client.embedding if match is not None and match.domain == "embedding" else client.llm
    )
    config: dict[str, Any] = {}
    if args.context_length is not None:
        config["context_length"] = args.context_length
    with ProgressDisplay(f"Loading {key}", unit="fraction") as bar:
        model = namespace.load(
            key,
            config=config or None,  # type: ignore[arg-type]  # both namespaces take this key
            ttl=args.ttl,
            identifier=args.identifier,
            on_progress=lambda value: bar.update(value, 1.0),
        )
    info = model.info
    if args.json:
        print_json(info)
        return 0
    assert info is not None
    print(f"Loaded {info.model_key} as {model.identifier!r} (context {info.context_length}).")
    print(f"To use it: client.llm.model({model.identifier!r})" if info.domain == "llm" else "")
    return 0


# -- unload --------------------------------------------------------------------------------------


def run_unload(args: argparse.Namespace) -> int:
    return with_client(args, lambda client: _unload(client, args))


def _unload(client: lms.Client, args: argparse.Namespace) -> int:
    if args.all:
        identifiers = [m.identifier for m in _loaded(client)]
    else:
        identifiers = [args.identifier]
    unloaded: list[str] = []
    for identifier in identifiers:
        model = next((m for m in _loaded(client) if m.identifier == identifier), None)
        if model is None:
            print(
                f"error: no loaded model has the identifier {identifier!r}; see `lmstudio-sdk ps`",
                file=sys.stderr,
            )
            return 1
        model.unload()
        unloaded.append(identifier)
        if not args.json:
            print(f"Unloaded {identifier}")
    if args.json:
        print_json({"unloaded": unloaded})
    elif not unloaded:
        print("No models are loaded.", file=sys.stderr)
    return 0
