"""SuperBPE (Liu et al. 2025): a two-stage curriculum that learns superword tokens.

Stage 1 is ordinary byte-level BPE with a whitespace-aware pretokenizer up to the transition
size ``t``. Stage 2 counts the corpus again with a much weaker pretokenizer (by default only
right-to-left groups of 3 digits are split off; the authors' "current" regex also splits
punctuation runs and space runs before a space), replays the stage-1 merges in
order, and continues BPE there, so new tokens may span several words. The reference constraints
hold for stage-2 tokens: at most 4 words, never ``": "`` inside. The result is a stock
``tokenizer.json``: the stage-2 pretokenizer plus one merge list.

Defaults, measured (``eval/trainer_sweep.py``; docs/train.md, "Measured defaults"): stage 2
uses the paper-era regex (``stage2_regex="paper"``) and starts at 60% of the vocabulary below
64K, 40% from 64K (:func:`default_transition`). On the held-out text of kernel documentation,
the CPython standard library and Go sources, at 16K-128K, the saving over BPE is flat from t=10%
to 50-60% of the vocabulary and falls beyond (at 32K on kernel docs: 19.7% fewer tokens at
t=60%, 19.0% at 80%, 17.1% at 90%; Go: 45.4%, 42.8%, 39.1%), while the training time falls only
slowly with t (stage 2 works on whole documents either way): 60% keeps 32K within 3x BPE's time
on Python; from 64K BPE's own time is larger, so 40% fits (the best there, by 0.1-0.4 points
over 50%, at 2.7-2.9x). The authors' numbers agree: at 200K their best compression was t=40%
(their downstream optimum t=90%, and their current recipe 100K of 128K, 78%, trade some
compression for it). ``--transition`` overrides.
"""

from __future__ import annotations

from typing import Callable, Sequence

from ..counts import CountTable
from ..vocab import Step, Vocabulary
from .bpe import Learned, assemble, base_merges, learn_merges, new_merge_budget


def default_transition(vocab_size: int) -> int:
    """The vocabulary size at which stage 2 starts when ``--transition`` is not given: 60% of the
    vocabulary below 64K, 40% from 64K (the most held-out tokens saved within 3x BPE's training
    time on kernel docs and Python in the sweep; see the module docstring)."""
    return int(round(vocab_size * (0.6 if vocab_size < 64_000 else 0.4)))


def stage2(
    counts2: CountTable,
    stage1: Learned | Vocabulary,
    vocab_size: int,
    special_tokens: Sequence[str] = ("<|endoftext|>",),
    added_tokens: Sequence[str] = (),
    normalizer: Sequence[Step] = (),
    max_words: int = 4,
    forbid: Sequence[bytes] = (b": ",),
    min_frequency: int = 0,
    max_token_bytes: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Vocabulary:
    """Stage 2 over ``counts2`` (made with the stage-2 pretokenizer): replay ``stage1`` (the
    learned stage-1 merges, or an existing byte-level BPE tokenizer such as GPT-2's), then learn
    superword merges up to ``vocab_size``."""
    base = stage1 if isinstance(stage1, Vocabulary) else None
    if base is not None:
        replay = base_merges(base)
        n = new_merge_budget(vocab_size, (), added_tokens, base)
    else:
        replay = [(a, b) for a, b, _ in stage1]
        n = new_merge_budget(vocab_size, special_tokens, added_tokens) - len(replay)
    learned = learn_merges(counts2, n, replay=replay, min_frequency=min_frequency, max_token_bytes=max_token_bytes,
                           max_words=max_words, forbid=forbid, progress=progress)
    if base is None:
        # keep stage 1's counts in the record (the replayed merges come back with count 0)
        learned = [(a, b, c) for (a, b, _), (_, _, c) in zip(learned[:len(stage1)], stage1)] + learned[len(stage1):]
    v = assemble(learned, counts2.pretokenizer, special_tokens, added_tokens, normalizer, base,
                 meta={"trainer": "tokkit superbpe", "stage1_merges": len(replay)})
    return v
