"""Each format end to end through `POST /webhook/{slug}/{token}` on the real server: outcomes,
deduplication, correlation, auto-resolution, the delivery log, signing and idempotency."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import update

from gateway.domain.ingest.webhook_auth import set_signing, sign
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Alert, Incident, Workspace
from tests.ingest.conftest import (
    Hook,
    alerts_of,
    enable_signing,
    events_of,
    get_row,
    no_rows_but_the_delivery,
    post,
    row_counts,
)
from tests.ingest.payloads import alertmanager_group, grafana_group, legacy_grafana, wazuh_alert
from tests.support.data import Tenants
from tests.support.server import Server


def _outcomes(reply_body: dict) -> list[str]:
    return [item["outcome"] for item in reply_body["results"]]


async def test_generic_created_deduplicated_resolved(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    hook = hooks["acme"]
    body = {
        "title": "Disk almost full on db-1", "severity": "warning", "source": "zabbix",
        "labels": {"host": "db-1"}, "description": "95% used",
    }
    first = await post(server, hook.path(), body)
    assert first.status == 202, first.body
    assert first.body["accepted"] == 1 and first.body["format"] == "generic"
    assert _outcomes(first.body) == ["created"]
    (alert_id,) = first.body["alerts"]
    (incident_id,) = first.body["incidents"]
    assert "X-Request-ID" in first.headers

    again = await post(server, hook.path(), body)
    assert again.status == 202 and _outcomes(again.body) == ["deduplicated"]
    assert again.body["alerts"] == [alert_id] and again.body["incidents"] == [incident_id]
    alert = await get_row(db, Alert, alert_id)
    assert alert.occurrences == 2 and alert.last_seen_at > alert.first_seen_at
    assert (alert.severity, alert.source, alert.raw_payload) == ("medium", "zabbix", body)

    resolved = await post(server, hook.path(), {**body, "status": "resolved"})
    assert resolved.status == 202 and _outcomes(resolved.body) == ["resolved"]
    assert resolved.body["alerts"] == [alert_id]
    alert = await get_row(db, Alert, alert_id)
    incident = await get_row(db, Incident, incident_id)
    assert alert.status == "resolved" and alert.resolved_at is not None
    assert incident.status == "resolved" and incident.resolved_at is not None
    events = [(e.type, e.actor) for e in await events_of(db, incident_id)]
    assert events == [
        ("incident.created", "webhook"),
        ("alert.attached", "webhook"),
        ("alert.resolved", "webhook"),
        ("status.changed", "system"),
    ]

    # After it resolved, a new firing opens a new alert (and, its incident being resolved, a
    # new incident).
    reopened = await post(server, hook.path(), body)
    assert _outcomes(reopened.body) == ["created"]
    assert reopened.body["alerts"] != [alert_id]
    assert reopened.body["incidents"] != [incident_id]


async def test_batch_with_grouping_and_dedup_inside_one_request(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    hook = hooks["acme"]
    reply = await post(
        server,
        hook.path() + "?source=nagios",
        {
            "alerts": [
                {"title": "Ping loss", "severity": "low", "labels": {"host": "sw-1", "if": "1"}},
                {"title": "Ping loss", "severity": "P1", "labels": {"host": "sw-1", "if": "2"}},
                {"title": "Ping loss", "severity": "low", "labels": {"host": "sw-2"}},
                {"title": "Ping loss", "severity": "low", "labels": {"host": "sw-1", "if": "1"}},
            ]
        },
    )
    assert reply.status == 202, reply.body
    assert reply.body["format"] == "batch" and reply.body["accepted"] == 4
    assert _outcomes(reply.body) == ["created", "grouped", "created", "deduplicated"]
    a1, a2, a3, a4 = reply.body["alerts"]
    assert a4 == a1 and len({a1, a2, a3}) == 3
    assert len(reply.body["incidents"]) == 2
    first_incident = await get_row(db, Incident, reply.body["incidents"][0])
    assert first_incident.alert_count == 2
    # The incident's severity rose to its highest alert's, with an event by `system`.
    assert first_incident.severity == "critical"
    events = [(e.type, e.actor, e.data.get("to")) for e in await events_of(db, first_incident.id)]
    assert ("severity.changed", "system", "critical") in events
    sources = {a.source for a in await alerts_of(db, hook.workspace_id) if a.id in {a1, a2, a3}}
    assert sources == {"nagios"}


async def test_alertmanager_firing_then_resolved_group(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    hook = hooks["acme"]
    firing = await post(server, hook.path(), alertmanager_group("firing"))
    assert firing.status == 202, firing.body
    assert firing.body["format"] == "alertmanager"
    assert _outcomes(firing.body) == ["created", "grouped"]
    (incident_id,) = firing.body["incidents"]
    incident = await get_row(db, Incident, incident_id)
    assert (incident.title, incident.severity, incident.alert_count) == (
        "Checkout latency above 2 s", "critical", 2
    )
    alert = await get_row(db, Alert, firing.body["alerts"][0])
    assert alert.source == "alertmanager" and alert.fingerprint == "a1b2c3d4e5f60001"
    assert alert.first_seen_at.isoformat().startswith("2026-11-27T09:00:00.123456")
    assert alert.raw_payload["generatorURL"].startswith("http://prometheus")

    # Alertmanager re-sends the group every repeat_interval: deduplicated, not doubled.
    repeat = await post(server, hook.path(), alertmanager_group("firing"))
    assert _outcomes(repeat.body) == ["deduplicated", "deduplicated"]

    # One pod recovers: the incident stays open.
    partial = await post(server, hook.path(), alertmanager_group("resolved", only_first=True))
    assert _outcomes(partial.body) == ["resolved"]
    assert (await get_row(db, Incident, incident_id)).status == "triggered"

    # The resolved group (it repeats the already-resolved alert): the incident auto-resolves.
    resolved = await post(server, hook.path(), alertmanager_group("resolved"))
    assert resolved.status == 202
    assert _outcomes(resolved.body) == ["resolved", "resolved"]
    assert resolved.body["incidents"] == [incident_id]
    incident = await get_row(db, Incident, incident_id)
    assert incident.status == "resolved"
    alerts = await alerts_of(db, hook.workspace_id)
    ours = [a for a in alerts if a.incident_id == incident_id]
    assert [a.status for a in ours] == ["resolved", "resolved"]
    assert all(a.resolved_at is not None and a.resolved_at.minute == 20 for a in ours)
    assert [a.occurrences for a in ours] == [2, 2]
    events = [(e.type, e.actor) for e in await events_of(db, incident_id)]
    assert events[-1] == ("status.changed", "system")
    assert events.count(("alert.resolved", "webhook")) == 2


async def test_grafana_payload(server: Server, db: Database, hooks: dict[str, Hook]) -> None:
    hook = hooks["globex"]
    firing = await post(server, hook.path(), grafana_group("firing"))
    assert firing.status == 202, firing.body
    assert firing.body["format"] == "grafana" and _outcomes(firing.body) == ["created"]
    alert = await get_row(db, Alert, firing.body["alerts"][0])
    assert (alert.source, alert.title, alert.severity) == (
        "grafana", "Memory above 90% on web-1", "high"
    )
    assert alert.labels["host"] == "web-1"
    assert alert.raw_payload["values"] == {"B": 93.2, "C": 1}
    assert alert.raw_payload["panelURL"].endswith("viewPanel=2")

    resolved = await post(server, hook.path(), grafana_group("resolved"))
    assert _outcomes(resolved.body) == ["resolved"]
    incident = await get_row(db, Incident, firing.body["incidents"][0])
    assert incident.status == "resolved"


async def test_legacy_grafana_payload(server: Server, hooks: dict[str, Hook]) -> None:
    hook = hooks["acme"]
    firing = await post(server, hook.path(), legacy_grafana("alerting"))
    assert firing.body["format"] == "grafana" and _outcomes(firing.body) == ["created"]
    ok = await post(server, hook.path(), legacy_grafana("ok"))
    assert _outcomes(ok.body) == ["resolved"] and ok.body["alerts"] == firing.body["alerts"]


async def test_unknown_shape_is_accepted_and_kept_whole(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    hook = hooks["acme"]
    payload = wazuh_alert(level=15)
    reply = await post(server, hook.path(), payload)
    assert reply.status == 202, reply.body
    assert reply.body["format"] == "unknown" and _outcomes(reply.body) == ["created"]
    alert = await get_row(db, Alert, reply.body["alerts"][0])
    assert alert.title == "sshd: brute force trying to get access to the system."
    assert (alert.severity, alert.source, alert.labels) == ("critical", "wazuh", {"host": "web-01"})
    assert alert.raw_payload == payload
    # A second, different agent with the same rule: same source + name, other host: new incident.
    other = await post(server, hook.path(), wazuh_alert(level=15, agent="web-02"))
    assert _outcomes(other.body) == ["created"]
    assert other.body["incidents"] != reply.body["incidents"]


async def test_correlation_window_is_per_workspace(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    hook = hooks["acme"]
    async with db.write() as session:
        await session.execute(
            update(Workspace).where(Workspace.id == hook.workspace_id)  # type: ignore[arg-type]
            .values(correlation_window_seconds=0)
        )
    one = await post(server, hook.path(), {"title": "CPU", "labels": {"host": "a", "n": "1"}})
    two = await post(server, hook.path(), {"title": "CPU", "labels": {"host": "a", "n": "2"}})
    assert _outcomes(one.body) == _outcomes(two.body) == ["created"]
    assert one.body["incidents"] != two.body["incidents"]
    # Meanwhile another workspace, on the default window, still groups the same pair.
    globex = hooks["globex"]
    g_one = await post(server, globex.path(), {"title": "CPU", "labels": {"host": "a", "n": "1"}})
    g_two = await post(server, globex.path(), {"title": "CPU", "labels": {"host": "a", "n": "2"}})
    assert (_outcomes(g_one.body), _outcomes(g_two.body)) == (["created"], ["grouped"])
    assert g_one.body["incidents"] == g_two.body["incidents"]

    async with db.write() as session:
        await session.execute(
            update(Workspace).where(Workspace.id == hook.workspace_id)  # type: ignore[arg-type]
            .values(correlation_window_seconds=1800, correlation_labels=["rack"])
        )
    three = await post(server, hook.path(), {"title": "Fan", "labels": {"rack": "r1", "u": "1"}})
    four = await post(server, hook.path(), {"title": "Fan", "labels": {"rack": "r1", "u": "2"}})
    assert _outcomes(four.body) == ["grouped"]
    assert three.body["incidents"] == four.body["incidents"]

    # An incident opened longer ago than the window takes no new alerts.
    await _age_incident(db, three.body["incidents"][0], seconds=3600)
    five = await post(server, hook.path(), {"title": "Fan", "labels": {"rack": "r1", "u": "3"}})
    assert _outcomes(five.body) == ["created"]


async def _age_incident(db: Database, incident_id: str, *, seconds: int) -> None:
    async with db.write() as session:
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        incident.created_at = incident.created_at - timedelta(seconds=seconds)
        session.add(incident)


async def test_manual_severity_is_not_raised(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    hook = hooks["acme"]
    first = await post(server, hook.path(), {"title": "Queue lag", "severity": "low"})
    incident_id = first.body["incidents"][0]
    async with db.write() as session:
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        incident.severity_manual = True
        session.add(incident)
    second = await post(
        server, hook.path(), {"title": "Queue lag", "severity": "critical", "labels": {"q": "2"}}
    )
    assert _outcomes(second.body) == ["grouped"]
    assert (await get_row(db, Incident, incident_id)).severity == "low"


async def test_delivery_log_through_graphql(
    server: Server, db: Database, tenants: Tenants, hooks: dict[str, Hook]
) -> None:
    hook = hooks["acme"]
    ok = await post(server, hook.path(), alertmanager_group("firing"))
    bad = await post(server, hook.path(), {"alerts": []})
    assert (ok.status, bad.status) == (202, 400)
    query = """
      query($first: Int, $after: String) {
       workspace { webhookDeliveries(first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor }
        nodes { id requestId sizeBytes format statusCode accepted alertIds incidentIds outcomes
                error receivedAt } } } }
    """
    body = await server.graphql(query, {"first": 1}, key=tenants.acme.read_key)
    page = body["data"]["workspace"]["webhookDeliveries"]
    assert page["totalCount"] == 2 and page["pageInfo"]["hasNextPage"]
    (refused,) = page["nodes"]
    assert refused["statusCode"] == 400 and refused["accepted"] == 0
    assert refused["error"] == "`alerts` is empty: send at least one alert"
    assert refused["format"] == "BATCH"
    assert refused["requestId"] == bad.body["error"]["request_id"]
    body = await server.graphql(
        query, {"first": 5, "after": page["pageInfo"]["endCursor"]}, key=tenants.acme.key
    )
    (accepted,) = body["data"]["workspace"]["webhookDeliveries"]["nodes"]
    assert accepted["statusCode"] == 202 and accepted["format"] == "ALERTMANAGER"
    assert accepted["alertIds"] == ok.body["alerts"]
    assert accepted["incidentIds"] == ok.body["incidents"]
    assert accepted["outcomes"] == ["CREATED", "GROUPED"]
    assert accepted["sizeBytes"] > 500 and accepted["error"] is None
    # Another workspace's key sees none of it.
    body = await server.graphql(
        "{ workspace { webhookDeliveries { totalCount } } }", key=tenants.other.key
    )
    assert body["data"]["workspace"]["webhookDeliveries"]["totalCount"] == 0


async def test_signed_webhook_accepts_a_good_signature(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    hook = hooks["acme"]
    secret = "whsec_for_tests"
    await enable_signing(db, hook.workspace_id, secret)
    raw = b'{"title": "Signed alert", "severity": "high"}'
    header = sign(secret, raw, int(time.time()))
    reply = await post(server, hook.path(), raw=raw, headers={"X-Seliq-Signature": header})
    assert reply.status == 202, reply.body
    unsigned = await post(server, hook.path(), raw=raw)
    assert unsigned.status == 401


async def test_turning_signing_on_applies_at_once_despite_the_url_cache(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    hook = hooks["acme"]
    raw = b'{"title": "Before signing"}'
    assert (await post(server, hook.path(), raw=raw)).status == 202  # the URL is now cached
    async with db.write() as session:
        workspace = await session.get(Workspace, hook.workspace_id)
        assert workspace is not None
        secret = set_signing(workspace, True)
        session.add(workspace)
    assert secret is not None
    assert (await post(server, hook.path(), raw=raw)).status == 401
    header = sign(secret, raw, int(time.time()))
    signed = await post(server, hook.path(), raw=raw, headers={"X-Seliq-Signature": header})
    assert signed.status == 202


async def test_idempotency_key_on_the_webhook(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    hook = hooks["acme"]
    headers = {"Idempotency-Key": "delivery-42"}
    body = {"title": "Once only", "labels": {"host": "x"}}
    first = await post(server, hook.path(), body, headers=headers)
    before = await row_counts(db)
    retry = await post(server, hook.path(), body, headers=headers)
    assert retry.status == 202
    assert retry.body == first.body
    assert retry.headers.get("Idempotent-Replayed") == "true"
    no_rows_but_the_delivery(before, await row_counts(db))
    assert (await get_row(db, Alert, first.body["alerts"][0])).occurrences == 1
    other = await post(server, hook.path(), {**body, "title": "Different"}, headers=headers)
    assert other.status == 422, other.body
    assert other.body["error"]["code"] == "validation_failed"
    assert "different request body" in other.body["error"]["message"]


async def test_metrics_count_outcomes_and_refusals(server: Server, hooks: dict[str, Hook]) -> None:
    hook = hooks["acme"]
    await post(server, hook.path(), alertmanager_group("firing"))
    await post(server, hook.path(), {"alerts": []})
    await post(server, f"/webhook/acme/{hook.token}x", {"title": "x"})
    async with server.http.get(f"{server.url}/metrics") as response:
        text = await response.text()
    assert 'seliq_alerts_ingested_total{format="alertmanager",outcome="created"} 1.0' in text
    assert 'seliq_alerts_ingested_total{format="alertmanager",outcome="grouped"} 1.0' in text
    assert 'seliq_webhook_refused_total{reason="invalid_payload"} 1.0' in text
    assert 'seliq_webhook_refused_total{reason="not_found"} 1.0' in text
    assert hook.token not in text
