"""Fetch the real assets that are not Python dependencies into the tokkit cache.

Today: the llama.cpp GGUF vocabularies (ggml-vocab-*.gguf with their .inp/.out reference ids)
inside the llama-cpp-python sdist. The sdist is located through the simple API (PEP 691 JSON)
of the package index pip itself uses: $PIP_INDEX_URL, else pip's configuration (``pip config
list``: index-url of the install or global section), else pip's built-in default; pip's CA
bundle (``cert``) is used likewise. The file is checked against a pinned sha256, and only the
vocabulary files are unpacked (nothing is built). Idempotent: does nothing when present.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

SDIST = "llama_cpp_python-0.3.36.tar.gz"
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
MEMBER_DIR = "vendor/llama.cpp/models/"


def cache_dir() -> Path:
    env = os.environ.get("TOKKIT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tokkit"


def pip_config() -> dict[str, str]:
    """pip's settings as ``pip config list`` prints them (``global.index-url``,
    ``:env:.cert``...), from the pip of this interpreter; {} when pip cannot say."""
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                             timeout=120, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    conf = {}
    for line in out.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            try:
                conf[key.strip()] = str(ast.literal_eval(value.strip()))  # pip prints repr(value)
            except (ValueError, SyntaxError):
                conf[key.strip()] = value.strip().strip("'\"")
    return conf


def pip_setting(name: str, conf: dict[str, str]) -> str | None:
    """One pip setting, with pip's precedence: environment, then the install section, then global."""
    env = os.environ.get("PIP_" + name.upper().replace("-", "_"))
    if env:
        return env
    for key in (f":env:.{name}", f"install.{name}", f"global.{name}"):
        if conf.get(key):
            return conf[key]
    return None


def pip_default_index() -> str:
    """The index pip uses when none is configured, as pip itself defines it."""
    try:
        from pip._internal.models.index import PyPI
    except ImportError:
        raise SystemExit("fetch_assets: no package index configured and pip's default is unknown "
                         "(set PIP_INDEX_URL)") from None
    return PyPI.simple_url


def index_url(conf: dict[str, str] | None = None) -> str:
    conf = pip_config() if conf is None else conf
    return (pip_setting("index-url", conf) or pip_default_index()).rstrip("/")


def _ssl_context(conf: dict[str, str]) -> ssl.SSLContext:
    cert = pip_setting("cert", conf)
    return ssl.create_default_context(cafile=cert) if cert and os.path.isfile(cert) else ssl.create_default_context()


def sdist_url(conf: dict[str, str]) -> str:
    index = index_url(conf)
    page = f"{index}/llama-cpp-python/"
    req = urllib.request.Request(page, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=120, context=_ssl_context(conf)) as r:
        data = json.load(r)
    for f in data["files"]:
        if f["filename"] == SDIST:
            return urllib.parse.urljoin(page, f["url"])  # PEP 691 allows a URL relative to the page
    raise SystemExit(f"fetch_assets: {SDIST} not found on {index}")


def fetch_llama_vocabs() -> Path:
    dest = cache_dir() / "assets" / "llama-cpp-vocab"
    if (dest / ".complete").exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    conf = pip_config()
    url = sdist_url(conf)
    print(f"[assets] downloading {SDIST} (77 MB) for the llama.cpp GGUF vocabularies", flush=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        archive = Path(tmp) / SDIST
        h = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=600, context=_ssl_context(conf)) as r, open(archive, "wb") as f:
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
