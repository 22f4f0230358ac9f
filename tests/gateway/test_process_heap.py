"""Apps served and shut down one after another leave nothing alive once `forget_apps` has run
(tests/support/heap.py): the test process builds an app per test, and library caches keyed by
app, schema and dialect once kept hundreds of them (millions of objects; multi-second full
collections inside other tests' timing). Fails if a library moves such a cache elsewhere."""

from __future__ import annotations

import gc

from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from schema.build import SeliqSchema
from tests.support.data import Tenants
from tests.support.heap import forget_apps
from tests.support.server import running_server


def _live_schemas() -> int:
    gc.collect()
    return sum(isinstance(o, SeliqSchema) for o in gc.get_objects())


async def test_served_apps_are_freed_once_the_caches_are_forgotten(
    settings: Settings, db: Database, tenants: Tenants
) -> None:
    forget_apps()
    before = _live_schemas()
    key = tenants.acme.key
    for _ in range(3):
        async with running_server(settings, db) as server:
            # What fills the caches: the middleware chain of a route, a validated document
            # (and one refused by validation), rows written through the ORM.
            await server.graphql("{ viewer { name } }", key=key)
            await server.graphql("{ viewer { nope } }", key=key, expect_status=None)
            await server.graphql(
                'mutation { createIncident(input: {title: "heap", severity: LOW}) '
                "{ incident { id } } }",
                key=key, expect_status=None,
            )
            async with server.http.get(
                f"{server.url}/v1/incidents", headers={"Authorization": f"Bearer {key}"}
            ) as response:
                assert response.status == 200
    del server, response
    forget_apps()
    assert _live_schemas() == before
