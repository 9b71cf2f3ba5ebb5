"""Client-side cases against a scripted-engine server; each runs in its own worker process.

Implementations: ``ours-sync`` / ``ours-async`` (lmstudio_sdk), ``official-sync`` /
``official-async`` (lmstudio 1.5.0), ``raw-sync`` / ``raw-async`` (``_raw``). Imports happen
inside the functions so that a worker only loads the library it measures.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from ._common import (
    COUNT_TOKENS_TEXT,
    ECHO_KEY,
    EMBED_KEY,
    SHORT_PROMPT,
    CaseResult,
    JsonDict,
    Stopwatch,
)

if TYPE_CHECKING:
    from ._raw import RawAsync

CLIENT_TIMEOUT = 120.0


def _host(url: str) -> str:
    """``ws://127.0.0.1:1234`` → ``127.0.0.1:1234`` (the official SDK takes a bare host)."""
    return url.removeprefix("ws://")


T = TypeVar("T")


def _run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


# -- connect + first call ----------------------------------------------------------------------


def connect(p: JsonDict) -> CaseResult:
    """Seconds from creating a client to the answer of its first call (``llm.list_loaded``)."""
    impl, url, repeats = p["impl"], p["url"], p["repeats"]
    result = CaseResult([])
    # One discarded warm-up repeat: the first one also pays lazy imports inside the library.
    for i in range(repeats + 1):
        if impl == "ours-sync":
            import lmstudio_sdk

            with Stopwatch() as sw:
                client = lmstudio_sdk.Client(url, timeout=CLIENT_TIMEOUT)
                client.llm.list_loaded()
            client.close()
        elif impl == "ours-async":
            sw = _run_connect_ours_async(url)
        elif impl == "official-sync":
            import lmstudio

            with Stopwatch() as sw:
                official = lmstudio.Client(_host(url))
                official.llm.list_loaded()
            official.close()
        elif impl == "official-async":
            sw = _run_connect_official_async(url)
        else:
            raise ValueError(impl)
        if i > 0:
            result.samples.append(sw.wall)
            result.cpu.append(sw.cpu)
    return result


def _run_connect_ours_async(url: str) -> Stopwatch:
    import lmstudio_sdk

    async def main() -> Stopwatch:
        with Stopwatch() as sw:
            client = lmstudio_sdk.AsyncClient(url, timeout=CLIENT_TIMEOUT)
            await client.llm.list_loaded()
        await client.aclose()
        return sw

    return asyncio.run(main())


def _run_connect_official_async(url: str) -> Stopwatch:
    import lmstudio

    async def main() -> Stopwatch:
        sw = Stopwatch()
        with sw:
            client = lmstudio.AsyncClient(_host(url))
            await client.__aenter__()  # connects every namespace, as its docs prescribe
            await client.llm.list_loaded()
        await client.aclose()
        return sw

    return asyncio.run(main())


# -- RPC round trips ----------------------------------------------------------------------------


