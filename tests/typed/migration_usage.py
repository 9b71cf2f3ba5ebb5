"""Code written for the official ``lmstudio`` SDK, import changed: type-checked by
``tests/test_typed_user_code.py`` under ``mypy --strict --disallow-any-expr`` (no cast, and no
``Any`` reaching user code)."""

from __future__ import annotations

import lmstudio_sdk as lms


def multiply(a: float, b: float) -> float:
    """Multiply two numbers."""
    return a * b


def convenience_api() -> str:
    lms.configure_default_client("127.0.0.1:1234")
    model: lms.LLM = lms.llm("qwen3-4b", ttl=600)
    chat = lms.Chat("You are a terse assistant.")
    chat.add_user_message("What is 6 times 7?")
    result = model.act(chat, [multiply], on_message=chat.append)
    reply: lms.PredictionResult[lms.JsonValue] = model.respond(chat, on_message=chat.append)
    stats: lms.LlmPredictionStats = reply.stats
    info: lms.LlmInstanceInfo = reply.model_info
    for fragment in model.respond_stream("Count to five"):
        print(fragment.content, end="")
    embedder: lms.EmbeddingModel = lms.embedding_model("nomic-embed-text-v1.5")
    vector: list[float] = embedder.embed("hello")
    image: lms.FileHandle = lms.prepare_image("photo.png")
    chat.add_user_message("Describe this image.", images=[image])
    loaded: list[lms.LLM | lms.EmbeddingModel] = lms.list_loaded_models()
    for downloaded in lms.list_downloaded_models("llm"):
        kind: str = downloaded.type
        print(downloaded.model_key, kind)
    client: lms.Client = lms.get_default_client()
    lms.set_sync_api_timeout(120)
    timeout: float | None = lms.get_sync_api_timeout()
    lms.set_default_client(lms.Client("127.0.0.1:1234"))
    lms.reset_default_client()
    return (
        f"{result.rounds} {stats.tokens_per_second} {info.type} {info.display_name} "
        f"{len(vector)} {len(loaded)} {client.api_host} {timeout}"
    )


def client_api(client: lms.Client) -> int:
    model = client.llm.load_new_instance("qwen3-4b", "my-instance", ttl=60)
    info: lms.LlmInstanceInfo = client.llm.get_model_info("my-instance")
    stream = model.respond_stream("hi")
    stream.start()
    result = stream.wait_for_result()
    stats: lms.LlmPredictionStats | None = stream.stats
    for downloaded in client.llm.list_downloaded():
        handle: lms.LLM = downloaded.model(on_load_progress=print)
        print(handle.identifier)
    try:
        client.llm.unload("my-instance")
    except lms.LMStudioModelNotFoundError as exc:
        print(exc.title)
    except lms.LMStudioWebsocketError:
        pass
    return info.context_length + len(result.content) + (0 if stats is None else 1)


async def async_api() -> str:
    async with lms.AsyncClient("127.0.0.1:1234") as client:
        model = await client.llm.model("qwen3-4b", on_load_progress=print)
        stream = await model.respond_stream("hi")
        async for fragment in stream:
            print(fragment.content)
            await stream.cancel()
        result = await stream.wait_for_result()
        loaded = await client.list_loaded_models("llm")
        image: lms.FileHandle = await client.prepare_image("photo.png")
        return f"{result.content} {len(loaded)} {image.name}"
