"""Loading a causal LM (an HF model directory or a GGUF file) and scoring it in bits per byte.

Shared by transplant, the hypernetwork and byte-level code. A GGUF file is dequantized by
transformers once and cached as a float32 safetensors checkpoint under the cache directory,
keyed by the file's SHA-256; later loads read the cache.

Bits per byte are tokenizer-independent: the total negative log2-likelihood of a text's tokens,
conditioned on the tokenizer's BOS token (else its EOS token), divided by the text's UTF-8 bytes.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Sequence

from .errors import FormatError, TokkitError
from .tokenizer import Tokenizer


def load_model(path: str | os.PathLike):
    """(model, tokenizer) for an HF model directory (with config.json) or a GGUF file; float32,
    eval mode.

    Nothing from the model runs as code: a directory whose config asks for custom code
    (``auto_map``, or a ``model_type`` transformers does not know) or whose only weights are
    pickles (``pytorch_model.bin``) is refused before transformers reads it, and every load passes
    ``trust_remote_code=False`` and ``use_safetensors=True``. A model whose weights are missing
    (a vocabulary-only GGUF, a checkpoint without some tensors) or not finite is refused too,
    before anything is written to the cache."""
    p = Path(path)
    if not p.exists():
        raise TokkitError(f"{p}: no such model file or directory")
    if p.is_file() and p.suffix == ".gguf":
        _check_gguf_weights(p)
        loader = _load_gguf
    elif p.is_dir() and (p / "config.json").exists():
        _check_model_dir(p)
        loader = _load_hf_dir
    else:
        raise TokkitError(f"{p}: not a model (a GGUF file, or an HF directory with config.json)")
    tok = Tokenizer.from_file(p)  # a broken tokenizer is refused before the model is read or cached
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # tokkit's CLI draws its own progress
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # transformers' load report would add lines to a one-line error
    try:
        model = loader(p)
    finally:
        hf_logging.set_verbosity(verbosity)
    model.eval()
    return model, tok


#: weight files that are pickles (unpickling runs code): never loaded
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


def _check_model_dir(p: Path) -> None:
    """Refuse an HF directory that asks for code of its own or has no safetensors weights."""
    from transformers import CONFIG_MAPPING

    cfg_path = p / "config.json"
    try:
        cfg = json.loads(cfg_path.read_bytes())
    except (OSError, ValueError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise FormatError(cfg_path, f"not a JSON model config ({one_line(e)})") from None
    if not isinstance(cfg, dict):
        raise FormatError(cfg_path, "not a JSON model config (not an object)")
    if "auto_map" in cfg:
        raise FormatError(cfg_path, "asks for custom model code (auto_map); tokkit never runs code from a model")
    kind = cfg.get("model_type")
    if not isinstance(kind, str) or kind not in CONFIG_MAPPING:
        raise FormatError(cfg_path, f"model_type {kind!r} is not one transformers knows (custom model code is "
                                    "never run)")
    if any(p.glob("*.safetensors")):
        return
    pickles = sorted(x for x in p.iterdir() if x.suffix in _PICKLE_SUFFIXES)
    if pickles:
        raise FormatError(pickles[0], "pickle checkpoints are not loaded (unpickling can run code); convert to "
                                      "safetensors")
    raise FormatError(p, "no model weights (model.safetensors)")


def _check_gguf_weights(p: Path) -> None:
    """Refuse a GGUF file without the weights of a model (a vocabulary-only file)."""
    from .vocab.gguf_io import read_gguf_tensors

    _, tensors = read_gguf_tensors(p)
    if not tensors:
        raise FormatError(p, "a vocabulary-only GGUF (no tensors): this needs a model with weights")
    if "token_embd.weight" not in {name for name, *_ in tensors}:
        raise FormatError(p, "no token embedding tensor (token_embd.weight): not a language model's weights")


def _load_gguf(p: Path):
    """Dequantized once to a float32 safetensors checkpoint in the cache, then read from there."""
    import torch
    from transformers import AutoModelForCausalLM

    from .io import atomic_dir, cache_dir, sha256_file

    cached = cache_dir() / "models" / sha256_file(p)[:16]
    if not (cached / "config.json").exists():
        m = _llama_from_gguf(p)
        if m is None:  # another architecture or tensor type: transformers' own loader
            m, info = AutoModelForCausalLM.from_pretrained(str(p.parent), gguf_file=p.name, dtype=torch.float32,
                                                           trust_remote_code=False, output_loading_info=True)
            _check_loaded(p, m, info)
        _check_finite(p, m)
        # transformers will not save_pretrained a model it read from GGUF; the dequantized
        # float32 weights are plain tensors, written here with safetensors (tied rows once)
        from safetensors.torch import save_model

        m.config.quantization_config = None
        m.config.architectures = m.config.architectures or [type(m).__name__]  # GGUF configs lack it
        with atomic_dir(cached, force=True) as tmp:
            m.config.save_pretrained(tmp)
            save_model(m, str(tmp / "model.safetensors"))
    return AutoModelForCausalLM.from_pretrained(str(cached), dtype=torch.float32, trust_remote_code=False,
                                                use_safetensors=True)


def _load_hf_dir(p: Path):
    import torch
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM

    cfg = _hf_config(p)
    _check_sizes(p, cfg)
    try:
        model, info = AutoModelForCausalLM.from_pretrained(str(p), config=cfg, dtype=torch.float32,
                                                           output_loading_info=True, trust_remote_code=False,
                                                           use_safetensors=True)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as e:
        raise TokkitError(f"{p}: cannot load the model ({one_line(e)})") from None
    _check_loaded(p, model, info)
    _check_finite(p, model)
    return model


def one_line(e: Exception) -> str:
    """An exception's message on one line (at most 200 characters)."""
    text = " ".join(str(e).split())
    return (text[:197] + "...") if len(text) > 200 else text or type(e).__name__


