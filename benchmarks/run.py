"""``python -m benchmarks.run [--quick] [--out DIR] [--models-dir DIR] [--pin]``

Starts its own servers (``lmstudio-sdk serve`` subprocesses), runs every case in a fresh worker
process and writes ``latest.json`` and ``latest.md`` into ``--out``. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ._batching import bench_batching
from ._common import (
    ECHO_KEY,
    EMBED_KEY,
    REPO_ROOT,
    SINGLE,
    CaseResult,
    JsonDict,
    ServerProcess,
    Summary,
    WorkerError,
    cpu_layout,
    pin_command,
    run_worker,
)
from ._llama_models import default_models_dir, find_model, llama_model_key
from ._pool import bench_pool
from ._report import Better, Row, write

WORKER_TIMEOUT = 240.0


@dataclass(frozen=True)
class Plan:
    """How much of everything to measure."""

    import_repeats: int
    connect_repeats: int
    rpc_calls: int
    rpc_repeats: int
    stream_tokens: int
    stream_repeats: int
    gather_total: int
    gather_repeats: int
    thread_count: int
    thread_each: int
    thread_repeats: int
    embed_count: int
    embed_repeats: int
    infer_tokens: int
    infer_repeats: int
    capacity_clients: int
    capacity_seconds: float
    capacity_repeats: int


FULL = Plan(
    import_repeats=15,
    connect_repeats=20,
    rpc_calls=2000,
    rpc_repeats=11,
    stream_tokens=2000,
    stream_repeats=9,
    gather_total=300,
    gather_repeats=5,
    thread_count=8,
    thread_each=25,
    thread_repeats=5,
    embed_count=1000,
    embed_repeats=5,
    infer_tokens=128,
    infer_repeats=5,
    capacity_clients=50,
    capacity_seconds=4.0,
    capacity_repeats=3,
)
QUICK = Plan(
    import_repeats=3,
    connect_repeats=3,
    rpc_calls=1000,
    rpc_repeats=3,
    stream_tokens=2000,
    stream_repeats=3,
    gather_total=100,
    gather_repeats=2,
    thread_count=8,
    thread_each=10,
    thread_repeats=2,
    embed_count=1000,
    embed_repeats=2,
    infer_tokens=64,
    infer_repeats=2,
    capacity_clients=50,
    capacity_seconds=2.0,
    capacity_repeats=2,
)


class Bench:
    """Runs workers with the chosen CPU placement and turns their results into rows."""

    def __init__(self, plan: Plan, pin: bool) -> None:
        self.plan = plan
        self.server_cpu, self.client_cpu = cpu_layout(pin)
        self.rows: list[Row] = []
        self.notes: list[str] = []

    def log(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def server(self, *args: str) -> ServerProcess:
        return ServerProcess(*args, cpu=self.server_cpu)

    def case(self, case: str, params: JsonDict) -> CaseResult | str:
        """The worker's result, or why there is none."""
        return self.cases(case, params)[SINGLE]

    def cases(
        self, case: str, params: JsonDict, *, timeout: float = WORKER_TIMEOUT
    ) -> dict[str, CaseResult | str]:
        """Results by implementation of a case that interleaves ``params["impls"]``."""
        label = params.get("impl") or "+".join(params.get("impls", []))
        keys = params.get("impls", [SINGLE])
        started = time.perf_counter()
        try:
            results = run_worker(case, params, cpu=self.client_cpu, timeout=timeout)
        except WorkerError as exc:
            self.log(f"  {case} {label}: {exc}")
            return dict.fromkeys([*keys, SINGLE], str(exc))
        self.log(f"  {case} {label}: {time.perf_counter() - started:.1f} s")
        return dict(results)

    def add(
        self,
        group: str,
        name: str,
        unit: str,
        better: Better,
        ours: tuple[str, CaseResult | str],
        baseline: tuple[str, CaseResult | str],
        *,
        target: float | None = None,
        with_cpu: bool = True,
        note: str = "",
    ) -> Row:
        row = Row(group, name, unit, better, ours[0], baseline[0], target=target, note=note)
        errors = list(dict.fromkeys(r for r in (ours[1], baseline[1]) if isinstance(r, str)))
        if isinstance(ours[1], CaseResult):
            row.ours = Summary.of(ours[1].samples)
            if with_cpu and ours[1].cpu:
                row.ours_cpu = Summary.of(ours[1].cpu)
        if isinstance(baseline[1], CaseResult):
            row.baseline = Summary.of(baseline[1].samples)
            if with_cpu and baseline[1].cpu:
                row.baseline_cpu = Summary.of(baseline[1].cpu)
        if errors:
            row.note = "; ".join([*errors, note] if note else errors)
        self.rows.append(row)
        return row


