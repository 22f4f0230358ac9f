"""SLA policy changes (GraphQL mutation and CLI) and the MSSP roll-up over two customers."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Workspace
from gateway.domain.timeutil import isoformat_z, utcnow
from gateway.service.cli import main
from tests.support.server import Server
from tests.support.sla import incident_at, workspace_with_key

H = timedelta(hours=1)
ROLLUP = """query($ws: ID, $since: DateTime, $until: DateTime, $children: Boolean!) {
  workspace(id: $ws) {
    slug
    slaSummary(since: $since, until: $until, includeChildren: $children) {
      workspaceIds incidentsTotal incidentsOpen ackBreaches resolveBreaches measured
      withinTargets compliance mttaSeconds { count mean p50 p90 } mttrSeconds { count mean p50 p90 }
    }
  }
}"""
UPDATE = """mutation($input: UpdateSlaPolicyInput!) {
  updateSlaPolicy(input: $input) {
    slaPolicy { isDefault targets { severity ackSeconds resolveSeconds } }
    workspace { slug slaPolicy { isDefault } }
    userErrors { field message code }
  }
}"""


async def _policy_json(db: Database, workspace_id: str) -> Any:
    async with db.read() as session:
        row = await session.get(Workspace, workspace_id)
        assert row is not None
        return row.sla_policy


async def _set_policy(server: Server, key: str, targets: list[dict[str, Any]], **extra: Any) -> Any:
    body = await server.graphql(UPDATE, {"input": {"targets": targets, **extra}}, key=key)
    assert "errors" not in body, body
    return body["data"]["updateSlaPolicy"]


async def test_mssp_rolls_up_two_customers(server: Server, db: Database) -> None:
    """mssp: M1; cust-a: A1, A2 (default policy); cust-b: B1, B2 with critical ack 5 min;
    outsider (not below the MSSP): O1. Hand-computed roll-up below."""
    mssp, mssp_key = await workspace_with_key(db, "roll-mssp")
    cust_a, a_key = await workspace_with_key(db, "roll-a", parent="roll-mssp")
    cust_b, b_key = await workspace_with_key(db, "roll-b", parent="roll-mssp")
    outsider, _ = await workspace_with_key(db, "roll-outsider")
    await _set_policy(server, b_key, [{"severity": "CRITICAL", "ackSeconds": 300}])

    t0 = utcnow().replace(microsecond=0) - H
    s = timedelta(seconds=1)
    await incident_at(db, mssp, "critical", t0 - 3 * H, acked=t0 - 3 * H + 300 * s,
                      resolved=t0 - 2 * H)                                   # M1 within
    await incident_at(db, cust_a, "critical", t0 - 3 * H, acked=t0 - 3 * H + 600 * s,
                      resolved=t0 - 2 * H)                                   # A1 within (15m)
    await incident_at(db, cust_a, "medium", t0 - 6 * H, acked=t0 - 4 * H,
                      resolved=t0 - 1 * H)                                   # A2 within
    await incident_at(db, cust_b, "critical", t0 - 3 * H, acked=t0 - 3 * H + 600 * s,
                      resolved=t0 - 1 * H)                                   # B1 ack breach (5m)
    await incident_at(db, cust_b, "high", t0 - 2 * H)                        # B2 never acked
    await incident_at(db, outsider, "critical", t0 - 3 * H)                  # not counted
    window = {"since": isoformat_z(t0 - 24 * H), "until": isoformat_z(t0)}

    body = await server.graphql(ROLLUP, {**window, "children": True}, key=mssp_key)
    rolled = body["data"]["workspace"]["slaSummary"]
    assert sorted(rolled.pop("workspaceIds")) == sorted([mssp.id, cust_a.id, cust_b.id])
    # MTTA: 300, 600, 7200, 600 -> mean 2175, p50 600, p90 7200.
    # MTTR: 3600, 3600, 18000, 7200 -> mean 8100, p50 3600, p90 18000.
    assert rolled == {
        "incidentsTotal": 5, "incidentsOpen": 1, "ackBreaches": 2, "resolveBreaches": 0,
        "measured": 5, "withinTargets": 3, "compliance": 0.6,
        "mttaSeconds": {"count": 4, "mean": 2175.0, "p50": 600.0, "p90": 7200.0},
        "mttrSeconds": {"count": 4, "mean": 8100.0, "p50": 3600.0, "p90": 18000.0},
    }

    own = (await server.graphql(ROLLUP, {**window, "children": False}, key=mssp_key))
    assert own["data"]["workspace"]["slaSummary"]["incidentsTotal"] == 1

    parts = []
    for ref, key in (("roll-a", mssp_key), ("roll-b", mssp_key), ("roll-a", a_key)):
        part = await server.graphql(ROLLUP, {**window, "ws": ref, "children": True}, key=key)
        parts.append(part["data"]["workspace"]["slaSummary"])
    assert [p["workspaceIds"] for p in parts] == [[cust_a.id], [cust_b.id], [cust_a.id]]
    assert parts[0]["incidentsTotal"] + parts[1]["incidentsTotal"] + 1 == 5
    assert parts[1]["ackBreaches"] == 2 and parts[0]["ackBreaches"] == 0

    # A customer cannot see its MSSP, so it cannot roll it up either.
    hidden = await server.graphql(ROLLUP, {**window, "ws": "roll-mssp", "children": True},
                                  key=a_key)
    assert hidden["data"]["workspace"] is None


async def test_update_sla_policy_and_incident_due_dates(server: Server, db: Database) -> None:
    workspace, key = await workspace_with_key(db, "policy-ws")
    _, read_key = await workspace_with_key(db, "policy-reader", parent="policy-ws", scope="read")
    created = utcnow().replace(microsecond=0) - timedelta(minutes=12)
    incident = await incident_at(db, workspace, "critical", created)

    result = await _set_policy(server, key, [{"severity": "CRITICAL", "ackSeconds": 600}])
    assert result["userErrors"] == []
    targets = {t["severity"]: t for t in result["slaPolicy"]["targets"]}
    assert targets["CRITICAL"] == {"severity": "CRITICAL", "ackSeconds": 600,
                                   "resolveSeconds": 14400}
    assert targets["HIGH"]["ackSeconds"] == 1800
    assert result["workspace"] == {"slug": "policy-ws", "slaPolicy": {"isDefault": False}}
    stored = await _policy_json(db, workspace.id)
    assert stored["critical"] == {"ack_seconds": 600, "resolve_seconds": 14400}

    sla_query = "query($id: ID!) { incident(id: $id) { sla { ackDueAt ackBreached } } }"
    body = await server.graphql(sla_query, {"id": incident.id}, key=key)
    assert body["data"]["incident"]["sla"] == {
        "ackDueAt": isoformat_z(created + timedelta(seconds=600)), "ackBreached": True,
    }

    result = await _set_policy(server, key, [
        {"severity": "INFO", "ackSeconds": 3600, "resolveSeconds": 7200},
        {"severity": "HIGH", "resolveSeconds": None},
    ])
    targets = {t["severity"]: t for t in result["slaPolicy"]["targets"]}
    assert targets["INFO"]["ackSeconds"] == 3600 and targets["INFO"]["resolveSeconds"] == 7200
    assert targets["HIGH"] == {"severity": "HIGH", "ackSeconds": 1800, "resolveSeconds": None}
    assert targets["CRITICAL"]["ackSeconds"] == 600  # untouched

    before = await _policy_json(db, workspace.id)
    for targets_in, field in [
        ([{"severity": "LOW", "ackSeconds": 100000, "resolveSeconds": 3600}],
         "targets[0].ackSeconds"),
        ([{"severity": "LOW", "ackSeconds": 0}], "targets[0].ackSeconds"),
        ([{"severity": "LOW", "resolveSeconds": 400 * 86400}], "targets[0].resolveSeconds"),
        ([{"severity": "LOW", "ackSeconds": 60}, {"severity": "LOW", "ackSeconds": 120}],
         "targets[1].severity"),
    ]:
        result = await _set_policy(server, key, targets_in)
        assert result["slaPolicy"] is None
        assert [(e["field"], e["code"]) for e in result["userErrors"]] == [
            (field, "BAD_USER_INPUT")
        ], targets_in
    assert await _policy_json(db, workspace.id) == before  # nothing written

    refused = await server.graphql(
        UPDATE, {"input": {"targets": [{"severity": "LOW", "ackSeconds": 60}]}}, key=read_key
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    reset = await _set_policy(server, key, [], resetToDefaults=True)
    assert reset["slaPolicy"]["isDefault"] is True


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(list(argv))
    return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_cli_sla_set_and_show(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    base = ("--database", db_url)
    code, _ = _cli(capsys, *base, "workspace", "create", "cli-ws", "--name", "CLI")
    assert code == 0
    code, out = _cli(capsys, *base, "sla", "show", "--workspace", "cli-ws")
    assert code == 0 and out["is_default"] is True
    assert out["sla_policy"][0] == {
        "severity": "critical", "ack_seconds": 900, "resolve_seconds": 14400,
        "ack": "15m", "resolve": "4h",
    }
    code, out = _cli(capsys, *base, "sla", "set", "--workspace", "cli-ws", "--severity",
                     "critical", "--ack", "10m", "--resolve", "1h30m")
    assert code == 0
    assert out["sla_policy"][0]["ack_seconds"] == 600
    assert out["sla_policy"][0]["resolve"] == "1h30m"
    code, out = _cli(capsys, *base, "sla", "set", "--workspace", "cli-ws", "--severity", "info",
                     "--ack", "none")
    assert code == 0 and out["sla_policy"][4]["ack_seconds"] is None
    code, out = _cli(capsys, *base, "sla", "show", "--workspace", "cli-ws")
    assert out["sla_policy"][0]["ack"] == "10m" and out["is_default"] is False

    code, out = _cli(capsys, *base, "sla", "set", "--workspace", "cli-ws", "--severity", "low",
                     "--ack", "10x")
    assert code == 1 and "10x" in out["error"]
    code, out = _cli(capsys, *base, "sla", "set", "--workspace", "cli-ws", "--severity", "low",
                     "--ack", "3d", "--resolve", "1d")
    assert code == 1 and "longer than its resolve target" in out["error"]
    code, out = _cli(capsys, *base, "sla", "set", "--workspace", "nope", "--reset")
    assert code == 1 and "nope" in out["error"]
    code, out = _cli(capsys, *base, "sla", "set", "--workspace", "cli-ws", "--reset")
    assert code == 0 and out["is_default"] is True


def test_parse_and_format_durations() -> None:
    from gateway.domain.sla.policy import format_duration, parse_duration

    assert [parse_duration(t) for t in ("90", "15m", "4h", "1h30m", "2d", "1w", "none")] == [
        90, 900, 14400, 5400, 172800, 604800, None,
    ]
    assert [format_duration(s) for s in (900, 5400, 90061, None, 0)] == [
        "15m", "1h30m", "1d1h1m1s", "none", "0s",
    ]
    for bad in ("", "m", "1h-2m", "5 parsecs"):
        with pytest.raises(Exception, match="cannot read duration"):
            parse_duration(bad)
