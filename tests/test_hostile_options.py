"""Hostile options: out-of-range numbers, wrong types in a TOML/YAML config, contradictory token
lists, and tokenizer names that try to inject markup into a report (issue 22).

Every refusal meets the contract of ``hostile.assert_refused`` (exit 2, one ``tokkit: error:``
line naming the option, or the config file and its key; no traceback) and writes nothing.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile import assert_refused, run_cli, snapshot
from toyvocab import byte_level_bpe
from tokkit.errors import FormatError, TokkitError
from tokkit.quality import ReportOptions
from tokkit.tokenizer import Tokenizer
from tokkit.train.options import TrainOptions, load_config


def _refused(tmp_path, args, says, path=None):
    before = snapshot(tmp_path)
    r = run_cli(args, cwd=tmp_path, timeout=60)
    assert_refused(r, says=says, path=path)
    assert snapshot(tmp_path) == before  # nothing written, no input changed


# -- tokkit train: command-line options ---------------------------------------------------------
TRAIN_OPTIONS = {
    "vocab-size-negative": (["--vocab-size", "-5"], "--vocab-size"),
    "vocab-size-zero": (["--vocab-size", "0"], "--vocab-size"),
    "vocab-size-not-int": (["--vocab-size", "abc"], "--vocab-size"),
    "vocab-size-huge": (["--vocab-size", "999999999999"], "--vocab-size"),
    "vocab-size-below-bytes": (["--vocab-size", "100"], "smaller than"),
    "min-frequency-negative": (["--min-frequency", "-1"], "--min-frequency"),
    "max-token-bytes-zero": (["--max-token-bytes", "0"], "--max-token-bytes"),
    "max-token-chars-negative": (["--max-token-chars", "-3"], "--max-token-chars"),
    "transition-zero": (["--algo", "superbpe", "--transition", "0"], "--transition"),
    "transition-below-bytes": (["--algo", "superbpe", "--vocab-size", "1000", "--transition", "100"], "transition"),
    "snapshots-not-int": (["--snapshots", "500,x"], "--snapshots"),
    "snapshots-zero": (["--vocab-size", "600", "--snapshots", "0"], "snapshots"),
    "special-twice": (["--special-tokens", "<a>,<a>"], "given twice"),
    "special-and-added": (["--special-tokens", "<a>", "--added-tokens", "<a>"], "given twice"),
    "terms-from-a-device": (["--algo", "domain", "--terms", "/dev/zero"], "not a regular file"),
    "stage2-regex-invalid": (["--algo", "superbpe", "--stage2-regex", "(?<=a"], "stage2_regex"),
}


@pytest.mark.parametrize("args,says", TRAIN_OPTIONS.values(), ids=TRAIN_OPTIONS.keys())
def test_train_refuses_bad_options(tmp_path, args, says):
    _refused(tmp_path, ["train", *args, "--out", "out", "corpus:legal"], says)


# -- tokkit train --config: the file and its key are named --------------------------------------
CONFIGS = {
    "vocab-size-string": ("t.toml", 'vocab_size = "abc"\n', "vocab_size"),
    "vocab-size-negative": ("t.toml", "[train]\nvocab_size = -3\n", "vocab_size"),
    "vocab-size-float": ("t.toml", "vocab_size = 1000.5\n", "vocab_size"),
    "vocab-size-bool": ("t.yaml", "vocab_size: yes\n", "vocab_size"),
    "coverage-out-of-range": ("t.toml", 'algo = "unigram"\ncharacter_coverage = 0.5\n', "character_coverage"),
    "coverage-nan": ("t.yaml", "algo: unigram\ncharacter_coverage: .nan\n", "character_coverage"),
    "max-sentences-zero": ("t.toml", 'algo = "unigram"\nmax_sentences = 0\n', "max_sentences"),
    "seed-negative": ("t.toml", "seed = -1\n", "seed"),
    "flag-as-string": ("t.toml", 'tiktoken = "yes"\n', "tiktoken"),
    "list-as-string": ("t.toml", 'special_tokens = "<s>"\n', "special_tokens"),
    "list-of-floats": ("t.toml", "snapshots = [1.5]\n", "snapshots"),
    "table-as-string": ("t.toml", "regex = { a = 1 }\n", "regex"),
    "snapshot-too-big": ("t.toml", "vocab_size = 1000\nsnapshots = [5000]\n", "snapshots"),
    "unknown-key": ("t.toml", "bogus = 1\n", "bogus"),
    "unknown-algo": ("t.yaml", "algo: wordpiece\n", "algo"),
    "train-not-a-table": ("t.toml", "train = 3\n", "table"),
    "top-level-list": ("t.yaml", "- 1\n- 2\n", "table"),
    "not-toml": ("t.toml", "vocab_size = = 3\n", "cannot parse"),
    "not-utf8": ("t.toml", b"algo = '\xff'\n", "UTF-8"),
}


@pytest.mark.parametrize("name,text,says", CONFIGS.values(), ids=CONFIGS.keys())
def test_train_config_names_file_and_key(tmp_path, name, text, says):
    cfg = tmp_path / name
    cfg.write_bytes(text if isinstance(text, bytes) else text.encode())
    _refused(tmp_path, ["train", "--config", name, "--out", "out", "corpus:legal"], says, path=name)


def test_train_config_from_a_device_is_refused(tmp_path):
    _refused(tmp_path, ["train", "--config", "/dev/zero", "--out", "out", "corpus:legal"], "not a regular file",
             path="/dev/zero")


def test_config_overrides_can_make_it_valid(tmp_path):
    """A config checked with the command line's values, not alone: snapshots above the default size
    are fine when --vocab-size is larger, and a wrong command-line value is not blamed on the file."""
    cfg = tmp_path / "t.yaml"
    cfg.write_text("snapshots: [40000]\n")
    assert load_config(cfg, vocab_size=50000).snapshots == [40000]
    with pytest.raises(FormatError, match="t.yaml: snapshots"):
        load_config(cfg)
    ok = tmp_path / "ok.yaml"
    ok.write_text("algo: bpe\n")
    with pytest.raises(TokkitError) as e:
        load_config(ok, vocab_size="abc")
    assert not isinstance(e.value, FormatError) and "vocab_size" in str(e.value)


# -- the options dataclass: any value gives valid options or one TokkitError ---------------------
_values = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=12), st.lists(st.one_of(st.integers(-5, 70000), st.text(max_size=6)), max_size=4),
                    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
_fields = st.sampled_from(sorted(TrainOptions.__dataclass_fields__))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_fields, _values, max_size=4))
def test_any_option_values_validate_or_refuse(data):
    try:
        TrainOptions(**data).validate()
    except TokkitError as e:
        assert "\n" not in str(e)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.one_of(_fields, st.text(max_size=5)), _values, max_size=4))
def test_any_yaml_config_loads_or_names_the_file(tmp_path, data):
    import yaml

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"train": data}))
    try:
        load_config(cfg)
    except FormatError as e:
        assert str(cfg) in str(e) and "\n" not in str(e)


# -- tokkit report: numeric options --------------------------------------------------------------
REPORT_OPTIONS = {
    "alpha-one": (["--alpha", "1"], "alpha"),
    "alpha-zero": (["--alpha", "0"], "--alpha"),
    "alpha-negative": (["--alpha", "-2"], "--alpha"),
    "alpha-nan": (["--alpha", "nan"], "alpha"),
    "alpha-inf": (["--alpha", "inf"], "--alpha"),
    "bootstrap-small": (["--bootstrap", "5"], "--bootstrap"),
    "seed-negative": (["--seed", "-1"], "--seed"),
}


@pytest.mark.parametrize("args,says", REPORT_OPTIONS.values(), ids=REPORT_OPTIONS.keys())
def test_report_refuses_bad_options(tmp_path, args, says):
    _refused(tmp_path, ["report", "gpt2", *args, "--out", "out"], says)


def test_report_options_api_refuses_bad_values():
    for bad in (dict(alpha=1.0), dict(alpha=float("nan")), dict(n_boot=0), dict(n_boot=10.5), dict(ci=1.0),
                dict(seed=-1), dict(examples=-1), dict(max_order=0), dict(alpha="2")):
        with pytest.raises(TokkitError, match=next(iter(bad))):
            ReportOptions(**bad).validate()
    assert ReportOptions().validate() == ReportOptions()


# -- tokenizer names in report.md, the CSVs and report.html --------------------------------------
EVIL = '=HYPERLINK("x")|<b>'
EVIL2 = "[x](javascript:alert(1))`\n# h"


def test_report_escapes_tokenizer_names(tmp_path):
    from click.testing import CliRunner

    from tokkit.cli import cli

    merges = [(b"t", b"h"), (b"th", b"e"), (b" ", b"the")]
    evil_dir = tmp_path / EVIL
    Tokenizer(byte_level_bpe(merges)).save(evil_dir)
    Tokenizer(byte_level_bpe(merges)).save(tmp_path / "plain")
    text = tmp_path / "t.txt"
    text.write_text("the cat and the hat\nthe end\n")
    out = tmp_path / "rep"
    res = CliRunner().invoke(cli, ["report", str(evil_dir), f"{EVIL2}={tmp_path / 'plain'}", "--corpus",
                                   f"{text}:en", "--out", str(out), "--bootstrap", "10", "--no-linguistic"])
    assert res.exit_code == 0, res.output
    shown2 = EVIL2.replace("\n", "\\n")  # a control character is shown as its escape
    assert json.loads((out / "report.json").read_text())["per_tokenizer"][0]["tokenizer"] == EVIL
    # CSV: the formula is text, quoting is intact
    for name in ("per_tokenizer.csv", "audit.csv", "per_language.csv"):
        rows = list(csv.DictReader(io.StringIO((out / name).read_text())))
        assert [r["tokenizer"] for r in rows][:2] == ["'" + EVIL, shown2], name
    # Markdown: no raw HTML or link, no heading from a newline, every table row as wide as its header
    md = (out / "report.md").read_text()
    assert "<b>" not in md and "[x](" not in md and not re.search(r"^# h", md, re.M)
    assert "\\<b\\>" in md and "\\|" in md
    lines = md.splitlines()
    cells = None
    for prev, line in zip([""] + lines, lines):
        if line.startswith("|---"):
            cells = _separators(prev)
        elif not line.startswith("|"):
            cells = None
        elif cells is not None:
            assert _separators(line) == cells, line
    # HTML: names only inside the JSON data, with no "<" at all; the data reads back unchanged
    html = (out / "report.html").read_text()
    assert "<b>" not in html and "HYPERLINK" in html
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S).group(1)
    assert "<" not in data
    assert json.loads(data)["names"] == [EVIL, shown2]


def _separators(line: str) -> int:
    """Cell separators of a Markdown table row: pipes not escaped by a backslash."""
    n, escaped = 0, False
    for c in line:
        if c == "|" and not escaped:
            n += 1
        escaped = c == "\\" and not escaped
    return n


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_name_is_one_markdown_cell_and_one_csv_cell(name):
    from tokkit.quality.tables import FORMULA_START, csv_text, md_text

    cell = md_text(name)
    assert "\n" not in cell and "\r" not in cell and _separators(cell) == 0
    assert not re.search(r"(?<!\\)[<`\[]", cell.replace("\\\\", ""))
    (back,) = [r["tokenizer"] for r in csv.DictReader(io.StringIO(csv_text([{"tokenizer": name, "x": 1.5}])))]
    shown = name.replace("\r", "\\r")
    assert back == ("'" + shown if name.startswith(FORMULA_START) else shown)
