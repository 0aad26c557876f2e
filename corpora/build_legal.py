"""Rebuild corpora/legal/ from the spdx-license-list npm package
(../shared/data/spdx-license-list-6.12.0.tgz, CC0-1.0): 727 licence texts, real legal English.

Several ids share one text (GPL-2.0 and GPL-2.0-only...): identical texts are kept once (under
the smallest id, the others listed as "aliases"). The split is FIXED by a hash of the text
itself (never by position or id), so a newer archive never moves a text between train and
held-out and a duplicate can never sit on both sides:
held-out iff sha256("tokkit-legal:" + text)[0] < 26 (about 10%). Texts are kept as published.

  corpora/legal/spdx_train.jsonl, spdx_heldout.jsonl   {"id", "name", "aliases", "text"} per line,
                                                       sorted by id
  corpora/legal/index.json   counts, bytes and sha256 of both files, the split rule
  corpora/legal/LICENSE, SOURCE.md

    python3 corpora/build_legal.py [--archive PATH] [--out corpora/legal]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_ARCHIVE = HERE.parent.parent / "shared" / "data" / "spdx-license-list-6.12.0.tgz"
ARCHIVE_SHA256 = "54cc8d13086187333ca1457c8edaa06d9a412144f076aa7f7c1b59c4f3b0a1ef"


def is_heldout(text: str) -> bool:
    return hashlib.sha256(f"tokkit-legal:{text}".encode()).digest()[0] < 26


def build(archive: Path, out: Path) -> dict:
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != ARCHIVE_SHA256:
        print(f"warning: {archive} sha256 {digest} differs from the pinned {ARCHIVE_SHA256}", file=sys.stderr)
    with tarfile.open(archive, "r:gz") as tar:
        data = json.load(tar.extractfile("package/spdx-full.json"))  # type: ignore[arg-type]
        licence = tar.extractfile("package/license").read().decode("utf-8")  # type: ignore[union-attr]
    out.mkdir(parents=True, exist_ok=True)
    split: dict[str, list[str]] = {"train": [], "heldout": []}
    by_text: dict[str, list[str]] = {}
    for lid in sorted(data):
        text = data[lid].get("licenseText") or ""
        if text.strip():
            by_text.setdefault(text, []).append(lid)
    for text, ids in sorted(by_text.items(), key=lambda kv: kv[1][0]):
        row = json.dumps({"id": ids[0], "name": data[ids[0]].get("name", ""), "aliases": ids[1:], "text": text},
                         ensure_ascii=False)
        split["heldout" if is_heldout(text) else "train"].append(row)
    info = {"source": "spdx-license-list 6.12.0 (spdx-full.json)", "archive": archive.name,
            "archive_sha256": digest, "split_rule": "held-out iff sha256('tokkit-legal:'+text)[0] < 26; identical texts kept once",
            "duplicate_ids_dropped": sum(len(v) - 1 for v in by_text.values())}
    for name, rows in split.items():
        body = ("\n".join(rows) + "\n").encode("utf-8")
        (out / f"spdx_{name}.jsonl").write_bytes(body)
        info[name] = {"texts": len(rows), "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    (out / "index.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    (out / "LICENSE").write_text("The licence texts come from the spdx-license-list package, released under "
                                 "CC0-1.0:\n\n" + licence, encoding="utf-8")
    (out / "SOURCE.md").write_text(
        "# Source\n\n"
        f"- archive: `{archive.name}` (npm package `spdx-license-list` 6.12.0), CC0-1.0\n"
        f"- sha256: `{digest}`\n"
        f"- file: `package/spdx-full.json`: {len(data)} licence ids, {len(by_text)} distinct texts "
        f"({info['duplicate_ids_dropped']} ids share a text with a smaller id and are listed as its aliases)\n"
        f"- split (fixed): {info['split_rule']}: {len(split['train'])} train, {len(split['heldout'])} held-out\n"
        "- rebuild: `python3 corpora/build_legal.py` (stdlib only; byte-identical output)\n",
        encoding="utf-8")
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    ap.add_argument("--out", type=Path, default=HERE / "legal")
    args = ap.parse_args(argv)
    if not args.archive.exists():
        print(f"error: {args.archive}: no such file", file=sys.stderr)
        return 2
    info = build(args.archive, args.out)
    print(f"legal: {info['train']['texts']} train ({info['train']['bytes']:,} B), "
          f"{info['heldout']['texts']} held-out ({info['heldout']['bytes']:,} B)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
