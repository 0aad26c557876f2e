"""Tokenizer trainers. Today: byte-level BPE over a pretoken count table (native core)."""

from .bpe import train_bpe

__all__ = ["train_bpe"]
