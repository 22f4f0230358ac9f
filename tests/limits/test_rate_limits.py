"""Tier rate limits: refused with 429 at the limit, headers on every authenticated response, cost
charged per operation, one tenant's flood never refuses another."""

from __future__ import annotations

import math
import time

from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from gateway.domain.tenancy.auth import create_key
from gateway.domain.tenancy.webhook_tokens import create_token
from gateway.domain.tenancy.workspaces import create_workspace
from tests.ingest.conftest import no_rows_but_the_delivery, post, row_counts
from tests.support.data import Tenants
from tests.support.server import Server, running_server

SMALL = "{ viewer { id } }"


async def test_starter_61st_request_is_429_growth_still_passes(
    server: Server, tenants: Tenants
) -> None:
    # The bucket gains a unit back every second, so on a slow machine a few more than 60 pass
    # before the first 429: as many as whole seconds went by, never more.
    remaining = []
    started = time.monotonic()
    for _ in range(60):
        body = await server.graphql(SMALL, key=tenants.globex.key)
        remaining.append(int(body["_headers"]["X-RateLimit-Remaining"]))
        assert body["_headers"]["X-RateLimit-Limit"] == "60"
    assert remaining[0] == 59 and remaining[-1] <= 1
    assert remaining == sorted(remaining, reverse=True)
    extra = 0
    while (refused := await server.graphql(SMALL, key=tenants.globex.key,
                                           expect_status=None))["_status"] == 200:
        extra += 1
        assert extra <= time.monotonic() - started + 1, "admitted more than the refill allows"
    assert refused["_status"] == 429
    assert refused["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert int(refused["_headers"]["Retry-After"]) >= 1
    assert refused["_headers"]["X-RateLimit-Remaining"] == "0"
    # acme (growth, 300/min) is unaffected by globex's flood.
    body = await server.graphql(SMALL, key=tenants.acme.key)
    assert body["_headers"]["X-RateLimit-Limit"] == "300"
    assert body["_headers"]["X-RateLimit-Remaining"] == "299"


async def test_costly_query_takes_more_units(server: Server, tenants: Tenants) -> None:
    # GitHub's method: 1 request for the incidents page + 100 for each nested connection
    # = 301 requests -> 3 units.
    costly = (
        "{ incidents(first: 100) { nodes { alerts(first: 1) { nodes { id } } "
        "timeline(first: 1) { nodes { id } } notes(first: 1) { nodes { id } } } } }"
    )
    started = time.monotonic()
    first = await server.graphql(SMALL, key=tenants.acme.key)
    assert first["extensions"]["cost"]["requestedQueryCost"] == 1
    before = int(first["_headers"]["X-RateLimit-Remaining"])
    body = await server.graphql(costly, key=tenants.acme.key)
    assert body["extensions"]["cost"] == {"requestedQueryCost": 3, "estimatedNodes": 400}
    assert before - 3 <= int(body["_headers"]["X-RateLimit-Remaining"]) <= before - 3 + refilled(
        started, per_minute=300)
    body = await server.graphql("{ rateLimit { limit remaining cost resetAt } }",
                                key=tenants.acme.key)
    rate = body["data"]["rateLimit"]
    assert rate == {**rate, "limit": 300, "cost": 1}
    assert before - 4 <= rate["remaining"] <= before - 4 + refilled(started, per_minute=300)
    assert rate["resetAt"].endswith("Z")


def refilled(started: float, per_minute: int) -> int:
    """Units the leaky bucket can have drained since `started`: a growth bucket gains one back
    every 0.2 s, so on a loaded machine (PostgreSQL in CI) the 100-incident query alone can give
    one back before the next request reads the count."""
    return math.floor((time.monotonic() - started) * per_minute / 60)


async def test_mssp_acting_on_child_spends_its_own_budget(
    server: Server, tenants: Tenants
) -> None:
    body = await server.graphql(SMALL, key=tenants.mssp.key, workspace="globex")
    assert body["_headers"]["X-RateLimit-Limit"] == "1000"
    body = await server.graphql(SMALL, key=tenants.globex.key)
    assert body["_headers"]["X-RateLimit-Remaining"] == "59"


async def test_unauthenticated_responses_carry_no_rate_headers(server: Server) -> None:
    body = await server.graphql(SMALL, expect_status=401)
    assert "X-RateLimit-Limit" not in body["_headers"]


async def test_webhook_has_its_own_bucket(settings: Settings, db: Database) -> None:
    """An alert storm exhausts the webhook bucket (429 + Retry-After, nothing written) while
    the same workspace's API key still gets through."""
    async with db.write() as session:
        workspace = await create_workspace(session, slug="stormy", name="Stormy", tier="starter")
        _, key = await create_key(session, workspace, "api")
        _, token = await create_token(session, workspace)
    limited = settings.model_copy(update={"webhook_rate_limit": 5})
    async with running_server(limited, db) as server:
        path = f"/webhook/stormy/{token}"
        accepted = [await post(server, path, {"title": f"storm {index}"}) for index in range(5)]
        assert [reply.status for reply in accepted] == [202] * 5
        assert (await row_counts(db))["alerts"] == 5
        for index in range(5, 7):
            before = await row_counts(db)
            reply = await post(server, path, {"title": f"storm {index}"})
            assert reply.status == 429, reply.body
            assert int(reply.headers["Retry-After"]) >= 1
            assert reply.body["error"]["code"] == "rate_limited"
            no_rows_but_the_delivery(before, await row_counts(db))
        body = await server.graphql("{ viewer { id } }", key=key)
        assert body["_headers"]["X-RateLimit-Remaining"] == "59"


async def test_headers_count_down_across_rest_and_graphql(
    server: Server, tenants: Tenants
) -> None:
    headers = {"Authorization": f"Bearer {tenants.globex.key}"}
    seen = []
    started = time.monotonic()
    for index in range(6):
        if index % 2:
            async with server.http.get(f"{server.url}/v1/incidents", headers=headers) as resp:
                assert resp.status == 200
                seen.append((resp.headers["X-RateLimit-Limit"],
                             int(resp.headers["X-RateLimit-Remaining"]),
                             int(resp.headers["X-RateLimit-Reset"])))
        else:
            body = await server.graphql(SMALL, key=tenants.globex.key)
            seen.append((body["_headers"]["X-RateLimit-Limit"],
                         int(body["_headers"]["X-RateLimit-Remaining"]),
                         int(body["_headers"]["X-RateLimit-Reset"])))
    assert [limit for limit, _, _ in seen] == ["60"] * 6
    # One unit each, whichever door; a starter bucket gives one back per second gone by.
    remaining = [remaining for _, remaining, _ in seen]
    slack = refilled(started, per_minute=60)
    assert all(n <= got <= n + slack for n, got in zip([59, 58, 57, 56, 55, 54], remaining,
                                                        strict=True)), remaining
    now = time.time()
    assert all(now < reset <= now + 60 for _, _, reset in seen)
    # An error answer (404) is still authenticated, so it carries the headers too.
    async with server.http.get(f"{server.url}/v1/incidents/inc_nothere", headers=headers) as resp:
        assert resp.status == 404
        assert 53 <= int(resp.headers["X-RateLimit-Remaining"]) <= 53 + refilled(
            started, per_minute=60)
