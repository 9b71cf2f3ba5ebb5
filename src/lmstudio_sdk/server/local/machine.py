"""Facts about the machine the server runs on, for /runtime surveyHardware and listEngines:
CPU model, instruction set extensions, cores, memory, and the llama.cpp build if installed.

Read from Linux's /proc where it exists, else from ``platform`` and ``os``; nothing here
imports an engine (the llama.cpp build comes from the installed package's metadata).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["Machine", "device_identifier", "llama_cpp_build", "machine"]

_CPUINFO = Path("/proc/cpuinfo")
_MEMINFO = Path("/proc/meminfo")

# /proc/cpuinfo flag → the name LM Studio reports for an instruction set extension (the schema
# knows only these three).
_EXTENSIONS = {
    "avx": "AVX",
    "avx2": "AVX2",
    "asimd": "AdvSIMD",
}


_ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "ARM64", "arm64": "ARM64"}
_NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


@dataclass(frozen=True, slots=True)
class Machine:
    cpu_name: str | None
    architecture: str  # as LM Studio's schema names it: "x86_64", "ARM64" or "unknown"
    instruction_set_extensions: list[str]
    logical_cores: int
    memory_bytes: int  # total RAM; 0 when unknown
    gpu_names: list[str]  # GPUs the kernel's drivers report (NVIDIA's), whether or not used


def _cpuinfo_fields() -> dict[str, str]:
    """The first processor's ``key: value`` lines of /proc/cpuinfo (empty elsewhere)."""
    try:
        text = _CPUINFO.read_text(errors="replace")
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def _memory_bytes() -> int:
    try:
        for line in _MEMINFO.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024  # the kernel reports kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def device_identifier(hostname: str | None = None) -> str:
    """This machine's LM Link device identifier, as the server reports and accepts it:
    ``"lmstudio-sdk-"`` and the first 16 hex digits of the SHA-256 of the host name (lower
    case), so that it is stable across restarts and says nothing about the host beyond it."""
    name = (socket.gethostname() if hostname is None else hostname).strip().lower()
    return "lmstudio-sdk-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]


@cache
def machine() -> Machine:
    """This machine's facts (read once: they do not change while the server runs)."""
    fields = _cpuinfo_fields()
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    arch = platform.machine() or "unknown"
    return Machine(
        cpu_name=fields.get("model name") or platform.processor() or None,
        architecture=_ARCHITECTURES.get(arch.lower(), "unknown"),
        instruction_set_extensions=[name for flag, name in _EXTENSIONS.items() if flag in flags],
        logical_cores=os.cpu_count() or 1,
        memory_bytes=_memory_bytes(),
        gpu_names=_nvidia_gpu_names(),
    )


def _nvidia_gpu_names() -> list[str]:
    """The NVIDIA driver's GPUs (``/proc/driver/nvidia/gpus/*/information``); [] elsewhere."""
    names = []
    try:
        folders = sorted(_NVIDIA_GPUS.iterdir())
    except OSError:
        return []
    for folder in folders:
        try:
            text = (folder / "information").read_text(errors="replace")
        except OSError:
            continue
        model = next((line for line in text.splitlines() if line.startswith("Model:")), None)
        names.append(model.partition(":")[2].strip() if model else folder.name)
    return names


def llama_cpp_build() -> str | None:
    """The installed llama-cpp-python version (it pins one llama.cpp build), or None."""
    try:
        return importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        return None