def _hf_config(p: Path):
    """The directory's config as transformers reads it (it validates field types and values)."""
    from huggingface_hub.errors import StrictDataclassError
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(str(p), trust_remote_code=False)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ArithmeticError, StrictDataclassError) as e:
        raise FormatError(p / "config.json", f"not a valid model config ({one_line(e)})") from None


def _check_sizes(p: Path, cfg) -> None:
    """Before anything is allocated: the model the config describes (built on the meta device,
    no memory) must not have more parameters than the safetensors files hold, so a small file
    with a config of absurd sizes is refused instead of filling memory with random weights."""
    import torch
    from safetensors import SafetensorError, safe_open
    from transformers import AutoModelForCausalLM

    try:
        with torch.device("meta"):
            meta = AutoModelForCausalLM.from_config(cfg, trust_remote_code=False)
    except (ValueError, KeyError, TypeError, AttributeError, RuntimeError, ArithmeticError) as e:
        raise FormatError(p / "config.json", f"describes no model transformers can build ({one_line(e)})") from None
    need = sum(x.numel() for x in meta.parameters())
    emb = meta.get_input_embeddings()
    shapes = []  # of every tensor in the files
    for f in sorted(p.glob("*.safetensors")):
        try:
            with safe_open(str(f), "pt") as st:
                shapes += [tuple(int(n) for n in st.get_slice(k).get_shape()) for k in st.keys()]
        except (OSError, SafetensorError) as e:
            raise FormatError(f, f"not a safetensors file ({one_line(e)})") from None
    have = sum(math.prod(s) for s in shapes)
    if need > have:
        if emb is not None and tuple(emb.weight.shape) not in shapes:
            what = f"no input embedding matrix (no tensor of shape {list(emb.weight.shape)})"
        else:
            what = f"{have:,} weights but the config describes {need:,}"
        raise FormatError(p, f"the checkpoint has {what}; the rest would be random")


def _check_loaded(p: Path, model, info: dict) -> None:
    """Refuse a model some of whose weights were not in the checkpoint (transformers would leave
    them random) or had another shape."""
    emb = model.get_input_embeddings()
    if emb is None or not hasattr(emb, "weight"):
        raise TokkitError(f"{p}: the model has no input embedding matrix")
    missing = sorted(set(info.get("missing_keys") or ()) | {str(k) for k in info.get("mismatched_keys") or ()})
    if missing:
        emb_names = [n for n, prm in model.named_parameters() if prm is emb.weight]
        what = "no input embedding matrix" if set(emb_names) & set(missing) else "missing or misshapen weights"
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise FormatError(p, f"the checkpoint has {what} ({', '.join(missing[:3])}{more}); "
                             "they would be random")


def _check_finite(p: Path, model) -> None:
    """Refuse weights with NaN or infinite values: every result would be NaN."""
    import torch

    for name, prm in model.named_parameters():
        if prm.is_floating_point() and not bool(torch.isfinite(prm).all()):
            raise FormatError(p, f"the weights are not all finite numbers (NaN or infinity in {name})")


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


def head_logits(model, h, e_out):
    """Logits of hidden states ``h`` over output rows ``e_out``, with the model's final logit
    soft-capping (Gemma 2) when it has one."""
    import torch

    logits = h @ e_out.T
    cap = getattr(model.config, "final_logit_softcapping", None)
    return torch.tanh(logits / cap) * cap if cap else logits


def cache_kwargs(forward, cache) -> dict:
    """The KV cache as keywords of a model's ``forward``: ``cache`` (transformers 5.x) or
    ``past_key_values`` (4.x; deprecated in 5.x, with a warning on every call)."""
    import inspect

    params = inspect.signature(forward).parameters
    return {"cache" if "cache" in params else "past_key_values": cache, "use_cache": True}


def returned_cache(out):
    """The KV cache a forward returned (``cache`` in transformers 5.x, ``past_key_values`` in 4.x)."""
    return out.cache if "cache" in getattr(out, "__dataclass_fields__", {}) else out.past_key_values


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

    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
        raise TokkitError(f"max_len must be a positive number of tokens, not {max_len!r}")
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
            ids = [int(x) for x in tok.encode(t, special="text")]
            seq = torch.as_tensor([pid] + ids, device=e_in.device)
            n_bytes += len(t.encode("utf-8"))
            n_tokens += len(ids)
            for a in range(0, len(seq) - 1, max_len):
                window = seq[a: a + max_len + 1]
                h = hidden_states(model, e_in, window[:-1][None])[0]
                logp = F.log_softmax(head_logits(model, h, e_out), dim=-1)
                bits += float(-logp[torch.arange(len(window) - 1, device=seq.device), window[1:]].sum()) / math.log(2)
    if not math.isfinite(bits):
        raise TokkitError(f"the model's log-probabilities are not finite numbers ({bits} bits): its weights or "
                          "activations overflow; no result")
    return {"bits_per_byte": bits / max(n_bytes, 1), "bytes": n_bytes, "tokens": n_tokens, "bits": bits}
