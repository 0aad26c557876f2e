"""Loading a causal LM (an HF model directory or a GGUF file) and scoring it in bits per byte.

Shared by transplant, the hypernetwork and byte-level code. A GGUF file is dequantized by
transformers once and cached as a float32 safetensors checkpoint under the cache directory,
keyed by the file's SHA-256; later loads read the cache.

Bits per byte are tokenizer-independent: the total negative log2-likelihood of a text's tokens,
conditioned on the tokenizer's BOS token (else its EOS token), divided by the text's UTF-8 bytes.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

from .errors import TokkitError
from .tokenizer import Tokenizer


def load_model(path: str | os.PathLike):
    """(model, tokenizer) for an HF model directory (with config.json) or a GGUF file; float32,
    eval mode."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    from .io import atomic_dir, cache_dir, sha256_file

    hf_logging.disable_progress_bar()  # tokkit's CLI draws its own progress
    p = Path(path)
    if not p.exists():
        raise TokkitError(f"{p}: no such model file or directory")
    if p.is_file() and p.suffix == ".gguf":
        cached = cache_dir() / "models" / sha256_file(p)[:16]
        if not (cached / "config.json").exists():
            m = _llama_from_gguf(p)
            if m is None:  # another architecture or tensor type: transformers' own loader
                m = AutoModelForCausalLM.from_pretrained(str(p.parent), gguf_file=p.name, dtype=torch.float32)
            # transformers will not save_pretrained a model it read from GGUF; the dequantized
            # float32 weights are plain tensors, written here with safetensors (tied rows once)
            from safetensors.torch import save_model

            m.config.quantization_config = None
            m.config.architectures = m.config.architectures or [type(m).__name__]  # GGUF configs lack it
            with atomic_dir(cached, force=True) as tmp:
                m.config.save_pretrained(tmp)
                save_model(m, str(tmp / "model.safetensors"))
        model = AutoModelForCausalLM.from_pretrained(str(cached), dtype=torch.float32)
    elif p.is_dir() and (p / "config.json").exists():
        try:
            model, info = AutoModelForCausalLM.from_pretrained(str(p), dtype=torch.float32, output_loading_info=True)
        except (OSError, ValueError, KeyError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise TokkitError(f"{p}: cannot load the model ({first})") from None
        emb = model.get_input_embeddings()
        missing = set(info.get("missing_keys") or ())
        names = {n for n, prm in model.named_parameters() if emb is not None and prm is emb.weight}
        if emb is None or names & missing:
            raise TokkitError(f"{p}: the checkpoint has no input embedding matrix "
                              f"({', '.join(sorted(names)) or 'no embedding layer'} missing)")
    else:
        raise TokkitError(f"{p}: not a model (a GGUF file, or an HF directory with config.json)")
    model.eval()
    return model, Tokenizer.from_file(p)


#: GGUF tensor names of a llama block -> Hugging Face names (llama.cpp's convert script)
_LLAMA_NAMES = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
                "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
                "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm"}


