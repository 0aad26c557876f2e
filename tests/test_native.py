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


@given(st.lists(st.binary(max_size=6), max_size=40), st.binary(max_size=30), st.integers(0, 40))
def test_trie_full_byte_range(vocab, text, start):
    # arbitrary bytes (all 256 values), start possibly past the end of the text
    vocab = vocab + [text[i:j] for i, j in ((0, 2), (1, 4), (3, 3))]
    t = _native.ByteTrie(vocab)
    want = sorted((start + len(v), i) for i, v in enumerate(vocab) if v and text[start:].startswith(v))
    assert t.prefixes_of(text, start) == want
    assert t.longest_prefix(text, start) == (max(want, key=lambda w: (w[0], -w[1])) if want else None)
    assert t.with_prefix(b"") == [i for i, v in enumerate(vocab) if v]
    for v in vocab:
        assert t.get(v) == ([i for i, w in enumerate(vocab) if w == v] if v else [])


def test_trie_small_cases():
    t = _native.ByteTrie([])
    assert (len(t), t.num_nodes) == (0, 1)
    assert t.prefixes_of(b"abc") == [] and t.longest_prefix(b"abc") is None and t.with_prefix(b"") == []
    t = _native.ByteTrie([b"a", b"ab", b"", b"ab"])
    assert len(t) == 3 and t.num_nodes == 3  # empty tokens are ignored
    assert t.get(b"ab") == [1, 3] and t.get(b"") == []
    assert t.prefixes_of(b"xab", start=1) == [(2, 0), (3, 1), (3, 3)]
    assert t.longest_prefix(b"xab", 1) == (3, 1)
    with pytest.raises(OverflowError):
        t.prefixes_of(b"ab", -1)


def test_version():
    v = _native.version()
    assert isinstance(v, str) and v.count(".") == 2


def test_trie_on_real_vocabulary(real_tokenizers):
    from tokkit import read_vocab

    v = read_vocab(real_tokenizers["cl100k"])
    t = _native.ByteTrie(v.tokens)
    ids = [i for e, i in t.prefixes_of(b" hello world")]
    assert [v.tokens[i] for i in ids] == [b" ", b" h", b" he", b" hel", b" hell", b" hello"]
    assert t.num_nodes < 1_000_000
