"""What training and applying a hypernetwork share: the base model's rows, decompositions of new
tokens by the old tokenizer, batched prediction, and scoring a base model whose embedding rows
are replaced (bits per byte, no checkpoint written)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..tokenizer import Tokenizer


def base_rows(model):
    """(rows [V_old, width], tied): the input embeddings, with the LM head's rows concatenated
    when the model does not tie them."""
    import torch

    e_in = model.get_input_embeddings().weight.detach()
    head = model.get_output_embeddings()
    tied = head is None or head.weight.data_ptr() == e_in.data_ptr() or torch.equal(head.weight, e_in)
    if tied:
        return e_in, True
    return torch.cat([e_in, head.weight.detach()], dim=1), False


def _old_ids(tok: Tokenizer, b: bytes, index: dict[bytes, int]) -> list[int]:
    """The old tokenizer's pieces for a byte string: valid UTF-8 runs encoded, other bytes alone
    (as the old vocabulary's single-byte tokens, when it has them)."""
    out: list[int] = []
    run: list[str] = []
    for ch in b.decode("utf-8", "surrogateescape") + "\udfff":  # sentinel flushes the last run
        if "\udc80" <= ch <= "\udcff" or ch == "\udfff":
            if run:
                out += [int(x) for x in tok.encode("".join(run))]
                run = []
            if ch != "\udfff":
                one = bytes([ord(ch) - 0xDC00])
                if one in index:
                    out.append(index[one])
        else:
            run.append(ch)
    return out


def decompose(new_tokens: Sequence[bytes], old: Tokenizer, max_pieces: int) -> tuple[np.ndarray, np.ndarray]:
    """(pieces [N, P] int64, lengths [N]): each new token encoded alone by the old tokenizer,
    truncated to ``max_pieces``; empty tokens get the old tokenizer's first id (length 0)."""
    index = old.vocab.index()
    n = len(new_tokens)
    pieces = np.zeros((n, max_pieces), dtype=np.int64)
    lengths = np.zeros(n, dtype=np.int64)
    plain = [i for i, t in enumerate(new_tokens) if _utf8(t)]
    if plain:
        enc = old.encode_batch([new_tokens[i].decode("utf-8") for i in plain])
        for i, ids in zip(plain, enc):
            ids = ids[:max_pieces]
            pieces[i, : len(ids)] = ids
            lengths[i] = len(ids)
    for i, t in enumerate(new_tokens):
        if not _utf8(t):
            ids = _old_ids(old, t, index)[:max_pieces]
            pieces[i, : len(ids)] = ids
            lengths[i] = len(ids)
    return pieces, lengths


def _utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def predict(net, rows, pieces: np.ndarray, lengths: np.ndarray, chunk: int = 8192):
    """Hypernetwork predictions [N, width] for decomposed tokens (gradients flow when enabled)."""
    import torch

    p = torch.as_tensor(pieces)
    ln = torch.as_tensor(lengths)
    mask = torch.arange(p.shape[1])[None, :] < ln.clamp(min=1)[:, None]
    outs = []
    for a in range(0, len(p), chunk):
        x = rows[p[a:a + chunk]]
        outs.append(net(x, mask[a:a + chunk]))
    return torch.cat(outs) if outs else rows[:0]


def lm_loss(model, table, ids, tied: bool, d_model: int):
    """Causal-LM loss (mean nats per predicted token) of ``model`` run on token ids ``ids``
    [B, T] of a vocabulary whose rows are ``table`` [V, width] (input rows, then output rows when
    untied); the model's own weights are not touched."""
    import torch.nn.functional as F

    e_in = table[:, :d_model]
    e_out = e_in if tied else table[:, d_model:]
    h = model.model(inputs_embeds=e_in[ids]).last_hidden_state
    logits = h[:, :-1] @ e_out.T
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def bits_per_byte(model, table, tok: Tokenizer, texts: Sequence[str], tied: bool, d_model: int,
                  prefix_id: int, max_len: int = 1024) -> float:
    """Bits per UTF-8 byte of ``texts`` under ``model`` with embedding rows ``table`` for the
    vocabulary of ``tok``; each text conditioned on ``prefix_id`` (BOS, else EOS) and scored in
    windows of ``max_len`` tokens (each window sees the previous window's last token)."""
    import torch
    import torch.nn.functional as F

    e_in = table[:, :d_model]
    e_out = e_in if tied else table[:, d_model:]
    bits = 0.0
    n_bytes = 0
    with torch.no_grad():
        for t in texts:
            seq = torch.as_tensor([prefix_id] + [int(x) for x in tok.encode(t)])
            n_bytes += len(t.encode("utf-8"))
            for a in range(0, len(seq) - 1, max_len):
                window = seq[a: a + max_len + 1]
                h = model.model(inputs_embeds=e_in[window[:-1]][None]).last_hidden_state[0]
                logp = F.log_softmax(h @ e_out.T, dim=-1)
                bits += float(-logp[torch.arange(len(window) - 1), window[1:]].sum()) / math.log(2)
    return bits / max(n_bytes, 1)
