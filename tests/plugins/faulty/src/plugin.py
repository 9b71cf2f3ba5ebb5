"""A plugin that misbehaves on demand: the user's message says how."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from lmstudio_sdk import ChatHistoryData
from lmstudio_sdk.plugin import (
    CheckboxNumeric,
    GeneratorController,
    HookError,
    Numeric,
    PreprocessorController,
    Select,
    Slider,
    StringArray,
    Text,
    ToolCall,
    ToolsProviderController,
    tool_status,
    tool_warn,
)


@dataclass
class Config:
    """Every field type, read back typed by the hooks."""

    count: Annotated[int, Numeric(min=0, max=10, slider=Slider(0, 10, 1))] = 2
    ratio: float = 0.5
    name: Annotated[str, Text(max_length=20)] = "abc"
    loud: bool = False
    tags: Annotated[list[str], StringArray(max_items=3)] = field(default_factory=lambda: ["x"])
    mode: Annotated[str, Select(["short", "long"])] = "short"
    budget: Annotated[float | None, CheckboxNumeric(min=0)] = None


@dataclass
class GlobalConfig:
    greeting: str = "hello"


async def preprocess_prompt(ctl: PreprocessorController[Config, GlobalConfig], text: str) -> str:
    if text == "raise":
        raise ValueError("the faulty plugin raised")
    if text == "typed":
        raise HookError("a typed refusal", suggestion="ask nicely")
    if text == "hang":
        await asyncio.sleep(3600)
    if text == "exit":
        os._exit(3)
    if text == "history":
        history = await ctl.pull_history()
        return f"history has {len(history.messages)} message(s)"
    c = ctl.config
    values = [c.count, c.ratio, c.name, c.loud, c.tags, c.mode, c.budget]
    kinds = [type(v).__name__ for v in values]
    ctl.status("typed", "done")
    return f"{text} | {values} | {kinds} | {ctl.global_config.greeting}"


def generate(
    ctl: GeneratorController[Config, GlobalConfig], history: ChatHistoryData
) -> AsyncIterator[str | ToolCall]:
    async def items() -> AsyncIterator[str | ToolCall]:
        last = history.messages[-1]
        if last.role == "tool":  # act(): the results of the calls it made
            yield "the tool said " + ", ".join(getattr(p, "content", "") for p in last.content)
            return
        text = "".join(getattr(p, "text", "") for p in last.content)
        if text == "raise":
            raise RuntimeError("the faulty generator raised")
        if text == "hang":
            await asyncio.sleep(3600)
        for word in text.split():
            yield word.upper() + " "
        if ctl.tool_definitions:
            yield ToolCall(ctl.tool_definitions[0].function.name, {"a": 1}, id="call-1")

    return items()


def add(a: float, b: float) -> float:
    tool_status(f"adding {a} and {b}")
    return a + b


async def slow(seconds: float) -> str:
    tool_warn("this takes a while")
    await asyncio.sleep(seconds)
    return "slept"


def boom() -> None:
    raise KeyError("boom")


def double(x: int) -> int:
    """Double a number.

    Args:
        x: The number.
    """
    return 2 * x


def provide_tools(ctl: ToolsProviderController[Config, GlobalConfig]) -> list[Any]:
    number = {"type": "number"}
    scale = ctl.config.count
    return [
        {
            "name": "add",
            "description": f"Add two numbers (config count={scale})",
            "parameters": {"properties": {"a": number, "b": number}, "required": ["a", "b"]},
            "implementation": add,
        },
        {
            "name": "slow",
            "description": "Sleep",
            "parameters": {"properties": {"seconds": number}, "required": ["seconds"]},
            "implementation": slow,
        },
        {"name": "boom", "description": "Fail", "parameters": {}, "implementation": boom},
        double,  # a typed function, as act() takes it
    ]
