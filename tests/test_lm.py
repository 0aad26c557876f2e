"""Model loading: the fast llama GGUF loader gives transformers' tensors exactly."""

import torch

from tokkit import assets
from tokkit.lm import _llama_from_gguf


def test_fast_gguf_loader_equals_transformers():
    from transformers import AutoModelForCausalLM

    p = assets.smollm2_gguf()
    fast = _llama_from_gguf(p)
    ref = AutoModelForCausalLM.from_pretrained(str(p.parent), gguf_file=p.name, dtype=torch.float32)
    a, b = fast.state_dict(), ref.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)  # bit for bit, the q/k permutation included
    assert all(torch.equal(x, y) for x, y in zip(fast.buffers(), ref.buffers()))
    for key in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                "rms_norm_eps", "tie_word_embeddings", "vocab_size", "bos_token_id", "eos_token_id"):
        assert getattr(fast.config, key) == getattr(ref.config, key), key
    ids = torch.tensor([[1, 504, 3458, 282, 4649, 314]])
    with torch.no_grad():
        assert torch.equal(fast.eval()(ids).logits, ref.eval()(ids).logits)


def test_fast_gguf_loader_declines_other_files(tmp_path):
    import tokkit

    v = tokkit.load(str(assets.smollm2_gguf())).vocab
    for arch in ("llama", "gpt2"):  # vocabulary-only files: no tensors to load
        out = tokkit.write_gguf(v, tmp_path / f"{arch}.gguf", arch=arch) if hasattr(tokkit, "write_gguf") else None
        if out is None:
            from tokkit.vocab.gguf_io import write_gguf

            out = write_gguf(v, tmp_path / f"{arch}.gguf", arch=arch)
        assert _llama_from_gguf(out) is None
