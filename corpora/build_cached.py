"""Build larger real corpora from Debian packages (and the running Python) into the cache.

    python3 corpora/build_cached.py NAME... [--install] [--cache DIR]
    NAME: kjv | cpython-stdlib | kernel-docs | gnome-help | debian-reference | rust-src | go-src | all

Output: ``<cache>/corpora/<name>/{train,heldout}.jsonl.gz`` (or ``<lang>.train.jsonl.gz`` ...
for the multilingual ones) with ``{"id", "text"}`` per document, and ``manifest.json`` (source
package and version, documents, bytes, sha256 of each output). The cache is ``--cache``,
``$TOKKIT_CACHE`` or ``~/.cache/tokkit``; nothing here is committed to git.

The split is FIXED per document by a hash of its id (never by position):
held-out iff sha256("tokkit-split:" + id)[0] < 13 (about 5%), so later benchmarks never evaluate
on training text and a rebuilt corpus keeps its split. Output order is sorted by id, so builds
are deterministic for a given package version. Stdlib only.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

Docs = Iterator[tuple[str, str]]  # (document id, text)


def cache_root(arg: str | None) -> Path:
    if arg:
        return Path(arg).expanduser()
    env = os.environ.get("TOKKIT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tokkit"


def is_heldout(doc_id: str) -> bool:
    return hashlib.sha256(f"tokkit-split:{doc_id}".encode()).digest()[0] < 13


def pkg_version(pkg: str) -> str | None:
    """The installed version of a Debian package (``dpkg-query -W``), None if not installed
    (a removed package whose configuration files remain is not installed)."""
    try:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}\t${Version}", pkg],
                           capture_output=True, text=True, check=False)
    except FileNotFoundError:  # not a Debian system
        return None
    status, _, version = r.stdout.strip().partition("\t")
    return version if r.returncode == 0 and status.endswith(" installed") and version else None


_updated = False


def ensure_packages(pkgs: list[str], install: bool) -> None:
    global _updated
    missing = [p for p in pkgs if pkg_version(p) is None]
    if not missing:
        return
    if not install:
        raise SystemExit(f"missing Debian packages: run `apt-get install -y {' '.join(missing)}` "
                         "(or pass --install)")
    if not _updated:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        _updated = True
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


# -- builders: each yields (language or "", doc id, text) -------------------------------------
def kjv(install: bool) -> tuple[list[str], Iterator[tuple[str, str, str]]]:
    ensure_packages(["bible-kjv-text", "bible-kjv"], install)
    out = subprocess.run(["bible", "-l100000", "Gen1:1-Rev22:21"], capture_output=True, text=True, check=True).stdout

    def gen():
        chapter, lines = None, []
        for line in out.splitlines():
            m = re.match(r"^(\S.*\S) (\d+)$", line)
            if m and not line.startswith(" "):
                if chapter and lines:
                    yield "", chapter, "\n".join(lines)
                chapter, lines = f"{m.group(1)} {m.group(2)}", []
            elif line.strip():
                lines.append(re.sub(r"^\s*\d+\s+", "", line).strip())
        if chapter and lines:
            yield "", chapter, "\n".join(lines)

    return ["bible-kjv-text", "bible-kjv"], gen()


def cpython_stdlib(install: bool) -> tuple[list[str], Iterator[tuple[str, str, str]]]:
    root = Path(sysconfig.get_paths()["stdlib"])

    def gen():
        for p in sorted(root.rglob("*.py")):
            rel = p.relative_to(root).as_posix()
            if "site-packages" in rel or rel.startswith(("test/", "idlelib/idle_test/", "lib2to3/tests/")):
                continue
            try:
                text = p.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            if text.strip():
                yield "", rel, text

    return [], gen()


def kernel_docs(install: bool) -> tuple[list[str], Iterator[tuple[str, str, str]]]:
    pkg = "linux-doc-6.1"
    ensure_packages([pkg], install)
    root = Path(f"/usr/share/doc/{pkg}/Documentation")

    def gen():
        for p in sorted(list(root.rglob("*.rst")) + list(root.rglob("*.rst.gz"))):
            rel = p.relative_to(root).as_posix().removesuffix(".gz")
            data = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
            text = data.decode("utf-8", "replace")
            if text.strip():
                yield "", rel, text

    return [pkg], gen()


def _source_tree(pkg: str, roots: list[str], ext: str, install: bool):
    """Every ``*ext`` file under the package's source roots, as code documents."""
    ensure_packages([pkg], install)
    files = []
    for pattern in roots:
        for root in sorted(Path("/").glob(pattern.lstrip("/"))):
            files += sorted(root.rglob(f"*{ext}"))

    def gen():
        for p in files:
            try:
                text = p.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            if text.strip():
                yield "", p.as_posix(), text

    return [pkg], gen()


def rust_src(install: bool):
    return _source_tree("rust-src", ["/usr/src/rustc-*"], ".rs", install)


def go_src(install: bool):
    return _source_tree("golang-1.19-src", ["/usr/share/go-1.19/src"], ".go", install)


