"""A generator: replaces the model by proxying the chat to another model of the same server,
streaming its fragments back (and prefixing them, to show it is the plugin answering).

Run it:  lmstudio-sdk plugin dev examples/plugins/proxy_generator
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from lmstudio_sdk import AsyncClient, ChatHistoryData
from lmstudio_sdk.plugin import GeneratorController, Text


@dataclass
class Config:
    model: Annotated[str, Text(label="Model", hint="Key of the model to proxy to")] = (
        "scripted-echo-1b"
    )
    prefix: str = "[proxy] "


async def generate(
    ctl: GeneratorController[Config, None], history: ChatHistoryData
) -> AsyncIterator[str]:
    # The plugin's own server: LM Studio (and `lmstudio-sdk plugin dev`) set this variable.
    async with AsyncClient(os.environ.get("LMS_PLUGIN_BASE_URL") or None) as client:
        model = await client.llm.model(ctl.config.model)
        yield ctl.config.prefix
        async for fragment in model.respond_stream(history):
            yield fragment.content
