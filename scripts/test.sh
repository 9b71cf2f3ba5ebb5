#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up (scripts/bootstrap.sh --dev), then the static
# checks, then pytest (protocol, server, client faces, real llama.cpp inference, conformance of
# the official TypeScript and Python SDKs against our server).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --dev
export PATH="$PWD/.venv/bin:$PATH"

echo "== static checks"
python scripts/unasync.py --check
python scripts/gen_packets.py --check
ruff check .
ruff format --check .
mypy

echo "== tests"
python -m pytest -p no:cacheprovider "$@"
