"""Write LM Studio plugins in Python: prompt preprocessors, generators and tools providers,
with typed config schematics. See docs/plugins.md.

A plugin is a folder with LM Studio's ``manifest.json`` and ``src/plugin.py``; run it with
``lmstudio-sdk plugin dev DIR`` (registers a development plugin, reloads on change) or
``lmstudio-sdk plugin run DIR`` (with the credentials LM Studio hands a plugin process).
"""

from __future__ import annotations

from .config import CheckboxNumeric, Numeric, Select, Slider, StringArray, Text
from .hooks import (
    GeneratorController,
    HookAborted,
    HookError,
    PreprocessorController,
    StatusHandle,
    ToolCall,
    ToolsProviderController,
    tool_status,
    tool_warn,
)
from .runner import PluginDefinition, PluginLoadError, PluginRunner, load_plugin

__all__ = [
    "CheckboxNumeric",
    "GeneratorController",
    "HookAborted",
    "HookError",
    "Numeric",
    "PluginDefinition",
    "PluginLoadError",
    "PluginRunner",
    "PreprocessorController",
    "Select",
    "Slider",
    "StatusHandle",
    "StringArray",
    "Text",
    "ToolCall",
    "ToolsProviderController",
    "load_plugin",
    "tool_status",
    "tool_warn",
]
