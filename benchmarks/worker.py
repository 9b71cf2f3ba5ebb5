"""``python -m benchmarks.worker CASE PARAMS_JSON``: run one case, print its result as JSON.

Each case runs in a fresh interpreter started by ``benchmarks.run``, so that libraries under
comparison never share a process, its threads or its garbage.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable

from ._common import SINGLE, CaseResult, JsonDict

# case name → "module:function" (imported on demand)
CASES = {
    "connect": "_cases:connect",
    "rpc": "_cases:rpc",
    "stream": "_cases:stream",
    "gather": "_cases:gather",
    "threads": "_cases:threads",
    "embed": "_cases:embed",
    "capacity": "_cases:capacity",
    "inference-ours": "_inference:ours",
    "inference-direct": "_inference:direct",
    "batching-parallel": "_batching_cases:parallel",
    "batching-prompt-cache": "_batching_cases:prompt_cache",
    "batching-embed": "_batching_cases:embed_batched",
    "pool": "_pool_cases:pool",
}


def main(argv: list[str]) -> int:
    case, params = argv[1], json.loads(argv[2])
    module_name, function_name = CASES[case].split(":")
    module = importlib.import_module(f"benchmarks.{module_name}")
    function: Callable[[JsonDict], CaseResult | dict[str, CaseResult]] = getattr(
        module, function_name
    )
    result = function(params)
    # One result, or one per implementation when a case interleaves several.
    by_impl = result if isinstance(result, dict) else {SINGLE: result}
    sys.stdout.write(json.dumps({k: v.as_json() for k, v in by_impl.items()}) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    # Skip interpreter teardown: a library that leaves a thread behind must not stall the run
    # (the result is already written; both SDKs currently exit cleanly anyway).
    import os

    os._exit(code)
