"""The machine facts /runtime reports, read from what the kernel says."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lmstudio_sdk.server.local import machine as machine_module


def test_gpus_are_named_from_the_nvidia_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gpu = tmp_path / "0000:01:00.0"
    gpu.mkdir()
    (gpu / "information").write_text("Model: \t\t NVIDIA GeForce RTX 4090\nIRQ: 42\n")
    monkeypatch.setattr(machine_module, "_NVIDIA_GPUS", tmp_path)
    assert machine_module._nvidia_gpu_names() == ["NVIDIA GeForce RTX 4090"]
    monkeypatch.setattr(machine_module, "_NVIDIA_GPUS", tmp_path / "absent")
    assert machine_module._nvidia_gpu_names() == []


def test_this_machine() -> None:
    facts = machine_module.machine()
    assert facts.logical_cores == os.cpu_count()
    assert facts.architecture in ("x86_64", "ARM64", "unknown")
    assert facts.memory_bytes == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") or (
        abs(facts.memory_bytes - os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
        < 2**20 * 64
    )
    assert set(facts.instruction_set_extensions) <= {"AVX", "AVX2", "AdvSIMD"}
