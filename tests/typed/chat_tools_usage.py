"""Typical user code for Chat, tools and act(): type-checked by ``tests/test_typed_user_code.py``
under ``mypy --strict --disallow-any-expr`` (no cast, and no ``Any`` reaching user code)."""

from __future__ import annotations

import lmstudio_sdk as lms


@lms.tool
def add(a: int, b: int = 1) -> int:
    """Add two numbers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


@lms.tool(name="shout", description="Shout a text.")
async def shout(text: str) -> str:
    return text.upper()


def guard(round_index: int, request: lms.ToolCallRequest) -> lms.GuardDecision:
    if request.name == "add" and round_index > 3:
        return lms.GuardDecision.deny("enough adding")
    return lms.GuardDecision.allow()


def on_result(outcome: lms.ToolCallOutcome, round_index: int) -> None:
    print(round_index, outcome.request.name, outcome.result.content, outcome.error)


def sync_usage(client: lms.Client) -> str:
    total: int = add(2, 3)  # still the function, with its types
    chat = lms.Chat("You are terse.")
    chat.add_user_message("What is 2 + 3?")
    model = client.llm.model("qwen")
    result: lms.ActResult = model.act(
        chat,
        [add],
        max_prediction_rounds=4,
        guard_tool_call=guard,
        on_tool_call_result=on_result,
        on_message=lambda message: print(message.role),
    )
    final: lms.PredictionResult = result.final
    rounds: list[lms.PredictionResult] = result.results
    saved: str = chat.to_json()
    restored: lms.Chat = lms.Chat.from_json(saved)
    for event in model.respond_stream(restored).events():
        if isinstance(event, lms.ToolCallNameReceived):
            print(event.name)
    return f"{total} {final.content} {len(rounds)} {result.rounds}"


async def async_usage(client: lms.AsyncClient) -> str:
    model = await client.llm.model("qwen")
    chat = lms.Chat.from_history([{"role": "user", "content": "hi"}])
    result = await model.act(chat, [add, shout], tool_choice="auto", on_tool_error="raise")
    stream = await model.respond_stream(chat)
    async for fragment in stream:
        print(fragment.content)
    async for event in model.respond_stream(chat).events():
        if isinstance(event, lms.ToolCallGenerationEnded):
            print(event.request.name)
    text: str = await shout("hi")
    return result.content + text
