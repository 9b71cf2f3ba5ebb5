#!/usr/bin/env bash
# The main job on a fresh machine: set up (scripts/bootstrap.sh), then a real streamed chat,
# with LM Studio when one is running here, otherwise with the embedded server and SmolLM2.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/lmstudio-sdk chat "$@"
