"""An MCP server's tools in act(): the model calls them, the MCP server runs them.

    python examples/mcp_tools.py [HOST] [MODEL] [QUESTION] -- CMD ARGS

Needs ``pip install 'lmstudio-sdk[mcp]'``. CMD ARGS start the MCP server (stdio transport), e.g.
``-- python tests/mcp/mcp_server.py`` or ``-- npx -y @modelcontextprotocol/server-everything``.
HOST defaults to discovery on this machine; MODEL to any loaded LLM. Leaving the ``with`` block
stops the MCP server.
"""

from __future__ import annotations

import sys

import lmstudio_sdk as lms


def main(host: str | None, model_key: str | None, question: str, command: list[str]) -> None:
    with lms.Client(host) as client, client.plugins.mcp_tools(command, timeout=30) as mcp:
        print(f"MCP tools: {', '.join(mcp.names)}")
        model = client.llm.model(model_key)
        result = model.act(
            question,
            mcp.tools,
            on_tool_call_result=lambda outcome, _round: print(
                f"[{outcome.request.name}({outcome.request.arguments}) -> {outcome.result.content}]"
            ),
        )
        print(result.content)


if __name__ == "__main__":
    if "--" not in sys.argv:
        sys.exit(__doc__)
    split = sys.argv.index("--")
    args, command = sys.argv[1:split], sys.argv[split + 1 :]
    main(
        args[0] if len(args) > 0 else None,
        args[1] if len(args) > 1 else None,
        args[2] if len(args) > 2 else "What is 2 + 3? Use your tools.",
        command,
    )
