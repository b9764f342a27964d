"""Markdown tables from benchmark records (see ``benchmarks.common.record``)."""

from __future__ import annotations

from benchmarks.common import COLUMNS, LABELS

RATIOS = (("tfstyle", "tf"), ("tfstyle", "jax"), ("jax", "tf"))
CELL_ERROR_CHARS = 70


def fmt(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1 or magnitude == 0:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _escape(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _short(error: str) -> str:
    error = _escape(error)
    return error if len(error) <= CELL_ERROR_CHARS else error[: CELL_ERROR_CHARS - 1] + "…"


def cell(rec: dict, framework: str) -> str:
    if framework in rec["values"]:
        return fmt(rec["values"][framework])
    return f"n/a (error: {_short(rec['errors'].get(framework, 'not run'))})"


def ratio(rec: dict, num: str, den: str) -> str:
    a, b = rec["values"].get(num), rec["values"].get(den)
    if a is None or b is None or b == 0:
        return ""
    return fmt(a / b)


def table(title: str, records: list, columns) -> str:
    columns = [c for c in COLUMNS if c in columns]
    ratios = [(a, b) for a, b in RATIOS if a in columns and b in columns]
    head = (
        ["case", "metric"]
        + [LABELS[c] for c in columns]
        + [f"{LABELS[a]} ÷ {LABELS[b]}" for a, b in ratios]
        + ["target (tfstyle)"]
    )
    lines = [
        f"### {title}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] * 2 + ["---:"] * (len(columns) + len(ratios)) + ["---"]) + "|",
    ]
    previous = None
    errors = []
    for rec in records:
        case = rec["case"] if rec["case"] != previous else ""
        previous = rec["case"]
        row = [_escape(case), rec["metric"]]
        row += [cell(rec, c) for c in columns]
        row += [ratio(rec, a, b) for a, b in ratios]
        row.append(rec["target"])
        lines.append("| " + " | ".join(row) + " |")
        for framework in columns:
            error = rec["errors"].get(framework)
            if error and len(_escape(error)) > CELL_ERROR_CHARS and error not in errors:
                errors.append(error)
    if errors:
        lines += ["", "Errors in full:", ""] + [f"- `{_escape(e)}`" for e in errors]
    return "\n".join(lines) + "\n"
