"""/runtime: the engine this server runs and the machine it runs on, described as LM Studio
describes its engines and hardware surveys (real facts: CPU, cores, memory, the GPUs it does
not use, the llama.cpp build)."""

from __future__ import annotations

import sys

import msgspec

from ..._protocol.packets.runtime import (
    CPUInfo,
    CPUSurveyResult,
    GetEngineSelectionsResult,
    GPUSurveyResult,
    GPUSurveyResultResult,
    ListEnginesResultItem,
    SelectEngineParameter,
    SurveyHardwareParameter,
    SurveyHardwareResult,
    SurveyHardwareResultEngine,
    SurveyHardwareResultEngineCompatibility,
    SurveyHardwareResultEngineHardwareSurvey,
    SurveyHardwareResultEngineMemoryInfo,
)
from ..._protocol.packets.shared import GetEngineSelectionsResultItem1, ListEnginesResultItemCpu
from ..._version import __version__
from ..errors import not_supported
from ..local.machine import llama_cpp_build, machine
from .context import CallContext, NamespaceTable, RpcEndpoint

__all__ = ["TABLE"]


_PLATFORMS = {
    "darwin": "mac",
    "win32": "win",
}


class SuperJsonMeta(msgspec.Struct, frozen=True):
    values: list[str]


class SuperJsonMap(msgspec.Struct, frozen=True):
    """superjson's envelope of a ``Map``: its entries, and meta saying they form a map."""

    json: GetEngineSelectionsResult
    meta: SuperJsonMeta = SuperJsonMeta(values=["map"])


def _engine_descriptor(ctx: CallContext) -> GetEngineSelectionsResultItem1:
    # The llama engine's version is the llama.cpp build it runs (llama-cpp-python's version).
    build = llama_cpp_build() if ctx.engine_name == "llama" else None
    return GetEngineSelectionsResultItem1(
        name=f"lmstudio-sdk-{ctx.engine_name}", version=build or __version__
    )


def _platform() -> str:
    return _PLATFORMS.get(sys.platform, "linux")


async def list_engines(ctx: CallContext, _: None) -> list[ListEnginesResultItem]:
    descriptor = _engine_descriptor(ctx)
    facts = machine()
    engine = ListEnginesResultItem(
        name=descriptor.name,
        version=descriptor.version,
        engine=ctx.engine_name,
        platform=_platform(),
        cpu=ListEnginesResultItemCpu(
            architecture=facts.architecture,
            instruction_set_extensions=facts.instruction_set_extensions,
        ),
        supported_model_format_names=["GGUF"],
    )
    return [engine]


def _gpu_survey(gpu_names: list[str]) -> GPUSurveyResult:
    """No GPU for this server's engines: they run on the CPU (the llama engine's
    llama-cpp-python build offloads nothing; see docs/server.md). GPUs the machine has are
    named in the message, not reported as devices the engine uses."""
    present = f" (this machine has {', '.join(gpu_names)})" if gpu_names else ""
    return GPUSurveyResult(
        result=GPUSurveyResultResult(
            code="noDevicesFound",
            message=f"No GPU in use: this server's engines run on the CPU{present}",
        ),
        gpu_info=[],
    )


async def survey_hardware(
    ctx: CallContext, scope: SurveyHardwareParameter | None
) -> SurveyHardwareResult:
    # Every scope (selected, all, custom) names the one engine this server runs.
    descriptor = _engine_descriptor(ctx)
    facts = machine()
    gib = facts.memory_bytes / 2**30
    cpu = CPUSurveyResult(
        result=GPUSurveyResultResult(code="success", message="Surveyed the CPU"),
        cpu_info=CPUInfo(
            name=facts.cpu_name,
            architecture=facts.architecture,
            supported_instruction_set_extensions=facts.instruction_set_extensions,
        ),
    )
    engine = SurveyHardwareResultEngine(
        name=descriptor.name,
        version=descriptor.version,
        engine=ctx.engine_name,
        platform=_platform(),
        compatibility=SurveyHardwareResultEngineCompatibility(
            status="compatible",
            message=f"{facts.cpu_name or facts.architecture}: {facts.logical_cores} logical "
            f"cores, {gib:.1f} GiB RAM; engines run on the CPU only",
        ),
        supported_model_format_names=["GGUF"],
        hardware_survey=SurveyHardwareResultEngineHardwareSurvey(
            gpu_survey_result=_gpu_survey(facts.gpu_names), cpu_survey_result=cpu
        ),
        memory_info=SurveyHardwareResultEngineMemoryInfo(
            ram_capacity=facts.memory_bytes, vram_capacity=0, total_memory=facts.memory_bytes
        ),
    )
    return SurveyHardwareResult(status="ok", engines=[engine])


async def get_engine_selections(ctx: CallContext, _: None) -> SuperJsonMap:
    # The only superjson-serialised endpoint: its Map result travels as entries plus meta.
    return SuperJsonMap(json=[("GGUF", _engine_descriptor(ctx))])


async def select_engine(ctx: CallContext, p: SelectEngineParameter) -> None:
    # This server runs exactly one engine for GGUF: selecting it is a no-op; anything else
    # names an engine (or a format) it does not have.
    descriptor = _engine_descriptor(ctx)
    if p.model_format_name != "GGUF" or p.engine != descriptor:
        raise not_supported(
            "/runtime/selectEngine",
            f"this server runs one engine, {descriptor.name} {descriptor.version}, for GGUF "
            f"only; it cannot select {p.engine.name} {p.engine.version} for "
            f"{p.model_format_name} (engines are chosen with `lmstudio-sdk serve --engine`)",
            suggestion="Call listEngines for the engine this server has.",
        )


TABLE = NamespaceTable(
    "/runtime",
    rpcs={
        "listEngines": RpcEndpoint(list_engines),
        "getEngineSelections": RpcEndpoint(get_engine_selections),
        "surveyHardware": RpcEndpoint(survey_hardware, parameter_optional=True),
        "selectEngine": RpcEndpoint(select_engine),
    },
)
