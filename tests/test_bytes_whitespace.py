"""Canonical byte-level probabilities on text with every kind of whitespace (tabs, vertical tab,
form feed, CR, NBSP, U+3000, U+2028...), under the real GPT-2, Llama-3, Qwen2 and SmolLM2
pretokenizers: the text then end equals the token-level log-probability of the text's own
encoding, and next-byte distributions equal the brute-force oracle's. A regression test for
tab-indented text, which had probability zero (a context that may start a canonical encoding of
a longer text was dropped when no token could end the text right after it)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from test_bytes import _toy

pytestmark = pytest.mark.real  # the pretokenizers are read from the real tokenizer files

WS = ["\t", "\n", "\r", "\x0b", "\x0c", " ", "\xa0", "\u3000", "\u2028", "\x85"]
ALPHABET = WS + ["a", "b", "Z", "1", "7", ".", "-", "("]
# merges that join whitespace runs in the ways real vocabularies do ("\t\t", "\n\t", "\r\n"...)
MERGES = [(b"\t", b"\t"), (b"\n", b"\t"), (b"\n\t", b"\t"), (b" ", b" "), (b"\r", b"\n"), (b"\n", b"\n"),
          (b" ", b"a"), (b"\t", b"a"), (b"a", b"b"), (b"\t\t", b"\t"), (b" ", b"\t"), (b"\xc2", b"\xa0"),
          (b"\xe3", b"\x80"), (b"\xe3\x80", b"\x80"), (b" ", b"-"), (b"-", b"-"), (b"1", b"7"), (b"\n", b" "),
          (b"\x0b", b"\x0c"), (b"\t", b"\n"), (b" ", b"Z")]
NAMES = ["gpt2", "llama3", "qwen2", "smollm2"]


def _build(names, ascii_only: bool) -> dict:
    """One tiny float64 Llama per pretokenizer (test_bytes' toy), over a toy byte-level vocabulary
    that carries that real tokenizer's pretokenizer steps."""
    import tokkit
    from tokkit import assets
    from tokkit.bytes import ByteLM

    out = {}
    for k, name in enumerate(names):
        steps = tokkit.load(assets.pretrained_tokenizers()[name]).vocab.pretokenizer
        model, tok = _toy(MERGES, k, pretokenizer=steps, ascii_only=ascii_only)
        out[name] = (model, tok, ByteLM(model, tok, semantics="canonical", beam=None))
    return out


@pytest.fixture(scope="module")
def lms():
    return _build(NAMES, ascii_only=False)


@pytest.fixture(scope="module")
def ascii_lms():
    return _build(NAMES, ascii_only=True)


def _token_level(model, tok, lm, text: str) -> float:
    import torch

    ids = [int(i) for i in tok.encode(text)]
    with torch.no_grad():
        logits = model(input_ids=torch.as_tensor([[lm.prefix_token] + ids])).logits[0]
    lq = torch.log_softmax(logits.masked_fill(~torch.as_tensor(lm._allowed), -math.inf), -1)
    return float(sum(lq[i, t] for i, t in enumerate(ids)) + lq[len(ids), lm.end_token])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("text", ["a\t\tb", "x\n\t-", "f() {\n\t\tab\n}", "1\tab\t7.5\n", "a\xa0\xa0b",
                                  "x\r\n\r\nZ", "q\u3000\u3000a\u2028b", "a \t b\x0b\x0c("])
def test_whitespace_text_then_end_is_its_encoding(lms, name, text):
    model, tok, lm = lms[name]
    assert abs(lm.logprob(text.encode(), end=True) - _token_level(model, tok, lm, text)) < 1e-9


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=ALPHABET, min_size=1, max_size=9), st.sampled_from(NAMES))
def test_canonical_equals_token_level(lms, s, name):
    model, tok, lm = lms[name]
    assert abs(lm.logprob(s.encode(), end=True) - _token_level(model, tok, lm, s)) < 1e-9


#: a known bug (issue 19): under the Llama-3 and Qwen2 pretokenizers, the next-byte distribution
#: after a prefix that ends in a newline and white space ("a\n ", "b\n\t", " \n ") differs from
#: the oracle's (whole texts score right: test_canonical_equals_token_level). Likely the
#: `\s*[\r\n]+` branch regrouping the run with a later newline, a lookahead the probes miss.
NEWLINE_THEN_SPACE = re.compile("\n[ \t]")


def _known_bug(name: str, s: str) -> bool:
    return name in ("llama3", "qwen2") and NEWLINE_THEN_SPACE.search(s) is not None


@pytest.mark.xfail(strict=True, reason="issue 19: next bytes after a newline then white space (Llama-3, Qwen2)")
@pytest.mark.parametrize("name,s", [("llama3", "\n\t"), ("llama3", "\n "), ("qwen2", "\n\t"), ("qwen2", "\n ")])
def test_next_bytes_after_newline_then_space_known_bug(ascii_lms, name, s):
    _check_next_bytes(ascii_lms, name, s)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=["a", "\t", "\n", "\r", " ", "b", "-"], min_size=1, max_size=4), st.sampled_from(NAMES))
def test_next_bytes_match_oracle(ascii_lms, s, name):
    """The prefix masses (not only whole texts) agree with brute-force enumeration (but for the
    known bug above, tested on its own as an expected failure)."""
    assume(not _known_bug(name, s))
    _check_next_bytes(ascii_lms, name, s)


def _check_next_bytes(ascii_lms, name: str, s: str) -> None:
    from tokkit.bytes.oracle import Oracle

    model, tok, lm = ascii_lms[name]
    orc = Oracle(model, tok, semantics="canonical")
    x = s.encode()
    got, want = np.exp(lm.next_byte_logprobs(x)), np.exp(orc.next_byte_logprobs(x))
    assert np.max(np.abs(got - want)) < 1e-9
    assert abs(lm.logprob(x) - orc.prefix_logmass(x)) < 1e-9
