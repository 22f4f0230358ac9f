"""A resolved notification is the latest word on its alert: it moves `lastSeenAt` to when it was
received and replaces the raw payload with its own (only the latest is kept), repeats of it too;
a repeated firing keeps the payload the alert was opened with. Under group commit the result is
the same as one request at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.domain.ingest import formats, pipeline
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Alert
from tests.ingest.conftest import Hook, alerts_of, events_of, get_row, post
from tests.ingest.payloads import alertmanager_group
from tests.ingest.test_group_commit import ingest_alone, ingest_as_one_group
from tests.support.data import Tenants
from tests.support.server import Server

ALERT = "query($id: ID!) { alert(id: $id) { status lastSeenAt resolvedAt rawPayload } }"


async def _alert(server: Server, key: str, alert_id: str) -> dict[str, Any]:
    body = await server.graphql(ALERT, {"id": alert_id}, key=key)
    assert "errors" not in body, body
    return dict(body["data"]["alert"])


async def test_resolve_moves_last_seen_and_keeps_the_latest_payload(
    server: Server, db: Database, tenants: Tenants, hooks: dict[str, Hook]
) -> None:
    hook, key = hooks["acme"], tenants.acme.key
    fired = {"title": "Queue backlog", "fingerprint": "queue-1", "description": "1,200 waiting"}
    first = await post(server, hook.path(), fired)
    (alert_id,) = first.body["alerts"]
    opened = await _alert(server, key, alert_id)

    # A repeated firing counts, and keeps the payload the alert was opened with.
    again = await post(server, hook.path(), {**fired, "description": "1,900 waiting"})
    assert again.body["results"][0]["outcome"] == "deduplicated"
    repeated = await _alert(server, key, alert_id)
    assert repeated["lastSeenAt"] > opened["lastSeenAt"]
    assert repeated["rawPayload"] == fired

    resolved_body = {
        "title": "Queue backlog", "fingerprint": "queue-1", "status": "resolved",
        "description": "drained",
    }
    resolved = await post(server, hook.path(), resolved_body)
    assert resolved.body["results"][0]["outcome"] == "resolved"
    after = await _alert(server, key, alert_id)
    assert after["status"] == "RESOLVED"
    assert after["lastSeenAt"] > repeated["lastSeenAt"]
    assert after["lastSeenAt"] >= after["resolvedAt"]
    assert after["rawPayload"] == resolved_body  # the firing payload is not kept beside it

    # Senders repeat resolved notifications (Alertmanager does, per group): the alert stays
    # resolved, writes no timeline event, and still records when it was last heard of.
    incident_id = first.body["incidents"][0]
    events = len(await events_of(db, incident_id))
    repeat_body = {**resolved_body, "description": "still drained"}
    repeat = await post(server, hook.path(), repeat_body)
    assert repeat.body["results"][0]["outcome"] == "resolved"
    assert repeat.body["alerts"] == [alert_id]
    latest = await _alert(server, key, alert_id)
    assert latest["status"] == "RESOLVED" and latest["resolvedAt"] == after["resolvedAt"]
    assert latest["lastSeenAt"] > after["lastSeenAt"]
    assert latest["rawPayload"] == repeat_body
    assert len(await events_of(db, incident_id)) == events


async def test_alertmanager_resolved_item_replaces_the_firing_one(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    hook = hooks["acme"]
    firing = await post(server, hook.path(), alertmanager_group("firing"))
    assert firing.status == 202, firing.body
    before = {a.fingerprint: a for a in await alerts_of(db, hook.workspace_id)}
    resolved_group = alertmanager_group("resolved", only_first=True)
    resolved = await post(server, hook.path(), resolved_group)
    assert resolved.body["results"][0]["outcome"] == "resolved"
    after = {a.fingerprint: a for a in await alerts_of(db, hook.workspace_id)}

    (resolved_item,) = resolved_group["alerts"]
    done = after[resolved_item["fingerprint"]]
    assert done.status == "resolved"
    assert done.raw_payload == resolved_item  # its own item, with endsAt, not the group
    assert done.raw_payload["endsAt"] == "2026-11-27T09:20:00Z"
    assert done.last_seen_at > before[resolved_item["fingerprint"]].last_seen_at
    # The other alert of the group was not in the notification: untouched.
    other = next(fp for fp in after if fp != resolved_item["fingerprint"])
    assert after[other].status == "firing"
    assert after[other].raw_payload == before[other].raw_payload
    assert after[other].last_seen_at == before[other].last_seen_at


def _fire(n: int) -> dict[str, Any]:
    return {"title": f"disk {n}", "fingerprint": f"disk-{n}", "description": "firing",
            "labels": {"alertname": "disk", "host": f"h{n}"}}


def _resolve(n: int, note: str) -> dict[str, Any]:
    return {"title": f"disk {n}", "fingerprint": f"disk-{n}", "status": "resolved",
            "description": note}


async def _seen(db: Database, workspace_id: str) -> dict[str, tuple[str, Any, datetime]]:
    return {
        a.fingerprint: (a.status, a.raw_payload, a.last_seen_at)
        for a in await alerts_of(db, workspace_id) if a.fingerprint.startswith("disk-")
    }


async def test_a_group_of_resolutions_writes_what_they_write_one_by_one(
    db: Database, tenants: Tenants
) -> None:
    # Resolutions of firing alerts, a repeated resolution in the same group, and one of an
    # alert resolved before the group: alone, then all in one group commit.
    resolutions = [_resolve(0, "first"), _resolve(1, "first"), _resolve(0, "again"),
                   _resolve(2, "late")]
    results: dict[str, dict[str, tuple[str, Any]]] = {}
    for name, workspace_id in (("alone", tenants.acme.id), ("grouped", tenants.globex.id)):
        for n in range(3):
            await ingest_alone(db, workspace_id, _fire(n))
        await ingest_alone(db, workspace_id, _resolve(2, "early"))
        fired = await _seen(db, workspace_id)
        if name == "alone":
            for body in resolutions:
                await ingest_alone(db, workspace_id, body)
        else:
            works = [pipeline.IngestWork(workspace_id, formats.parse(body), actor="webhook")
                     for body in resolutions]
            await ingest_as_one_group(db, works)
        seen = await _seen(db, workspace_id)
        for fingerprint, (status, _, last_seen_at) in seen.items():
            assert status == "resolved"
            assert last_seen_at > fired[fingerprint][2], (name, fingerprint)
        results[name] = {fp: (status, raw) for fp, (status, raw, _) in seen.items()}
    assert results["grouped"] == results["alone"]
    assert {fp: raw["description"] for fp, (_, raw) in results["alone"].items()} == {
        "disk-0": "again", "disk-1": "first", "disk-2": "late",
    }
    row = await get_row(db, Alert, next(a.id for a in await alerts_of(db, tenants.globex.id)
                                        if a.fingerprint == "disk-0"))
    assert row.raw_payload == _resolve(0, "again")