class _Text(html.parser.HTMLParser):
    """Text of an HTML page, one block element per line (scripts and styles dropped)."""

    BLOCK = frozenset({"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "tr", "dt", "dd", "br", "title"})

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)

    def text(self) -> str:
        lines = (" ".join(x.split()) for x in "".join(self.parts).split("\n"))
        return "\n".join(x for x in lines if x)


def debian_reference(install: bool) -> tuple[list[str], Iterator[tuple[str, str, str]]]:
    # debian-reference-pt-br is left out: in 2.100 it is the pt translation with a few words
    # substituted (Secção -> Seção), a near-duplicate that would leak between languages
    langs = ["en", "de", "fr", "es", "id", "it", "ja", "pt", "zh-cn", "zh-tw"]
    pkgs = [f"debian-reference-{x}" for x in langs]
    ensure_packages(pkgs[:1], install)  # English is required; each translation is optional
    missing = [p for p in pkgs[1:] if pkg_version(p) is None]
    if missing and install:
        try:
            ensure_packages(missing, install)
        except subprocess.CalledProcessError:  # one not in this archive: install the others one by one
            for p in missing:
                try:
                    ensure_packages([p], install)
                except subprocess.CalledProcessError:
                    print(f"  (skipping {p}: not installable)", file=sys.stderr)
    elif missing:
        print(f"  (translations not installed, left out: `apt-get install -y {' '.join(missing)}` "
              "or --install adds them)", file=sys.stderr)
    root = Path("/usr/share/debian-reference")

    def gen():
        for p in sorted(root.glob("*.html")):
            m = re.match(r"^(\w+)\.([\w-]+)\.html$", p.name)
            if not m or m.group(1) == "index" or m.group(2) not in langs:
                continue
            parser = _Text()
            parser.feed(p.read_text(encoding="utf-8", errors="replace"))
            text = parser.text()
            if text:
                yield m.group(2), m.group(1), text

    return [p for p in pkgs if pkg_version(p)], gen()


def gnome_help(install: bool) -> tuple[list[str], Iterator[tuple[str, str, str]]]:
    ensure_packages(["gnome-user-docs"], install)
    root = Path("/usr/share/help")

    def paragraphs(path: Path) -> list[str]:
        try:
            tree = ET.parse(path)
        except ET.ParseError:
            return []
        out = []
        for el in tree.iter():
            tag = el.tag.rsplit("}", 1)[-1]
            if tag in ("title", "p", "desc"):
                text = " ".join("".join(el.itertext()).split())
                if text:
                    out.append(text)
        return out

    english = {p.name: set(paragraphs(p)) for p in sorted((root / "C" / "gnome-help").glob("*.page"))}

    def gen():
        for lang_dir in sorted(root.iterdir()):
            d = lang_dir / "gnome-help"
            if not d.is_dir():
                continue
            lang = "en" if lang_dir.name == "C" else lang_dir.name
            for p in sorted(d.glob("*.page")):
                paras = paragraphs(p)
                if lang != "en":  # untranslated paragraphs fall back to English: drop them
                    paras = [x for x in paras if x not in english.get(p.name, set())]
                if paras:
                    yield lang, p.stem, "\n".join(paras)

    return ["gnome-user-docs"], gen()


BUILDERS: dict[str, Callable] = {
    "kjv": kjv, "cpython-stdlib": cpython_stdlib, "kernel-docs": kernel_docs,
    "debian-reference": debian_reference, "gnome-help": gnome_help, "rust-src": rust_src, "go-src": go_src,
}
MULTILINGUAL = {"debian-reference", "gnome-help"}


def build(name: str, cache: Path, install: bool) -> dict:
    pkgs, docs = BUILDERS[name](install)
    rows: dict[tuple[str, str], list[str]] = {}
    counts: dict[str, int] = {}
    for lang, doc_id, text in docs:
        split = "heldout" if is_heldout(f"{name}:{doc_id}") else "train"
        stem = f"{lang}.{split}" if name in MULTILINGUAL else split
        rows.setdefault((stem, doc_id), []).append(text)
        counts[stem] = counts.get(stem, 0) + 1
    if not rows:
        raise SystemExit(f"{name}: no documents found")
    out = cache / "corpora" / name
    tmp = out.with_name(f".{name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    files: dict[str, dict] = {}
    by_stem: dict[str, list[tuple[str, str]]] = {}
    for (stem, doc_id), texts in rows.items():
        by_stem.setdefault(stem, []).append((doc_id, "\n".join(texts)))
    for stem, items in sorted(by_stem.items()):
        body = "".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in sorted(items))
        raw = body.encode("utf-8")
        path = tmp / f"{stem}.jsonl.gz"
        path.write_bytes(gzip.compress(raw, compresslevel=6, mtime=0))
        files[path.name] = {"documents": len(items), "bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
    manifest = {
        "name": name, "packages": {p: pkg_version(p) for p in pkgs},
        "python": sys.version.split()[0] if name == "cpython-stdlib" else None,
        "documents": sum(f["documents"] for f in files.values()),
        "bytes": sum(f["bytes"] for f in files.values()),
        "split_rule": "held-out iff sha256('tokkit-split:' + name + ':' + id)[0] < 13",
        "files": files,
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="+", choices=[*BUILDERS, "all"])
    ap.add_argument("--install", action="store_true", help="apt-get install missing Debian packages")
    ap.add_argument("--cache", default=None)
    args = ap.parse_args(argv)
    names = list(BUILDERS) if "all" in args.names else args.names
    cache = cache_root(args.cache)
    for name in names:
        m = build(name, cache, args.install)
        total = sum(f["bytes"] for f in m["files"].values())
        docs = sum(f["documents"] for f in m["files"].values())
        langs = sorted({k.split(".")[0] for k in m["files"]}) if name in MULTILINGUAL else []
        print(f"{name}: {docs:,} documents, {total / 1e6:.1f} MB"
              + (f", {len(langs)} languages" if langs else "") + f" -> {cache / 'corpora' / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
