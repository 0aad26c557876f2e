"""Tokenizer quality reports (``tokkit report``): compression, in-context word metrics, parity
with bootstrap CIs, information measures, offline linguistic alignment, vocabulary audits;
written as JSON (versioned schema), CSV, Markdown and one self-contained HTML file.

    from tokkit.quality import build_report, write_report
    rep = build_report(["gpt2", "cl100k", "path/to/tokenizer.json"], ["udhr"], ["tr", "de"])
    write_report(rep, "out/")
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .report import ReportOptions, build_report
from .schema import SCHEMA, SCHEMA_VERSION, json_schema, validate

__all__ = ["ReportOptions", "build_report", "write_report", "read_report", "SCHEMA", "SCHEMA_VERSION",
           "json_schema", "validate"]

FILES = ("report.json", "report.html", "report.md", "per_language.csv", "per_tokenizer.csv", "audit.csv")


def write_report(report: dict, out: str | os.PathLike, force: bool = False,
                 inputs: list[str | os.PathLike] = ()) -> list[Path]:
    """Write report.json, report.html, report.md and the CSV files into the directory ``out``
    (atomically; an existing non-empty directory only with ``force``; never over an input)."""
    from ..io import atomic_dir, refuse_overwrite_inputs
    from .html import render
    from .tables import csv_files, markdown

    validate(report)
    out = Path(out)
    refuse_overwrite_inputs([out / f for f in FILES] + [out], [p for p in inputs if p and os.path.exists(p)])
    files = {"report.json": json.dumps(report, ensure_ascii=False, indent=1, allow_nan=False) + "\n",
             "report.html": render(report), "report.md": markdown(report)}
    files.update(csv_files(report))
    written = []
    with atomic_dir(out, force=force) as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
            written.append(out / name)
    return written


def read_report(path: str | os.PathLike) -> dict:
    """Read and validate a report.json (or the directory holding one)."""
    from ..errors import FormatError

    p = Path(path)
    if p.is_dir():
        p = p / "report.json"
    try:
        rep = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FormatError(p, "no such file") from None
    except ValueError as e:
        raise FormatError(p, f"not JSON: {e}") from None
    validate(rep, str(p))
    return rep
