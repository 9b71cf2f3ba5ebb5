#!/usr/bin/env bash
# Install the embedded server's inference engine, llama-cpp-python 0.3.36, into the current
# Python environment (the `python` on PATH, or $PYTHON).
#
# Why a script: PyPI has no binary wheel of llama-cpp-python, so `pip install` compiles
# llama.cpp from the sdist, which takes ~7.5 minutes on 2 cores. About two thirds of that is
# llama.cpp's "common" library and its HTTP client (cpp-httplib + OpenSSL), which the Python
# package never loads: it only uses libllama, libggml* and libmtmd. The sdist's CMakeLists.txt
# FORCE-sets LLAMA_BUILD_COMMON=ON, so CMAKE_ARGS cannot turn it off; this script downloads the
# sdist, flips that one line, and builds with OpenSSL off. Same libraries, same speed, ~2.5 min.
#
# It also builds for a portable x86-64 baseline (AVX2/FMA/F16C/BMI2) instead of the build
# machine's exact CPU (GGML_NATIVE), so the result can be cached or copied to another machine
# without crashing with SIGILL. Set LMSTUDIO_SDK_NATIVE_BUILD=1 to tune for this CPU instead.
#
# If anything in the patched path fails (no network for the sdist, the line to patch moved),
# it falls back to a plain `pip install llama-cpp-python==0.3.36` (slow but standard).
# It does nothing when that version is already installed.
#
# Usage: scripts/install-engine.sh            (uses `python`, or $PYTHON)
#        PYTHON=/path/to/venv/bin/python scripts/install-engine.sh
set -euo pipefail

VERSION="0.3.36"
PYTHON="${PYTHON:-python}"

log() { printf 'install-engine: %s\n' "$*" >&2; }

installed="$("$PYTHON" - <<'EOF' 2>/dev/null || true
from importlib.metadata import PackageNotFoundError, version
try:
    print(version("llama-cpp-python"))
except PackageNotFoundError:
    pass
EOF
)"
if [[ "$installed" == "$VERSION" ]]; then
    log "llama-cpp-python $VERSION is already installed; nothing to do"
    exit 0
fi

# The engine's pure-Python dependencies (numpy, jinja2, diskcache, typing-extensions) come from
# wheels; only llama.cpp itself is compiled.
if [[ "$(uname -m)" == "x86_64" && "${LMSTUDIO_SDK_NATIVE_BUILD:-0}" != "1" ]]; then
    CPU_FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
else
    CPU_FLAGS=""
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

patched_install() {
    log "downloading the llama-cpp-python $VERSION sdist"
    "$PYTHON" -m pip download --no-deps --no-binary :all: --disable-pip-version-check \
        -d "$work/sdist" "llama-cpp-python==$VERSION" >&2 || return 1
    tar xzf "$work/sdist/llama_cpp_python-$VERSION.tar.gz" -C "$work" || return 1
    local src="$work/llama_cpp_python-$VERSION"
    local line='set(LLAMA_BUILD_COMMON ON CACHE BOOL "Build llama.cpp common library" FORCE)'
    if ! grep -qF "$line" "$src/CMakeLists.txt"; then
        log "the sdist's CMakeLists.txt no longer has the line to patch"
        return 1
    fi
    sed -i 's/set(LLAMA_BUILD_COMMON ON CACHE BOOL "Build llama.cpp common library" FORCE)/set(LLAMA_BUILD_COMMON OFF CACHE BOOL "Build llama.cpp common library" FORCE)/' \
        "$src/CMakeLists.txt"
    log "building llama.cpp without its common library (about 2.5 minutes on 2 cores)"
    CMAKE_ARGS="-DLLAMA_OPENSSL=OFF $CPU_FLAGS ${CMAKE_ARGS:-}" \
        "$PYTHON" -m pip install --disable-pip-version-check "$src" >&2 || return 1
}

if patched_install; then
    log "installed llama-cpp-python $VERSION (patched fast build)"
else
    log "patched build failed; falling back to pip install llama-cpp-python==$VERSION (slow)"
    CMAKE_ARGS="-DLLAMA_OPENSSL=OFF $CPU_FLAGS ${CMAKE_ARGS:-}" \
        "$PYTHON" -m pip install --disable-pip-version-check "llama-cpp-python==$VERSION"
    log "installed llama-cpp-python $VERSION"
fi
"$PYTHON" -c "import llama_cpp; print('llama_cpp', llama_cpp.__version__)" >&2
