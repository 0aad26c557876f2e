"""Typed pipeline steps: every registered kind round-trips tokenizer.json, bad parameters are
refused naming the file, unknown Hugging Face types are kept verbatim, and the old
``Step(kind, params)`` / ``.kind`` / ``.params`` / equality still work."""

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokkit.errors import FormatError, UnsupportedError
from tokkit.vocab import Step, read_vocab, spec
from tokkit.vocab.hf import vocab_from_hf_json, vocab_to_hf_json
from tokkit.vocab.steps import (
    Family,
    Regex,
    StepError,
    UnknownStep,
    decoders,
    normalizers,
    pretokenizers,
    processors,
    step_types,
)

from toyvocab import byte_level_bpe

SLOT = {Family.NORMALIZER: "normalizer", Family.PRE_TOKENIZER: "pretokenizer", Family.DECODER: "decoder",
        Family.POST_PROCESSOR: "post_processor"}
#: values for fields that have no default
REQUIRED = {"pattern": Regex(r"\s+"), "sep": ["</s>", 2], "cls": ["<s>", 0]}


def _dumps(x) -> str:
    return json.dumps(x, ensure_ascii=False)


def _example(cls) -> Step:
    kw = {f.name: REQUIRED[f.name] for f in dataclasses.fields(cls)
          if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    return cls(**kw)


def _round_trip(obj: dict, slot: str) -> tuple[list[Step], dict | None]:
    steps = spec.steps_from_hf(json.loads(_dumps(obj)), slot, "t.json")
    return steps, spec.steps_to_hf(steps, slot)


# -- the registry --------------------------------------------------------------------------------
def test_registry_is_consistent():
    seen_hf, seen_kind = set(), set()
    for cls in step_types():
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
        assert (cls.family, cls.hf_type) not in seen_hf and (cls.family, cls.kind) not in seen_kind
        seen_hf.add((cls.family, cls.hf_type))
        seen_kind.add((cls.family, cls.kind))
        assert cls.kind == cls.kind.lower() and " " not in cls.kind
    assert {f for f, _ in seen_hf} == set(Family)
    assert spec._HF_NAMES["Split"] == "split" and spec._HF_NAMES["TemplateProcessing"] == "template"


@pytest.mark.parametrize("cls", step_types(), ids=lambda c: f"{c.family.value}-{c.hf_type}")
def test_every_registered_kind_round_trips(cls):
    step = _example(cls)
    hf = step.to_hf()
    assert hf["type"] == cls.hf_type
    back, again = _round_trip(hf, cls.family.value)
    assert back == [step] and type(back[0]) is cls
    assert _dumps(again) == _dumps(hf)
    # the params dict (the native core's form) builds the same step, of the same class
    native = json.loads(_dumps([step.to_native()]))[0]
    assert native["kind"] == cls.kind
    same = Step.of(native["kind"], native["params"], cls.family)
    assert same == step and type(same) is cls and same.params == step.params
    assert isinstance(step.describe(), str) and step.describe()
    with pytest.raises(dataclasses.FrozenInstanceError):
        step.x = 1


# what real tokenizer.json files hold (key order as Hugging Face writes it)
REAL = [
    ("normalizer", {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}),
    ("normalizer", {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                    "strip_accents": None, "lowercase": True}),
    ("normalizer", {"type": "Precompiled", "precompiled_charsmap": "AAAA"}),
    ("normalizer", {"type": "Strip", "strip_left": False, "strip_right": True}),
    ("pre_tokenizer", {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": spec.LLAMA3_PATTERN}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}),
    ("pre_tokenizer", {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False}),
    ("pre_tokenizer", {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}),  # before prepend_scheme
    ("pre_tokenizer", {"type": "Metaspace", "replacement": "▁", "str_rep": "▁", "add_prefix_space": True,
                       "prepend_scheme": "always"}),
    ("pre_tokenizer", {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": False}),
    ("pre_tokenizer", {"type": "ByteLevel", "add_prefix_space": False}),  # parameters left out stay out
    ("pre_tokenizer", {"type": "Digits", "individual_digits": True}),
    ("pre_tokenizer", {"type": "BertPreTokenizer"}),
    ("decoder", {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}),
    ("decoder", {"type": "WordPiece", "prefix": "##", "cleanup": True}),
    ("post_processor", {"type": "TemplateProcessing",
                        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                   {"Sequence": {"id": "A", "type_id": 0}}],
                        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}),
    ("post_processor", {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0], "trim_offsets": True,
                        "add_prefix_space": True}),
]


@pytest.mark.parametrize("slot,obj", REAL, ids=[f"{s}-{o['type']}-{i}" for i, (s, o) in enumerate(REAL)])
def test_real_shapes_round_trip_byte_identically(slot, obj):
    steps, again = _round_trip(obj, slot)
    assert _dumps(again) == _dumps(obj)
    assert all(not isinstance(s, UnknownStep) for s in steps)


def test_typed_fields_and_the_params_view():
    [meta] = spec.steps_from_hf({"type": "Metaspace", "replacement": "▁", "add_prefix_space": False},
                                "pre_tokenizer")
    assert isinstance(meta, pretokenizers.Metaspace) and meta.split is True  # Hugging Face's default
    assert not meta.has("prepend_scheme") and meta.effective_prepend_scheme == "never"
    assert meta.params == {"replacement": "▁", "add_prefix_space": False}
    [sp] = spec.steps_from_hf({"type": "Split", "pattern": {"Regex": "a+"}, "behavior": "Isolated", "invert": False},
                              "pre_tokenizer")
    assert sp.pattern == "a+" and isinstance(sp.pattern, Regex)
    assert sp.params == {"behavior": "Isolated", "invert": False, "regex": "a+"}
    lit = spec.split("a+", regex=False)
    assert not isinstance(lit.pattern, Regex)
    assert lit.params == {"string": "a+", "behavior": "Isolated", "invert": False}
    assert lit != spec.split("a+")
    p = sp.params
    p["regex"] = "b"  # a copy: the step does not change
    assert sp.pattern == "a+"
    # replace() keeps what the file had (and left out), adding only what changed
    assert meta.replace(split=False).params == {"replacement": "▁", "add_prefix_space": False, "split": False}
    assert sp.replace(pattern="b").params == {"behavior": "Isolated", "invert": False, "string": "b"}


# -- Step compatibility --------------------------------------------------------------------------
def test_step_kind_params_constructor_still_works():
    s = Step("split", {"regex": spec.GPT2_PATTERN, "behavior": "Isolated", "invert": False})
    assert isinstance(s, pretokenizers.Split) and s == spec.split(spec.GPT2_PATTERN)
    assert s.kind == "split" and s.get("behavior") == "Isolated" and s.get("missing", 3) == 3
    assert isinstance(Step("strip", {"content": " ", "start": 1, "stop": 0}), decoders.Strip)
    assert isinstance(Step("strip", {"strip_left": True}), normalizers.Strip)
    assert isinstance(Step("byte_fallback"), decoders.ByteFallback)
    assert Step("byte_level").params == {}  # exactly the parameters given
    assert Step("hf:SomethingNew", {"x": 1}) == UnknownStep("SomethingNew", {"x": 1})
    assert len({spec.nfc(), Step("nfc"), spec.split("x"), Step("split", {"regex": "x", "behavior": "Isolated",
                                                                         "invert": False})}) == 2
    with pytest.raises(UnsupportedError, match="unknown step kind 'nonsense'"):
        Step("nonsense")
    with pytest.raises(StepError, match="add_prefix_space"):
        Step("byte_level", {"add_prefix_space": "yes"})


def test_equality_is_by_kind_and_params_across_families():
    """A decoder ByteLevel read from a file equals the constructor's (HF's one struct)."""
    [dec] = spec.steps_from_hf({"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                                "use_regex": True}, "decoder")
    assert isinstance(dec, decoders.ByteLevel) and dec.family == Family.DECODER
    assert dec == spec.byte_level(True, True, True)
    assert dec != spec.byte_level(True, True, False)
    [rep] = spec.steps_from_hf({"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, "decoder")
    assert isinstance(rep, decoders.Replace) and rep == spec.replace("\u2581", " ")


def test_describe_is_what_inspect_printed():
    steps = [spec.split(spec.GPT2_PATTERN), spec.split(" ", "MergedWithPrevious", True, regex=False),
             spec.byte_level(True, False), spec.metaspace(), spec.digits(), spec.nfc(), spec.prepend("▁"),
             spec.replace("▁", " "), spec.bos_eos_template(("<s>", 1), ("</s>", 2)),
             normalizers.Precompiled("AAAA"), decoders.Strip(" ", 1, 0), Step("hf:New", {"a": 1, "b": [2]})]
    assert spec.describe_steps(steps) == [
        "split(preset gpt2, Isolated)", "split( , MergedWithPrevious, inverted)",
        "byte_level(prefix_space=True, regex=False)", "metaspace('▁', prepend=first, split=False)",
        "digits(individual=True)", "nfc", "prepend(prepend='▁')", "replace(string='▁', content=' ')",
        "template(<s> $A </s>)", "precompiled(sentencepiece charsmap)", "strip(content=' ', start=1, stop=0)",
        "hf:New(a=1)"]
    assert isinstance(steps[8], processors.TemplateProcessing) and steps[8].single[0]["SpecialToken"]["id"] == "<s>"
    [legacy] = spec.steps_from_hf({"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}, "decoder")
    assert legacy.describe() == "metaspace('▁', prepend=True, split=True)"


# -- unknown Hugging Face types ------------------------------------------------------------------
@pytest.mark.parametrize("slot", [f.value for f in Family])
def test_unknown_hf_type_round_trips_verbatim(slot):
    odd = {"type": "FancyNew", "z": [1, {"a": None}], "k": "v", "pattern": {"Regex": "("}}
    steps, again = _round_trip(odd, slot)
    assert steps == [UnknownStep("FancyNew", {"z": [1, {"a": None}], "k": "v", "pattern": {"Regex": "("}})]
    assert steps[0].kind == "hf:FancyNew" and _dumps(again) == _dumps(odd)
    seq = {"type": "Sequence", Family(slot).sequence_key: [odd, {"type": "AlsoNew"}]}
    _, again = _round_trip(seq, slot)
    assert _dumps(again) == _dumps(seq)


def test_unknown_types_survive_a_tokenizer_json_file(tmp_path):
    obj = vocab_to_hf_json(byte_level_bpe([(b"a", b"b")]))
    obj["normalizer"] = {"type": "FancyNorm", "level": 3}
    obj["decoder"] = {"type": "Sequence", "decoders": [{"type": "ByteLevel", "add_prefix_space": True,
                                                        "trim_offsets": True, "use_regex": True},
                                                       {"type": "FancyDecoder", "x": [1]}]}
    v = vocab_from_hf_json(json.loads(_dumps(obj)), where="t.json")
    assert v.normalizer == [Step("hf:FancyNorm", {"level": 3})]
    assert _dumps(vocab_to_hf_json(v)) == _dumps(obj)


# -- bad parameters --------------------------------------------------------------------------------
BAD = [
    ("pre_tokenizer", {"type": "ByteLevel", "add_prefix_space": "yes", "trim_offsets": True, "use_regex": True},
     "add_prefix_space"),
    ("pre_tokenizer", {"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Isolated", "invert": 1}, "invert"),
    ("pre_tokenizer", {"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Sideways", "invert": False},
     "behavior"),
    ("pre_tokenizer", {"type": "Split", "pattern": "a", "behavior": "Isolated", "invert": False}, "pattern"),
    ("pre_tokenizer", {"type": "Split", "behavior": "Isolated", "invert": False}, "no pattern"),
    ("pre_tokenizer", {"type": "Split", "pattern": {"String": 5}, "behavior": "Isolated", "invert": False},
     "not a string"),
    ("pre_tokenizer", {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "sometimes", "split": True},
     "prepend_scheme"),
    ("pre_tokenizer", {"type": "FixedLength", "length": True}, "length"),
    ("normalizer", {"type": "Prepend", "prepend": 5}, "prepend"),
    ("normalizer", {"type": "BertNormalizer", "strip_accents": "no"}, "strip_accents"),
    ("decoder", {"type": "Strip", "content": " ", "start": "1", "stop": 0}, "start"),
    ("post_processor", {"type": "BertProcessing", "sep": ["[SEP]"], "cls": ["[CLS]", 101]}, "sep"),
    ("post_processor", {"type": "TemplateProcessing", "single": {"A": 1}, "pair": [], "special_tokens": {}},
     "single"),
]


@pytest.mark.parametrize("slot,obj,says", BAD, ids=[f"{o['type']}-{s}" for _, o, s in BAD])
def test_bad_param_types_are_refused_naming_the_file(slot, obj, says, tmp_path):
    tj = vocab_to_hf_json(byte_level_bpe([(b"a", b"b")]))
    tj[slot] = obj
    p = tmp_path / "tokenizer.json"
    p.write_text(_dumps(tj), encoding="utf-8")
    with pytest.raises(FormatError, match=says) as e:
        read_vocab(p)
    assert e.value.path == str(p) and str(p) in str(e.value) and slot in str(e.value)


def test_bad_params_in_python_are_refused_at_construction():
    with pytest.raises(StepError, match="invert is 1, not a boolean"):
        pretokenizers.Split(Regex("a"), "Isolated", 1)
    with pytest.raises(StepError, match="start is"):
        decoders.Strip(" ", "1", 0)
    with pytest.raises(FormatError):
        spec.metaspace(prepend_scheme="sometimes")


# -- random parameters -----------------------------------------------------------------------------
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
_extra = st.dictionaries(st.sampled_from(["future", "str_rep", "zz"]), st.one_of(st.booleans(), _text, st.integers()),
                         max_size=2)


def _ordered(draw, params: dict) -> dict:
    keys = draw(st.permutations(sorted(params)))
    n = draw(st.integers(0, len(keys)))
    return {k: params[k] for k in keys[:n]}


@st.composite
def byte_level_objs(draw):
    params = {"add_prefix_space": draw(st.booleans()), "trim_offsets": draw(st.booleans()),
              "use_regex": draw(st.booleans())}
    return draw(st.sampled_from(["pre_tokenizer", "decoder", "post_processor"])), \
        {"type": "ByteLevel", **_ordered(draw, {**params, **draw(_extra)})}


@st.composite
def metaspace_objs(draw):
    params = {"replacement": draw(_text), "prepend_scheme": draw(st.sampled_from(["first", "always", "never"])),
              "split": draw(st.booleans()), "add_prefix_space": draw(st.one_of(st.none(), st.booleans()))}
    return draw(st.sampled_from(["pre_tokenizer", "decoder"])), \
        {"type": "Metaspace", **_ordered(draw, {**params, **draw(_extra)})}


@st.composite
def split_objs(draw):
    pattern = draw(st.one_of(st.builds(lambda s: {"String": s}, _text),
                             st.sampled_from([{"Regex": p} for p in spec.PATTERNS.values()] + [{"Regex": r"\s+"}])))
    rest = _ordered(draw, {"behavior": draw(st.sampled_from(pretokenizers.BEHAVIORS)), "invert": draw(st.booleans()),
                           **draw(_extra)})
    return "pre_tokenizer", {"type": "Split", "pattern": pattern, **rest}


@st.composite
def strip_objs(draw):
    params = {"content": draw(_text), "start": draw(st.integers(0, 10)), "stop": draw(st.integers(0, 10))}
    return "decoder", {"type": "Strip", **_ordered(draw, params)}


@settings(max_examples=150, deadline=None)
@given(st.one_of(byte_level_objs(), metaspace_objs(), split_objs(), strip_objs()))
def test_random_params_round_trip(slot_obj):
    slot, obj = slot_obj
    steps, again = _round_trip(obj, slot)
    assert _dumps(again) == _dumps(obj)
    [s] = steps
    assert s.family == Family(slot) and s.hf_type == obj["type"]
    # the params view rebuilds an equal step; a second trip gives the same JSON
    assert Step.of(s.kind, s.params, slot) == s
    assert _dumps(spec.steps_to_hf(spec.steps_from_hf(again, slot), slot)) == _dumps(obj)


@settings(max_examples=60, deadline=None)
@given(st.booleans(), st.booleans(), st.booleans(), _text, st.sampled_from(pretokenizers.BEHAVIORS), st.booleans())
def test_constructors_equal_their_parsed_json(a, b, c, pat, behavior, invert):
    cases = [(spec.byte_level(a, b, c), "pre_tokenizer"),
             (spec.split(pat, behavior, invert, regex=False), "pre_tokenizer"),
             (spec.metaspace(pat or "▁", "never", a), "pre_tokenizer"), (spec.replace(pat, "x"), "normalizer")]
    for step, slot in cases:
        [back] = spec.steps_from_hf(json.loads(_dumps(spec.steps_to_hf([step], slot))), slot)
        assert back == step and back.params == step.params
