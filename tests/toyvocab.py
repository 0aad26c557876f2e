"""Small vocabularies built in code (exactness oracles; never the only evidence)."""

from tokkit.vocab import AddedToken, ModelKind, Role, Surface, TokenType, Vocabulary
from tokkit.vocab import spec


def byte_level_bpe(merges: list[tuple[bytes, bytes]], specials=("<|endoftext|>",)) -> Vocabulary:
    tokens = [bytes([b]) for b in range(256)]
    index = {t: i for i, t in enumerate(tokens)}
    triples = []
    for a, b in merges:
        if a + b not in index:
            index[a + b] = len(tokens)
            tokens.append(a + b)
        triples.append((index[a], index[b], index[a + b]))
    types = [TokenType.NORMAL] * len(tokens)
    added = []
    for s in specials:
        added.append(AddedToken(id=len(tokens), content=s, special=True,
                                roles=frozenset({Role.EOS}) if not added else frozenset()))
        tokens.append(s.encode())
        types.append(TokenType.CONTROL)
    return Vocabulary(model=ModelKind.BPE, tokens=tokens, types=types, surface=Surface.BYTE_LEVEL,
                      merges=triples, added=added, pretokenizer=spec.byte_level_preset("gpt2"),
                      decoder=[spec.byte_level(True, True, True)])
