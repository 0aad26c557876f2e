"""Fetch the real assets that are not Python dependencies into the tokkit cache.

Today: the llama.cpp GGUF vocabularies (ggml-vocab-*.gguf with their .inp/.out reference ids)
inside the llama-cpp-python sdist. The sdist is located through the package index's simple API
(PEP 691 JSON; $PIP_INDEX_URL is honoured), checked against a pinned sha256, and only the
vocabulary files are unpacked (nothing is built). Idempotent: does nothing when present.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

SDIST = "llama_cpp_python-0.3.36.tar.gz"
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
MEMBER_DIR = "vendor/llama.cpp/models/"


def cache_dir() -> Path:
    env = os.environ.get("TOKKIT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tokkit"


def sdist_url() -> str:
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    req = urllib.request.Request(f"{index}/llama-cpp-python/",
                                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        data = json.load(r)
    for f in data["files"]:
        if f["filename"] == SDIST:
            return f["url"]
    raise SystemExit(f"fetch_assets: {SDIST} not found on {index}")


def fetch_llama_vocabs() -> Path:
    dest = cache_dir() / "assets" / "llama-cpp-vocab"
    if (dest / ".complete").exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    url = sdist_url()
    print(f"[assets] downloading {SDIST} (77 MB) for the llama.cpp GGUF vocabularies", flush=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        archive = Path(tmp) / SDIST
        h = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=600) as r, open(archive, "wb") as f:
            while chunk := r.read(1 << 20):
                h.update(chunk)
                f.write(chunk)
        if h.hexdigest() != SDIST_SHA256:
            raise SystemExit(f"fetch_assets: {SDIST} sha256 mismatch ({h.hexdigest()})")
        out = Path(tmp) / "vocab"
        out.mkdir()
        n = 0
        with tarfile.open(archive, "r:gz") as tar:
            for m in tar.getmembers():
                rel = m.name.split("/", 1)[-1]
                if m.isfile() and rel.startswith(MEMBER_DIR) and Path(rel).name.startswith("ggml-vocab-"):
                    src = tar.extractfile(m)
                    assert src is not None
                    (out / Path(rel).name).write_bytes(src.read())
                    n += 1
        (out / ".complete").write_text(f"{SDIST} {SDIST_SHA256} {n} files\n")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(out, dest)
    print(f"[assets] {n} llama.cpp vocabulary files in {dest}", flush=True)
    return dest


if __name__ == "__main__":
    fetch_llama_vocabs()
    sys.exit(0)
