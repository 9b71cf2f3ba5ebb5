"""The pool row: 60 concurrent predictions through ``AsyncPool`` over three ``serve`` processes
vs the same pool over one of them (throughput ratio, target >= 2.7x).

Each server is the scripted engine with a fixed token delay, which serves one prediction per
model at a time (it has no parallel slots; the server queues the rest): a host is the
bottleneck, as a GPU host is, so the ratio shows how well the pool spreads the work and what
its routing costs. Both sides alternate repeat by repeat inside one worker (``_pool_cases``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._common import ECHO_KEY, CaseResult

if TYPE_CHECKING:
    from .run import Bench

__all__ = ["bench_pool"]

GROUP = "pool"
CONCURRENT = 60
TOKENS = 10
TOKEN_DELAY = "0.01"  # seconds per token: 0.1 s per prediction


def bench_pool(b: Bench) -> None:
    b.log(f"pool: {CONCURRENT} concurrent predictions, 3 hosts vs 1")
    with (
        b.server("--engine", "scripted", "--token-delay", TOKEN_DELAY) as one,
        b.server("--engine", "scripted", "--token-delay", TOKEN_DELAY) as two,
        b.server("--engine", "scripted", "--token-delay", TOKEN_DELAY) as three,
    ):
        results = b.cases(
            "pool",
            {
                "impls": ["3 hosts", "1 host"],
                "urls": [one.url, two.url, three.url],
                "key": ECHO_KEY,
                "concurrent": CONCURRENT,
                "tokens": TOKENS,
                "repeats": max(2, b.plan.gather_repeats),
            },
        )
    note = (
        f"AsyncPool, {CONCURRENT} respond_stream('!long {TOKENS}') at once, scripted engine at "
        f"{TOKEN_DELAY} s/token (one prediction per host at a time)"
    )
    three_hosts = results["3 hosts"]
    if isinstance(three_hosts, CaseResult) and three_hosts.extra.get("per_host"):
        note += f"; predictions per host: {three_hosts.extra['per_host'][-1]}"
    b.add(
        GROUP,
        f"pool: {CONCURRENT} concurrent predictions, 3 hosts vs 1",
        "pred/s",
        "higher",
        ("3 hosts", three_hosts),
        ("1 host", results["1 host"]),
        target=2.7,
        with_cpu=False,
        note=note,
    )
