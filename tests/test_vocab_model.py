"""The data model: invariants, spec mapping, HF JSON round trip, merges derivation."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokkit.errors import FormatError
from tokkit.vocab import AddedToken, ModelKind, Role, Step, Surface, TokenType, Vocabulary, merges_all_splits
from tokkit.vocab import spec
from tokkit.vocab.hf import vocab_from_hf_json, vocab_to_hf_json
from tokkit.vocab.tiktoken_io import portable_pattern

from toyvocab import byte_level_bpe


def test_invariants_reject_bad_ids():
    with pytest.raises(FormatError, match="outside"):
        Vocabulary(model=ModelKind.BPE, tokens=[b"a"], types=[TokenType.NORMAL], surface=Surface.PLAIN,
                   merges=[(0, 0, 5)])
    with pytest.raises(FormatError, match="token types"):
        Vocabulary(model=ModelKind.BPE, tokens=[b"a", b"b"], types=[TokenType.NORMAL], surface=Surface.PLAIN)
    with pytest.raises(FormatError, match="needs a score"):
        Vocabulary(model=ModelKind.UNIGRAM, tokens=[b"a"], types=[TokenType.NORMAL], surface=Surface.PLAIN)


def test_unique_roles_enforced():
    with pytest.raises(FormatError, match="role bos"):
        Vocabulary(model=ModelKind.BPE, tokens=[b"<a>", b"<b>"], types=[TokenType.CONTROL] * 2,
                   surface=Surface.PLAIN,
                   added=[AddedToken(0, "<a>", roles=frozenset({Role.BOS})),
                          AddedToken(1, "<b>", roles=frozenset({Role.BOS}))])


def test_roles_and_lookups():
    v = byte_level_bpe([(b"h", b"e"), (b"he", b"l")])
    assert v.eos_id == 258 and v.bos_id is None
    assert v.token_id(b"hel") == 257
    assert v.token_id("<|endoftext|>") is None  # specials are not in the model index
    assert v.byte_coverage() == 256
    s = v.summary()
    assert s["size"] == 259 and s["merges"] == 2 and s["roles"] == {"eos": ["<|endoftext|>"]}


def test_hf_json_round_trip_is_lossless():
    v = byte_level_bpe([(b" ", b"t"), (b" t", b"h"), (b"e", b"r"), (b"\xc3", b"\xa9")])
    obj = vocab_to_hf_json(v)
    assert obj["model"]["merges"][0] == ["\u0120", "t"]  # byte-level spelling of ' t'
    w = vocab_from_hf_json(json.loads(json.dumps(obj)))
    assert w.tokens == v.tokens and w.types == v.types and w.merges == v.merges
    assert [(a.id, a.content, a.special) for a in w.added] == [(a.id, a.content, a.special) for a in v.added]
    assert w.pretokenizer == v.pretokenizer and w.surface == Surface.BYTE_LEVEL
    assert vocab_to_hf_json(w) == obj


def test_steps_map_to_hf_and_back():
    steps = [spec.digits(True), spec.split(spec.LLAMA3_PATTERN), spec.byte_level(False, False, False)]
    hf = spec.steps_to_hf(steps, "pre_tokenizer")
    assert hf["type"] == "Sequence" and hf["pretokenizers"][1]["pattern"] == {"Regex": spec.LLAMA3_PATTERN}
    assert spec.steps_from_hf(hf, "pre_tokenizer") == steps
    # unknown types survive verbatim
    odd = {"type": "SomethingNew", "x": 1}
    back = spec.steps_from_hf(odd, "normalizer")
    assert back == [Step("hf:SomethingNew", {"x": 1})]
    assert spec.steps_to_hf(back, "normalizer") == odd


def test_malformed_hf_json_errors_name_the_problem():
    with pytest.raises(FormatError, match="merge #0"):
        vocab_from_hf_json({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}, where="x.json")
    with pytest.raises(Exception, match="not supported"):
        vocab_from_hf_json({"model": {"type": "WordLevel", "vocab": {}}}, where="x.json")


def _greedy_bpe(word: bytes, pair_rank) -> list[bytes]:
    """Merge the adjacent pair with the lowest rank (leftmost among equals) until none has one.
    tiktoken: rank of a pair = rank of its concatenation; HF: rank of the pair in the merge list."""
    parts = [word[i:i + 1] for i in range(len(word))]
    while True:
        ranked = [(r, i) for i in range(len(parts) - 1) if (r := pair_rank(parts[i], parts[i + 1])) is not None]
        if not ranked:
            return parts
        _, i = min(ranked)
        parts[i:i + 2] = [parts[i] + parts[i + 1]]


def _rank_bpe(word: bytes, ranks: dict[bytes, int]) -> list[bytes]:
    return _greedy_bpe(word, lambda a, b: ranks.get(a + b))


def _merge_list_bpe(word: bytes, merges: list[tuple[bytes, bytes]]) -> list[bytes]:
    rank: dict[tuple[bytes, bytes], int] = {}
    for r, m in enumerate(merges):
        rank.setdefault(m, r)
    return _greedy_bpe(word, lambda a, b: rank.get((a, b)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=2, max_size=5, ).map(lambda b: bytes(x % 4 + 97 for x in b)),
                min_size=1, max_size=25),
       st.lists(st.binary(min_size=1, max_size=12).map(lambda b: bytes(x % 4 + 97 for x in b)), max_size=10))
def test_all_splits_merges_reproduce_rank_bpe(extra, words):
    """merges_all_splits turns tiktoken-style ranks into a merge list with the same output."""
    tokens = [bytes([c]) for c in b"abcd"]
    for t in extra:  # add tokens in rank order, only those BPE can actually reach
        if t not in tokens and _rank_bpe(t, {x: i for i, x in enumerate(tokens)}) != [t]:
            parts = _rank_bpe(t, {x: i for i, x in enumerate(tokens)})
            if len(parts) == 2:
                tokens.append(t)
    types = [TokenType.NORMAL] * len(tokens)
    triples = merges_all_splits(tokens, types, range(len(tokens)))
    merges = [(tokens[a], tokens[b]) for a, b, _ in triples]
    ranks = {t: i for i, t in enumerate(tokens)}
    for w in words:
        assert _merge_list_bpe(w, merges) == _rank_bpe(w, ranks)


def test_portable_pattern_rewrites_possessive_intervals_only():
    assert portable_pattern(r"\p{N}{1,3}+") == r"(?>\p{N}{1,3})"
    assert portable_pattern(r"[0-9]{2}+x") == r"(?>[0-9]{2})x"
    assert portable_pattern(r"\p{L}++|a?+") == r"\p{L}++|a?+"
    assert portable_pattern(r"\{1,2}+") == r"\{1,2}+"
