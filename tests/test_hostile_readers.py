"""Hostile tokenizer files: every reader refuses with one line, in bounded memory, never a traceback.

Each case builds a small broken file (a tokenizer.json, a GGUF header written byte by byte, a
tiktoken rank file, a SentencePiece protobuf) and checks the refusal: in process through the CLI
(exit 2, one ``tokkit: error: FILE: ...`` line), and for the cases that used to exhaust memory or
write files, in a child process with a resident-memory ceiling and a snapshot of the directory.
A hypothesis fuzz test mutates valid files of every format: reading gives a vocabulary or a
FormatError, nothing else.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import struct
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile import assert_refused, run_cli, snapshot
from toyvocab import byte_level_bpe
from tokkit.cli import cli
from tokkit.errors import FormatError, TokkitError
from tokkit.vocab import read_vocab, write_vocab
from tokkit.vocab.gguf_io import read_gguf_tensors
from tokkit.vocab.surface import bytes_to_strings

MERGES = [(b"a", b"b"), (b"ab", b"c"), (b" ", b"t"), (b"h", b"e")]


def toy():
    return byte_level_bpe(MERGES)


def hf_json(tmp_path: Path) -> dict:
    write_vocab(toy(), tmp_path / "ok", "hf")
    return json.loads((tmp_path / "ok" / "tokenizer.json").read_text())


def refused_in_process(args: list[str], path: str | os.PathLike, says: str) -> None:
    """The CLI in this process: exit 2, one stderr line naming ``path`` and saying ``says``."""
    r = CliRunner().invoke(cli, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 1, (r.exit_code, r.stderr, r.stdout)
    assert lines[0].startswith("tokkit: error: ") and "Traceback" not in r.stderr
    assert os.fspath(path) in lines[0] and says.lower() in lines[0].lower(), lines[0]


# ---------------------------------------------------------------------------------------------
# GGUF written byte by byte (so fields can have any type)
# ---------------------------------------------------------------------------------------------
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
_FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<?", U64: "<Q",
        I64: "<q", F64: "<d"}


def _gstr(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def _gval(vtype: int, value) -> bytes:
    if vtype == STR:
        return _gstr(value)
    if vtype == ARR:
        etype, items = value
        return struct.pack("<IQ", etype, len(items)) + b"".join(_gval(etype, x) for x in items)
    return struct.pack(_FMT[vtype], value)


def gguf_bytes(kv: dict[str, tuple[int, object]], tensors: list[tuple[str, list[int], int, int]] = ()) -> bytes:
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv))
    for key, (vtype, value) in kv.items():
        out += _gstr(key) + struct.pack("<I", vtype) + _gval(vtype, value)
    for name, dims, ttype, offset in tensors:
        out += _gstr(name) + struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims, ttype, offset)
    return out


def gguf_fields(model: str = "gpt2") -> dict[str, tuple[int, object]]:
    """A valid vocab-only GGUF (the toy byte-level BPE as llama.cpp's converter writes it)."""
    v = toy()
    strings = bytes_to_strings(v.tokens[:-1], v.types[:-1], v.surface) + ["<|endoftext|>"]
    kv = {
        "general.architecture": (STR, "llama"),
        "tokenizer.ggml.model": (STR, model),
        "tokenizer.ggml.pre": (STR, "gpt-2"),
        "tokenizer.ggml.tokens": (ARR, (STR, strings)),
        "tokenizer.ggml.token_type": (ARR, (I32, [1] * (len(strings) - 1) + [3])),
        "tokenizer.ggml.bos_token_id": (U32, len(strings) - 1),
        "tokenizer.ggml.eos_token_id": (U32, len(strings) - 1),
        "tokenizer.ggml.add_bos_token": (BOOL, True),
    }
    if model == "gpt2":
        kv["tokenizer.ggml.merges"] = (ARR, (STR, [f"{strings[a]} {strings[b]}" for a, b, _ in v.merges]))
    else:
        kv["tokenizer.ggml.scores"] = (ARR, (F32, [-float(i) for i in range(len(strings))]))
    return kv


def _with(model="gpt2", **changes) -> bytes:
    kv = gguf_fields(model)
    for key, val in changes.items():
        key = key.replace("__", ".")
        if val is None:
            kv.pop(key)
        else:
            kv[key] = val
    return gguf_bytes(kv)


N = 261  # tokens in the toy GGUF
GGUF_CASES = {
    "bos-out-of-range": (_with(tokenizer__ggml__bos_token_id=(U32, 999)), "bos_token_id 999 is outside"),
    "eos-out-of-range": (_with(tokenizer__ggml__eos_token_id=(U32, 2**32 - 1)), "eos_token_id"),
    "bos-is-a-string": (_with(tokenizer__ggml__bos_token_id=(STR, "1")), "not an integer"),
    "tokens-is-a-string": (_with(tokenizer__ggml__tokens=(STR, "abc")), "not an array of strings"),
    "token-types-are-strings": (_with(tokenizer__ggml__token_type=(ARR, (STR, ["1"] * N))), "token_type"),
    "merges-are-integers": (_with(tokenizer__ggml__merges=(ARR, (I32, [1, 2]))), "merges"),
    "nested-token-arrays": (_with(tokenizer__ggml__tokens=(ARR, (ARR, [(STR, ["a"])] * N))), "tokens"),
    "short-token-types": (_with(tokenizer__ggml__token_type=(ARR, (I32, [1] * 10))), "10 token types"),
    "short-scores": (_with("llama", tokenizer__ggml__scores=(ARR, (F32, [0.0] * 5))), "5 scores"),
    "nan-scores": (_with("llama", tokenizer__ggml__scores=(ARR, (F32, [float("nan")] * N))), "NaN"),
    "model-is-a-number": (_with(tokenizer__ggml__model=(U32, 7)), "tokenizer.ggml.model"),
    "add-bos-is-a-string": (_with(tokenizer__ggml__add_bos_token=(STR, "yes")), "add_bos_token"),
    "control-token-not-utf8": (None, "not valid UTF-8"),
    "normal-token-not-utf8": (None, "not valid UTF-8"),
    "array-longer-than-file": (None, "runs past the end of the file"),
    "arrays-nested-deep": (None, "nested"),
    "unknown-value-type": (None, "unknown GGUF value type"),
    "truncated": (_with()[:300], "truncated or corrupt"),
    "no-tokens": (_with(tokenizer__ggml__tokens=None), "no tokenizer.ggml.tokens"),
    "merge-of-unknown-tokens": (_with(tokenizer__ggml__merges=(ARR, (STR, ["x y"]))), "merge #0"),
}


def _special_gguf(case: str) -> bytes:
    kv = gguf_fields()
    strings = list(kv["tokenizer.ggml.tokens"][1][1])
    if case == "control-token-not-utf8":
        strings[-1] = b"<|end\xff|>"
    elif case == "normal-token-not-utf8":
        strings[100] = b"\xc3"
    elif case == "array-longer-than-file":
        data = gguf_bytes(kv)
        i = data.index(b"tokenizer.ggml.token_type") + len("tokenizer.ggml.token_type") + 8
        return data[:i] + struct.pack("<Q", 2**60) + data[i + 8:]
    elif case == "arrays-nested-deep":
        value = (STR, ["a"])
        for _ in range(200):
            value = (ARR, [value])
        kv["general.nested"] = (ARR, value)
        return gguf_bytes(kv)
    elif case == "unknown-value-type":
        data = gguf_bytes(kv)
        i = data.index(b"general.architecture") + len("general.architecture")
        return data[:i] + struct.pack("<I", 77) + data[i + 4:]
    kv["tokenizer.ggml.tokens"] = (ARR, (STR, strings))
    return gguf_bytes(kv)


@pytest.mark.parametrize("case", list(GGUF_CASES))
def test_broken_gguf_is_one_line(case, tmp_path):
    data, says = GGUF_CASES[case]
    p = tmp_path / "v.gguf"
    p.write_bytes(data if data is not None else _special_gguf(case))
    refused_in_process(["inspect", p], p, says)


def test_valid_toy_gguf_reads(tmp_path):
    for model in ("gpt2", "llama"):
        p = tmp_path / f"{model}.gguf"
        p.write_bytes(gguf_bytes(gguf_fields(model)))
        v = read_vocab(p)
        assert v.size == N and v.bos_id == N - 1


@pytest.mark.parametrize("case,alignment,says", [
    ("zero", (U32, 0), "general.alignment is the number 0"),
    ("string", (STR, "32"), "general.alignment is the string"),
    ("not-power-of-two", (U32, 24), "not a power of two"),
])
def test_model_gguf_alignment_is_checked(case, alignment, says, tmp_path):
    kv = {"general.architecture": (STR, "llama"), "general.alignment": alignment}
    data = gguf_bytes(kv, [("w", [4, 2], 0, 0)]) + b"\0" * 64
    p = tmp_path / "m.gguf"
    p.write_bytes(data)
    with pytest.raises(FormatError, match=says) as e:
        read_gguf_tensors(p)
    assert str(p) in str(e.value)


def test_model_gguf_tensor_table_is_bounded(tmp_path):
    p = tmp_path / "m.gguf"
    p.write_bytes(gguf_bytes({}, [("w", [4] * 9, 0, 0)]))
    with pytest.raises(FormatError, match="9 dimensions"):
        read_gguf_tensors(p)
    data = bytearray(gguf_bytes({}, [("w", [4], 0, 0)]))
    data[8:16] = struct.pack("<Q", 2**62)  # the tensor count (after magic and version) claims 2^62
    p.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="runs past the end of the file"):
        read_gguf_tensors(p)


