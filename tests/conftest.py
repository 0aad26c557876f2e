import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def real_tokenizers():
    from tokkit import assets

    return assets.pretrained_tokenizers()


@pytest.fixture(scope="session")
def smol_gpt2(tmp_path_factory, real_tokenizers):
    """SmolLM2-135M transplanted to GPT-2's tokenizer with `tokkit transplant --method fvt` (once
    per session; used by the transplant and the heal tests). (out, exit code, message, the GGUF's
    sha256 before and after)."""
    from click.testing import CliRunner

    from tokkit import assets
    from tokkit.cli import cli
    from tokkit.io import sha256_file

    gguf = assets.smollm2_gguf()
    before = sha256_file(gguf)
    out = tmp_path_factory.mktemp("smol") / "smol-gpt2"
    args = ["transplant", str(gguf), real_tokenizers["gpt2"], "--method", "fvt", "--out", str(out)]
    r = CliRunner().invoke(cli, args)
    return out, r.exit_code, r.output, before, sha256_file(gguf)
