"""SLA maths against hand-computed figures.

The fixture (default policy; `T0` is "now"):

| name | sev      | created | first response     | resolved          | ack miss  | resolve miss |
|------|----------|---------|--------------------|-------------------|-----------|--------------|
| C1   | critical | T0-10h  | +600 s             | +7200 s           | no        | no           |
| C2   | critical | T0-9h   | +900 s (exactly)   | +14400 s (exactly)| no        | no           |
| C3   | critical | T0-8h   | +901 s             | +14401 s          | yes       | yes          |
| C4   | critical | T0-5h   | never              | open              | yes       | yes (5h>4h)  |
| H1   | high     | T0-2h   | never              | open              | yes       | no           |
| H2   | high     | T0-1h   | resolved, no ack   | +1200 s           | no        | no           |
| H3   | high     | T0-20m  | never              | open              | not yet   | no           |
| I1   | info     | T0-3h   | resolved, no ack   | +3600 s           | no target | no target    |
| L1   | low      | T0-24h  | +3600 s            | open              | no        | no           |
| X1   | critical | T0-25h  | (outside the window [T0-24h, T0))                              |

MTTA over 600, 900, 901, 1200, 3600, 3600: mean 10801/6 = 1800.167, p50 = 3rd = 901,
p90 = 6th = 3600. MTTR over 1200, 3600, 7200, 14400, 14401: mean 40801/5 = 8160.2, p50 = 7200,
p90 = 14401. Breaches: ack C3 C4 H1 = 3, resolve C3 C4 = 2. Measured: all but I1 = 8, within:
C1 C2 H2 H3 L1 = 5, compliance 0.625.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.domain.sla import maths
from gateway.domain.sla import policy as sla
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Workspace
from gateway.domain.timeutil import isoformat_z, parse_iso, utcnow
from tests.support.server import Server
from tests.support.sla import incident_at, workspace_with_key

S = timedelta(seconds=1)
H = timedelta(hours=1)


def _stats(count: int, mean: float | None, p50: float | None, p90: float | None) -> dict:
    return {"count": count, "mean": mean, "p50": p50, "p90": p90}


NONE = _stats(0, None, None, None)
OVERALL = {
    "incidents_total": 9, "incidents_open": 4,
    "mtta_seconds": _stats(6, 1800.167, 901.0, 3600.0),
    "mttr_seconds": _stats(5, 8160.2, 7200.0, 14401.0),
    "ack_breaches": 3, "resolve_breaches": 2, "measured": 8, "within_targets": 5,
    "compliance": 0.625,
}
BY_SEVERITY = {
    "critical": {
        "incidents_total": 4, "incidents_open": 1,
        "mtta_seconds": _stats(3, 800.333, 900.0, 901.0),
        "mttr_seconds": _stats(3, 12000.333, 14400.0, 14401.0),
        "ack_breaches": 2, "resolve_breaches": 2, "measured": 4, "within_targets": 2,
        "compliance": 0.5,
    },
    "high": {
        "incidents_total": 3, "incidents_open": 2,
        "mtta_seconds": _stats(1, 1200.0, 1200.0, 1200.0),
        "mttr_seconds": _stats(1, 1200.0, 1200.0, 1200.0),
        "ack_breaches": 1, "resolve_breaches": 0, "measured": 3, "within_targets": 2,
        "compliance": 0.666667,
    },
    "medium": {
        "incidents_total": 0, "incidents_open": 0, "mtta_seconds": NONE, "mttr_seconds": NONE,
        "ack_breaches": 0, "resolve_breaches": 0, "measured": 0, "within_targets": 0,
        "compliance": None,
    },
    "low": {
        "incidents_total": 1, "incidents_open": 1,
        "mtta_seconds": _stats(1, 3600.0, 3600.0, 3600.0), "mttr_seconds": NONE,
        "ack_breaches": 0, "resolve_breaches": 0, "measured": 1, "within_targets": 1,
        "compliance": 1.0,
    },
    "info": {
        "incidents_total": 1, "incidents_open": 0,
        "mtta_seconds": _stats(1, 3600.0, 3600.0, 3600.0),
        "mttr_seconds": _stats(1, 3600.0, 3600.0, 3600.0),
        "ack_breaches": 0, "resolve_breaches": 0, "measured": 0, "within_targets": 0,
        "compliance": None,
    },
}


async def seed(db: Database, workspace: Workspace, t0: datetime) -> dict[str, Any]:
    def at(offset: timedelta, plus: float | None) -> datetime | None:
        return None if plus is None else t0 - offset + timedelta(seconds=plus)

    spec = {
        "C1": ("critical", 10 * H, 600, 7200),
        "C2": ("critical", 9 * H, 900, 14400),
        "C3": ("critical", 8 * H, 901, 14401),
        "C4": ("critical", 5 * H, None, None),
        "H1": ("high", 2 * H, None, None),
        "H2": ("high", 1 * H, None, 1200),
        "H3": ("high", timedelta(minutes=20), None, None),
        "I1": ("info", 3 * H, None, 3600),
        "L1": ("low", 24 * H, 3600, None),
        "X1": ("critical", 25 * H, None, None),
    }
    made = {}
    for name, (severity, offset, ack, resolve) in spec.items():
        made[name] = await incident_at(
            db, workspace, severity, t0 - offset, acked=at(offset, ack),
            resolved=at(offset, resolve), title=name,
        )
    return made


@pytest.fixture
def t0() -> datetime:
    return utcnow().replace(microsecond=0)


async def test_summary_matches_hand_computed_figures(db: Database, t0: datetime) -> None:
    workspace, _ = await workspace_with_key(db, "sla-maths")
    await seed(db, workspace, t0)
    async with db.read() as session:
        summary = await maths.summary_for(
            session, workspace.id, since=t0 - 24 * H, until=t0, now=t0
        )
    data = summary.to_json()
    assert {k: data[k] for k in OVERALL} == OVERALL
    by_severity = {row.pop("severity"): row for row in data["by_severity"]}
    assert by_severity == BY_SEVERITY
    assert data["since"] == isoformat_z(t0 - 24 * H) and data["until"] == isoformat_z(t0)


async def test_every_breach_is_listed_once(db: Database, t0: datetime) -> None:
    workspace, _ = await workspace_with_key(db, "sla-breaches")
    made = await seed(db, workspace, t0)
    async with db.read() as session:
        summary = await maths.summary_for(
            session, workspace.id, since=t0 - 24 * H, until=t0, now=t0
        )
    listed = summary.breaches()
    breaches = {(row["title"], row["kind"]): row for row in listed}
    assert set(breaches) == {
        ("C3", "ack"), ("C3", "resolve"), ("C4", "ack"), ("C4", "resolve"), ("H1", "ack"),
    }
    assert len(listed) == len(breaches)  # none twice
    assert breaches[("C3", "ack")]["overdue_seconds"] == 1.0
    assert breaches[("C3", "ack")]["met_at"] == isoformat_z(made["C3"].acknowledged_at)
    assert breaches[("C4", "resolve")]["met_at"] is None
    assert breaches[("C4", "resolve")]["overdue_seconds"] == 3600.0  # 5 h open, 4 h target


def test_exact_boundary_is_within_target() -> None:
    created = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    target = sla.DEFAULT_POLICY["critical"]
    due = created + timedelta(seconds=900)
    row = maths.IncidentRow("inc_x", "ws_x", 1, "x", "critical", "triggered", created, None, None)
    assert maths.incident_sla(row, target, due).ack_breached is False  # now == due: not yet
    assert maths.incident_sla(row, target, due + timedelta(microseconds=1)).ack_breached is True
    acked = maths.IncidentRow(
        "inc_y", "ws_x", 2, "y", "critical", "acknowledged", created, due, None
    )
    later = due + 10 * H
    state = maths.incident_sla(acked, target, later)
    assert (state.ack_breached, state.resolve_breached) == (False, True)
    assert state.ack_due_at == due and state.resolve_due_at == created + 4 * H


def test_info_has_no_targets_and_percentiles_are_nearest_rank() -> None:
    row = maths.IncidentRow("inc_z", "ws", 1, "z", "info", "triggered",
                          utcnow() - 1000 * H, None, None)
    state = maths.incident_sla(row, sla.DEFAULT_POLICY["info"], utcnow())
    assert state.ack_due_at is None and not state.ack_breached and not state.resolve_breached
    assert maths.nearest_rank([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert maths.nearest_rank([1.0, 2.0, 3.0, 4.0], 90) == 4.0
    assert maths.nearest_rank([5.0], 90) == 5.0
    assert maths.nearest_rank([], 50) is None


SUMMARY = """query($since: DateTime, $until: DateTime, $children: Boolean!) {
  workspace {
    slaSummary(since: $since, until: $until, includeChildren: $children) {
      since until asOf workspaceIds
      incidentsTotal incidentsOpen ackBreaches resolveBreaches measured withinTargets compliance
      mttaSeconds { count mean p50 p90 } mttrSeconds { count mean p50 p90 }
      bySeverity {
        severity incidentsTotal incidentsOpen ackBreaches resolveBreaches measured
        withinTargets compliance mttaSeconds { count mean p50 p90 }
        mttrSeconds { count mean p50 p90 }
      }
    }
  }
}"""
INCIDENT_SLA = """query($id: ID!) {
  incident(id: $id) { sla { ackDueAt resolveDueAt ackBreached resolveBreached } }
}"""


def _camel(figures: dict[str, Any]) -> dict[str, Any]:
    names = {
        "incidents_total": "incidentsTotal", "incidents_open": "incidentsOpen",
        "mtta_seconds": "mttaSeconds", "mttr_seconds": "mttrSeconds",
        "ack_breaches": "ackBreaches", "resolve_breaches": "resolveBreaches",
        "measured": "measured", "within_targets": "withinTargets", "compliance": "compliance",
    }
    return {names[k]: v for k, v in figures.items()}


async def test_graphql_sla_summary_and_incident_sla(
    server: Server, db: Database, t0: datetime
) -> None:
    workspace, key = await workspace_with_key(db, "sla-graphql")
    made = await seed(db, workspace, t0)
    variables = {
        "since": isoformat_z(t0 - 24 * H), "until": isoformat_z(t0), "children": False,
    }
    body = await server.graphql(SUMMARY, variables, key=key)
    assert "errors" not in body, body
    data = body["data"]["workspace"]["slaSummary"]
    assert {k: data[k] for k in _camel(OVERALL)} == _camel(OVERALL)
    assert data["workspaceIds"] == [workspace.id]
    for row in data["bySeverity"]:
        severity = row.pop("severity").lower()
        assert row == _camel(BY_SEVERITY[severity]), severity

    c2 = (await server.graphql(INCIDENT_SLA, {"id": made["C2"].id}, key=key))["data"]
    assert c2["incident"]["sla"] == {
        "ackDueAt": isoformat_z(made["C2"].created_at + timedelta(seconds=900)),
        "resolveDueAt": isoformat_z(made["C2"].created_at + 4 * H),
        "ackBreached": False, "resolveBreached": False,
    }
    c3 = (await server.graphql(INCIDENT_SLA, {"id": made["C3"].id}, key=key))["data"]
    assert c3["incident"]["sla"]["ackBreached"] is True
    assert c3["incident"]["sla"]["resolveBreached"] is True
    i1 = (await server.graphql(INCIDENT_SLA, {"id": made["I1"].id}, key=key))["data"]
    assert i1["incident"]["sla"] == {
        "ackDueAt": None, "resolveDueAt": None, "ackBreached": False, "resolveBreached": False,
    }


async def test_default_window_is_the_last_30_days_and_bad_windows_are_refused(
    server: Server, db: Database, t0: datetime
) -> None:
    workspace, key = await workspace_with_key(db, "sla-window")
    await incident_at(db, workspace, "high", t0 - timedelta(days=29))
    await incident_at(db, workspace, "high", t0 - timedelta(days=31))
    body = await server.graphql(SUMMARY, {"children": False}, key=key)
    data = body["data"]["workspace"]["slaSummary"]
    assert data["incidentsTotal"] == 1
    assert parse_iso(data["until"]) - parse_iso(data["since"]) == timedelta(days=30)

    bad = await server.graphql(
        SUMMARY, {"since": isoformat_z(t0), "until": isoformat_z(t0 - H), "children": False},
        key=key,
    )
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    too_long = await server.graphql(
        SUMMARY,
        {"since": isoformat_z(t0 - timedelta(days=400)), "until": isoformat_z(t0),
         "children": False},
        key=key,
    )
    assert too_long["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
