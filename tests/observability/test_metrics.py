"""/metrics: Prometheus text format, per-app registries, canonical routes, no workspace ids unless
asked for, and the recording functions other parts of the gateway call."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from gateway.domain import ids
from gateway.domain import metrics as domain_metrics
from gateway.domain.metrics import (
    metrics_scope,
    record_ingested,
    record_rate_limited,
    record_webhook_refused,
)
from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Report
from gateway.domain.timeutil import utcnow
from gateway.service.app import create_app
from gateway.service.observability import METRICS_KEY
from gateway.web import labels
from tests.support.data import Tenants
from tests.support.metrics import running, scrape, value
from tests.support.server import Server, running_server

QUERY = "query OpenIncidents { incidents(first: 2) { totalCount } }"


async def test_metrics_count_the_request_made_just_before(server: Server, tenants: Tenants) -> None:
    before = await scrape(server.http, server.url)
    labels = {"route": "/graphql", "operation": "OpenIncidents", "method": "POST", "status": "200"}
    assert value(before, "seliq_http_requests_total", **labels) is None

    await server.graphql(QUERY, key=tenants.acme.key)

    after = await scrape(server.http, server.url)
    assert value(after, "seliq_http_requests_total", **labels) == 1
    latency = {"route": "/graphql", "operation": "OpenIncidents", "method": "POST"}
    assert value(after, "seliq_http_request_duration_seconds_count", **latency) == 1
    assert value(after, "seliq_http_request_duration_seconds_bucket", le="+Inf", **latency) == 1
    # The previous scrape is counted too, under its route and no operation.
    assert value(
        after, "seliq_http_requests_total", route="/metrics", operation="", status="200"
    ) == 1


async def test_statuses_and_anonymous_operations_are_labelled(
    server: Server, tenants: Tenants
) -> None:
    await server.graphql("{ incidents(first: 1) { totalCount } }", key=tenants.acme.key)
    await server.graphql(QUERY, key="seliq_" + "x" * 43, expect_status=401)
    async with server.http.post(
        f"{server.url}/graphql", json={"query": QUERY, "operationName": "not a name"}
    ) as response:
        assert response.status == 401
    await server.graphql("{ incidnt { id } }", key=tenants.acme.key)  # does not validate
    samples = await scrape(server.http, server.url)
    total = "seliq_http_requests_total"
    assert value(samples, total, operation="<anonymous>", status="200") == 1
    # Operation names are read only from an authenticated caller's document that validated:
    # refused callers are counted under the route alone, an invalid document as `<invalid>`.
    assert value(samples, total, route="/graphql", operation="", status="401") == 2
    assert value(samples, total, operation="OpenIncidents") is None
    assert value(samples, total, operation="<invalid>", status="200") == 1


async def test_routes_are_canonical_paths_never_raw_ones(settings: Settings, db: Database) -> None:
    app = create_app(settings, db=db)

    async def thing(request: web.Request) -> web.Response:
        return web.Response(text=request.match_info["id"])

    app.router.add_get("/v1/things/{id}", thing)
    async with running(app) as (url, http):
        for thing_id in ("inc_aaa", "inc_bbb"):
            async with http.get(f"{url}/v1/things/{thing_id}") as response:
                assert response.status == 200
        async with http.post(f"{url}/webhook/acme/whk_{'s' * 43}", json={}) as response:
            assert response.status == 404  # a wrong token: the route matched, the token did not
        async with http.get(f"{url}/nothing/here/inc_ccc") as response:
            assert response.status == 404
        async with http.put(f"{url}/healthz") as response:
            assert response.status == 405
        samples = await scrape(http, url)
    total = "seliq_http_requests_total"
    assert value(samples, total, route="/v1/things/{id}", method="GET", status="200") == 2
    assert value(samples, total, route="/webhook/{slug}/{token}", method="POST", status="404") == 1
    assert value(samples, total, route="<unmatched>", method="GET", status="404") == 1
    assert value(samples, total, route="<unmatched>", method="PUT", status="405") == 1
    label_values = {v for s in samples for v in s.labels.values()}
    assert not [v for v in label_values if "inc_" in v or "whk_" in v or "acme" in v]


async def test_no_workspace_ids_in_labels_unless_asked(
    settings: Settings, db: Database, tenants: Tenants
) -> None:
    workspace_ids = {t.id for t in tenants.all()}
    for per_workspace in (False, True):
        app = create_app(settings.model_copy(update={"metrics_per_workspace": per_workspace}), db)
        async with running(app) as (url, http):
            async with http.post(
                f"{url}/graphql", json={"query": QUERY},
                headers={"Authorization": f"Bearer {tenants.mssp.key}", "X-Workspace-ID": "acme"},
            ) as response:
                assert response.status == 200
            with metrics_scope(app[METRICS_KEY]):
                record_ingested("created", "generic", tenants.acme.id)
            samples = await scrape(http, url)
        label_values = {v for s in samples for v in s.labels.values()}
        if per_workspace:
            # The workspace acted on, not the calling key's.
            assert value(
                samples, "seliq_http_requests_total", operation="OpenIncidents",
                workspace=tenants.acme.id,
            ) == 1
            assert value(
                samples, "seliq_alerts_ingested_total", workspace=tenants.acme.id
            ) == 1
        else:
            assert not label_values & workspace_ids
            assert not any("workspace" in s.labels for s in samples)


async def test_recording_functions(settings: Settings, db: Database) -> None:
    # Outside any app they are no-ops (CLI commands, unit tests of services).
    record_ingested("created", "generic")
    record_webhook_refused("bad_token")
    record_rate_limited()

    app = create_app(settings, db=db)
    metrics = app[METRICS_KEY]
    with metrics_scope(metrics):
        record_ingested("created", "alertmanager")
        record_ingested("created", "alertmanager")
        record_ingested("deduplicated", "generic")
        record_webhook_refused("bad_token")
        record_webhook_refused("payload too large!")  # sanitised into a safe label value
        record_rate_limited("webhook")
        record_rate_limited()
    async with running(app) as (url, http):
        samples = await scrape(http, url)
    ingested = "seliq_alerts_ingested_total"
    assert value(samples, ingested, outcome="created", format="alertmanager") == 2
    assert value(samples, ingested, outcome="deduplicated", format="generic") == 1
    assert value(samples, "seliq_webhook_refused_total", reason="bad_token") == 1
    assert value(samples, "seliq_webhook_refused_total", reason="payload_too_large_") == 1
    assert value(samples, "seliq_rate_limited_total", bucket="webhook") == 1
    assert value(samples, "seliq_rate_limited_total", bucket="api") == 1


async def test_tasks_started_by_the_app_record_into_its_metrics(
    settings: Settings, db: Database
) -> None:
    app = create_app(settings, db=db)
    done = asyncio.Event()

    async def worker() -> None:
        record_ingested("created", "grafana")
        done.set()

    async def start_worker(app: web.Application) -> None:
        app[TASK] = asyncio.get_running_loop().create_task(worker())

    TASK = web.AppKey("task", asyncio.Task)  # noqa: N806
    app.on_startup.append(start_worker)
    other = create_app(settings, db=db)
    async with running(other) as (other_url, other_http), running(app) as (url, http):
        await asyncio.wait_for(done.wait(), 5)
        samples = await scrape(http, url)
        other_samples = await scrape(other_http, other_url)
    assert value(samples, "seliq_alerts_ingested_total", format="grafana") == 1
    # Two apps in one process keep separate registries.
    assert value(other_samples, "seliq_alerts_ingested_total", format="grafana") is None


async def test_report_queue_depth_and_pool_gauges(
    settings: Settings, db: Database, tenants: Tenants
) -> None:
    async with db.write() as session:
        for status, workspace in [
            ("queued", tenants.acme), ("queued", tenants.acme), ("queued", tenants.globex),
            ("running", tenants.acme), ("ready", tenants.acme),
        ]:
            session.add(Report(
                id=ids.new_id(ids.REPORT), workspace_id=workspace.id, kind="sla", status=status,
                period_start=utcnow(), period_end=utcnow(),
            ))
    settings = settings.model_copy(update={"report_poll_seconds": 0})  # no worker taking them
    async with running_server(settings, db) as server:
        samples = await scrape(server.http, server.url)
    assert value(samples, "seliq_report_queue_depth") == 3
    assert value(samples, "seliq_db_pool_size") is not None
    # The scrape's own report query has returned its connection by the time gauges are read.
    assert value(samples, "seliq_db_pool_checked_out") == 0

    per_ws = settings.model_copy(update={"metrics_per_workspace": True})
    async with running_server(per_ws, db) as server:
        samples = await scrape(server.http, server.url)
    assert value(samples, "seliq_report_queue_depth", workspace=tenants.acme.id) == 2
    assert value(samples, "seliq_report_queue_depth", workspace=tenants.globex.id) == 1


async def test_operation_names_are_capped(
    server: Server, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(domain_metrics, "MAX_OPERATION_LABELS", 2)
    for name in ("One", "Two", "Three", "Four", "One"):
        await server.graphql(f"query {name} {{ incidents(first: 1) {{ totalCount }} }}",
                             key=tenants.acme.key)
    samples = await scrape(server.http, server.url)
    total = "seliq_http_requests_total"
    assert value(samples, total, route="/graphql", operation="One") == 2
    assert value(samples, total, route="/graphql", operation="Two") == 1
    assert value(samples, total, route="/graphql", operation="<other>") == 2


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("# comment\nquery Dashboard { viewer { name } }", "Dashboard"),
        ("{ incidents { totalCount } }", "<anonymous>"),
        ("query { incidents { totalCount } }", "<anonymous>"),
        ("mutation Ack($id: ID!) { a(id: $id) { id } }", "Ack"),
        ("fragment F on Incident { id } query WithFragment { incidents { ...F } }", "WithFragment"),
        ("fragment F on query @d(x: {a: 1}) { id } { incidents { ...F } }", "<anonymous>"),
        ('"""described""" query Described { a }', "Described"),
        ("", "<invalid>"),
        ('query "unterminated', "<invalid>"),
    ],
)
def test_graphql_operation_label(document: str, expected: str) -> None:
    assert labels.graphql_operation_label(document, None) == expected


def test_client_operation_name_wins_when_it_is_a_name() -> None:
    label = labels.graphql_operation_label
    assert label("query A { a } query B { b }", "B") == "B"
    assert label("query A { a }", 'x"} 1\n') == "<invalid>"
