"""Markdown and HTML renderings of a report.

Both come from one intermediate document (title, facts, sections of paragraphs and tables), so the
two never disagree. The HTML is a complete, self-contained page: an inline `<style>`, no
JavaScript, no external assets (fonts, images, scripts), and an inline SVG bar chart of incidents
per day by severity: one `<g class="day">` per day of the period, with one stacked `<rect>` per
severity that had incidents that day and a `<title>` tooltip. Every text from the database is
escaped. A report that is not ready renders as a short page saying so (and the error if it failed).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from gateway.domain.sla.policy import breach_word, format_duration
from gateway.domain.storage.models import SEVERITIES
from gateway.domain.timeutil import isoformat_z

KIND_TITLES = {"incident_summary": "Incident summary", "sla": "SLA report"}
SEVERITY_COLOURS = {
    "critical": "#b91c1c",
    "high": "#ea580c",
    "medium": "#ca8a04",
    "low": "#2563eb",
    "info": "#6b7280",
}
SVG_NS = "http://www.w3.org/2000/svg"


class ReportLike(Protocol):
    id: str
    kind: str
    status: str
    period_start: datetime
    period_end: datetime
    content: dict[str, Any] | None
    error: str | None


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    table: Table | None = None
    chart: list[dict[str, Any]] | None = None


@dataclass
class Document:
    title: str
    facts: list[str]
    sections: list[Section]


# --- building the document ----------------------------------------------------------------------


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{format_duration(seconds)} ({seconds:g} s)"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _opt(value: Any) -> str:
    return "" if value is None else str(value)


def _incident_table(rows: Sequence[dict[str, Any]], *, open_for: bool = False) -> Table:
    headers = ["#", "Title", "Severity", "Status", "Created"]
    headers += ["Open for"] if open_for else ["Acknowledged", "Resolved"]
    out = []
    for row in rows:
        cells = [f"#{row['number']}", row["title"], row["severity"], row["status"],
                 row["created_at"]]
        if open_for:
            cells.append(format_duration(row.get("open_seconds")))
        else:
            cells += [_opt(row.get("acknowledged_at")), _opt(row.get("resolved_at"))]
        out.append(cells)
    return Table(headers, out)


def _per_day_section(content: dict[str, Any]) -> Section:
    days = content.get("per_day") or []
    busy = [d for d in days if d.get("total")]
    table = Table(
        ["Date", *SEVERITIES, "Total"],
        [[d["date"], *(str(d["counts"].get(s, 0)) for s in SEVERITIES), str(d["total"])]
         for d in busy],
    )
    note = f"{sum(d.get('total', 0) for d in days)} incidents over {len(days)} days"
    note += "; days without incidents are left out of the table." if busy else "."
    return Section("Incidents per day", [note], table, chart=days)


def _incident_summary_sections(content: dict[str, Any]) -> list[Section]:
    totals = content["totals"]
    sections = [
        Section(
            "Totals",
            [f"{totals['incidents']} incidents, {totals['open']} still open."],
            Table(
                ["", *totals["by_status"].keys(), *totals["by_severity"].keys()],
                [["Incidents", *map(str, totals["by_status"].values()),
                  *map(str, totals["by_severity"].values())]],
            ),
        ),
        _per_day_section(content),
        Section(
            "Top alert sources",
            [] if content["top_sources"] else ["No alerts were received in the period."],
            Table(
                ["Source", "Alerts", "Occurrences"],
                [[s["source"], str(s["alerts"]), str(s["occurrences"])]
                 for s in content["top_sources"]],
            ) if content["top_sources"] else None,
        ),
        Section(
            "Longest-open incidents",
            [] if content["longest_open"] else ["No incident of the period is still open."],
            _incident_table(content["longest_open"], open_for=True)
            if content["longest_open"] else None,
        ),
    ]
    listed = content["incidents"]
    paragraphs = []
    if content.get("incidents_truncated"):
        paragraphs.append(f"Only the first {len(listed)} incidents are listed.")
    if not listed:
        paragraphs.append("No incidents were created in the period.")
    sections.append(
        Section("Incidents", paragraphs, _incident_table(listed) if listed else None)
    )
    return sections


def _figures_row(label: str, figures: dict[str, Any]) -> list[str]:
    return [
        label,
        str(figures["incidents_total"]),
        str(figures["incidents_open"]),
        _duration(figures["mtta_seconds"]["mean"]),
        _duration(figures["mtta_seconds"]["p50"]),
        _duration(figures["mtta_seconds"]["p90"]),
        _duration(figures["mttr_seconds"]["mean"]),
        _duration(figures["mttr_seconds"]["p50"]),
        _duration(figures["mttr_seconds"]["p90"]),
        str(figures["ack_breaches"]),
        str(figures["resolve_breaches"]),
        _percent(figures["compliance"]),
    ]


def _sla_sections(content: dict[str, Any]) -> list[Section]:
    summary = content["summary"]
    headers = ["", "Incidents", "Open", "MTTA mean", "MTTA p50", "MTTA p90", "MTTR mean",
               "MTTR p50", "MTTR p90", "Ack breaches", "Resolve breaches", "Compliance"]
    rows = [_figures_row("All", summary)]
    rows += [_figures_row(item["severity"], item) for item in summary["by_severity"]]
    breaches = content["breaches"]
    return [
        Section(
            "Policy",
            ["Targets run from the incident's creation; \"none\" means no target."],
            Table(["Severity", "Acknowledge within", "Resolve within"],
                  [[p["severity"], p["ack"], p["resolve"]] for p in content["policy"]]),
        ),
        Section(
            "Summary",
            [
                f"Compliance {_percent(summary['compliance'])}: {summary['within_targets']} of "
                f"{summary['measured']} incidents with targets met both. "
                f"{summary['ack_breaches']} acknowledge and {summary['resolve_breaches']} "
                "resolve breaches.",
            ],
            Table(headers, rows),
        ),
        _per_day_section(content),
        Section(
            "Breaches",
            [] if breaches else ["No target was missed in the period."],
            Table(
                ["#", "Title", "Severity", "Target", "Due", "Met", "Overdue by"],
                [[f"#{b['number']}", b["title"], b["severity"], breach_word(b["kind"]),
                  b["due_at"], b["met_at"] or "not yet", format_duration(b["overdue_seconds"])]
                 for b in breaches],
            ) if breaches else None,
        ),
    ]


def build_document(report: ReportLike) -> Document:
    kind_title = KIND_TITLES.get(report.kind, report.kind)
    content = report.content or {}
    workspace = content.get("workspace") or {}
    title = kind_title
    if workspace:
        title += f": {workspace.get('name')} ({workspace.get('slug')})"
    facts = [
        f"Period: {isoformat_z(report.period_start)} to {isoformat_z(report.period_end)}",
        f"Report: {report.id} ({report.status})",
    ]
    if content.get("generated_at"):
        facts.append(f"Generated: {content['generated_at']}")
    if report.status == "failed":
        return Document(title, facts, [Section("Failed", [f"Error: {report.error or 'unknown'}"])])
    if report.status != "ready" or not content:
        return Document(
            title, facts,
            [Section("Not ready", [f"This report is {report.status}; it has no content yet."])],
        )
    sections = (
        _sla_sections(content) if report.kind == "sla" else _incident_summary_sections(content)
    )
    return Document(title, facts, sections)


# --- Markdown -----------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return " ".join(str(text).split()).replace("\\", "\\\\").replace("|", "\\|") or " "


def render_markdown(report: ReportLike) -> str:
    doc = build_document(report)
    lines = [f"# {doc.title}", ""]
    lines += [f"- {fact}" for fact in doc.facts]
    for section in doc.sections:
        lines += ["", f"## {section.title}", ""]
        for paragraph in section.paragraphs:
            lines += [paragraph, ""]
        if section.table is not None and section.table.rows:
            lines.append("| " + " | ".join(_md_cell(h) for h in section.table.headers) + " |")
            lines.append("|" + "---|" * len(section.table.headers))
            lines += [
                "| " + " | ".join(_md_cell(c) for c in row) + " |" for row in section.table.rows
            ]
    return "\n".join(lines).rstrip() + "\n"


# --- HTML ---------------------------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#111827}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #d1d5db;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f4f6}ul.facts{color:#4b5563}figure{margin:1rem 0;overflow-x:auto}
.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .25rem 0 .75rem}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _nice_max(value: int) -> int:
    if value <= 5:
        return max(value, 1)
    step = 10 ** (len(str(value)) - 1)
    return ((value + step - 1) // step) * step if value > step else value


def render_chart(days: Sequence[dict[str, Any]]) -> str:
    """The SVG: one `<g class="day">` per day, bars stacked by severity (critical at the bottom)."""
    count = max(len(days), 1)
    step = max(4, min(24, 720 // count))
    bar = max(step - 2, 2)
    left, top, plot_h, bottom = 44, 10, 160, 34
    width = left + step * count + 10
    height = top + plot_h + bottom
    peak = _nice_max(max((int(d.get("total", 0)) for d in days), default=0))
    scale = plot_h / peak
    base = top + plot_h
    parts = [
        f'<svg xmlns="{SVG_NS}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        'aria-label="Incidents per day by severity">',
        f'<line class="axis" x1="{left}" y1="{base}" x2="{width - 6}" y2="{base}" '
        'stroke="#9ca3af"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#9ca3af"/>',
        f'<text x="{left - 6}" y="{base}" text-anchor="end" font-size="10">0</text>',
        f'<text x="{left - 6}" y="{top + 8}" text-anchor="end" font-size="10">{peak}</text>',
    ]
    label_every = max(1, count // 6)
    for index, day in enumerate(days):
        x = left + index * step + (step - bar) / 2
        counts = day.get("counts", {})
        tip = ", ".join(f"{s} {counts[s]}" for s in SEVERITIES if counts.get(s))
        parts.append(f'<g class="day" data-date="{_e(day["date"])}">')
        parts.append(
            f"<title>{_e(day['date'])}: {int(day.get('total', 0))} incidents"
            f"{' (' + _e(tip) + ')' if tip else ''}</title>"
        )
        y = float(base)
        for severity in SEVERITIES:
            n = int(counts.get(severity, 0))
            if not n:
                continue
            h = n * scale
            y -= h
            parts.append(
                f'<rect class="{severity}" x="{x:.1f}" y="{y:.1f}" width="{bar}" '
                f'height="{h:.1f}" fill="{SEVERITY_COLOURS[severity]}"/>'
            )
        parts.append("</g>")
        if index % label_every == 0 or index == count - 1:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{base + 14}" text-anchor="middle" '
                f'font-size="9">{_e(str(day["date"])[5:])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in table.headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: ReportLike) -> str:
    doc = build_document(report)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(doc.title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{_e(doc.title)}</h1>",
        '<ul class="facts">' + "".join(f"<li>{_e(f)}</li>" for f in doc.facts) + "</ul>",
    ]
    for section in doc.sections:
        out.append(f"<h2>{_e(section.title)}</h2>")
        out += [f"<p>{_e(p)}</p>" for p in section.paragraphs]
        if section.chart is not None:
            legend = "".join(
                f'<span style="background:{SEVERITY_COLOURS[s]}"></span>{_e(s)}'
                for s in SEVERITIES
            )
            out.append(f"<figure>{render_chart(section.chart)}"
                       f'<figcaption class="legend">{legend}</figcaption></figure>')
        if section.table is not None and section.table.rows:
            out.append(_html_table(section.table))
    out.append("</body></html>")
    return "\n".join(out) + "\n"
