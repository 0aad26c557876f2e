"""Special-token text: the encode policy through the CLI, and text that users and corpora give
tokkit read as text wherever tokkit reads it (docs/formats.md, "Special tokens in text")."""

from __future__ import annotations

import numpy as np
import pytest

import tokkit
from hostile import assert_refused, run_cli

EOT = "<|endoftext|>"
TEXT = f"first document{EOT}second document"


@pytest.fixture(scope="module")
def gpt2(real_tokenizers):
    return real_tokenizers["gpt2"]


@pytest.mark.real
def test_cli_encode_policies_and_offsets(gpt2):
    tok = tokkit.load(gpt2)
    eot = int(tok.encode(EOT)[0])
    r = run_cli(["encode", gpt2, TEXT, "--offsets"])
    assert r.code == 0, r.stderr
    ids, spans = r.stdout.splitlines()[:2]
    assert str(eot) in ids.split()
    assert "14:27" in spans.split()  # <|endoftext|> sits at bytes 14-27
    r = run_cli(["encode", gpt2, TEXT, "--special-text", "text"])
    assert r.code == 0 and str(eot) not in r.stdout.split()
    assert [int(x) for x in r.stdout.split()] == tok.encode_ordinary(TEXT).tolist()
    r = run_cli(["encode", gpt2, TEXT, "--special-text", "raise"])
    assert_refused(r, says="<|endoftext|>")
    assert "at byte 14" in r.stderr


@pytest.mark.real
def test_cli_decode(gpt2, tmp_path):
    tok = tokkit.load(gpt2)
    ids = tok.encode("Grüße, 世界 " + EOT).tolist()
    r = run_cli(["decode", gpt2, *map(str, ids)])
    assert r.code == 0 and r.stdout == "Grüße, 世界 " + EOT + "\n", r.stderr
    r = run_cli(["decode", gpt2, ",".join(map(str, ids)), "--skip-special"])
    assert r.stdout == "Grüße, 世界 \n"
    partial = tok.encode("世").tolist()[:1]  # the first bytes of a 3-byte character
    r = run_cli(["decode", gpt2, *map(str, partial)])
    assert r.code == 0 and "\ufffd" in r.stdout
    assert_refused(run_cli(["decode", gpt2, *map(str, partial), "--strict"]), says="not valid UTF-8")
    assert_refused(run_cli(["decode", gpt2, "99999999"]), says="out of range")
    assert_refused(run_cli(["decode", gpt2, "12", "x"]), says="not a token id")


@pytest.mark.real
def test_reports_and_bits_per_byte_read_special_text_as_text(gpt2):
    from tokkit.quality.encode import encode_texts

    tok = tokkit.load(gpt2)
    eot = int(tok.encode(EOT)[0])
    e = encode_texts(tok, [TEXT])
    assert eot not in e.ids.tolist()
    assert np.array_equal(e.ids, tok.encode_ordinary(TEXT))
    assert e.offsets_exact.all() and int(e.ends[-1]) == len(TEXT.encode())


@pytest.mark.real
def test_heal_pieces_read_special_text_as_text(gpt2):
    from tokkit.heal.data import Encoded

    tok = tokkit.load(gpt2)
    eot = int(tok.encode(EOT)[0])
    enc = Encoded.of(tok, [TEXT])
    assert eot not in enc.ids.tolist() and int(enc.ends[-1]) == len(TEXT.encode())


@pytest.mark.real
def test_raise_on_the_hf_path_is_about_special_text_not_an_unknown_token(real_tokenizers):
    tok = tokkit.load(real_tokenizers["minilm"])  # WordPiece: the Hugging Face adapter encodes it
    assert tok.native_unsupported is not None
    ids = tok.encode("hi \u2603 snowman", special="raise")  # [UNK] for the snowman, no special text
    assert len(ids) >= 3
    with pytest.raises(tokkit.TokkitError, match=r"\[SEP\]"):
        tok.encode("hi [SEP] there", special="raise")


@pytest.mark.real
def test_cli_decode_refuses_ids_that_are_not_ascii_digits(gpt2):
    for bad in ["\u00b2", "\u0661\u0662"]:
        assert_refused(run_cli(["decode", gpt2, bad]), says="not a token id")
    assert_refused(run_cli(["decode", gpt2, ","]), says="no token ids")


@pytest.mark.real
def test_report_ends_are_untrimmed_bytes_for_texts_the_tokens_spell(gpt2):
    from tokkit.quality.encode import encode_texts
    from tokkit.vocab import read_vocab
    from tokkit.vocab.steps import Step

    v = read_vocab(gpt2)
    v.post_processor = [Step("byte_level", {"add_prefix_space": False, "trim_offsets": True, "use_regex": True})]
    tok = tokkit.Tokenizer(v)
    texts = ["  x", " \n\n  y"]
    e = encode_texts(tok, texts)
    assert e.offsets_exact.all()
    for k, t in enumerate(texts):
        ids = tok.encode(t, special="text")
        assert e.ends[e.text_of_token == k].tolist() == np.cumsum(tok.token_lengths()[ids]).tolist()


@pytest.mark.real
def test_text_policy_keeps_a_special_match_whole_as_hf_does(real_tokenizers):
    """special="text": a special token's match stays text and hides a non-special added token
    inside it, as HF's encode_special_tokens does; native and the HF adapter agree."""
    from tokkit.vocab import read_vocab
    from tokkit.vocab.model import AddedToken, TokenType

    v = read_vocab(real_tokenizers["smollm2"])
    new = v.size
    v.tokens.append(b"im_start")
    v.types.append(TokenType.USER_DEFINED)
    v.added = list(v.added) + [AddedToken(id=new, content="im_start", special=False)]
    native, hf = tokkit.Tokenizer(v), tokkit.Tokenizer(v, native=False)
    assert native.native_unsupported is None
    for text in ["<|im_start|>user", "x im_start <|im_start|>"]:
        for special in ("text", "allow"):
            assert native.encode(text, special=special).tolist() == hf.encode(text, special=special).tolist()
    assert new not in native.encode("<|im_start|>user", special="text").tolist()
    assert new in native.encode("x im_start <|im_start|>", special="text").tolist()


@pytest.mark.real
def test_decode_ids_out_of_range_one_rule(gpt2, real_tokenizers):
    """Ids that are not u32 are an IndexError for decode, decode_batch and decode_bytes, native or
    not; ids past the vocabulary are dropped by decode, as HF drops them."""
    for tok in (tokkit.load(gpt2), tokkit.load(real_tokenizers["minilm"])):
        for call in (lambda: tok.decode([-1]), lambda: tok.decode([2**32]), lambda: tok.decode_bytes([-1]),
                     lambda: tok.decode_batch([[1], [-1]])):
            with pytest.raises(IndexError):
                call()
    tok = tokkit.load(gpt2)
    assert tok.decode([50256, 99999]) == EOT
