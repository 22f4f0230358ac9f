"""Reports end to end through GraphQL on the real server (queued -> running -> ready), across a
restart, after a crash, when the builder fails, and the renderings."""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from gateway.domain import ids
from gateway.domain.errors import InvalidInput
from gateway.domain.reports import content as report_content
from gateway.domain.reports.worker import claim_next, run_job
from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Report, Workspace
from gateway.domain.timeutil import isoformat_z, utcnow
from tests.gateway.test_cancellation import SLOW
from tests.reports.conftest import fetch, finished, generate
from tests.support.server import Server, running_server
from tests.support.sla import incident_at, workspace_with_key

SVG = "{http://www.w3.org/2000/svg}"
M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)


def midnight_today() -> datetime:
    return utcnow().replace(hour=0, minute=0, second=0, microsecond=0)


async def seed_week(db: Database, workspace: Workspace) -> datetime:
    """Seven days ending at midnight today: day 0 a critical acknowledged after 20 min and
    resolved after 1 h, and a high never acknowledged; day 3 a medium acknowledged after 1 h and
    still open; day 6 a low acknowledged after 1 h; and one incident before the period."""
    start = midnight_today() - 7 * D
    await incident_at(db, workspace, "critical", start + 2 * H, acked=start + 2 * H + 20 * M,
                      resolved=start + 3 * H, title="Ransomware note")
    await incident_at(db, workspace, "high", start + 5 * H, title="Port scan | edge")
    await incident_at(db, workspace, "medium", start + 3 * D + H, acked=start + 3 * D + 2 * H,
                      title="Disk <full> & slow")
    await incident_at(db, workspace, "low", start + 6 * D + 22 * H, acked=start + 6 * D + 23 * H,
                      title="Cert expiry")
    await incident_at(db, workspace, "critical", start - H, title="Before the period")
    return start


