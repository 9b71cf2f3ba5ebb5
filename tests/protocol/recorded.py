"""Payloads copied from the recorded traffic of the official clients, shared by tests."""

from __future__ import annotations

from typing import Any

# listLoaded result of the TS 2.0 recording (traffic-ts2.jsonl, line 4): the shape TS 2.0 accepts.
RECORDED_INSTANCE: dict[str, Any] = {
    "type": "llm",
    "modelKey": "qwen2.5-0.5b-instruct",
    "format": "gguf",
    "displayName": "Qwen2.5 0.5B Instruct",
    "publisher": "lmstudio-community",
    "path": "lmstudio-community/Qwen2.5-0.5B-Instruct-GGUF/Qwen2.5-0.5B-Instruct-Q4_K_M.gguf",
    "sizeBytes": 397808192,
    "indexedModelIdentifier": (
        "lmstudio-community/Qwen2.5-0.5B-Instruct-GGUF/Qwen2.5-0.5B-Instruct-Q4_K_M.gguf"
    ),
    "deviceIdentifier": None,
    "paramsString": "0.5B",
    "architecture": "qwen2",
    "quantization": {"name": "Q4_K_M", "bits": 4},
    "vision": False,
    "trainedForToolUse": True,
    "maxContextLength": 32768,
    "identifier": "qwen2.5-0.5b-instruct",
    "instanceReference": "inst-ref-0001",
    "ttlMs": 3600000,
    "lastUsedTime": None,
    "contextLength": 4096,
}
