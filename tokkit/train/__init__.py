"""Tokenizer trainers: byte-level BPE (native core), SuperBPE, KL3M-style domain, character-level
BPE, Unigram (sentencepiece); ``train()`` is what ``tokkit train`` runs."""

from .bpe import snapshot, train_bpe
from .options import TrainOptions, load_config
from .run import train, train_vocab

__all__ = ["TrainOptions", "load_config", "snapshot", "train", "train_bpe", "train_vocab"]
