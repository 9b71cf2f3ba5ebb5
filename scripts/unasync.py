"""Generate the sync face from the async source: ``_async/`` → ``_sync/`` (source and tests).

    python scripts/unasync.py           # rewrite the generated trees
    python scripts/unasync.py --check   # fail if they drifted (CI)

Only mechanical substitutions: the async source is written so that each construct has a sync
counterpart (see the twins in ``_transport/asyncio.py`` and ``_transport/sync.py``). A
substitution that no file uses any more is reported as an error, so the table cannot rot.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TREES = [
    (ROOT / "src/lmstudio_sdk/_async", ROOT / "src/lmstudio_sdk/_sync"),
    (ROOT / "tests/_async", ROOT / "tests/_sync"),
    (ROOT / "tests/parity/_async", ROOT / "tests/parity/_sync"),
]

# (pattern, replacement), applied in order to every line.
SUBSTITUTIONS: list[tuple[str, str]] = [
    (r"\basync def\b", "def"),
    (r"\basync for\b", "for"),
    (r"\basync with\b", "with"),
    (r"\bawait ", ""),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\b__aiter__\b", "__iter__"),
    (r"\baclose\b", "close"),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\b_transport\.asyncio\b", "_transport.sync"),
    (r"\bfind_local_server_async\b", "find_local_server"),
    (r"\bread_file_async\b", "read_file"),
    (r"\bprobe_greeting_async\b", "probe_greeting"),
    (r"\b(check|run)_async_callback\b", r"\1_callback"),
    (r"\bcall_async_hook\b", "call_hook"),
    (r"\brun_concurrently_async\b", "run_concurrently"),
    (r"\bwait_future_async\b", "wait_future"),
    (r"\blmstudio_sdk\._async\b", "lmstudio_sdk._sync"),
    (r"\b_Async(?=[A-Z])", "_"),
    (r"\bAsync(?=[A-Z])", ""),
]
_COMPILED = [(re.compile(p, re.MULTILINE), r) for p, r in SUBSTITUTIONS]


def header(source: Path) -> str:
    relative = source.relative_to(ROOT)
    return f"# GENERATED from {relative} by scripts/unasync.py. Do not edit: edit the source.\n"


def convert(text: str, used: set[str]) -> str:
    for (pattern, replacement), (raw, _) in zip(_COMPILED, SUBSTITUTIONS, strict=True):
        text, count = pattern.subn(replacement, text)
        if count:
            used.add(raw)
    return text


def expected_outputs() -> tuple[dict[Path, str], set[str]]:
    used: set[str] = set()
    outputs: dict[Path, str] = {}
    for source_dir, target_dir in TREES:
        if not source_dir.exists():
            continue
        for source in sorted(source_dir.rglob("*.py")):
            target = target_dir / source.relative_to(source_dir)
            body = convert(source.read_text(), used)
            outputs[target] = (header(source) + body) if body.strip() else body
    return outputs, used


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the sync tree drifted")
    args = parser.parse_args()

    outputs, used = expected_outputs()
    unused = [raw for raw, _ in SUBSTITUTIONS if raw not in used]
    if unused:
        print(f"unasync: substitutions no file uses any more: {unused}", file=sys.stderr)
        return 1

    stale = [
        path
        for _, target_dir in TREES
        if target_dir.exists()
        for path in target_dir.rglob("*.py")
        if path not in outputs
    ]
    drifted = [p for p, text in outputs.items() if not p.exists() or p.read_text() != text]
    if args.check:
        for path in drifted + stale:
            print(f"unasync: {path.relative_to(ROOT)} is out of date", file=sys.stderr)
        if drifted or stale:
            print("run: python scripts/unasync.py", file=sys.stderr)
            return 1
        return 0
    for path in stale:
        path.unlink()
    for path, text in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"unasync: wrote {len(outputs)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
