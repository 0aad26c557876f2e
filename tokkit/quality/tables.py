"""CSV and Markdown views of a report (the JSON is the source of truth)."""

from __future__ import annotations

import csv
import io
import re

#: a spreadsheet reads a cell that starts with one of these as a formula (OWASP, CSV injection)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: characters with a meaning in a Markdown table cell (links, code, HTML, entities, the cell separator)
_MD_SPECIAL = re.compile(r"([\\`|\[\]<>&])")
_LINE_BREAK = re.compile(r"[\r\n\v\f\x85\u2028\u2029]+")


def _fmt(v, digits: int = 3) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def md_text(s: str) -> str:
    """``s`` as plain text in Markdown: one line, no markup, no HTML, no table separator."""
    return _MD_SPECIAL.sub(r"\\\1", _LINE_BREAK.sub(" ", s))


def csv_cell(v):
    """A value as a CSV cell: numbers as they are, text that a spreadsheet would run as a formula
    prefixed with ``'`` (quoting is the csv module's)."""
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, dict)):
        v = str(v)
    if not isinstance(v, str):
        return v
    # the csv module quotes a "\n" (the line terminator) but not a lone "\r", which some readers take
    # for the end of a row: shown as an escape (the JSON keeps the text as it is)
    shown = v.replace("\r", "\\r")
    return "'" + shown if v.startswith(FORMULA_START) else shown


def csv_text(rows: list[dict], columns: list[str] | None = None) -> str:
    cols = columns or (list(rows[0]) if rows else [])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([csv_cell(c) for c in cols])
    for r in rows:
        w.writerow([csv_cell(r.get(c)) for c in cols])
    return buf.getvalue()


def audit_rows(report: dict) -> list[dict]:
    out = []
    for t in report["tokenizers"]:
        a = t.get("audit") or {}
        d = t.get("digits") or {}
        scripts = a.get("scripts") or {}
        out.append({
            "tokenizer": t["name"], "status": t.get("status"), "format": t.get("format"), "model": t.get("model"),
            "vocab_size": t.get("vocab_size"), "special_tokens": a.get("special_tokens"),
            "byte_fallback_tokens": a.get("byte_fallback_tokens"), "partial_utf8": a.get("partial_utf8"),
            "unreachable": a.get("unreachable"), "unreachable_tested": a.get("unreachable_tested"),
            "undecodable": a.get("undecodable"), "mean_token_bytes": a.get("mean_token_bytes"),
            "top_scripts": "; ".join(f"{k} {v}" for k, v in list(scripts.items())[:6]),
            "digit_policy": d.get("policy"), "max_digits_per_token": d.get("max_digits_per_token"),
            "vocab_sha256": t.get("vocab_sha256"),
        })
    return out


def parity_rows(report: dict) -> list[dict]:
    out = []
    for p in report["parity"]:
        for name, g in p["tokenizers"].items():
            out.append({"corpus": p["corpus"], "pivot": p["pivot"], "tokenizer": name, "languages": p["languages"],
                        "gini": g["gini"], "gini_ci_low": g["gini_ci"][0], "gini_ci_high": g["gini_ci"][1]})
    return out


def linguistic_rows(report: dict) -> list[dict]:
    cols = ("tokenizer", "corpus", "lang", "valid_word_share", "valid_word_share_distinct", "pure_share",
            "pure_share_distinct", "compound_boundary_recall", "compound_words")
    out = []
    for r in report["linguistic"]:
        row = {c: r.get(c) for c in cols}
        row["lexicons"] = "; ".join(r.get("lexicons") or []) or r.get("valid_word_unavailable") or ""
        out.append(row)
    return out


def csv_files(report: dict) -> dict[str, str]:
    files = {
        "per_language.csv": csv_text(report["per_language"]),
        "per_tokenizer.csv": csv_text(report["per_tokenizer"]),
        "audit.csv": csv_text(audit_rows(report)),
    }
    if report["parity"]:
        files["parity.csv"] = csv_text(parity_rows(report))
    if report["linguistic"]:
        files["linguistic.csv"] = csv_text(linguistic_rows(report))
    if report.get("overlap"):
        o = report["overlap"]
        rows = [{"tokenizer": a, **{b: o["jaccard"][i][j] for j, b in enumerate(o["tokenizers"])}}
                for i, a in enumerate(o["tokenizers"])]
        files["overlap_jaccard.csv"] = csv_text(rows)
    return files


