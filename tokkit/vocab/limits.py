"""Limits the tokenizer-file readers check before they allocate (see docs/security.md).

A tokenizer file is data from anywhere: readers size their tables by the file's own token
count, never by a number the file states, and read only regular files of a bounded size.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from ..errors import FormatError

#: unused ids a tokenizer file may leave below its highest id, beyond one per token it holds
#: (cl100k leaves 16, o200k 19): readers size their tables by the highest id, so an id far past
#: the file's own token count is a format error, not a request for gigabytes
MAX_ID_SLACK = 1024


def check_id_range(ids: Iterable[int], count: int, where: str | None, what: str = "id") -> int:
    """The table size (highest id + 1) for ``count`` tokens with these ``ids``; FormatError when an
    id is negative or the ids would leave more than ``count + MAX_ID_SLACK`` unused ids."""
    top = -1
    for i in ids:
        if i < 0:
            raise FormatError(where, f"negative {what} {i}")
        top = max(top, i)
    limit = 2 * count + MAX_ID_SLACK
    if top >= limit:
        raise FormatError(where, f"{what} {top} is far past the {count} tokens in the file "
                                 f"(ids must stay below {limit}: at most {count + MAX_ID_SLACK} unused ids)")
    return top + 1


#: the largest tokenizer file read whole (tokenizer.json, a tiktoken rank file, a SentencePiece
#: model, their side files); the largest real ones are under 40 MB (Gemma 3's tokenizer.json).
#: GGUF files are mapped, not read, and may be any size.
MAX_FILE_BYTES = 256 * 1024 * 1024


def check_regular_file(path: str | os.PathLike, limit: int | None = MAX_FILE_BYTES) -> Path:
    """``path`` when it is a regular file of at most ``limit`` bytes; FormatError for a device, a
    pipe or socket (which could be read without end or block) or a file over the limit."""
    from ..textio import regular_file

    p = regular_file(path)
    size = p.stat().st_size
    if limit is not None and size > limit:
        raise FormatError(p, f"{size:,} bytes is more than a tokenizer file may have ({limit:,})")
    return p