# -- import ---------------------------------------------------------------------------------------

# Runs in a fresh interpreter: wall time and resident-memory growth of importing a package and
# touching its ``Client`` (so that a package that defers its imports is still measured fairly).
IMPORT_PROBE = """
import json, resource, sys, time
def rss():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before = rss()
start = time.perf_counter()
module = __import__(sys.argv[1])
module.Client
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "rss": rss() - before}))
"""


def compile_bytecode(*modules: str) -> None:
    """Write the .pyc files an installed wheel would have.

    An editable install under PYTHONDONTWRITEBYTECODE (set on this workplace) would otherwise
    recompile every changed module on each import, while pip compiled the official SDK at
    install time: measuring that would compare compilers, not imports.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for module in modules:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            subprocess.run(
                [sys.executable, "-m", "compileall", "-q", location],
                env=env,
                capture_output=True,
                check=True,
            )


def bench_import(b: Bench) -> None:
    b.log("import")
    compile_bytecode("lmstudio_sdk", "lmstudio")
    samples: dict[str, tuple[list[float], list[float]]] = {
        "lmstudio_sdk": ([], []),
        "lmstudio": ([], []),
    }
    # Alternate the two modules so that slow phases of the machine hit both alike.
    for _ in range(b.plan.import_repeats):
        for module, (seconds, rss) in samples.items():
            command = pin_command([sys.executable, "-c", IMPORT_PROBE, module], b.client_cpu)
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            data = json.loads(done.stdout)
            seconds.append(data["seconds"])
            rss.append(data["rss"] / 1e6)
    ours = samples["lmstudio_sdk"]
    theirs = samples["lmstudio"]
    metrics = (("import + .Client: wall time", "s"), ("import + .Client: RSS growth", "MB"))
    for index, (name, unit) in enumerate(metrics):
        b.add(
            "import",
            name,
            unit,
            "lower",
            ("lmstudio_sdk", CaseResult(ours[index])),
            ("lmstudio 1.5.0", CaseResult(theirs[index])),
            target=0.5,
            with_cpu=False,
        )


# Runs in a fresh interpreter: resident-memory growth of importing a package and building a
# ``Client`` for a plain ws:// address (neither client connects before its first call).
CLIENT_RSS_PROBE = """
import json, resource, sys
def rss():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before = rss()
module = __import__(sys.argv[1])
client = module.Client("127.0.0.1:1234")
print(json.dumps({"rss": rss() - before}))
"""


def bench_client_rss(b: Bench) -> None:
    """import + ``Client(...)``: RSS growth, ours against the official SDK, interleaved."""
    b.log("client_rss")
    compile_bytecode("lmstudio_sdk", "lmstudio")
    samples: dict[str, list[float]] = {"lmstudio_sdk": [], "lmstudio": []}
    for _ in range(b.plan.import_repeats):
        for module, rss in samples.items():
            command = pin_command([sys.executable, "-c", CLIENT_RSS_PROBE, module], b.client_cpu)
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            rss.append(json.loads(done.stdout)["rss"] / 1e6)
    b.add(
        "import",
        "import + Client(): RSS growth",
        "MB",
        "lower",
        ("lmstudio_sdk", CaseResult(samples["lmstudio_sdk"])),
        ("lmstudio 1.5.0", CaseResult(samples["lmstudio"])),
        target=0.5,
        with_cpu=False,
    )


# -- protocol-bound rows (scripted engine) --------------------------------------------------------


def preload(url: str) -> str:
    """Load the scripted models once (no TTL); the LLM's instance reference, for raw clients."""
    import lmstudio_sdk

    with lmstudio_sdk.Client(url, timeout=60) as client:
        model = client.llm.model(ECHO_KEY, ttl=None)
        client.embedding.model(EMBED_KEY, ttl=None)
        assert model.info is not None
        return model.info.instance_reference


