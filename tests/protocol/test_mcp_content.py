"""What the model sees of an MCP tool's result (``_protocol/mcp.py``), block by block, in the
JSON form the MCP session hands over (``CallToolResult.model_dump(mode="json", by_alias=True)``)."""

from __future__ import annotations

from lmstudio_sdk._protocol.mcp import call_result, describe_content, progress_text

IMAGE = {"type": "image", "data": "aGVsbG8=", "mimeType": "image/png"}


def test_each_content_block_is_text_for_the_model() -> None:
    assert describe_content({"type": "text", "text": "hi"}) == "hi"
    assert describe_content(IMAGE) == "[image: image/png, 5 bytes]"
    audio = {"type": "audio", "data": "AAAA", "mimeType": "audio/wav"}
    assert describe_content(audio) == "[audio: audio/wav, 3 bytes]"
    link = {"type": "resource_link", "uri": "file:///a.txt", "name": "a", "mimeType": "text/plain"}
    assert describe_content(link) == "[resource link: a <file:///a.txt> (text/plain)]"
    text = {"type": "resource", "resource": {"uri": "file:///b.md", "text": "# B"}}
    assert describe_content(text) == "# B"
    blob = {"uri": "file:///c.bin", "blob": "AAECAw==", "mimeType": "application/octet-stream"}
    assert describe_content({"type": "resource", "resource": blob}) == (
        "[resource: file:///c.bin, application/octet-stream, 4 bytes]"
    )
    assert describe_content({"type": "hologram"}) == "[hologram content]"


def test_structured_content_wins_and_errors_keep_their_text() -> None:
    blocks = [{"type": "text", "text": "5"}]
    assert call_result(blocks, {"result": 5}, False).value == {"result": 5}
    assert call_result(blocks, None, False).value == "5"
    both = call_result([IMAGE, {"type": "text", "text": "caption"}], None, False)
    assert both.value == "[image: image/png, 5 bytes]\n\ncaption"
    failed = call_result([{"type": "text", "text": "boom"}], {"x": 1}, True)
    assert failed.is_error and failed.value == "boom" and failed.text == "boom"


def test_progress_notifications_as_status_text() -> None:
    assert progress_text(3, 10, None) == "progress 3/10"
    assert progress_text(0.5, None, None) == "progress 0.5"
    assert progress_text(1, 2, "halfway") == "halfway"
