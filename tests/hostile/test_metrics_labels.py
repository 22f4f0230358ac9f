"""anyone without a key can fill the metrics' operation labels.

The /graphql handler reads the operation name before authentication, and the first 200 distinct
names a process sees (MAX_OPERATION_LABELS) become its labels for good: after 200 unauthenticated
requests with made-up names, a real dashboard's operation is counted as `<other>`. The README
promises that nothing is parsed before the 401.

Expected: labels are taken only after authentication, from documents that validated. Refused
requests are still counted, under a label that is not theirs to choose (which one is the
implementer's call); none of the made-up names appears in /metrics, and `RealDashboard` has its
own series.
"""

from __future__ import annotations

import asyncio

from tests.hostile.helpers import alongside
from tests.support.data import Tenants
from tests.support.metrics import scrape
from tests.support.server import Server

FLOOD = 250
REQUESTS = "seliq_http_requests_total"


async def _unauthenticated_flood(server: Server) -> None:
    """250 requests without a usable key, each with its own operation name: half named in the
    document, half by `operationName`; some with no key, some with a wrong one."""
    for index in range(FLOOD):
        name = f"MadeUp{index:03d}"
        payload: dict[str, object] = {"query": f"query {name} {{ viewer {{ name }} }}"}
        if index % 2:
            payload = {"query": "query { viewer { name } }", "operationName": name}
        headers = {"Authorization": "Bearer seliq_" + "x" * 43} if index % 3 == 0 else {}
        async with server.http.post(
            f"{server.url}/graphql", json=payload, headers=headers
        ) as response:
            assert response.status == 401, await response.text()
            body = await response.json()
            assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_operation_labels_are_taken_after_authentication(
    server: Server, tenants: Tenants
) -> None:
    await alongside(server, tenants.acme.key, _unauthenticated_flood(server))
    # Authenticated, but documents that do not validate: no label of their own either.
    for index in range(20):
        body = await server.graphql(
            f"query NotValid{index:02d} {{ noSuchField{index} }}", key=tenants.acme.key,
            expect_status=None,
        )
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", body

    body = await server.graphql("query RealDashboard { viewer { name } }", key=tenants.acme.key)
    assert body["data"]["viewer"]["name"] == "acme writer"
    await asyncio.sleep(0)  # the request is counted when its response is ready

    samples = await scrape(server.http, server.url)
    operations = {s.labels.get("operation") for s in samples if s.name == REQUESTS}
    real = [
        s for s in samples
        if s.name == REQUESTS and s.labels.get("operation") == "RealDashboard"
        and s.labels.get("status") == "200"
    ]
    assert len(real) == 1 and real[0].value == 1, sorted(str(o) for o in operations)
    made_up = sorted(
        str(o) for o in operations if o and (o.startswith("MadeUp") or o.startswith("NotValid"))
    )
    assert made_up == [], f"{len(made_up)} made-up names became labels, e.g. {made_up[:5]}"
