"""What a healing run trains (``--train``) and how it is saved.

- ``new-rows``: the input and LM-head rows of the tokens the transplant made; every other weight
  is frozen. The embedding matrices take gradients, masked to the new rows by a hook, and Adam
  without weight decay moves nothing whose gradient is always zero, so copied rows stay bit for
  bit what the transplant wrote.
- ``embeddings``: every input and head row.
- ``lora``: peft LoRA adapters on the attention and MLP projections, plus the new rows; merged
  into the weights when saved (``merge_lora``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class Trainable:
    model: object  # the student (a peft model under lora)
    named: dict  # name -> parameter that trains (the checkpoint's tensors)
    groups: list  # optimizer parameter groups


def _row_mask(weight, rows: np.ndarray):
    import torch

    mask = torch.zeros((weight.shape[0], 1), dtype=weight.dtype, device=weight.device)
    mask[torch.as_tensor(rows, dtype=torch.long, device=weight.device)] = 1
    return mask


def _embedding_params(model, new_rows: np.ndarray | None) -> dict:
    """The input matrix and (untied) head, trainable; masked to ``new_rows`` when given."""
    emb = model.get_input_embeddings().weight
    head_mod = model.get_output_embeddings()
    head = head_mod.weight if head_mod is not None else emb
    named = {"embed": emb} if head is emb else {"embed": emb, "head": head}
    for p in named.values():
        p.requires_grad_(True)
        if new_rows is not None:
            mask = _row_mask(p, new_rows)
            p.register_hook(lambda g, m=mask: g * m)
    return named


def setup(model, mode: str, new_rows: np.ndarray, lr: float, lr_lora: float, lora_rank: int) -> Trainable:
    for p in model.parameters():
        p.requires_grad_(False)
    if mode == "lora":
        from peft import LoraConfig, get_peft_model

        cfg = LoraConfig(r=lora_rank, lora_alpha=2 * lora_rank, lora_dropout=0.0, target_modules=LORA_TARGETS,
                         bias="none", init_lora_weights=True)
        model = get_peft_model(model, cfg)
        lora = {n: p for n, p in model.named_parameters() if p.requires_grad}
        rows = _embedding_params(model, new_rows)
        return Trainable(model, {**rows, **lora},
                         [{"params": list(rows.values()), "lr": lr}, {"params": list(lora.values()), "lr": lr_lora}])
    rows = _embedding_params(model, None if mode == "embeddings" else new_rows)
    return Trainable(model, rows, [{"params": list(rows.values()), "lr": lr}])


def final_model(t: Trainable, merge_lora: bool):
    """The model to save: LoRA merged into the weights (or the peft model, adapters apart)."""
    if hasattr(t.model, "merge_and_unload") and merge_lora:
        return t.model.merge_and_unload()
    return t.model
