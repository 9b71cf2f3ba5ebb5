"""Catalogue folders for tests: tiny GGUF files (a real header, padded to any size) and their
manifest, written the way a user would (``write_manifest``). No network, no gguf package."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

from lmstudio_sdk.server.local.catalog_files import MANIFEST_NAME, write_manifest

_STRING, _UINT32 = 8, 4


def _kv_string(key: str, value: str) -> bytes:
    k, v = key.encode(), value.encode()
    return struct.pack("<Q", len(k)) + k + struct.pack("<IQ", _STRING, len(v)) + v


def _kv_uint32(key: str, value: int) -> bytes:
    k = key.encode()
    return struct.pack("<Q", len(k)) + k + struct.pack("<I", _UINT32) + struct.pack("<I", value)


def write_gguf(path: Path, *, name: str, size: int, architecture: str = "llama") -> Path:
    """A GGUF with metadata only (no tensors), padded with random bytes to ``size``."""
    kvs = [
        _kv_string("general.architecture", architecture),
        _kv_string("general.name", name),
        _kv_uint32(f"{architecture}.context_length", 4096),
    ]
    header = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs)
    assert size >= len(header)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.write(header)
        f.write(os.urandom(size - len(header)))
    return path


MIB = 1 << 20


def make_catalog(folder: Path, *, big_size: int = 4 * MIB) -> Path:
    """Three models: a chat model in two quantisations, an embedding model, and a big one."""
    write_gguf(folder / "Tiny-Chat-GGUF/Tiny-Chat-Q4_K_M.gguf", name="Tiny Chat", size=MIB)
    write_gguf(folder / "Tiny-Chat-GGUF/Tiny-Chat-Q8_0.gguf", name="Tiny Chat", size=2 * MIB)
    write_gguf(
        folder / "Tiny-Embed-GGUF/Tiny-Embed-F16.gguf",
        name="Tiny Embed",
        size=MIB // 2,
        architecture="bert",
    )
    write_gguf(folder / "Big-Llama-GGUF/Big-Llama-Q4_0.gguf", name="Big Llama", size=big_size)
    write_manifest(folder, publisher="acme")
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    for model in manifest["models"]:
        if model["id"] == "acme/Tiny-Chat-GGUF":
            model["description"] = "A tiny chat model for tests"
            model["staffPick"] = True
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
    return folder


def tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder`` with its size and mtime: a snapshot to compare."""
    out: dict[str, tuple[int, int]] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            st = path.stat()
            out[path.relative_to(folder).as_posix()] = (
                st.st_size if path.is_file() else -1,
                st.st_mtime_ns,
            )
    return out
