"""Subscriptions over a real WebSocket (graphql-transport-ws) against the real app: the
handshake (subprotocol, Origin), authentication in `connection_init`, tenancy, what each field
delivers, events only after commit, limits, and closing with 1001 at shutdown.

These run on both backends (the `db_url` fixture): in memory on SQLite, through PostgreSQL's
LISTEN/NOTIFY on PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from sqlmodel import col, select

from gateway.domain import ids
from gateway.domain.incidents.timeline import record
from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import ApiKey, Incident, Report, TimelineEvent, Workspace
from gateway.domain.tenancy.auth import hash_secret, revoke_key
from gateway.domain.timeutil import utcnow
from gateway.service.http import websocket
from tests.ingest.conftest import make_hook, post
from tests.scale.conftest import LiveServer, start_live, stop_live
from tests.support.data import Tenants
from tests.support.wsclient import ConnectionClosed, WSClient, connect

EVENTS = "subscription($ws: ID, $inc: ID) { incidentEvents(workspaceId: $ws, incidentId: $inc) " \
    "{ id type actor data incident { id title status } } }"
ALERTS = "subscription($ws: ID) { alertsIngested(workspaceId: $ws) " \
    "{ outcome alert { id title occurrences incident { id } } } }"
REPORTS = "subscription($ws: ID) { reportCompleted(workspaceId: $ws) { id kind status } }"
UPDATE = """mutation($i: UpdateIncidentInput!) {
  updateIncident(input: $i) { incident { id status } userErrors { message } } }"""


async def acknowledge(live: LiveServer, key: str, incident_id: str,
                      workspace: str | None = None) -> None:
    body = await live.graphql(
        UPDATE, {"i": {"id": incident_id, "status": "ACKNOWLEDGED"}}, key=key,
        workspace=workspace,
    )
    assert body["data"]["updateIncident"]["userErrors"] == [], body


async def post_alert(live: LiveServer, key: str, body: Any, status: int = 201) -> dict[str, Any]:
    async with live.http.post(
        f"{live.url}/v1/alerts", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as response:
        answer: dict[str, Any] = await response.json()
        assert response.status == status, answer
        return answer


async def subscribed(
    live: LiveServer, client: WSClient, operation_id: str, query: str,
    variables: dict[str, Any] | None = None, *, total: int = 1,
) -> None:
    """Subscribe and wait until the subscription is registered (`total` in this process)."""
    await client.subscribe(operation_id, query, variables)
    await live.subscribers(total)


# --- the handshake and connection_init ---------------------------------------------------------


async def test_timeline_events_reach_a_subscriber(live: LiveServer, tenants: Tenants) -> None:
    incident = tenants.acme.incidents[0]
    async with connect(live.http, live.url) as client:
        ack = await client.init(tenants.acme.key)
        assert ack == {"type": "connection_ack", "payload": {"workspaceId": tenants.acme.id}}
        await subscribed(live, client, "1", EVENTS)
        await acknowledge(live, tenants.acme.key, incident.id)
        payload = await client.next_payload("1")
    event = payload["data"]["incidentEvents"]
    assert event["type"] == "STATUS_CHANGED"
    assert event["actor"] == "key:acme writer"
    assert event["incident"] == {"id": incident.id, "title": incident.title,
                                 "status": "ACKNOWLEDGED"}
    assert event["id"].startswith("evt_")


@pytest.mark.parametrize(
    "init",
    [
        {},
        {"Authorization": "Bearer seliq_not-a-real-key"},
        {"Authorization": "Basic Zm9vOmJhcg=="},
        "wrong-workspace",
    ],
    ids=["no-key", "unknown-key", "not-bearer", "workspace-not-permitted"],
)
async def test_connection_init_without_a_valid_key_is_closed_4403(
    live: LiveServer, tenants: Tenants, init: Any
) -> None:
    if init == "wrong-workspace":
        init = {"Authorization": f"Bearer {tenants.acme.key}", "X-Workspace-ID": "globex"}
    async with connect(live.http, live.url) as client:
        await client.send({"type": "connection_init", "payload": init})
        assert await client.closed_with() == 4403


async def test_subscribe_before_connection_init_is_closed_4401(
    live: LiveServer, tenants: Tenants
) -> None:
    async with connect(live.http, live.url) as client:
        await client.subscribe("1", EVENTS)
        assert await client.closed_with() == 4401


async def test_no_connection_init_in_time_is_closed_4408(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(websocket, "INIT_TIMEOUT_SECONDS", 0.3)
    live = await start_live(settings, db)
    try:
        async with connect(live.http, live.url) as client:
            assert await client.closed_with(within=5) == 4408
    finally:
        await stop_live(live)


async def test_the_key_may_come_in_any_header_case(live: LiveServer, tenants: Tenants) -> None:
    async with connect(live.http, live.url) as client:
        await client.send({"type": "connection_init", "payload": {
            "authorization": f"Bearer {tenants.mssp.key}", "x-workspace-id": "acme",
        }})
        ack = await client.receive()
    assert ack["payload"] == {"workspaceId": tenants.acme.id}


async def revoke(db: Database, secret: str) -> None:
    async with db.read() as session:
        key = (await session.execute(
            select(ApiKey).where(col(ApiKey.secret_hash) == hash_secret(secret))
        )).scalar_one()
    async with db.write() as session:
        await revoke_key(session, key.id)


async def test_a_revoked_key_cannot_subscribe_any_more(
    live: LiveServer, db: Database, tenants: Tenants
) -> None:
    async with connect(live.http, live.url) as client:
        await client.init(tenants.acme.key)
        await revoke(db, tenants.acme.key)
        await client.subscribe("1", EVENTS)
        assert await client.closed_with() == 4403


async def test_a_connection_whose_key_is_revoked_is_closed(
    settings: Settings, db: Database, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(websocket, "KEY_RECHECK_SECONDS", 0.2)
    live = await start_live(settings, db)
    try:
        async with connect(live.http, live.url) as client:
            await client.init(tenants.acme.key)
            await subscribed(live, client, "1", EVENTS)
            await client.nothing_for(0.5)  # re-checked a few times: still fine
            await revoke(db, tenants.acme.key)
            assert await client.closed_with(within=5) == 4403
    finally:
        await stop_live(live)


async def test_the_legacy_graphql_ws_subprotocol_is_refused(
    live: LiveServer, tenants: Tenants
) -> None:
    for protocols in (("graphql-ws",), ()):
        async with connect(live.http, live.url, protocols=protocols) as client:
            assert client.ws.protocol is None
            assert await client.closed_with() == 4406


async def test_a_foreign_origin_is_refused_at_the_handshake(
    live: LiveServer, tenants: Tenants
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        async with connect(live.http, live.url, headers={"Origin": "https://evil.example"}):
            pass
    assert refused.value.status == 403
    # Same origin (a page served by the gateway itself) and no Origin (not a browser) are fine.
    for headers in ({"Origin": live.url}, {}):
        async with connect(live.http, live.url, headers=headers) as client:
            assert (await client.init(tenants.acme.key))["type"] == "connection_ack"


async def test_an_origin_in_cors_origins_is_accepted(
    settings: Settings, db: Database, tenants: Tenants
) -> None:
    allowed = settings.model_copy(
        update={"cors_origins": "https://soc.example.com, https://noc.example.com:8443"}
    )
    live = await start_live(allowed, db)
    try:
        for origin in ("https://soc.example.com", "https://noc.example.com:8443"):
            async with connect(live.http, live.url, headers={"Origin": origin}) as client:
                assert (await client.init(tenants.acme.key))["type"] == "connection_ack"
        with pytest.raises(aiohttp.WSServerHandshakeError):
            async with connect(live.http, live.url,
                               headers={"Origin": "https://soc.example.com.evil.example"}):
                pass
    finally:
        await stop_live(live)


# --- tenancy -----------------------------------------------------------------------------------


async def test_a_subscriber_never_receives_another_workspaces_events(
    live: LiveServer, tenants: Tenants
) -> None:
    async with connect(live.http, live.url) as acme, connect(live.http, live.url) as other:
        await acme.init(tenants.acme.key)
        await other.init(tenants.other.key)
        await acme.subscribe("a", EVENTS)
        await acme.subscribe("b", ALERTS)
        await other.subscribe("a", EVENTS)
        await live.subscribers(3)
        # Changes in globex and other, then one in acme.
        await acknowledge(live, tenants.globex.key, tenants.globex.incidents[0].id)
        await acknowledge(live, tenants.other.key, tenants.other.incidents[0].id)
        await post_alert(live, tenants.globex.key, {"title": "globex only"})
        await acknowledge(live, tenants.acme.key, tenants.acme.incidents[1].id)
        first = await acme.next_payload("a")
        assert first["data"]["incidentEvents"]["incident"]["id"] == tenants.acme.incidents[1].id
        await acme.nothing_for(0.5)
        mine = await other.next_payload("a")
        assert mine["data"]["incidentEvents"]["incident"]["id"] == tenants.other.incidents[0].id
        await other.nothing_for(0.2)


async def test_an_mssp_key_subscribes_to_a_child(live: LiveServer, tenants: Tenants) -> None:
    async with connect(live.http, live.url) as client:
        await client.init(tenants.mssp.key)
        await client.subscribe("child", EVENTS, {"ws": "acme"})
        await client.subscribe("by-id", ALERTS, {"ws": tenants.globex.id})
        await client.subscribe("own", EVENTS)
        await live.subscribers(3)
        await acknowledge(live, tenants.mssp.key, tenants.acme.incidents[0].id, "acme")
        child = await client.next_payload("child")
        assert child["data"]["incidentEvents"]["incident"]["id"] == tenants.acme.incidents[0].id
        await post_alert(live, tenants.globex.key, {"title": "for the MSSP"})
        alert = await client.next_payload("by-id")
        assert alert["data"]["alertsIngested"]["alert"]["title"] == "for the MSSP"
        await client.nothing_for(0.3)  # nothing on "own": those were the children's events


@pytest.mark.parametrize("target", ["globex", "mssp", "other", "no-such-workspace",
                                    "ws_00000000000000000000000000"])
async def test_subscribing_to_a_workspace_the_key_may_not_act_on_is_forbidden(
    live: LiveServer, tenants: Tenants, target: str
) -> None:
    async with connect(live.http, live.url) as client:
        await client.init(tenants.acme.key)
        await client.subscribe("1", EVENTS, {"ws": target})
        message = await client.receive()
    assert message["type"] == "error" and message["id"] == "1"
    [error] = message["payload"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["message"] == "this API key may not act on that workspace"


async def test_incident_id_follows_one_incident(live: LiveServer, tenants: Tenants) -> None:
    wanted, unwanted = tenants.acme.incidents[0], tenants.acme.incidents[1]
    async with connect(live.http, live.url) as client:
        await client.init(tenants.acme.key)
        await subscribed(live, client, "1", EVENTS, {"inc": wanted.id})
        await acknowledge(live, tenants.acme.key, unwanted.id)
        await acknowledge(live, tenants.acme.key, wanted.id)
        payload = await client.next_payload("1")
        assert payload["data"]["incidentEvents"]["incident"]["id"] == wanted.id
        await client.nothing_for(0.3)


# --- what each field delivers --------------------------------------------------------------------


async def test_alerts_ingested_through_each_door(live: LiveServer, tenants: Tenants) -> None:
    async with connect(live.http, live.url) as client:
        await client.init(tenants.acme.key)
        await subscribed(live, client, "alerts", ALERTS)
        await subscribed(live, client, "events", EVENTS, total=2)
        created = await post_alert(live, tenants.acme.key,
                                   {"title": "CPU hot", "fingerprint": "cpu-1"})
        first = (await client.receive())
        second = (await client.receive())
        by_id = {first["id"]: first, second["id"]: second}
        third = await client.receive()
        by_id.setdefault(third["id"], third)
        alert = by_id["alerts"]["payload"]["data"]["alertsIngested"]
        assert alert["outcome"] == "CREATED"
        assert alert["alert"]["id"] == created["id"] and alert["alert"]["title"] == "CPU hot"
        # The same transaction opened an incident and attached the alert: two timeline events.
        types = sorted(
            m["payload"]["data"]["incidentEvents"]["type"]
            for m in (first, second, third) if m["id"] == "events"
        )
        assert types == ["ALERT_ATTACHED", "INCIDENT_CREATED"]

        # A duplicate through GraphQL's ingestAlert is DEDUPLICATED, with the new count.
        body = await live.graphql(
            "mutation { ingestAlert(input: {title: \"CPU hot\", fingerprint: \"cpu-1\"}) "
            "{ outcome } }", key=tenants.acme.key,
        )
        assert body["data"]["ingestAlert"]["outcome"] == "DEDUPLICATED"
        while True:
            message = await client.receive()
            if message["id"] == "alerts":
                break
        again = message["payload"]["data"]["alertsIngested"]
        assert again["outcome"] == "DEDUPLICATED" and again["alert"]["occurrences"] == 2

        # And through the webhook: DEDUPLICATED again, the same alert, a third occurrence.
        hook = await make_hook(live.db, tenants.acme.id)
        reply = await post(live, hook.path(), {"title": "CPU hot", "fingerprint": "cpu-1"})
        assert reply.status == 202, reply.body
        assert reply.body["alerts"] == [created["id"]]
        while True:
            message = await client.receive()
            if message["id"] == "alerts":
                break
        hooked = message["payload"]["data"]["alertsIngested"]
        assert hooked["outcome"] == "DEDUPLICATED"
        assert hooked["alert"]["id"] == created["id"] and hooked["alert"]["occurrences"] == 3


async def test_report_completed(
    settings: Settings, db: Database, tenants: Tenants
) -> None:
    fast = settings.model_copy(update={"report_poll_seconds": 0.05, "sla_sweep_seconds": 0})
    live = await start_live(fast, db)
    try:
        async with connect(live.http, live.url) as client:
            await client.init(tenants.acme.key)
            await subscribed(live, client, "1", REPORTS)
            body = await live.graphql(
                "mutation { generateReport(input: {kind: SLA}) { report { id } } }",
                key=tenants.acme.key,
            )
            report_id = body["data"]["generateReport"]["report"]["id"]
            payload = await client.next_payload("1", within=10)
    finally:
        await stop_live(live)
    assert payload["data"]["reportCompleted"] == {"id": report_id, "kind": "SLA",
                                                  "status": "READY"}


# --- after commit, never before ------------------------------------------------------------------


async def test_events_arrive_after_the_commit_and_never_for_a_rollback(
    live: LiveServer, db: Database, tenants: Tenants
) -> None:
    incident = tenants.acme.incidents[2]
    async with connect(live.http, live.url) as client:
        await client.init(tenants.acme.key)
        await subscribed(live, client, "1", EVENTS)

        # A transaction that rolls back publishes nothing.
        with pytest.raises(RuntimeError):
            async with db.write() as session:
                row = await session.get(Incident, incident.id)
                assert row is not None
                record(session, row, "note.added", "tester", "rolled back")
                await session.flush()
                raise RuntimeError("abort")
        # A batch refused as a whole (one bad item) writes and publishes nothing.
        await post_alert(live, tenants.acme.key,
                         {"alerts": [{"title": "fine"}, {"severity": "high"}]}, status=400)
        await client.nothing_for(0.5)

        # While a transaction is open nothing is delivered; once it commits, its event is.
        committed = asyncio.Event()

        async def write_slowly() -> str:
            async with db.write() as session:
                row = await session.get(Incident, incident.id)
                assert row is not None
                event = record(session, row, "note.added", "tester", "kept")
                await session.flush()
                await asyncio.sleep(0.5)
            committed.set()
            return event.id

        writer = asyncio.create_task(write_slowly())
        payload = await client.next_payload("1")
        assert committed.is_set(), "delivered before the transaction committed"
        assert payload["data"]["incidentEvents"]["id"] == await writer
    async with db.read() as session:
        messages = (await session.execute(
            select(col(TimelineEvent.message)).where(col(TimelineEvent.incident_id) == incident.id)
        )).scalars().all()
    assert "rolled back" not in messages and "kept" in messages


# --- only subscriptions, limits, errors ----------------------------------------------------------


async def test_queries_and_mutations_are_not_served_over_the_socket(
    live: LiveServer, tenants: Tenants
) -> None:
    async with connect(live.http, live.url) as client:
        await client.init(tenants.acme.key)
        for operation_id, query in (("q", "{ viewer { name } }"),
                                    ("m", "mutation { generateReport(input: {kind: SLA}) "
                                          "{ report { id } } }")):
            await client.subscribe(operation_id, query)
            message = await client.receive()
            assert message["type"] == "error" and message["id"] == operation_id
            assert message["payload"][0]["extensions"]["code"] == "BAD_REQUEST"
            assert "POST /graphql" in message["payload"][0]["message"]
    # ... and a subscription sent over HTTP is told where to go.
    body = await live.graphql(EVENTS, key=tenants.acme.key, expect_status=400)
    assert "graphql-transport-ws" in body["errors"][0]["message"]


async def test_bad_documents_get_coded_errors(live: LiveServer, tenants: Tenants) -> None:
    async with connect(live.http, live.url) as client:
        await client.init(tenants.acme.key)
        cases = {
            "syntax": ("subscription {", "GRAPHQL_VALIDATION_FAILED"),
            "unknown-field": ("subscription { incidentEvnts { id } }",
                              "GRAPHQL_VALIDATION_FAILED"),
            "too-deep": ("subscription { incidentEvents { incident { workspace { incidents "
                         "{ nodes { alerts { nodes { incident { workspace { incidents { nodes "
                         "{ id } } } } } } } } } } } }", "GRAPHQL_VALIDATION_FAILED"),
        }
        for operation_id, (query, code) in cases.items():
            await client.subscribe(operation_id, query)
            message = await client.receive()
            assert message["type"] == "error" and message["id"] == operation_id, message
            assert message["payload"][0]["extensions"]["code"] == code, message
            assert message["payload"][0]["extensions"]["request_id"]


async def test_at_most_100_operations_per_connection(
    live: LiveServer, tenants: Tenants
) -> None:
    async with connect(live.http, live.url) as client:
        await client.init(tenants.mssp.key)
        for number in range(100):
            await client.subscribe(str(number), REPORTS)
        await live.subscribers(100)
        await client.subscribe("100", REPORTS)
        message = await client.receive()
        assert message["type"] == "error" and message["id"] == "100"
        assert message["payload"][0]["extensions"]["code"] == "TOO_MANY_OPERATIONS"
        # Completing one frees a place.
        await client.complete("0")
        await client.subscribe("101", REPORTS)
        await client.nothing_for(0.3)
        await live.subscribers(100)


async def test_each_subscribe_costs_one_rate_limit_unit(
    live: LiveServer, db: Database, tenants: Tenants
) -> None:
    # Five units per minute: the bucket gains one back every 12 s, far longer than the test
    # takes even on a loaded machine. (With the starter tier's 60, one unit came back each
    # second, and a slow run admitted the 61st subscribe: the test then waited for an error.)
    async with db.write() as session:
        workspace = await session.get(Workspace, tenants.globex.id)
        assert workspace is not None
        workspace.rate_limit_per_minute = 5
        session.add(workspace)
    async with connect(live.http, live.url) as client:
        await client.init(tenants.globex.key)
        for number in range(5):
            await client.subscribe(str(number), REPORTS)
        await client.subscribe("5", REPORTS)
        message = await client.receive()
    assert message["type"] == "error" and message["id"] == "5"
    error = message["payload"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] >= 1
    # The HTTP side shares the bucket.
    body = await live.graphql("{ viewer { name } }", key=tenants.globex.key, expect_status=None)
    assert body["_status"] == 429


async def test_a_slow_subscriber_is_ended_with_an_error(
    live: LiveServer, db: Database, tenants: Tenants
) -> None:
    live.hub.queue_size = 3
    incident = tenants.acme.incidents[0]
    async with connect(live.http, live.url) as client:
        await client.init(tenants.acme.key)
        await subscribed(live, client, "1", EVENTS)
        [subscriber] = next(iter(live.hub._subscribers.values()))
        # Fill its queue faster than it is read: hold the reader by keeping the hub busy.
        for number in range(10):
            subscriber.offer(_fake_delivery(incident, number))
        messages = []
        while True:
            message = await client.receive()
            messages.append(message)
            if message["type"] == "complete":
                break
    errors = [m for m in messages if m["type"] == "next" and "errors" in m["payload"]]
    assert errors and errors[-1]["payload"]["errors"][0]["extensions"]["code"] == (
        "SUBSCRIBER_TOO_SLOW"
    )


def _fake_delivery(incident: Any, number: int) -> Any:
    from gateway.domain.events.hub import INCIDENT_EVENT, Delivery, Event

    return Delivery(Event(INCIDENT_EVENT, incident.workspace_id, f"evt_missing{number}",
                          incident.id, "note.added"))


async def test_shutdown_closes_subscriptions_with_1001(
    settings: Settings, db: Database, tenants: Tenants
) -> None:
    live = await start_live(settings, db)
    try:
        async with connect(live.http, live.url) as client:
            await client.init(tenants.acme.key)
            await subscribed(live, client, "1", EVENTS)
            assert live.test_server is not None
            closing = asyncio.create_task(live.test_server.close())
            with pytest.raises(ConnectionClosed) as closed:
                await client.receive(within=10)
            await closing
        assert closed.value.code == 1001
    finally:
        await live.http.close()


async def test_report_rows_stay_scoped_even_for_a_forged_event(
    live: LiveServer, db: Database, tenants: Tenants
) -> None:
    """An event naming another workspace's row (a stray broker message) delivers nothing."""
    from gateway.domain.events.hub import REPORT_COMPLETED, Event

    async with db.write() as session:
        report = Report(id=ids.new_id(ids.REPORT), workspace_id=tenants.globex.id, kind="sla",
                        status="ready", period_start=utcnow(), period_end=utcnow())
        session.add(report)
    async with connect(live.http, live.url) as client:
        await client.init(tenants.acme.key)
        await subscribed(live, client, "1", REPORTS)
        live.hub.dispatch([Event(REPORT_COMPLETED, tenants.acme.id, report.id, kind="ready")])
        await client.nothing_for(0.4)