# ---------------------------------------------------------------------------------------------
# tokenizer.json
# ---------------------------------------------------------------------------------------------
def _hf_case(obj: dict, case: str) -> dict:
    m = obj["model"]
    if case == "negative-model-id":
        m["vocab"]["Ġt"] = -3
    elif case == "negative-added-id":
        obj["added_tokens"][0]["id"] = -1
    elif case == "empty-vocabulary":
        m["vocab"], m["merges"], obj["added_tokens"] = {}, [], []
    elif case == "added-ids-repeat":
        obj["added_tokens"].append(dict(obj["added_tokens"][0], content="<x>"))
    elif case == "id-is-a-string":
        m["vocab"]["a"] = "97"
    elif case == "id-is-a-boolean":
        m["vocab"]["a"] = True
    elif case == "model-is-a-list":
        obj["model"] = [1, 2]
    elif case == "added-tokens-is-a-number":
        obj["added_tokens"] = 5
    elif case == "merges-is-an-object":
        m["merges"] = {"a": "b"}
    elif case == "merge-of-numbers":
        m["merges"] = [[1, 2]]
    elif case == "dropout-is-text":
        m["dropout"] = "abc"
    elif case == "unk-token-is-a-list":
        m["unk_token"] = ["<unk>"]
    elif case == "bad-pretokenizer-regex":
        obj["pre_tokenizer"] = {"type": "Split", "pattern": {"Regex": "(ab"}, "behavior": "Isolated",
                                "invert": False}
    elif case == "bad-normalizer-regex":
        obj["normalizer"] = {"type": "Replace", "pattern": {"Regex": "[a-"}, "content": ""}
    elif case == "pretokenizer-is-a-string":
        obj["pre_tokenizer"] = "ByteLevel"
    elif case == "template-id-out-of-range":
        obj["post_processor"] = {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}}],
                                 "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [10**6], "tokens": []}}}
    elif case == "template-malformed":
        obj["post_processor"] = {"type": "TemplateProcessing", "single": [{"SpecialToken": 3}], "pair": [],
                                 "special_tokens": {}}
    elif case == "token-is-a-lone-surrogate":
        obj["added_tokens"][0]["content"] = "\ud800"
    return obj