def _llama_from_gguf(path: Path):
    """A float32 LlamaForCausalLM from a llama-architecture GGUF file, or None for anything else.

    transformers' GGUF loader gives the same tensors but spends ~40 s on SmolLM2-135M (gguf-py's
    reader parses every tokenizer field element by element, and a name map is built per tensor)
    for ~3 s of dequantization. This reads the tensor table with tokkit's own GGUF reader,
    dequantizes with gguf-py's ``quants.dequantize`` and undoes llama.cpp's q/k row permutation
    as transformers does.
    ``tests/test_lm.py`` checks that every tensor equals transformers' result."""
    import gguf
    import numpy as np
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from .vocab.gguf_io import read_gguf_tensors

    fields, tensors = read_gguf_tensors(path)
    field = fields.get
    if field("general.architecture") != "llama":
        return None
    Q = gguf.GGMLQuantizationType
    ok = {Q.F32, Q.F16, Q.Q8_0, Q.Q4_0, Q.Q4_1}
    if any(Q(t) not in ok for _, _, t, _ in tensors):
        return None
    a = "llama."
    heads, kv = field(a + "attention.head_count"), field(a + "attention.head_count_kv")
    dims = {name: d for name, d, _, _ in tensors}
    if "token_embd.weight" not in dims:  # a vocabulary-only file
        return None
    cfg = LlamaConfig(
        vocab_size=int(dims["token_embd.weight"][1]), hidden_size=field(a + "embedding_length"),
        intermediate_size=field(a + "feed_forward_length"), num_hidden_layers=field(a + "block_count"),
        num_attention_heads=heads, num_key_value_heads=kv if kv is not None else heads,
        max_position_embeddings=field(a + "context_length", 2048),
        rms_norm_eps=field(a + "attention.layer_norm_rms_epsilon", 1e-6),
        rope_theta=field(a + "rope.freq_base", 10000.0), tie_word_embeddings="output.weight" not in dims,
        bos_token_id=field("tokenizer.ggml.bos_token_id"), eos_token_id=field("tokenizer.ggml.eos_token_id"),
        pad_token_id=field("tokenizer.ggml.padding_token_id"))
    state = {}
    for name, shape, ttype, raw in tensors:
        rows = [int(x) for x in reversed(shape)]  # numpy order: outermost first
        block, size = gguf.GGML_QUANT_SIZES[Q(ttype)]
        data = np.frombuffer(raw, dtype=np.uint8).reshape(*rows[:-1], rows[-1] // block * size)
        w = gguf.quants.dequantize(data, Q(ttype)).reshape(rows)
        parts = name.split(".")
        if name == "token_embd.weight":
            key = "model.embed_tokens.weight"
        elif name == "output_norm.weight":
            key = "model.norm.weight"
        elif name == "output.weight":
            key = "lm_head.weight"
        elif parts[0] == "blk" and parts[2] in _LLAMA_NAMES:
            key = f"model.layers.{parts[1]}.{_LLAMA_NAMES[parts[2]]}.{parts[3]}"
            if parts[2] in ("attn_q", "attn_k"):  # llama.cpp permutes rows within each head
                n = heads if parts[2] == "attn_q" else cfg.num_key_value_heads
                w = w.reshape(n, w.shape[0] // n // 2, 2, *w.shape[1:]).swapaxes(2, 1).reshape(w.shape)
        else:
            return None  # a tensor this loader does not know
        state[key] = torch.from_numpy(np.array(w, dtype=np.float32))  # a copy: the file is mapped read-only
    with torch.device("meta"):  # no random initialisation of weights that are replaced next
        model = LlamaForCausalLM(cfg)
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    if unexpected or [k for k in missing if not (k == "lm_head.weight" and cfg.tie_word_embeddings)]:
        return None
    if cfg.tie_word_embeddings:
        model.tie_weights()
    # the rotary frequencies are a buffer, not in the file: made again on the CPU
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    model.model.rotary_emb = LlamaRotaryEmbedding(config=cfg)
    if any(b.is_meta for b in model.buffers()) or any(q.is_meta for q in model.parameters()):
        return None
    return model.to(torch.float32)


def hidden_states(model, rows_in, ids):
    """Final hidden states of ``model`` reading the rows ``rows_in[ids]`` as its input embeddings
    (ids [T] or [B, T]), applying the scale the model's own embedding layer applies (Gemma
    multiplies its embeddings by sqrt(d); ``inputs_embeds`` skips that layer)."""
    scale = getattr(model.get_input_embeddings(), "embed_scale", None)
    x = rows_in[ids]
    if scale is not None:
        x = x * scale.to(x.dtype)
    return model.model(inputs_embeds=x).last_hidden_state


def prefix_id(tok: Tokenizer) -> int:
    """The token a text is conditioned on: BOS when the tokenizer has one, else EOS."""
    v = tok.vocab
    pid = v.bos_id if v.bos_id is not None else v.eos_id
    if pid is None:
        raise TokkitError("the tokenizer has neither a BOS nor an EOS token to condition on")
    return pid


def bits_per_byte(model, tok: Tokenizer, texts: Sequence[str], max_len: int = 1024, rows=None) -> dict:
    """{"bits_per_byte", "bytes", "tokens", "bits"} of ``texts``; each text conditioned on
    :func:`prefix_id` and scored in windows of ``max_len`` tokens (each window sees the previous
    window's last token). ``rows`` [V, d] (or [V, 2d] for an untied model: input rows then output
    rows) replaces the model's embedding rows without touching the model."""
    import torch
    import torch.nn.functional as F

    d = model.get_input_embeddings().weight.shape[1]
    if rows is None:
        e_in = model.get_input_embeddings().weight
        head = model.get_output_embeddings()
        e_out = head.weight if head is not None else e_in
    else:
        e_in = rows[:, :d]
        e_out = rows[:, d:] if rows.shape[1] > d else e_in
    pid = prefix_id(tok)
    bits, n_bytes, n_tokens = 0.0, 0, 0
    with torch.no_grad():
        for t in texts:
            ids = [int(x) for x in tok.encode(t)]
            seq = torch.as_tensor([pid] + ids, device=e_in.device)
            n_bytes += len(t.encode("utf-8"))
            n_tokens += len(ids)
            for a in range(0, len(seq) - 1, max_len):
                window = seq[a: a + max_len + 1]
                h = hidden_states(model, e_in, window[:-1][None])[0]
                logits = h @ e_out.T
                if getattr(model.config, "final_logit_softcapping", None):
                    cap = model.config.final_logit_softcapping
                    logits = torch.tanh(logits / cap) * cap
                logp = F.log_softmax(logits, dim=-1)
                bits += float(-logp[torch.arange(len(window) - 1, device=seq.device), window[1:]].sum()) / math.log(2)
    return {"bits_per_byte": bits / max(n_bytes, 1), "bytes": n_bytes, "tokens": n_tokens, "bits": bits}
