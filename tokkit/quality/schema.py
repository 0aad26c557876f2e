"""The report's versioned schema: metric definitions (unit, aggregation), a JSON Schema
document for other tools, and a small validator used by the writers and the tests.

Versioning: MAJOR changes when a field is removed or changes meaning, MINOR when one is added.
The validator is hand-written (required keys and types) so reading a report needs no extra
dependency; ``json_schema()`` gives the same rules as a JSON Schema (draft 2020-12) document.
"""

from __future__ import annotations

from ..errors import FormatError

SCHEMA = "tokkit.quality.report"
SCHEMA_VERSION = "1.0.0"

ROW_KEYS = ("tokenizer", "corpus", "lang", "tag", "script", "bytes", "chars")
TOP = {
    "schema": str, "schema_version": str, "tool": dict, "created": str, "settings": dict,
    "metric_definitions": dict, "tokenizers": list, "corpora": list, "per_tokenizer": list,
    "per_language": list, "parity": list, "linguistic": list, "examples": list, "problems": list,
    "timing": dict,
}


def metric_definitions() -> dict:
    from .metrics import compression, information, linguistic, parity, words

    out = {}
    for mod in (compression, words, parity, information, linguistic):
        for name, (unit, agg, desc) in mod.DEFINITIONS.items():
            out[name] = {"unit": unit, "aggregation": agg, "description": desc}
    return out


def json_schema() -> dict:
    num = {"type": ["number", "null"]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA}/{SCHEMA_VERSION}",
        "type": "object",
        "required": list(TOP),
        "properties": {
            "schema": {"const": SCHEMA},
            "schema_version": {"type": "string", "pattern": r"^1\.\d+\.\d+$"},
            "tokenizers": {"type": "array", "items": {"type": "object", "required": ["name", "source", "status"]}},
            "corpora": {"type": "array", "items": {"type": "object", "required": ["corpus", "lang", "sha256"]}},
            "per_language": {"type": "array", "items": {
                "type": "object", "required": list(ROW_KEYS),
                "additionalProperties": num | {"type": ["number", "string", "null"]}}},
            "problems": {"type": "array", "items": {"type": "object", "required": ["where", "problem"]}},
            "metric_definitions": {"type": "object", "additionalProperties": {
                "type": "object", "required": ["unit", "aggregation", "description"]}},
        },
    }


def validate(report: dict, where: str | None = None) -> None:
    """Raise FormatError if ``report`` does not follow the schema (major version 1)."""
    if not isinstance(report, dict):
        raise FormatError(where, "a report is a JSON object")
    if report.get("schema") != SCHEMA:
        raise FormatError(where, f"not a tokkit quality report (schema {report.get('schema')!r})")
    if not str(report.get("schema_version", "")).startswith("1."):
        raise FormatError(where, f"unsupported schema version {report.get('schema_version')!r} (this tokkit reads 1.x)")
    for key, typ in TOP.items():
        if not isinstance(report.get(key), typ):
            raise FormatError(where, f"field {key!r} missing or not a {typ.__name__}")
    defs = report["metric_definitions"]
    for name, d in defs.items():
        if not all(k in d for k in ("unit", "aggregation", "description")):
            raise FormatError(where, f"metric {name!r} has no unit/aggregation")
    for r in report["per_language"]:
        for k in ROW_KEYS:
            if k not in r:
                raise FormatError(where, f"per_language row without {k!r}")
        for k, v in r.items():
            if k not in ROW_KEYS and k not in defs:
                raise FormatError(where, f"per_language metric {k!r} has no definition")
            if k not in ROW_KEYS and v is not None and not isinstance(v, (int, float)):
                raise FormatError(where, f"per_language metric {k!r} is not a number")
    for t in report["tokenizers"]:
        for k in ("name", "source", "status"):
            if k not in t:
                raise FormatError(where, f"tokenizer entry without {k!r}")