HF_CASES = {
    "negative-model-id": "negative id -3",
    "negative-added-id": "negative id -1",
    "empty-vocabulary": "empty vocabulary",
    "added-ids-repeat": "two added tokens",
    "id-is-a-string": "non-integer id",
    "id-is-a-boolean": "non-integer id",
    "model-is-a-list": "'model'",
    "added-tokens-is-a-number": "'added_tokens'",
    "merges-is-an-object": "merges",
    "merge-of-numbers": "malformed merge",
    "dropout-is-text": "dropout",
    "unk-token-is-a-list": "unk_token",
    "bad-pretokenizer-regex": "does not compile",
    "bad-normalizer-regex": "does not compile",
    "pretokenizer-is-a-string": "pre_tokenizer",
    "template-id-out-of-range": "outside",
    "template-malformed": "template",
    "token-is-a-lone-surrogate": "not valid Unicode",
}


@pytest.mark.parametrize("case", list(HF_CASES))
def test_broken_tokenizer_json_is_one_line(case, tmp_path):
    obj = _hf_case(hf_json(tmp_path), case)
    p = tmp_path / "tokenizer.json"
    p.write_text(json.dumps(obj))
    refused_in_process(["inspect", p], p, HF_CASES[case])


@pytest.mark.parametrize("case,text,says", [
    ("deep-nesting", "[" * 100_000, "nested too deeply"),
    ("huge-integer", '{"model": ' + "9" * 5000 + "}", "invalid JSON"),
    ("not-utf8", '{"model": "\xff"}', "not UTF-8"),
])
def test_unreadable_json_is_one_line(case, text, says, tmp_path):
    p = tmp_path / "tokenizer.json"
    p.write_bytes(text.encode("latin-1"))
    refused_in_process(["inspect", p], p, says)