def bench_protocol(b: Bench) -> None:
    p = b.plan
    b.log("connect + first call")
    with b.server("--engine", "scripted") as server:
        preload(server.url)
        base = {"url": server.url, "repeats": p.connect_repeats}
        for face in ("sync", "async"):
            ours = b.case("connect", {**base, "impl": f"ours-{face}"})
            theirs = b.case("connect", {**base, "impl": f"official-{face}"})
            b.add(
                "connect",
                f"connect + first call ({face})",
                "s",
                "lower",
                (f"ours {face}", ours),
                (f"official {face}", theirs),
            )

    b.log("RPC round trip (countTokens)")
    with b.server("--engine", "scripted") as server:
        ref = preload(server.url)
        base = {"url": server.url, "ref": ref, "calls": p.rpc_calls, "repeats": p.rpc_repeats}
        for face in ("sync", "async"):
            # Ours and raw interleave in one worker (the target compares them); the official
            # SDK gets its own process, so that its threads never run beside ours.
            paired = b.cases("rpc", {**base, "impls": [f"ours-{face}", f"raw-{face}"]})
            ours, raw = paired[f"ours-{face}"], paired[f"raw-{face}"]
            theirs = b.cases("rpc", {**base, "impls": [f"official-{face}"]})[f"official-{face}"]
            name = f"RPC round trip, countTokens ({face})"
            b.add(
                "rpc", name, "s", "lower", (f"ours {face}", ours), (f"raw {face}", raw), target=1.1
            )
            b.add(
                "rpc",
                f"{name} vs official",
                "s",
                "lower",
                (f"ours {face}", ours),
                (f"official {face}", theirs),
            )

    b.log(f"streaming (!long {p.stream_tokens})")
    with b.server("--engine", "scripted") as server:
        ref = preload(server.url)
        base = {
            "url": server.url,
            "ref": ref,
            "tokens": p.stream_tokens,
            "repeats": p.stream_repeats,
        }
        for face in ("sync", "async"):
            paired = b.cases("stream", {**base, "impls": [f"ours-{face}", f"raw-{face}"]})
            ours, raw = paired[f"ours-{face}"], paired[f"raw-{face}"]
            theirs = b.cases("stream", {**base, "impls": [f"official-{face}"]})[f"official-{face}"]
            name = f"streaming fragments/s ({face})"
            b.add(
                "stream",
                name,
                "frag/s",
                "higher",
                (f"ours {face}", ours),
                (f"raw {face}", raw),
                target=0.9,
            )
            b.add(
                "stream",
                f"{name} vs official",
                "frag/s",
                "higher",
                (f"ours {face}", ours),
                (f"official {face}", theirs),
            )

    b.log("concurrency")
    with b.server("--engine", "scripted") as server:
        preload(server.url)
        for level in (1, 10, 100):
            params = {
                "url": server.url,
                "level": level,
                "total": max(p.gather_total, level),
                "repeats": p.gather_repeats,
            }
            ours = b.case("gather", {**params, "impl": "ours-async"})
            theirs = b.case("gather", {**params, "impl": "official-async"})
            b.add(
                "concurrency",
                f"{level} concurrent predictions, one async client",
                "pred/s",
                "higher",
                ("ours async", ours),
                ("official async", theirs),
            )
        params = {
            "url": server.url,
            "threads": p.thread_count,
            "each": p.thread_each,
            "repeats": p.thread_repeats,
        }
        ours = b.case("threads", {**params, "impl": "ours-sync"})
        theirs = b.case("threads", {**params, "impl": "official-sync"})
        b.add(
            "concurrency",
            f"{p.thread_count} threads sharing one sync client",
            "pred/s",
            "higher",
            ("ours sync", ours),
            ("official sync", theirs),
        )

    b.log(f"embedding {p.embed_count} strings")
    with b.server("--engine", "scripted") as server:
        preload(server.url)
        params = {"url": server.url, "count": p.embed_count, "repeats": p.embed_repeats}
        ours = b.case("embed", {**params, "impl": "ours-sync"})
        theirs = b.case("embed", {**params, "impl": "official-sync"})
        b.add(
            "embed",
            f"embed {p.embed_count} strings (sync)",
            "str/s",
            "higher",
            ("ours sync", ours),
            ("official sync", theirs),
            target=5.0,
        )


def bench_capacity(b: Bench) -> None:
    p = b.plan
    b.log(f"server capacity ({p.capacity_clients} clients)")
    with b.server("--engine", "scripted") as server:
        ref = preload(server.url)
        params = {
            "url": server.url,
            "ref": ref,
            "seconds": p.capacity_seconds,
            "repeats": p.capacity_repeats,
        }
        many = b.case("capacity", {**params, "clients": p.capacity_clients})
        one = b.case("capacity", {**params, "clients": 1})
    note = "load from raw websockets clients in one process"
    if isinstance(many, CaseResult):
        fractions = many.extra.get("load_generator_cpu_fraction", [])
        if fractions and min(fractions) > 0.9:
            note += " (the load generator was CPU-bound: the server may have more headroom)"
    b.add(
        "capacity",
        f"server capacity, {p.capacity_clients} clients, short replies",
        "pred/s",
        "higher",
        (f"{p.capacity_clients} clients", many),
        ("1 client", one),
        with_cpu=False,
        note=note,
    )


# -- real inference -------------------------------------------------------------------------------


