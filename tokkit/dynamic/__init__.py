"""Dynamic tokenization: batch-level merges of a model's own tokens, embedded on the fly by its
hypernetwork (Feher, Vulić, Minixhofer 2024; docs/dynamic.md).

- :mod:`.merge`: batch-level BPE inside word (or pretoken) boundaries, the budget;
- :mod:`.embed`: rows of merged tokens (hypernetwork, or FVT), cached;
- :mod:`.score`: prefill and union-vocabulary scoring on ``inputs_embeds``;
- :mod:`.generate`: a large dynamic output vocabulary through a faiss HNSW index.
"""

from .embed import MergedRows
from .generate import OutputIndex, ann_bits, generate, union_table, word_vocabulary
from .merge import Budget, DynamicBatch, merge_batch, segments
from .score import Scored, chunk_text, prefill_bits, score, split_prompt, union_bits

__all__ = ["Budget", "DynamicBatch", "MergedRows", "OutputIndex", "Scored", "ann_bits", "chunk_text", "generate",
           "merge_batch", "prefill_bits", "score", "segments", "split_prompt", "union_bits", "union_table",
           "word_vocabulary"]
