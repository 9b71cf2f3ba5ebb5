"""Worker side of the pool row (see ``_pool.py``): predictions/s of ``concurrent`` predictions
through an ``AsyncPool`` over all the URLs, alternating with a pool over the first one."""

from __future__ import annotations

import asyncio
import collections

from ._common import CaseResult, JsonDict, Stopwatch

__all__ = ["pool"]


def pool(p: JsonDict) -> dict[str, CaseResult]:
    import lmstudio_sdk as lms

    urls: list[str] = p["urls"]
    key, concurrent, tokens, repeats = p["key"], p["concurrent"], p["tokens"], p["repeats"]
    expected = [f"word{i}" for i in range(tokens)]

    async def round_of(model: lms.AsyncPoolLLM) -> list[str | None]:
        async def one() -> str | None:
            stream = model.respond_stream(f"!long {tokens}")
            result = await stream.result()
            assert result.content.split() == expected, result.content
            return stream.host

        return await asyncio.gather(*(one() for _ in range(concurrent)))

    async def main() -> dict[str, CaseResult]:
        out = {"3 hosts": CaseResult([]), "1 host": CaseResult([])}
        async with (
            lms.AsyncPool(urls, timeout=120) as many,
            lms.AsyncPool(urls[:1], timeout=120) as single,
        ):
            models = {
                "3 hosts": await many.llm.model(key, ttl=None),
                "1 host": await single.llm.model(key, ttl=None),
            }
            for model in models.values():  # warm-up: loads the model on every host
                await round_of(model)
            for _ in range(repeats):
                for label, model in models.items():
                    with Stopwatch() as sw:
                        hosts = await round_of(model)
                    out[label].samples.append(concurrent / sw.wall)
                    per_host = collections.Counter(hosts)
                    out[label].extra.setdefault("per_host", []).append(
                        sorted(per_host.values(), reverse=True)
                    )
        return out

    return asyncio.run(main())