def test_config_that_is_not_an_object_is_one_line(tmp_path):
    hf_json(tmp_path)
    cfg = tmp_path / "ok" / "tokenizer_config.json"
    cfg.write_text("[1, 2]")
    refused_in_process(["inspect", tmp_path / "ok"], cfg, "expected a JSON object")


# ---------------------------------------------------------------------------------------------
# tiktoken and SentencePiece
# ---------------------------------------------------------------------------------------------
def _tiktoken(tmp_path: Path) -> Path:
    return write_vocab(toy(), tmp_path / "t.tiktoken", "tiktoken")[0]


@pytest.mark.parametrize("case,says", [
    ("negative-rank", "negative rank"),
    ("rank-far-past-count", "is far past"),
    ("specials-a-list", "special_tokens"),
    ("pattern-a-number", "pat_str"),
    ("specials-share-an-id", "share id"),
    ("invalid-regex-in-sidecar", "does not compile"),
])
def test_broken_tiktoken_is_one_line(case, says, tmp_path):
    p = _tiktoken(tmp_path)
    side = p.with_name(p.name + ".json")
    info = json.loads(side.read_text())
    if case == "negative-rank":
        p.write_text(p.read_text() + "eHl6 -5\n")
    elif case == "rank-far-past-count":
        p.write_text(p.read_text() + "eHl6 5000\n")
    elif case == "specials-a-list":
        info["special_tokens"] = ["<|endoftext|>"]
    elif case == "pattern-a-number":
        info["pat_str"] = 5
    elif case == "specials-share-an-id":
        info["special_tokens"]["<|other|>"] = info["special_tokens"]["<|endoftext|>"]
    elif case == "invalid-regex-in-sidecar":
        info["pat_str"] = "(?<name"
    side.write_text(json.dumps(info))
    refused_in_process(["inspect", p], side if case in ("specials-a-list", "pattern-a-number") else p, says)