async def test_incident_summary_report_end_to_end(server: Server, db: Database) -> None:
    workspace, key = await workspace_with_key(db, "reports-ws")
    start = await seed_week(db, workspace)
    report_id = await generate(
        server, key, kind="INCIDENT_SUMMARY", periodStart=isoformat_z(start),
        periodEnd=isoformat_z(start + 7 * D),
    )
    report = await finished(server, key, report_id)
    assert report["status"] == "READY" and report["error"] is None
    assert report["startedAt"] <= report["completedAt"]
    content = report["content"]
    assert content["workspace"]["slug"] == "reports-ws"
    assert content["totals"] == {
        "incidents": 4, "open": 3,
        "by_status": {"triggered": 1, "acknowledged": 2, "resolved": 1},
        "by_severity": {"critical": 1, "high": 1, "medium": 1, "low": 1, "info": 0},
    }
    assert content["top_sources"] == [{"source": "test", "alerts": 4, "occurrences": 4}]
    assert [i["title"] for i in content["longest_open"]] == [
        "Port scan | edge", "Disk <full> & slow", "Cert expiry",
    ]
    assert [i["title"] for i in content["incidents"]] == [
        "Ransomware note", "Port scan | edge", "Disk <full> & slow", "Cert expiry",
    ]
    assert [d["total"] for d in content["per_day"]] == [2, 0, 0, 1, 0, 0, 1]

    markdown = report["markdown"]
    assert markdown.startswith("# Incident summary: Reports-Ws (reports-ws)\n")
    assert "## Top alert sources" in markdown and "| test | 4 | 4 |" in markdown
    assert "Port scan \\| edge" in markdown  # table cells are escaped

    html = report["html"]
    assert "Disk &lt;full&gt; &amp; slow" in html and "<full>" not in html
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=""", html, re.I)  # no external assets
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    svg = ET.fromstring(html[html.index("<svg"):html.index("</svg>") + len("</svg>")])
    days = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "day"]
    assert [g.get("data-date") for g in days] == [
        (start + n * D).date().isoformat() for n in range(7)
    ]
    bars = [[r.get("class") for r in g.iter(f"{SVG}rect")] for g in days]
    assert bars == [["critical", "high"], [], [], ["medium"], [], [], ["low"]]
    assert days[0].find(f"{SVG}title") is not None


async def test_sla_report_lists_every_breach(server: Server, db: Database) -> None:
    workspace, key = await workspace_with_key(db, "sla-report-ws")
    start = await seed_week(db, workspace)
    report_id = await generate(
        server, key, kind="SLA", periodStart=isoformat_z(start),
        periodEnd=isoformat_z(start + 7 * D),
    )
    report = await finished(server, key, report_id)
    assert report["status"] == "READY"
    content = report["content"]
    # Critical acknowledged after 20 min (15 min target) but resolved in 1 h (4 h); high open
    # for days (30 min / 8 h); medium acknowledged in 1 h (4 h) but open for days (24 h); low
    # acknowledged in 1 h (24 h) and open for about a day (72 h).
    assert [(b["title"], b["kind"], b["overdue_seconds"]) for b in content["breaches"]][:2] == [
        ("Ransomware note", "ack", 300.0), ("Port scan | edge", "ack", pytest.approx(
            (utcnow() - (start + 5 * H + 30 * M)).total_seconds(), abs=30)),
    ]
    assert {(b["title"], b["kind"]) for b in content["breaches"]} == {
        ("Ransomware note", "ack"), ("Port scan | edge", "ack"),
        ("Port scan | edge", "resolve"), ("Disk <full> & slow", "resolve"),
    }
    assert len(content["breaches"]) == 4  # each once
    summary = content["summary"]
    assert (summary["incidents_total"], summary["ack_breaches"], summary["resolve_breaches"],
            summary["measured"], summary["within_targets"]) == (4, 2, 2, 4, 1)
    assert content["policy"][0] == {
        "severity": "critical", "ack_seconds": 900, "resolve_seconds": 14400,
        "ack": "15m", "resolve": "4h",
    }
    assert "## Breaches" in report["markdown"] and "| #1 | Ransomware note |" in report["markdown"]
    assert report["html"].count('class="day"') == 7


async def test_a_job_queued_before_a_restart_runs_after_it(
    settings: Settings, db: Database, db_url: str
) -> None:
    workspace, key = await workspace_with_key(db, "restart-ws")
    await incident_at(db, workspace, "high", utcnow() - H)
    stopped = settings.model_copy(update={"report_poll_seconds": 0})
    async with running_server(stopped, db) as first:
        report_id = await generate(first, key, kind="INCIDENT_SUMMARY")
        await asyncio.sleep(0.3)
        assert (await fetch(first, key, report_id))["status"] == "QUEUED"

    restarted = Database(db_url)  # a new process: a new engine on the same database
    try:
        async with running_server(settings, restarted) as second:
            report = await finished(second, key, report_id)
    finally:
        await restarted.dispose()
    assert report["status"] == "READY"
    assert report["content"]["totals"]["incidents"] == 1


async def test_a_job_left_running_by_a_crash_is_requeued_and_run(
    settings: Settings, db: Database
) -> None:
    workspace, key = await workspace_with_key(db, "crash-ws")
    crashed_at = utcnow() - H
    async with db.write() as session:
        report = Report(
            id=ids.new_id(ids.REPORT), workspace_id=workspace.id, kind="incident_summary",
            status="running", period_start=utcnow() - 7 * D, period_end=utcnow(),
            started_at=crashed_at,
        )
        session.add(report)
    async with running_server(settings, db) as server:
        done = await finished(server, key, report.id)
    assert done["status"] == "READY"
    assert done["startedAt"] > isoformat_z(crashed_at)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (RuntimeError("disk on fire at /var/lib/secret"),
         "internal error (RuntimeError) while building the report"),
        (InvalidInput("the period has no data source"), "the period has no data source"),
    ],
)
async def test_a_failing_job_is_failed_with_its_error(
    server: Server, db: Database, monkeypatch: pytest.MonkeyPatch, error: Exception,
    message: str,
) -> None:
    async def boom(*args: object) -> dict[str, object]:
        raise error

    monkeypatch.setitem(report_content.BUILDERS, "sla", boom)
    _, key = await workspace_with_key(db, "failing-ws")
    report_id = await generate(server, key, kind="SLA")
    report = await finished(server, key, report_id)
    assert report["status"] == "FAILED"
    assert report["error"] == message
    assert report["content"] is None and report["completedAt"] is not None
    assert f"Error: {message}" in report["markdown"]
    assert "secret" not in report["html"]

    # The worker goes on with the next job.
    monkeypatch.undo()
    next_id = await generate(server, key, kind="SLA")
    assert (await finished(server, key, next_id))["status"] == "READY"


async def test_a_job_past_its_time_limit_is_failed_as_too_slow(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its statement is cancelled in flight: the job said "internal error
    (PendingRollbackError)" until the cancellation was kept (gateway.domain.storage.engine)."""
    slow = SLOW[db.engine.dialect.name]

    async def builds_for_ever(session: Any, *args: object) -> dict[str, object]:
        while True:
            await session.execute(text(slow))

    monkeypatch.setitem(report_content.BUILDERS, "sla", builds_for_ever)
    workspace, _ = await workspace_with_key(db, "slow-ws")
    async with db.write() as session:
        session.add(Report(
            id=ids.new_id(ids.REPORT), workspace_id=workspace.id, kind="sla",
            period_start=utcnow() - D, period_end=utcnow(),
        ))
    job = await claim_next(db)
    assert job is not None
    assert await run_job(db, job, limit=0.3) == "failed"
    async with db.read() as session:
        stored = await session.get(Report, job.id)
    assert stored is not None and stored.error is not None
    assert stored.error.startswith("the report took longer than"), stored.error


async def test_a_queued_report_renders_as_not_ready(
    settings: Settings, db: Database
) -> None:
    _, key = await workspace_with_key(db, "queued-ws")
    stopped = settings.model_copy(update={"report_poll_seconds": 0})
    async with running_server(stopped, db) as server:
        report_id = await generate(server, key, kind="SLA")
        report = await fetch(server, key, report_id)
    assert report["content"] is None
    assert "This report is queued; it has no content yet." in report["markdown"]
    assert "<svg" not in report["html"]


async def test_two_workers_never_claim_the_same_job(db: Database, db_url: str) -> None:
    workspace, _ = await workspace_with_key(db, "claim-ws")
    async with db.write() as session:
        session.add(Report(
            id=ids.new_id(ids.REPORT), workspace_id=workspace.id, kind="sla",
            period_start=utcnow() - D, period_end=utcnow(),
        ))
    other = Database(db_url)
    try:
        claims = await asyncio.gather(claim_next(db), claim_next(other), claim_next(db))
    finally:
        await other.dispose()
    assert len([c for c in claims if c is not None]) == 1
