"""Native BPE trainer: HF BpeTrainer's exact merges; snapshots, replay, constraints, output loads."""

import json

import pytest
import tokenizers
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

import tokkit
from tokkit import _native, corpora
from tokkit.counts import count_texts
from tokkit.errors import TokkitError
from tokkit.train import train_bpe
from tokkit.vocab import spec


@pytest.fixture(scope="module")
def legal():
    return list(corpora.open_corpus("legal", split="train"))


@pytest.fixture(scope="module")
def counts(legal):
    return count_texts(legal, spec.byte_level_preset("llama3"))


def hf_train(texts, vocab_size, pattern=spec.LLAMA3_PATTERN):
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(pattern=tokenizers.Regex(pattern), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tr = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"], show_progress=False,
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    hf.train_from_iterator(texts, trainer=tr)
    return json.loads(hf.to_str())["model"]


def test_same_merges_and_ids_as_hf_bpe_trainer(legal, counts):
    hf = hf_train(legal, 6000)
    v = train_bpe(counts, 6000)
    ours = [[_native.bytelevel_encode(v.tokens[a]), _native.bytelevel_encode(v.tokens[b])] for a, b, _ in v.merges]
    assert ours == [m if isinstance(m, list) else m.split(" ") for m in hf["merges"]]
    assert {(_native.bytelevel_encode(t) if i else t.decode()): i for i, t in enumerate(v.tokens)} == hf["vocab"]


def test_long_pretokens_same_merges_as_hf(legal):
    # SuperBPE's paper stage-2 split leaves whole documents as pretokens (thousands of bytes):
    # the occurrence-indexed merge loop and the cut-and-cache replay must give HF's merges there
    paper = r"(?=(\d{3})+(?!\d))"
    texts = legal[:150]
    weak = count_texts(texts, [spec.split(paper), spec.byte_level(False, False, False)])
    assert max(map(len, weak.pieces)) > 2000
    hf = hf_train(texts, 2500, pattern=paper)
    v = train_bpe(weak, 2500)
    ours = [[_native.bytelevel_encode(v.tokens[a]), _native.bytelevel_encode(v.tokens[b])] for a, b, _ in v.merges]
    assert ours == [m if isinstance(m, list) else m.split(" ") for m in hf["merges"]]
    # replaying the first 1,000 merges over the long pretokens, then learning on, is the same
    replay = [(v.tokens[a], v.tokens[b]) for a, b, _ in v.merges[:1000]]
    assert train_bpe(weak, 2500, replay=replay).merges == v.merges


def test_snapshots_are_prefixes(counts):
    big, small = train_bpe(counts, 3000), train_bpe(counts, 1000)
    assert big.merges[:len(small.merges)] == small.merges and big.tokens[:small.size] == small.tokens


def test_replay_then_continue(counts):
    first = train_bpe(counts, 1000)
    replay = [(first.tokens[a], first.tokens[b]) for a, b, _ in first.merges]
    ext = train_bpe(counts, 2000, replay=replay)
    assert ext.tokens[:first.size] == first.tokens  # extending keeps every id
    assert ext.merges == train_bpe(counts, 2000).merges


def test_constraints_hold(legal):
    weak = count_texts(legal[:200], [spec.split(r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]{2,}[\r\n/]*| +(?!\S)"),
                                     spec.byte_level(False, False, False)])
    v = train_bpe(weak, 1500, max_words=4, forbid=[b": "], max_token_bytes=24)
    for _, _, r in v.merges:
        t = v.tokens[r]
        assert b": " not in t and len(t) <= 24 and 1 + t[1:].count(b" ") <= 4


def test_trained_tokenizer_loads_in_stock_transformers(counts, tmp_path):
    from transformers import AutoTokenizer

    v = train_bpe(counts, 4000)
    tokkit.write_vocab(v, tmp_path)
    hf = AutoTokenizer.from_pretrained(str(tmp_path))
    t = tokkit.Tokenizer(v)
    texts = list(corpora.open_corpus("legal", split="heldout"))[:30] + corpora.udhr("eng")
    assert hf(texts, add_special_tokens=False)["input_ids"] == [x.tolist() for x in t.encode_batch(texts)]


def test_bad_sizes(counts):
    with pytest.raises(TokkitError, match="smaller than"):
        train_bpe(counts, 100)


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=60))
def test_decode_encode_round_trip(counts, text):
    t = _trained(counts)
    assert t.decode_bytes(t.encode(text)) == text.encode("utf-8")


_tok = {}


def _trained(counts):
    if "t" not in _tok:
        _tok["t"] = tokkit.Tokenizer(train_bpe(counts, 3000))
    return _tok["t"]


def test_caller_constraint(counts):
    seen = []

    def accept(t: bytes) -> bool:
        seen.append(t)
        return b"e" not in t

    v = train_bpe(counts, 1500, accept=accept)
    assert v.size == 1500 and seen
    assert all(b"e" not in v.tokens[r] for _, _, r in v.merges)

    def boom(t: bytes) -> bool:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        train_bpe(counts, 1500, accept=boom)
