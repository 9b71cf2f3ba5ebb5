"""The models folder, in LM Studio's layout ``<models-dir>/<publisher>/<repo>/<file>.gguf``.

:func:`default_models_dir` picks the folder; :func:`scan_models` lists what is in it as the
wire's model infos, read from each GGUF's metadata. :func:`scan_model_files` returns the same
plus what the engine needs and the wire does not carry (absolute path, chat template, special
tokens, the vision projector beside the model).

Metadata reading: ``gguf.GGUFReader`` parses every key *and* every array element (the whole
vocabulary and merge list) into numpy views, which takes ~2 s for a 49k-token model. Listing
must be fast (LM Studio folders hold dozens of multi-GB models), so this module has a small
streaming reader that decodes the scalar keys and strings it needs, skips big arrays without
decoding them, and sums tensor element counts from the tensor-info table. It relies on the
``gguf`` package only for the value-type and file-type enums.
"""

from __future__ import annotations

import logging
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..._protocol.packets.shared import EmbeddingModelInfo, LLMInfo, Quantization

__all__ = [
    "GGUFMetadata",
    "ScannedModel",
    "default_models_dir",
    "is_encoder",
    "model_key_for_folder",
    "read_gguf_metadata",
    "scan_model_files",
    "scan_models",
]

_log = logging.getLogger(__name__)

ENV_MODELS_DIR = "LMSTUDIO_SDK_MODELS_DIR"

# Architectures llama.cpp runs as encoders (embedding models).
_EMBEDDING_ARCHS = frozenset(
    {
        "bert",
        "nomic-bert",
        "nomic-bert-moe",
        "jina-bert-v2",
        "jina-bert-v3",
        "modern-bert",
        "neo-bert",
        "eurobert",
        "t5encoder",
    }
)


def is_encoder(architecture: str) -> bool:
    """An architecture llama.cpp runs as an encoder: no causal attention, so no KV cache."""
    return architecture in _EMBEDDING_ARCHS


# Arrays longer than this are skipped (vocabularies, merges, token types).
_MAX_DECODED_ARRAY = 64


