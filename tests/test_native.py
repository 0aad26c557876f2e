"""tokkit._native bindings against plain-Python oracles."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokkit import _native


def py_bytes_to_unicode():
    direct = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    table, n = {}, 0
    for b in range(256):
        if b in direct:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + n)
            n += 1
    return [table[b] for b in range(256)]


def test_table_matches_reference():
    assert _native.bytes_to_unicode() == py_bytes_to_unicode()
    assert _native.bytelevel_encode(b" \n") == "\u0120\u010a"


@given(st.binary(max_size=200))
def test_bytelevel_round_trip(b):
    assert _native.bytelevel_decode(_native.bytelevel_encode(b)) == b


@given(st.lists(st.binary(max_size=20), max_size=50))
def test_many_matches_one(items):
    enc = _native.bytelevel_encode_many(items)
    assert enc == [_native.bytelevel_encode(b) for b in items]
    assert _native.bytelevel_decode_many(enc) == items


def test_decode_error_names_char():
    with pytest.raises(ValueError, match="U\\+200D.*position 1"):
        _native.bytelevel_decode("a\u200d")
    with pytest.raises(ValueError, match="item 1"):
        _native.bytelevel_decode_many(["a", "b c"])


small = st.binary(min_size=0, max_size=4).map(lambda b: bytes(x % 3 + 97 for x in b))


@settings(max_examples=300)
@given(st.lists(small, max_size=30), st.lists(small, max_size=5).map(b"".join), st.integers(0, 10), small)
def test_trie_agrees_with_brute_force(vocab, text, start, prefix):
    t = _native.ByteTrie(vocab)
    assert len(t) == sum(1 for v in vocab if v)
    start = min(start, len(text))
    want = sorted((start + len(v), i) for i, v in enumerate(vocab) if v and text[start:].startswith(v))
    assert t.prefixes_of(text, start) == want
    assert t.with_prefix(prefix) == [i for i, v in enumerate(vocab) if v and v.startswith(prefix)]
    assert t.get(prefix) == [i for i, v in enumerate(vocab) if v and v == prefix]
    lp = t.longest_prefix(text, start)
    if want:
        end = max(e for e, _ in want)
        assert lp == (end, min(i for e, i in want if e == end))
    else:
        assert lp is None


def test_trie_on_real_vocabulary(real_tokenizers):
    from tokkit import read_vocab

    v = read_vocab(real_tokenizers["cl100k"])
    t = _native.ByteTrie(v.tokens)
    ids = [i for e, i in t.prefixes_of(b" hello world")]
    assert [v.tokens[i] for i in ids] == [b" ", b" h", b" he", b" hel", b" hell", b" hello"]
    assert t.num_nodes < 1_000_000
