"""``enableThinking`` and the reasoning budget: honoured where the chat template supports
them, refused with a typed error naming the key where it does not (SmolLM2's own template)."""

from __future__ import annotations

from typing import Any

import pytest

from lmstudio_sdk.server.engines.base import FragmentGenerated, PredictionRequest
from lmstudio_sdk.server.errors import ServerError

from .conftest import chat, predict_config, requires_engine
from .helpers import collect, finished

pytestmark = [pytest.mark.llama, requires_engine]

# ChatML (SmolLM2's format) with a Qwen3-style switch: thinking opens a <think> block.
THINKING_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking %}<think>\n{% endif %}{% endif %}"
)
TEMPLATE = {
    "type": "jinja",
    "jinjaPromptTemplate": {"template": THINKING_TEMPLATE},
    "stopStrings": [],
}
HISTORY = chat(("user", "Why is the sky blue?"))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("reasoning.enableThinking", False),
        ("reasoning.budgetTokens", {"checked": True, "value": 8}),
    ],
)
async def test_refused_where_the_template_cannot_think(smol: Any, key: str, value: Any) -> None:
    with pytest.raises(ServerError) as caught:
        await collect(
            smol, PredictionRequest(config=predict_config(4, **{key: value}), history=HISTORY)
        )
    assert caught.value.title.startswith(f"llm.prediction.{key} is not supported")
    assert caught.value.display_data is not None
    assert caught.value.display_data["code"] == "generic.engineDoesNotSupportFeature"
    assert caught.value.display_data["feature"] == f"llm.prediction.{key}"


async def test_enable_thinking_reaches_the_template(smol: Any) -> None:
    def config(thinking: bool) -> Any:
        return predict_config(2, promptTemplate=TEMPLATE, **{"reasoning.enableThinking": thinking})

    off = await collect(smol, PredictionRequest(config=config(False), history=HISTORY))
    on = await collect(smol, PredictionRequest(config=config(True), history=HISTORY))
    assert finished(on).prompt_tokens_count > finished(off).prompt_tokens_count
    assert all(e.reasoning_type == "reasoning" for e in on if isinstance(e, FragmentGenerated))


async def test_the_reasoning_budget_closes_the_reasoning(smol: Any) -> None:
    config = predict_config(
        16,
        promptTemplate=TEMPLATE,
        **{
            "reasoning.enableThinking": True,
            "reasoning.budgetTokens": {"checked": True, "value": 3},
        },
    )
    events = await collect(smol, PredictionRequest(config=config, history=HISTORY))
    fragments = [e for e in events if isinstance(e, FragmentGenerated)]
    reasoning = [f for f in fragments if f.reasoning_type == "reasoning"]
    assert sum(f.tokens_count for f in reasoning) <= 3
    assert [f.content for f in fragments if f.reasoning_type == "reasoningEndTag"] == ["</think>"]