def default_models_dir() -> Path:
    """``$LMSTUDIO_SDK_MODELS_DIR``, else LM Studio's models folder, else a per-user data dir."""
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        return Path(env).expanduser()
    home = Path.home()
    for candidate in (home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"):
        if candidate.is_dir():
            return candidate
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else home / ".local" / "share"
    return base / "lmstudio-sdk" / "models"


# -- GGUF metadata --------------------------------------------------------------------------


class GGUFFormatError(ValueError):
    """Not a GGUF file, or a truncated/corrupt header."""


@dataclass(slots=True)
class GGUFMetadata:
    """The header of a GGUF file: decoded keys (big arrays left out) and tensor statistics."""

    kv: dict[str, Any]
    array_lengths: dict[str, int]
    n_params: int
    tensor_types: dict[int, int]  # ggml type id → number of elements stored in it

    @property
    def architecture(self) -> str:
        return str(self.kv.get("general.architecture", ""))

    def arch_key(self, suffix: str, default: Any = None) -> Any:
        return self.kv.get(f"{self.architecture}.{suffix}", default)


_SCALAR_FORMATS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?"}
_SCALAR_FORMATS.update({10: "<Q", 11: "<q", 12: "<d"})
_STRING, _ARRAY = 8, 9


class _Reader:
    def __init__(self, f: IO[bytes]) -> None:
        self._f = f

    def read(self, n: int) -> bytes:
        data = self._f.read(n)
        if len(data) != n:
            raise GGUFFormatError("unexpected end of file")
        return data

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        n = self.unpack("<Q")
        return self.read(n).decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        n = self.unpack("<Q")
        self._f.seek(n, os.SEEK_CUR)

    def value(self, vtype: int) -> Any:
        if vtype == _STRING:
            return self.string()
        fmt = _SCALAR_FORMATS.get(vtype)
        if fmt is None:
            raise GGUFFormatError(f"unknown GGUF value type {vtype}")
        return self.unpack(fmt)

    def skip_values(self, vtype: int, count: int) -> None:
        if vtype == _STRING:
            for _ in range(count):
                self.skip_string()
            return
        fmt = _SCALAR_FORMATS.get(vtype)
        if fmt is None:
            raise GGUFFormatError(f"cannot skip an array of GGUF type {vtype}")
        self._f.seek(struct.calcsize(fmt) * count, os.SEEK_CUR)


def read_gguf_metadata(path: Path) -> GGUFMetadata:
    """Read a GGUF header without decoding its big arrays (fast even for large vocabularies)."""
    with path.open("rb", buffering=1 << 16) as f:
        r = _Reader(f)
        if r.read(4) != b"GGUF":
            raise GGUFFormatError(f"{path.name} is not a GGUF file")
        version = r.unpack("<I")
        if version < 2:
            raise GGUFFormatError(f"{path.name}: GGUF version {version} is not supported")
        n_tensors = r.unpack("<Q")
        n_kv = r.unpack("<Q")
        kv: dict[str, Any] = {}
        array_lengths: dict[str, int] = {}
        for _ in range(n_kv):
            key = r.string()
            vtype = r.unpack("<I")
            if vtype == _ARRAY:
                item_type = r.unpack("<I")
                count = r.unpack("<Q")
                array_lengths[key] = count
                if count <= _MAX_DECODED_ARRAY and item_type != _ARRAY:
                    kv[key] = [r.value(item_type) for _ in range(count)]
                else:
                    r.skip_values(item_type, count)
            else:
                kv[key] = r.value(vtype)
        n_params = 0
        tensor_types: dict[int, int] = {}
        for _ in range(n_tensors):
            r.skip_string()
            n_dims = r.unpack("<I")
            n_elements = 1
            for _ in range(n_dims):
                n_elements *= r.unpack("<Q")
            ggml_type = r.unpack("<I")
            r.unpack("<Q")  # offset
            n_params += n_elements
            tensor_types[ggml_type] = tensor_types.get(ggml_type, 0) + n_elements
    return GGUFMetadata(
        kv=kv, array_lengths=array_lengths, n_params=n_params, tensor_types=tensor_types
    )


# -- derived fields --------------------------------------------------------------------------


def params_string(meta: GGUFMetadata) -> str | None:
    """``"135M"``, ``"7B"``, ``"1.5B"``: the file's size label, else from the tensor sizes."""
    label = meta.kv.get("general.size_label")
    if isinstance(label, str) and label:
        return label
    n = meta.n_params
    if n <= 0:
        return None
    if n >= 1_000_000_000:
        return f"{n / 1e9:.1f}".rstrip("0").rstrip(".") + "B"
    if n >= 1_000_000:
        return f"{round(n / 1e6)}M"
    return f"{round(n / 1e3)}K"


def _quant_bits(name: str) -> int:
    upper = name.upper()
    if upper in ("F32",):
        return 32
    if upper in ("F16", "BF16"):
        return 16
    match = re.search(r"(\d+)", upper)
    return int(match.group(1)) if match else 0


def quantization(meta: GGUFMetadata) -> Quantization | None:
    """The file type as LM Studio names it (``Q4_1``, ``Q4_K_M``, ``F16``) and its bit width."""
    import gguf

    file_type = meta.kv.get("general.file_type")
    name: str | None = None
    if isinstance(file_type, int):
        try:
            enum_name = gguf.LlamaFileType(file_type).name
        except ValueError:
            enum_name = ""
        if enum_name:
            name = enum_name.removeprefix("MOSTLY_").removeprefix("ALL_")
    if name is None and meta.tensor_types:
        # No file type recorded: name it after the type holding most of the weights.
        dominant = max(meta.tensor_types.items(), key=lambda kv: kv[1])[0]
        try:
            name = gguf.GGMLQuantizationType(dominant).name
        except ValueError:
            return None
    if not name:
        return None
    return Quantization(name=name, bits=_quant_bits(name))


def model_key_for_folder(repo: str, domain: str) -> str:
    """The model key LM Studio gives a model in folder ``repo`` (domain ``llm``/``embedding``)."""
    base = re.sub(r"[-_.]gguf$", "", repo, flags=re.IGNORECASE).lower()
    if domain == "embedding" and not base.startswith("text-embedding-"):
        # LM Studio lists embedding models as "text-embedding-<name>" (e.g.
        # text-embedding-nomic-embed-text-v1.5).
        base = "text-embedding-" + base
    return base


def _display_name(repo: str) -> str:
    base = re.sub(r"[-_.]gguf$", "", repo, flags=re.IGNORECASE)
    return base.replace("-", " ").replace("_", " ")


# -- scanning --------------------------------------------------------------------------------


@dataclass(slots=True)
class ScannedModel:
    """A model file plus the engine-side facts that are not part of the wire's model info."""

    info: LLMInfo | EmbeddingModelInfo
    file: Path
    architecture: str
    chat_template: str | None
    bos_token_id: int | None
    eos_token_id: int | None
    n_embd: int | None
    mmproj: Path | None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Candidate:
    file: Path
    publisher: str
    repo: str
    meta: GGUFMetadata
    mmproj: Path | None


def _is_projector(path: Path, meta: GGUFMetadata | None) -> bool:
    if path.name.lower().startswith("mmproj"):
        return True
    return meta is not None and (
        meta.architecture == "clip" or meta.kv.get("general.type") == "mmproj"
    )


def _iter_gguf_files(models_dir: Path) -> Iterator[tuple[str, str, Path]]:
    try:
        publishers = sorted(p for p in models_dir.iterdir() if p.is_dir())
    except OSError:
        return
    for publisher in publishers:
        if publisher.name.startswith("."):
            continue
        try:
            repos = sorted(p for p in publisher.iterdir() if p.is_dir())
        except OSError:
            continue
        for repo in repos:
            if repo.name.startswith("."):
                continue
            try:
                files = sorted(repo.glob("*.gguf"))
            except OSError:
                continue
            for file in files:
                if file.is_file():
                    yield publisher.name, repo.name, file


_CACHE: dict[tuple[str, int, int], GGUFMetadata] = {}


def _cached_metadata(path: Path) -> GGUFMetadata:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    cached = _CACHE.get(key)
    if cached is None:
        cached = read_gguf_metadata(path)
        _CACHE[key] = cached
    return cached


def scan_model_files(models_dir: Path) -> list[ScannedModel]:
    """Every loadable model under ``models_dir``, with its engine-side details."""
    candidates: list[_Candidate] = []
    for publisher, repo, file in _iter_gguf_files(models_dir):
        if file.name.lower().startswith("mmproj"):
            continue
        try:
            meta = _cached_metadata(file)
        except (OSError, GGUFFormatError) as exc:
            _log.warning("skipping %s: %s", file, exc)
            continue
        if _is_projector(file, meta):
            continue
        projectors = sorted(file.parent.glob("mmproj*.gguf"))
        candidates.append(
            _Candidate(file, publisher, repo, meta, projectors[0] if projectors else None)
        )

    # Model keys: one per repo folder; several quantisations in one folder become variants
    # "key@quant" (LM Studio's convention).
    by_key: dict[str, list[_Candidate]] = {}
    domains: dict[Path, str] = {}
    for c in candidates:
        domain = _domain(c.meta)
        domains[c.file] = domain
        by_key.setdefault(model_key_for_folder(c.repo, domain), []).append(c)

    result: list[ScannedModel] = []
    for base_key, group in by_key.items():
        keys: dict[Path, str] = {}
        if len(group) == 1:
            keys[group[0].file] = base_key
        else:
            seen: set[str] = set()
            for c in group:
                quant = quantization(c.meta)
                suffix = quant.name.lower() if quant else c.file.stem.lower()
                key = f"{base_key}@{suffix}"
                if key in seen:
                    key = f"{base_key}@{c.file.stem.lower()}"
                seen.add(key)
                keys[c.file] = key
        variants = sorted(keys.values()) if len(group) > 1 else None
        for c in group:
            result.append(_to_scanned(c, keys[c.file], domains[c.file], variants))
    result.sort(key=lambda s: s.info.path)
    return result


def scan_models(models_dir: Path) -> list[LLMInfo | EmbeddingModelInfo]:
    """The wire model infos of every model under ``models_dir`` (LM Studio's layout)."""
    return [s.info for s in scan_model_files(models_dir)]


def _domain(meta: GGUFMetadata) -> str:
    if meta.architecture in _EMBEDDING_ARCHS:
        return "embedding"
    if meta.arch_key("pooling_type") is not None:
        return "embedding"
    return "llm"


def _to_scanned(c: _Candidate, key: str, domain: str, variants: list[str] | None) -> ScannedModel:
    meta = c.meta
    rel_path = f"{c.publisher}/{c.repo}/{c.file.name}"
    template = meta.kv.get("tokenizer.chat_template")
    template = template if isinstance(template, str) and template.strip() else None
    max_ctx = meta.arch_key("context_length")
    common: dict[str, Any] = {
        "model_key": key,
        "format": "gguf",
        "display_name": _display_name(c.repo),
        "path": rel_path,
        "size_bytes": c.file.stat().st_size,
        "max_context_length": int(max_ctx) if isinstance(max_ctx, int) else 2048,
        "publisher": c.publisher,
        "indexed_model_identifier": rel_path,
        "device_identifier": None,
        "params_string": params_string(meta),
        "architecture": meta.architecture or None,
        "quantization": quantization(meta),
        "variants": variants,
        "selected_variant": key if variants else None,
    }
    info: LLMInfo | EmbeddingModelInfo
    if domain == "embedding":
        info = EmbeddingModelInfo(**common)
    else:
        info = LLMInfo(
            **common,
            vision=c.mmproj is not None,
            trained_for_tool_use=bool(template and "tools" in template),
        )
    n_embd = meta.arch_key("embedding_length")
    bos = meta.kv.get("tokenizer.ggml.bos_token_id")
    eos = meta.kv.get("tokenizer.ggml.eos_token_id")
    return ScannedModel(
        info=info,
        file=c.file,
        architecture=meta.architecture,
        chat_template=template,
        bos_token_id=bos if isinstance(bos, int) else None,
        eos_token_id=eos if isinstance(eos, int) else None,
        n_embd=n_embd if isinstance(n_embd, int) else None,
        mmproj=c.mmproj if domain == "llm" else None,
        metadata=meta.kv,
    )