def _md_table(rows: list[dict], cols: list[str], digits: int = 3) -> str:
    if not rows:
        return "_none_\n"
    lines = ["| " + " | ".join(md_text(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(md_text(_fmt(r.get(c), digits)) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def markdown(report: dict, max_langs: int = 60) -> str:
    s = report["settings"]
    defs = report["metric_definitions"]
    out = ["# Tokenizer quality report\n",
           f"tokkit {report['tool']['version']}, schema {report['schema']} {report['schema_version']}, "
           f"{report['created']}. Pivot {md_text(str(s['pivot']))}, baseline {md_text(str(s['baseline']))}, "
           f"Rényi alpha {s['alpha']} "
           f"with the declared vocabulary size, {s['n_boot']} bootstrap resamples ({int(s['ci'] * 100)}% CI).\n"]
    if report["problems"]:
        out.append("## Problems with the inputs\n")
        out += [f"- {md_text(p['where'])}: {md_text(p['problem'])}" for p in report["problems"]]
        out.append("")
    out.append("## Tokenizers\n")
    cols = ["tokenizer", "vocab_size", "bytes_per_token", "chars_per_token", "nsl", "unk_share", "fertility_mean",
            "pcw_mean", "premium_median", "gini", "utilization", "renyi_efficiency_mean", "digit_policy"]
    out.append(_md_table(report["per_tokenizer"], cols))
    out.append("Pooled over every text (ratio of sums); `fertility_mean`, `pcw_mean`, `renyi_efficiency_mean` "
               "are means over the text sets; `premium_median` over languages.\n")
    if report["parity"]:
        out.append("## Parity\n")
        out.append(_md_table(parity_rows(report), ["corpus", "pivot", "tokenizer", "languages", "gini",
                                                   "gini_ci_low", "gini_ci_high"]))
    # premiums: languages x tokenizers
    names = [t["tokenizer"] for t in report["per_tokenizer"]]
    by = {}
    for r in report["per_language"]:
        by.setdefault((r["corpus"], r["lang"]), {})[r["tokenizer"]] = r
    metric = "premium" if report["parity"] else "bytes_per_token"
    out.append(f"## {metric} by language ({defs[metric]['unit']}; {defs[metric]['aggregation']})\n")
    rows = []
    for (corpus, lang), d in list(by.items())[:max_langs]:
        row = {"corpus": corpus, "lang": lang}
        for n in names:
            r = d.get(n, {})
            v = r.get(metric)
            if metric == "premium" and v is not None and r.get("premium_ci_low") is not None:
                row[n] = f"{v:.2f} [{r['premium_ci_low']:.2f}, {r['premium_ci_high']:.2f}]"
            else:
                row[n] = v
        rows.append(row)
    out.append(_md_table(rows, ["corpus", "lang"] + names))
    if len(by) > max_langs:
        out.append(f"({len(by) - max_langs} more languages in per_language.csv)\n")
    if report["linguistic"]:
        out.append("## Linguistic alignment\n")
        out.append(_md_table(linguistic_rows(report), list(linguistic_rows(report)[0])))
    out.append("## Vocabulary audit\n")
    out.append(_md_table(audit_rows(report), ["tokenizer", "vocab_size", "partial_utf8", "unreachable",
                                               "undecodable", "byte_fallback_tokens", "digit_policy",
                                               "max_digits_per_token", "top_scripts"]))
    out.append("## Metric definitions\n")
    out.append(_md_table([{"metric": k, **v} for k, v in defs.items()],
                         ["metric", "unit", "aggregation", "description"]))
    out.append("## Provenance\n")
    out.append(_md_table(report["tokenizers"], ["name", "source", "format", "status", "vocab_sha256"]))
    t = report["timing"]
    out.append("Timing (s): " + ", ".join(f"{k} {v:.2f}" for k, v in t.items() if isinstance(v, (int, float))) + "\n")
    return "\n".join(out)
