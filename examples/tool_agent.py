"""An agent with two tools: the model calls them, act() runs them and sends back the results.

    python examples/tool_agent.py [HOST] [MODEL] [QUESTION]

HOST defaults to discovery on this machine; MODEL to any loaded LLM. Tools are plain typed
functions: their docstrings and annotations tell the model what they do and take.
"""

from __future__ import annotations

import datetime
import sys

import lmstudio_sdk as lms


@lms.tool
def multiply(a: float, b: float) -> float:
    """Multiply two numbers exactly.

    Args:
        a: The first factor.
        b: The second factor.
    """
    return a * b


@lms.tool
def current_time(timezone_offset_hours: int = 0) -> str:
    """The current date and time.

    Args:
        timezone_offset_hours: Hours east of UTC (0 for UTC).
    """
    zone = datetime.timezone(datetime.timedelta(hours=timezone_offset_hours))
    return datetime.datetime.now(zone).strftime("%Y-%m-%d %H:%M")


def main(host: str | None, model_key: str | None, question: str) -> None:
    chat = lms.Chat("You answer with the help of your tools.")
    chat.add_user_message(question)
    with lms.Client(host) as client:
        model = client.llm.model(model_key)
        result = model.act(
            chat,
            [multiply, current_time],
            max_prediction_rounds=5,
            on_tool_call_result=lambda outcome, round_index: print(
                f"[round {round_index}] {outcome.request.name}({outcome.request.arguments})"
                f" -> {outcome.result.content}"
            ),
        )
    print(result.content)
    print(f"[{result.rounds} rounds, {len(chat)} messages in the chat]")


def arguments() -> tuple[str | None, str | None, str]:
    """HOST, MODEL and QUESTION from the command line; None lets the SDK choose."""
    args = sys.argv[1:4]
    host = args[0] if args else None
    model = args[1] if len(args) > 1 else None
    question = args[2] if len(args) > 2 else "What is 12.5 times 8, and what time is it in UTC?"
    return host, model, question


if __name__ == "__main__":
    main(*arguments())
