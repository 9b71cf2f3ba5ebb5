"""Where the real-inference groups find their GGUF files, and the keys the server gives them."""

from __future__ import annotations

from pathlib import Path

__all__ = ["default_models_dir", "find_embedding_model", "find_model", "llama_model_key"]


def default_models_dir() -> Path:
    """The folder ``lmstudio-sdk serve`` uses when given none."""
    from lmstudio_sdk.server.local.models_dir import default_models_dir as server_default

    return server_default()


def find_model(models_dir: Path) -> Path | None:
    found = sorted(models_dir.glob("**/SmolLM2-135M-Instruct*.gguf"))
    return next((f for f in found if "mmproj" not in f.name), None)


def find_embedding_model(models_dir: Path) -> Path | None:
    return next(iter(sorted(models_dir.glob("**/all-MiniLM-L6-v2*.gguf"))), None)


def llama_model_key(url: str, model_path: Path, domain: str = "llm") -> str:
    import lmstudio_sdk

    with lmstudio_sdk.Client(url, timeout=60) as client:
        for info in client.system.list_downloaded_models(domain):
            if Path(info.path).name == model_path.name:
                return str(info.model_key)
    raise RuntimeError(f"the llama server does not list {model_path.name}")
