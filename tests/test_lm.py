"""Model loading: the fast llama GGUF loader gives transformers' tensors exactly."""

import torch

import tokkit
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


def test_bits_per_byte_applies_the_embedding_scale():
    """Gemma multiplies its input embeddings by sqrt(d) inside the embedding layer; scoring with
    replacement rows (``inputs_embeds``) must apply it too: bits per byte equals the model's own
    forward pass on the token ids."""
    import math

    import torch.nn.functional as F
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    from tokkit.lm import bits_per_byte, prefix_id

    tok = tokkit.Tokenizer.from_file(assets.pretrained_tokenizers()["gpt2"])
    cfg = Gemma3TextConfig(vocab_size=tok.vocab.size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                           num_attention_heads=2, num_key_value_heads=1, head_dim=32, sliding_window=16)
    torch.manual_seed(0)
    model = Gemma3ForCausalLM(cfg).eval()
    with torch.no_grad():
        model.model.embed_tokens.weight.normal_(0, 0.5)
    assert float(model.get_input_embeddings().embed_scale) == 8.0
    text = "The licence grants you the right to use, copy and modify the work."
    ids = torch.as_tensor([prefix_id(tok)] + [int(x) for x in tok.encode(text)])[None]
    with torch.no_grad():
        logp = F.log_softmax(model(ids).logits[0, :-1], -1)
    want = -float(logp[torch.arange(ids.shape[1] - 1), ids[0, 1:]].sum()) / math.log(2) / len(text.encode())
    got = bits_per_byte(model, tok, [text])["bits_per_byte"]
    assert abs(got - want) < 1e-4 * want
    rows = model.get_input_embeddings().weight.detach().clone()  # the same rows passed explicitly
    assert abs(bits_per_byte(model, tok, [text], rows=rows)["bits_per_byte"] - want) < 1e-4 * want