def rpc(p: JsonDict) -> dict[str, CaseResult]:
    """Seconds per ``countTokens`` round trip, one call at a time.

    Every implementation in ``impls`` (all of one face) runs in this process, in alternating
    order per repeat, so that a busy phase of the machine hits them alike.
    """
    impls, url, ref, calls, repeats = p["impls"], p["url"], p["ref"], p["calls"], p["repeats"]
    if impls[0].endswith("-async"):
        return _run(_rpc_async(impls, url, ref, calls, repeats))
    loops = {impl: _sync_rpc_loop(impl, url, ref) for impl in impls}
    for loop_once in loops.values():
        loop_once(max(calls // 10, 20))  # warm-up: connection, caches, lazy imports
    results = {impl: CaseResult([]) for impl in impls}
    for repeat in range(repeats):
        for impl in _rotated(impls, repeat):
            with Stopwatch() as sw:
                loops[impl](calls)
            results[impl].samples.append(sw.wall / calls)
            results[impl].cpu.append(sw.cpu / calls)
    return results


def _rotated(items: list[str], shift: int) -> list[str]:
    shift %= len(items)
    return items[shift:] + items[:shift]


def _sync_rpc_loop(impl: str, url: str, ref: str) -> Callable[[int], None]:
    if impl == "ours-sync":
        import lmstudio_sdk

        model = lmstudio_sdk.Client(url, timeout=CLIENT_TIMEOUT).llm.model(ECHO_KEY)

        def ours(count: int) -> None:
            for _ in range(count):
                model.count_tokens(COUNT_TOKENS_TEXT)

        return ours
    if impl == "official-sync":
        import lmstudio

        official = lmstudio.Client(_host(url)).llm.model(ECHO_KEY)

        def theirs(count: int) -> None:
            for _ in range(count):
                official.count_tokens(COUNT_TOKENS_TEXT)

        return theirs
    if impl == "raw-sync":
        from ._raw import RawSync, count_tokens_frame

        raw = RawSync(url + "/llm")
        template = count_tokens_frame(ref, COUNT_TOKENS_TEXT)
        return lambda count: raw.rpc_loop(template, count)
    raise ValueError(impl)


async def _rpc_async(
    impls: list[str], url: str, ref: str, calls: int, repeats: int
) -> dict[str, CaseResult]:
    loops: dict[str, AsyncLoop] = {}
    closers: list[AsyncClose] = []
    try:
        for impl in impls:
            loops[impl], close = await _async_rpc_loop(impl, url, ref)
            closers.append(close)
            await loops[impl](max(calls // 10, 20))
        results = {impl: CaseResult([]) for impl in impls}
        for repeat in range(repeats):
            for impl in _rotated(impls, repeat):
                with Stopwatch() as sw:
                    await loops[impl](calls)
                results[impl].samples.append(sw.wall / calls)
                results[impl].cpu.append(sw.cpu / calls)
        return results
    finally:
        for close in closers:
            await close()


AsyncLoop = Callable[[int], Awaitable[None]]
AsyncClose = Callable[[], Awaitable[None]]


async def _async_rpc_loop(impl: str, url: str, ref: str) -> tuple[AsyncLoop, AsyncClose]:
    if impl == "ours-async":
        import lmstudio_sdk

        client = lmstudio_sdk.AsyncClient(url, timeout=CLIENT_TIMEOUT)
        model = await client.llm.model(ECHO_KEY)

        async def ours(count: int) -> None:
            for _ in range(count):
                await model.count_tokens(COUNT_TOKENS_TEXT)

        return ours, client.aclose
    if impl == "official-async":
        import lmstudio

        official = lmstudio.AsyncClient(_host(url))
        await official.__aenter__()
        handle = await official.llm.model(ECHO_KEY)

        async def theirs(count: int) -> None:
            for _ in range(count):
                await handle.count_tokens(COUNT_TOKENS_TEXT)

        return theirs, official.aclose
    if impl == "raw-async":
        from ._raw import RawAsync, count_tokens_frame

        raw = await RawAsync.connect(url + "/llm")
        template = count_tokens_frame(ref, COUNT_TOKENS_TEXT)

        async def floor(count: int) -> None:
            await raw.rpc_loop(template, count)

        return floor, raw.close
    raise ValueError(impl)


# -- streaming ----------------------------------------------------------------------------------


def stream(p: JsonDict) -> dict[str, CaseResult]:
    """Fragments per second of one long zero-delay prediction (``!long N``); impls alternate."""
    impls, url, ref, tokens, repeats = p["impls"], p["url"], p["ref"], p["tokens"], p["repeats"]
    prompt = f"!long {tokens}"
    if impls[0].endswith("-async"):
        return _run(_stream_async(impls, url, ref, prompt, tokens, repeats))
    predictors = {impl: _sync_predictor(impl, url, ref) for impl in impls}
    for predict in predictors.values():
        predict("!long 50")  # warm-up
    results = {impl: CaseResult([]) for impl in impls}
    for repeat in range(repeats):
        for impl in _rotated(impls, repeat):
            with Stopwatch() as sw:
                fragments = predictors[impl](prompt)
            if fragments != tokens:
                raise RuntimeError(f"{impl}: {fragments} fragments, expected {tokens}")
            results[impl].samples.append(fragments / sw.wall)
            results[impl].cpu.append(sw.cpu / fragments)
    return results


def _sync_predictor(impl: str, url: str, ref: str) -> Callable[[str], int]:
    if impl == "ours-sync":
        import lmstudio_sdk

        model = lmstudio_sdk.Client(url, timeout=CLIENT_TIMEOUT).llm.model(ECHO_KEY)
        return lambda prompt: sum(1 for _ in model.respond_stream(prompt))
    if impl == "official-sync":
        import lmstudio

        official = lmstudio.Client(_host(url)).llm.model(ECHO_KEY)
        return lambda prompt: sum(1 for _ in official.respond_stream(prompt))
    if impl == "raw-sync":
        from ._raw import RawSync, predict_frame

        raw = RawSync(url + "/llm")
        return lambda prompt: raw.predict(predict_frame(ref, prompt))
    raise ValueError(impl)


async def _stream_async(
    impls: list[str], url: str, ref: str, prompt: str, tokens: int, repeats: int
) -> dict[str, CaseResult]:
    predictors: dict[str, AsyncPredict] = {}
    closers: list[AsyncClose] = []
    try:
        for impl in impls:
            predictors[impl], close = await _async_predictor(impl, url, ref)
            closers.append(close)
            await predictors[impl]("!long 50")
        results = {impl: CaseResult([]) for impl in impls}
        for repeat in range(repeats):
            for impl in _rotated(impls, repeat):
                with Stopwatch() as sw:
                    fragments = await predictors[impl](prompt)
                if fragments != tokens:
                    raise RuntimeError(f"{impl}: {fragments} fragments, expected {tokens}")
                results[impl].samples.append(fragments / sw.wall)
                results[impl].cpu.append(sw.cpu / fragments)
        return results
    finally:
        for close in closers:
            await close()


AsyncPredict = Callable[[str], Awaitable[int]]


async def _async_predictor(impl: str, url: str, ref: str) -> tuple[AsyncPredict, AsyncClose]:
    if impl == "ours-async":
        import lmstudio_sdk

        client = lmstudio_sdk.AsyncClient(url, timeout=CLIENT_TIMEOUT)
        model = await client.llm.model(ECHO_KEY)

        async def ours(prompt: str) -> int:
            return sum([1 async for _ in model.respond_stream(prompt)])

        return ours, client.aclose
    if impl == "official-async":
        import lmstudio

        official = lmstudio.AsyncClient(_host(url))
        await official.__aenter__()
        handle = await official.llm.model(ECHO_KEY)

        async def theirs(prompt: str) -> int:
            prediction = await handle.respond_stream(prompt)
            return sum([1 async for _ in prediction])

        return theirs, official.aclose
    if impl == "raw-async":
        from ._raw import RawAsync, predict_frame

        raw = await RawAsync.connect(url + "/llm")

        async def floor(prompt: str) -> int:
            return await raw.predict(predict_frame(ref, prompt))

        return floor, raw.close
    raise ValueError(impl)


# -- concurrency --------------------------------------------------------------------------------


def gather(p: JsonDict) -> CaseResult:
    """Predictions per second with ``level`` concurrent short predictions on one async client."""
    impl, url, level, total, repeats = p["impl"], p["url"], p["level"], p["total"], p["repeats"]

    async def main() -> CaseResult:
        respond, close = await _async_responder(impl, url)
        try:
            await asyncio.gather(*(respond() for _ in range(min(level, 10))))  # warm-up
            rounds = max(1, total // level)
            result = CaseResult([])
            for _ in range(repeats):
                with Stopwatch() as sw:
                    for _ in range(rounds):
                        await asyncio.gather(*(respond() for _ in range(level)))
                done = rounds * level
                result.samples.append(done / sw.wall)
                result.cpu.append(sw.cpu / done)
            return result
        finally:
            await close()

    return _run(main())


AsyncRespond = Callable[[], Awaitable[Any]]


async def _async_responder(impl: str, url: str) -> tuple[AsyncRespond, AsyncClose]:
    if impl == "ours-async":
        import lmstudio_sdk

        client = lmstudio_sdk.AsyncClient(url, timeout=CLIENT_TIMEOUT)
        model = await client.llm.model(ECHO_KEY)

        async def ours() -> Any:
            return await model.respond(SHORT_PROMPT)

        return ours, client.aclose
    if impl == "official-async":
        import lmstudio

        official = lmstudio.AsyncClient(_host(url))
        await official.__aenter__()
        handle = await official.llm.model(ECHO_KEY)

        async def theirs() -> Any:
            return await handle.respond(SHORT_PROMPT)

        return theirs, official.aclose
    raise ValueError(impl)


def threads(p: JsonDict) -> CaseResult:
    """Predictions per second with ``threads`` threads sharing one sync client."""
    impl, url, n_threads, each, repeats = (
        p["impl"],
        p["url"],
        p["threads"],
        p["each"],
        p["repeats"],
    )
    if impl == "ours-sync":
        import lmstudio_sdk

        model: Any = lmstudio_sdk.Client(url, timeout=CLIENT_TIMEOUT).llm.model(ECHO_KEY)
    elif impl == "official-sync":
        import lmstudio

        model = lmstudio.Client(_host(url)).llm.model(ECHO_KEY)
    else:
        raise ValueError(impl)
    start = threading.Barrier(n_threads + 1)

    def work(count: int) -> None:
        start.wait()
        for _ in range(count):
            model.respond(SHORT_PROMPT)

    result = CaseResult([])
    with ThreadPoolExecutor(n_threads) as pool:
        for repeat in range(repeats + 1):
            count = 2 if repeat == 0 else each  # the first round warms up
            futures = [pool.submit(work, count) for _ in range(n_threads)]
            with Stopwatch() as sw:
                start.wait()
                for future in futures:
                    future.result()
            if repeat > 0:
                done = n_threads * count
                result.samples.append(done / sw.wall)
                result.cpu.append(sw.cpu / done)
    return result


# -- embeddings ---------------------------------------------------------------------------------


def embed(p: JsonDict) -> CaseResult:
    """Strings per second embedded by ``model.embed(list_of_strings)``."""
    impl, url, count, repeats = p["impl"], p["url"], p["count"], p["repeats"]
    texts = [f"sentence number {i} about the speed of embeddings" for i in range(count)]
    model: Any
    if impl == "ours-sync":
        import lmstudio_sdk

        model = lmstudio_sdk.Client(url, timeout=CLIENT_TIMEOUT).embedding.model(EMBED_KEY)
    elif impl == "official-sync":
        import lmstudio

        model = lmstudio.Client(_host(url)).embedding.model(EMBED_KEY)
    else:
        raise ValueError(impl)
    model.embed(texts[:20])  # warm-up
    result = CaseResult([])
    for _ in range(repeats):
        with Stopwatch() as sw:
            vectors = model.embed(texts)
        if len(vectors) != count:
            raise RuntimeError(f"{impl}: {len(vectors)} vectors for {count} strings")
        result.samples.append(count / sw.wall)
        result.cpu.append(sw.cpu / count)
    return result


# -- server capacity ---------------------------------------------------------------------------


def capacity(p: JsonDict) -> CaseResult:
    """Predictions per second served to ``clients`` raw connections predicting back to back.

    The load comes from raw websockets clients (the lightest client there is), so that the
    number is the server's, not our client's.
    """
    url, ref, clients, seconds, repeats = (
        p["url"],
        p["ref"],
        p["clients"],
        p["seconds"],
        p["repeats"],
    )
    from ._raw import RawAsync, predict_frame

    template = predict_frame(ref, SHORT_PROMPT)

    async def main() -> CaseResult:
        connections = [await RawAsync.connect(url + "/llm") for _ in range(clients)]
        try:
            await asyncio.gather(*(c.predict(template) for c in connections))  # warm-up
            result = CaseResult([])
            for _ in range(repeats):
                loop = asyncio.get_running_loop()
                deadline = loop.time() + seconds
                counts = [0] * clients

                with Stopwatch() as sw:
                    await asyncio.gather(
                        *(
                            _drive(c, template, deadline, counts, i)
                            for i, c in enumerate(connections)
                        )
                    )
                done = sum(counts)
                result.samples.append(done / sw.wall)
                result.cpu.append(sw.cpu / done)
                result.extra.setdefault("load_generator_cpu_fraction", []).append(
                    round(sw.cpu / sw.wall, 3)
                )
            return result
        finally:
            for connection in connections:
                await connection.close()

    return _run(main())


async def _drive(
    connection: RawAsync, template: str, deadline: float, counts: list[int], index: int
) -> None:
    """Predict back to back on one connection until ``deadline`` (event-loop time)."""
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        await connection.predict(template)
        counts[index] += 1
