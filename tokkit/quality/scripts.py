"""Unicode Script property of code points, as a lookup table, and the dominant script of a text.

Python's ``unicodedata`` has no Script property; the ``regex`` module (a dependency of
transformers) knows it, so the table is filled once by scanning the code points with one
``\\p{Script=X}`` pattern per script. Code points above U+323AF (planes 3+ beyond CJK extension
H, private use) fall back to "Unknown"/"Common" handling at lookup time.
"""

from __future__ import annotations

import functools

import numpy as np

# ISO 15924 code -> Unicode long name (what regex's \p{Script=...} takes). Common and Inherited
# first; then the scripts of the world's written languages (UDHR's 37 and more).
SCRIPTS: dict[str, str] = {
    "Zyyy": "Common", "Zinh": "Inherited",
    "Latn": "Latin", "Cyrl": "Cyrillic", "Grek": "Greek", "Armn": "Armenian", "Geor": "Georgian",
    "Hebr": "Hebrew", "Arab": "Arabic", "Syrc": "Syriac", "Thaa": "Thaana", "Nkoo": "Nko",
    "Adlm": "Adlam", "Tfng": "Tifinagh", "Ethi": "Ethiopic", "Vaii": "Vai", "Cher": "Cherokee",
    "Cans": "Canadian_Aboriginal", "Ogam": "Ogham", "Runr": "Runic", "Mong": "Mongolian",
    "Deva": "Devanagari", "Beng": "Bengali", "Guru": "Gurmukhi", "Gujr": "Gujarati", "Orya": "Oriya",
    "Taml": "Tamil", "Telu": "Telugu", "Knda": "Kannada", "Mlym": "Malayalam", "Sinh": "Sinhala",
    "Tibt": "Tibetan", "Gran": "Grantha", "Olck": "Ol_Chiki", "Limb": "Limbu", "Lepc": "Lepcha",
    "Mtei": "Meetei_Mayek", "Cakm": "Chakma", "Thai": "Thai", "Laoo": "Lao", "Khmr": "Khmer",
    "Mymr": "Myanmar", "Tavt": "Tai_Viet", "Lana": "Tai_Tham", "Talu": "New_Tai_Lue", "Tale": "Tai_Le",
    "Java": "Javanese", "Bali": "Balinese", "Sund": "Sundanese", "Bugi": "Buginese", "Batk": "Batak",
    "Tglg": "Tagalog", "Cham": "Cham", "Hani": "Han", "Hira": "Hiragana", "Kana": "Katakana",
    "Bopo": "Bopomofo", "Hang": "Hangul", "Yiii": "Yi", "Lisu": "Lisu", "Bamu": "Bamum",
    "Copt": "Coptic", "Glag": "Glagolitic", "Brai": "Braille", "Osge": "Osage", "Rohg": "Hanifi_Rohingya",
    "Mend": "Mende_Kikakui", "Wcho": "Wancho", "Hmnp": "Nyiakeng_Puachue_Hmong", "Plrd": "Miao",
    "Saur": "Saurashtra", "Sylo": "Syloti_Nagri", "Kali": "Kayah_Li", "Tirh": "Tirhuta",
}
CODES = list(SCRIPTS)
COMMON, INHERITED = 0, 1
UNKNOWN = len(CODES)  # any other script (or unassigned)
_LIMIT = 0x323B0


@functools.cache
def table() -> np.ndarray:
    """uint8 array: code point -> index into ``CODES`` (``UNKNOWN`` for other scripts)."""
    import regex

    tab = np.full(_LIMIT, UNKNOWN, dtype=np.uint8)
    cps = np.arange(_LIMIT, dtype=np.uint32)
    cps[0xD800:0xE000] = 0xFFFD  # surrogates cannot be in a str
    # one string of every code point below the limit; positions are code points
    text = cps.astype("<u4").tobytes().decode("utf-32-le")
    for k, (code, name) in enumerate(SCRIPTS.items()):
        for m in regex.finditer(rf"\p{{Script={name}}}+", text):
            tab[m.start():m.end()] = k
    tab[0xD800:0xE000] = UNKNOWN
    return tab


def codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def script_ids(cps: np.ndarray) -> np.ndarray:
    tab = table()
    out = np.full(len(cps), UNKNOWN, dtype=np.uint8)
    ok = cps < _LIMIT
    out[ok] = tab[cps[ok]]
    return out


def dominant_script(text: str) -> str:
    """ISO 15924 code of the script most letters of ``text`` are in (``Zyyy`` if none)."""
    ids = script_ids(codepoints(text))
    ids = ids[(ids != COMMON) & (ids != INHERITED)]
    if not len(ids):
        return "Zyyy"
    counts = np.bincount(ids, minlength=UNKNOWN + 1)
    # Japanese: Han with kana; Korean: Hangul with Han
    best = int(counts.argmax())
    code = CODES[best] if best < UNKNOWN else "Zzzz"
    kana = counts[CODES.index("Hira")] + counts[CODES.index("Kana")]
    if code in ("Hani", "Hira", "Kana") and kana > 0.05 * counts.sum():
        return "Jpan"
    return code


def token_scripts(texts: list[str | None]) -> list[str]:
    """Script of each token text: its one script, ``Zyyy`` (only common characters: digits,
    punctuation, spaces), ``Mixed`` (letters of two scripts), ``partial`` (None: not UTF-8)."""
    out = ["partial" if t is None else "" for t in texts]
    idx = [i for i, t in enumerate(texts) if t]
    if not idx:
        return ["Zyyy" if o == "" else o for o in out]
    joined = "".join(texts[i] for i in idx)
    lens = np.fromiter((len(texts[i]) for i in idx), dtype=np.int64, count=len(idx))
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    sc = script_ids(codepoints(joined)).astype(np.int16)
    common = (sc == COMMON) | (sc == INHERITED)
    lo = np.minimum.reduceat(np.where(common, 999, sc), starts)
    hi = np.maximum.reduceat(np.where(common, -1, sc), starts)
    for j, i in enumerate(idx):
        if lo[j] == 999:
            out[i] = "Zyyy"
        elif lo[j] == hi[j]:
            out[i] = CODES[lo[j]] if lo[j] < UNKNOWN else "Zzzz"
        else:
            out[i] = "Mixed"
    return ["Zyyy" if o == "" else o for o in out]
