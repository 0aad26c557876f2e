"""The CLI: inspect / convert on real files, and bad input -> one line, exit code 2."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tokkit.cli import cli
from toyvocab import byte_level_bpe


@pytest.fixture()
def toy_dir(tmp_path):
    from tokkit import write_vocab

    d = tmp_path / "toy"
    write_vocab(byte_level_bpe([(b"h", b"e"), (b"he", b"l"), (b"l", b"o")]), d)
    return d


def run(*args):
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.output


def test_inspect_json(toy_dir):
    code, out = run("inspect", str(toy_dir), "--json")
    assert code == 0, out
    s = json.loads(out)
    assert s["model"] == "bpe" and s["size"] == 260 and s["byte_coverage"] == 256
    assert s["pretokenizer"] == ["byte_level(prefix_space=False, regex=True)"]


def test_convert_refuses_to_overwrite(toy_dir, tmp_path):
    out = tmp_path / "out"
    assert run("convert", str(toy_dir), str(out), "--to", "hf")[0] == 0
    code, msg = run("convert", str(toy_dir), str(out), "--to", "hf")
    assert code == 2 and "not empty" in msg
    code, msg = run("convert", str(toy_dir), str(toy_dir), "--to", "hf", "--force")
    assert code == 2 and "refusing to write over an input" in msg


def test_convert_byte_level_to_sentencepiece_says_why(tmp_path):
    from tokkit import write_vocab

    d = tmp_path / "t"
    write_vocab(byte_level_bpe([(b"\xc3", b"\xa9"), (b"\xe6", b"\x97")]), d)
    code, msg = run("convert", str(d), str(tmp_path / "x.model"), "--to", "sentencepiece")
    assert code == 2
    assert "partial UTF-8" in msg and "regex pretokenizer" in msg
    assert not (tmp_path / "x.model").exists()


BAD = {
    "truncated.json": lambda p, good: p.write_text(good.read_text()[:500]),
    "corrupt.json": lambda p, good: p.write_text('{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}'),
    "unknown_type.json": lambda p, good: p.write_text('{"model": {"type": "Tokamak", "vocab": {}}}'),
    "notsp.model": lambda p, good: p.write_bytes(b"\x0a\xff\xff\xff garbage that is not a protobuf"),
    "empty.tiktoken": lambda p, good: p.write_text("not base64!! 1\n"),
    "bad.gguf": lambda p, good: p.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 7),
}
EXPECT = {
    "truncated.json": "looks truncated",
    "corrupt.json": "merge #0",
    "unknown_type.json": "model type 'Tokamak' is not supported",
    "notsp.model": "not a SentencePiece model",
    "empty.tiktoken": "line 1: expected 'base64-token rank'",
    "bad.gguf": "cannot read GGUF",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_one_line_exit_2(name, toy_dir, tmp_path):
    p = tmp_path / name
    BAD[name](p, toy_dir / "tokenizer.json")
    code, out = run("inspect", str(p))
    assert code == 2, out
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tokkit: error: "), out
    assert str(p) in lines[0] and EXPECT[name] in lines[0], lines[0]


def test_missing_file_real_process(tmp_path):
    """A real process: no traceback on stderr, exit code 2."""
    missing = tmp_path / "nope" / "tokenizer.json"
    r = subprocess.run([sys.executable, "-m", "tokkit", "inspect", str(missing)], capture_output=True, text=True)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.strip() == f"tokkit: error: {missing}: no such file or directory"


def test_encode_command(toy_dir):
    code, out = run("encode", str(toy_dir), "hello")
    assert code == 0
    assert out.split("\n")[0] == "257 258"  # 'hel' + 'lo'


@pytest.mark.real
def test_convert_verify_on_real_sentencepiece(real_tokenizers, tmp_path):
    code, out = run("convert", real_tokenizers["mistral-v1"], str(tmp_path / "m"), "--to", "hf", "--verify")
    assert code == 0, out
    assert "verify: 16317/16317 texts identical to sentencepiece" in out