def _sentencepiece_bytes() -> bytes:
    from sentencepiece import sentencepiece_model_pb2 as pb

    m = pb.ModelProto()
    for piece, score, kind in [("<unk>", 0, 2), ("<s>", 0, 3), ("</s>", 0, 3), ("\u2581", -1, 1), ("a", -2, 1),
                               ("b", -3, 1), ("ab", -4, 1), ("\u2581a", -5, 1), ("\u2581ab", -6, 1)]:
        p = m.pieces.add()
        p.piece, p.score, p.type = piece, score, kind
    m.trainer_spec.model_type = 2
    m.trainer_spec.unk_id, m.trainer_spec.bos_id, m.trainer_spec.eos_id = 0, 1, 2
    m.normalizer_spec.add_dummy_prefix = True
    return m.SerializeToString()


def _nmt_nfkc_model() -> bytes:
    """A tiny SentencePiece BPE model trained here, with nmt_nfkc's precompiled charsmap."""
    import io

    import sentencepiece as spm

    lines = ["Ｆｕｌｌ ｗｉｄｔｈ ﬁ café ½ Straße"] * 20 + [f"word{i} other{i * 7}" for i in range(200)]
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=buf, vocab_size=60,
                                   normalization_rule_name="nmt_nfkc", model_type="bpe", minloglevel=3)
    return buf.getvalue()