def bench_inference(b: Bench, models_dir: Path) -> None:
    p = b.plan
    b.log("real inference (llama.cpp)")
    names = ("inference: decode tokens/s", "inference: time to first token")
    skip_reason = ""
    model_path = find_model(models_dir)
    if importlib.util.find_spec("llama_cpp") is None:
        skip_reason = "llama-cpp-python is not installed (pip install 'lmstudio-sdk[server]')"
    elif model_path is None:
        skip_reason = (
            f"no SmolLM2 GGUF in {models_dir}: run `lmstudio-sdk models install smollm2 "
            f"--models-dir {models_dir}` or pass --models-dir"
        )
    if skip_reason:
        betters: tuple[Better, Better] = ("higher", "lower")
        for name, unit, better in zip(names, ("tok/s", "s"), betters, strict=True):
            b.add(
                "inference",
                name,
                unit,
                better,
                ("ours sync", skip_reason),
                ("llama-cpp-python", skip_reason),
            )
        return
    assert model_path is not None
    params = {"max_tokens": p.infer_tokens, "repeats": p.infer_repeats}
    # Direct first, before the llama server exists, so that nothing else holds a core.
    direct = b.case("inference-direct", {**params, "model_path": str(model_path)})
    with b.server("--engine", "llama", "--models-dir", str(models_dir), "--threads", "1") as srv:
        key = llama_model_key(srv.url, model_path)
        ours = b.case("inference-ours", {**params, "url": srv.url, "key": key})
    note = ""
    if isinstance(ours, CaseResult) and isinstance(direct, CaseResult):
        same = ours.extra["text"] == direct.extra["text"]
        note = (
            f"{p.infer_tokens} tokens max, tokens generated: ours {ours.extra['tokens']}, "
            f"direct {direct.extra['tokens']}; same text: {'yes' if same else 'no'}"
        )
    b.add(
        "inference",
        names[0],
        "tok/s",
        "higher",
        ("ours sync", ours),
        ("llama-cpp-python", direct),
        target=0.95,
        with_cpu=False,
        note=note,
    )
    ttft: list[tuple[str, CaseResult | str]] = []
    for label, result in (("ours sync", ours), ("llama-cpp-python", direct)):
        ttft.append(
            (label, CaseResult(result.extra["ttft"]) if isinstance(result, CaseResult) else result)
        )
    row = b.add("inference", names[1], "s", "lower", ttft[0], ttft[1], target=0.010, with_cpu=False)
    row.difference = True


# -- machine -------------------------------------------------------------------------------------


def machine_info(mode: str, b: Bench) -> JsonDict:
    cpu_model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str] = {}
    for dist in ("lmstudio-sdk", "lmstudio", "websockets", "msgspec", "llama_cpp_python"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    ).stdout.strip()
    placement = (
        f"server pinned to CPU {b.server_cpu}, clients to CPU {b.client_cpu}"
        if b.server_cpu is not None
        else "no CPU pinning"
    )
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_model": cpu_model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "commit": commit or "unknown",
        "mode": mode,
        "placement": placement,
    }


BUSY_LOAD = 1.0  # 1-minute load average above which another process is competing


def _load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:  # not available on this platform
        return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (about 1.5 min)")
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "benchmarks" / "results", help="output folder"
    )
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=None,
        help="where the SmolLM2 GGUF is (default: the server's, e.g. $LMSTUDIO_SDK_MODELS_DIR)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the server to the last core and the clients to the first (see README)",
    )
    parser.add_argument(
        "--only",
        choices=("import", "client_rss", "protocol", "capacity", "inference", "batching", "pool"),
        action="append",
        help="run only these groups (repeatable)",
    )
    args = parser.parse_args(argv)
    bench = Bench(QUICK if args.quick else FULL, pin=args.pin)
    groups: dict[str, Callable[[], None]] = {
        "import": lambda: bench_import(bench),
        "client_rss": lambda: bench_client_rss(bench),
        "protocol": lambda: bench_protocol(bench),
        "capacity": lambda: bench_capacity(bench),
        "inference": lambda: bench_inference(bench, args.models_dir or default_models_dir()),
        "batching": lambda: bench_batching(bench, args.models_dir or default_models_dir()),
        "pool": lambda: bench_pool(bench),
    }
    load_before = _load_average()
    started = time.perf_counter()
    for name, run_group in groups.items():
        if args.only is None or name in args.only:
            run_group()
    elapsed = time.perf_counter() - started
    bench.notes.append(f"the whole run took {elapsed:.0f} s")
    machine = machine_info("quick" if args.quick else "full", bench)
    machine["load_average_before"] = load_before
    machine["load_average_after"] = _load_average()
    if load_before > BUSY_LOAD:
        bench.notes.append(
            f"the machine was busy when the run started (1-min load average {load_before:.2f} "
            f"on {os.cpu_count()} cores): other processes competed for the CPU, expect noise"
        )
    write(args.out, bench.rows, machine, bench.notes)
    print((args.out / "latest.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
