"""Tokenizer trainers: byte-level BPE (native core), SuperBPE, KL3M-style domain, character-level
BPE, Unigram (sentencepiece); ``train()`` is what ``tokkit train`` runs (from a corpus, or from
count tables made with :func:`count_for_training` / ``tokkit count --config``)."""

from .bpe import snapshot, train_bpe
from .options import TrainOptions, load_config
from .plan import CountPlan
from .run import count_for_training, train, train_vocab

__all__ = ["CountPlan", "TrainOptions", "count_for_training", "load_config", "snapshot", "train", "train_bpe",
           "train_vocab"]