@pytest.mark.parametrize("case", ["bad-trie-size", "node-past-array", "strings-not-utf8"])
def test_corrupt_charsmap_is_refused(case, tmp_path):
    """A corrupt SentencePiece charsmap made Hugging Face tokenizers panic at encode time (and
    convert wrote it into tokenizer.json): refused when read, from a .model or a tokenizer.json."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    m = pb.ModelProto()
    m.ParseFromString(_nmt_nfkc_model())
    blob = bytearray(m.normalizer_spec.precompiled_charsmap)
    size = int.from_bytes(blob[:4], "little")
    if case == "bad-trie-size":
        blob[:4] = (len(blob) + 8).to_bytes(4, "little")
    elif case == "node-past-array":
        blob[4:8] = (0xFFFFFC00).to_bytes(4, "little")  # the root's offset: far past the array
    else:
        blob[4 + size:] = b"\xff" * (len(blob) - 4 - size)
    m.normalizer_spec.precompiled_charsmap = bytes(blob)
    p = tmp_path / "sp.model"
    p.write_bytes(m.SerializeToString())
    refused_in_process(["inspect", p], p, "corrupt precompiled charsmap")
    good = tmp_path / "good.model"
    good.write_bytes(_nmt_nfkc_model())
    write_vocab(read_vocab(good), tmp_path / "hf", "hf")
    tj = tmp_path / "hf" / "tokenizer.json"
    obj = json.loads(tj.read_text())
    steps = obj["normalizer"]["normalizers"]
    step = next(s for s in steps if s["type"] == "Precompiled")
    step["precompiled_charsmap"] = base64.b64encode(bytes(blob)).decode()
    tj.write_text(json.dumps(obj))
    refused_in_process(["inspect", tj], tj, "corrupt precompiled charsmap")


def test_broken_sentencepiece_is_one_line(tmp_path):
    from sentencepiece import sentencepiece_model_pb2 as pb

    p = tmp_path / "sp.model"
    p.write_bytes(_sentencepiece_bytes())
    assert read_vocab(p).size == 9
    m = pb.ModelProto()
    m.ParseFromString(_sentencepiece_bytes())
    m.pieces[4].score = float("nan")
    p.write_bytes(m.SerializeToString())
    refused_in_process(["inspect", p], p, "NaN score")
    p.write_bytes(b"\n\x05\n\x01a" + b"\xff" * 50)
    refused_in_process(["inspect", p], p, "protobuf")


# ---------------------------------------------------------------------------------------------
# the cases that ran out of memory, wrote files or read devices: a child process, as a user runs it
# ---------------------------------------------------------------------------------------------
def test_huge_ids_are_refused_in_bounded_memory(tmp_path):
    obj = hf_json(tmp_path)
    obj["added_tokens"].append(dict(obj["added_tokens"][0], id=999_999_999, content="<huge>"))
    hf = tmp_path / "tokenizer.json"
    hf.write_text(json.dumps(obj))
    tk = _tiktoken(tmp_path)
    tk.write_text(tk.read_text() + "eHl6 2000000000\n")
    for path, out in ((hf, tmp_path / "out-hf"), (tk, tmp_path / "out-tk")):
        before = snapshot(tmp_path)
        for args in (["inspect", path], ["convert", path, out, "--to", "hf"]):
            r = run_cli(args, max_rss_mb=1024, timeout=60)
            assert_refused(r, says="is far past", path=path)
            assert r.peak_rss_mb < 1024 and r.seconds < 60
        assert snapshot(tmp_path) == before


def test_convert_writes_nothing_for_a_broken_input(tmp_path):
    """Negative id, invalid regex in the file, invalid --pattern: refused before anything is written."""
    obj = hf_json(tmp_path)
    obj["model"]["vocab"]["Ġt"] = -3
    neg = tmp_path / "neg" / "tokenizer.json"
    neg.parent.mkdir()
    neg.write_text(json.dumps(obj))
    obj = _hf_case(hf_json(tmp_path), "bad-pretokenizer-regex")
    rx = tmp_path / "rx" / "tokenizer.json"
    rx.parent.mkdir()
    rx.write_text(json.dumps(obj))
    tk = write_vocab(toy(), tmp_path / "bare.tiktoken", "tiktoken")[0]
    tk.with_name(tk.name + ".json").unlink()
    before = snapshot(tmp_path)
    for args, path, says in (
        (["convert", neg, tmp_path / "o1", "--to", "hf"], neg, "negative id"),
        (["convert", rx, tmp_path / "o2", "--to", "tiktoken"], rx, "does not compile"),
        (["convert", tk, tmp_path / "o3", "--to", "hf", "--pattern", "(?<x"], tk, "does not compile"),
    ):
        assert_refused(run_cli(args, timeout=60), says=says, path=path)
    assert snapshot(tmp_path) == before


def test_devices_and_pipes_are_not_tokenizer_files(tmp_path):
    fifo_dir = tmp_path / "d"
    fifo_dir.mkdir()
    os.mkfifo(fifo_dir / "tokenizer.json")
    for path in ("/dev/zero", fifo_dir, fifo_dir / "tokenizer.json"):
        r = run_cli(["inspect", path], max_rss_mb=1024, timeout=30)
        assert_refused(r, says="not a regular file")


def test_a_regex_hf_cannot_load_is_never_written(tmp_path):
    """The writer probes the components with stock tokenizers: an invalid regex that reached a
    Vocabulary some other way is refused before tokenizer.json is written."""
    from tokkit.errors import UnsupportedError
    from tokkit.vocab import spec

    v = toy().copy(pretokenizer=[spec.split("(ab", "Isolated"), spec.byte_level(use_regex=False)])
    with pytest.raises(UnsupportedError, match="would not load"):
        write_vocab(v, tmp_path / "out", "hf")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------
# fuzz: any mutation of a valid file reads as a vocabulary or a FormatError
# ---------------------------------------------------------------------------------------------
def _valid_files(root: Path) -> dict[str, bytes]:
    root.mkdir(exist_ok=True)
    files = {"tokenizer.json": json.dumps(hf_json(root)).encode(),
             "v.gguf": gguf_bytes(gguf_fields()), "l.gguf": gguf_bytes(gguf_fields("llama")),
             "sp.model": _sentencepiece_bytes(), "n.model": _nmt_nfkc_model()}
    tk = _tiktoken(root)
    files["t.tiktoken"] = tk.read_bytes()
    files["t.tiktoken.json"] = tk.with_name(tk.name + ".json").read_bytes()
    return files


_HUGE = [b"4294967295", b"999999999999", b"-1", b"18446744073709551615", b"1e308", b"NaN", b"null", b"[]", b"{}",
         b'"x"', b"\xff\xff\xff\xff\xff\xff\xff\x7f", b"\x00" * 8]


@st.composite
def mutations(draw):
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "overwrite", "json-field"]))
    pos = draw(st.floats(0, 1))
    if kind == "flip":
        return kind, pos, draw(st.integers(1, 255))
    if kind == "truncate":
        return kind, pos, None
    if kind == "json-field":
        return kind, pos, draw(st.sampled_from([None, -1, 10**12, "x", [], {}, 1.5, True, [[1]], "\ud800"]))
    return kind, pos, draw(st.sampled_from(_HUGE) | st.binary(min_size=1, max_size=16))


def _mutate(data: bytes, name: str, m) -> bytes:
    kind, pos, arg = m
    i = int(pos * max(0, len(data) - 1))
    if not data:
        return arg if isinstance(arg, bytes) else data
    if kind == "flip":
        return data[:i] + bytes([data[i] ^ arg]) + data[i + 1:]
    if kind == "truncate":
        return data[:i]
    if kind == "insert":
        return data[:i] + arg + data[i:]
    if kind == "overwrite":
        return data[:i] + arg + data[i + len(arg):]
    try:
        obj = json.loads(data.decode("utf-8")) if name.endswith(".json") else None
    except ValueError:  # an earlier mutation broke the JSON
        obj = None
    if obj is None:
        return data[:i] + b"\x00" + data[i + 1:]
    slots = list(_slots(obj))
    if slots:
        parent, k = slots[int(pos * (len(slots) - 1))]
        parent[k] = arg
    return json.dumps(obj).encode("utf-8", "surrogatepass")


def _slots(node):
    """Every (container, key) of a parsed JSON document."""
    keys = list(node) if isinstance(node, dict) else range(len(node)) if isinstance(node, list) else []
    for k in keys:
        yield node, k
        yield from _slots(node[k])


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory):
    return _valid_files(tmp_path_factory.mktemp("valid"))


@pytest.mark.parametrize("name", ["tokenizer.json", "v.gguf", "l.gguf", "t.tiktoken", "t.tiktoken.json",
                                  "sp.model", "n.model"])
def test_fuzzed_readers_give_a_vocabulary_or_a_format_error(name, valid_files, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    for n, b in valid_files.items():
        (root / n).write_bytes(b)
    target = root / ("t.tiktoken" if name.startswith("t.tiktoken") else name)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _vm_size() + 4 * 2**30  # a safety net only: a regression fails with MemoryError, not the machine
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    try:
        _fuzz(name, valid_files[name], root / name, target)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    (root / name).write_bytes(valid_files[name])
    read_vocab(target)  # the fixture files themselves are valid
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - peak_before
    assert grown < 1024, f"peak resident memory grew by {grown:.0f} MB while fuzzing {name}"


def _normalize_with_hf(v) -> None:
    """A charsmap that was accepted must not make tokenizers panic (a PanicException is no Exception)."""
    from tokenizers import normalizers

    for s in v.normalizer:
        if s.kind == "precompiled":
            normalizers.Precompiled(base64.b64decode(s.params["precompiled_charsmap"])).normalize_str(
                "Ｆｕｌｌ ﬁ café ½ Straße ①②③ ｶﾀｶﾅ \u00a0x")


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))


def _fuzz(name: str, data: bytes, mutated: Path, target: Path) -> None:
    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(st.lists(mutations(), min_size=1, max_size=3))
    def run(ms):
        b = data
        for m in ms:
            b = _mutate(b, name, m)
        mutated.write_bytes(b)
        try:
            v = read_vocab(target, pattern="gpt2" if name.startswith("t.tiktoken") else None)
        except TokkitError:
            return
        v.summary()
        _normalize_with_hf(v)

    run()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
