"""A plugin written for the official Python SDK 1.5's runner (``python -m lmstudio.plugin``)."""

from __future__ import annotations

from typing import Any

from lmstudio.plugin import BaseConfigSchema, config_field


class ConfigSchema(BaseConfigSchema):
    prefix: str = config_field(label="Prefix", hint="Put before the message", default="official")


async def preprocess_prompt(ctl: Any, message: Any) -> dict[str, Any]:
    status = await ctl.notify_start("preprocessing")
    text = "".join(getattr(part, "text", "") for part in message.content)
    await status.notify_done("preprocessed")
    return {
        "role": "user",
        "content": [{"type": "text", "text": f"{ctl.plugin_config.prefix}: {text}"}],
    }
