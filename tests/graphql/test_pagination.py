"""Keyset pagination: every row exactly once, also while rows arrive; both directions."""

from __future__ import annotations

from datetime import timedelta

from gateway.domain.timeutil import utcnow
from tests.support.data import Tenants, make_incident
from tests.support.server import Server

PAGE = """query($first: Int, $after: String, $last: Int, $before: String) {
  incidents(first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id createdAt } }
  }
}"""


async def _walk(server: Server, key: str, size: int, on_page=None) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        body = await server.graphql(PAGE, {"first": size, "after": after}, key=key)
        conn = body["data"]["incidents"]
        seen.extend(edge["node"]["id"] for edge in conn["edges"])
        if on_page is not None:
            await on_page()
        if not conn["pageInfo"]["hasNextPage"]:
            return seen
        after = conn["pageInfo"]["endCursor"]


async def test_walk_returns_every_row_once(server: Server, tenants: Tenants) -> None:
    base = utcnow() - timedelta(days=1)
    for index in range(9):
        # Several share a timestamp: the id breaks the tie.
        await make_incident(server.db, tenants.acme.workspace, created_at=base + timedelta(
            minutes=index // 3), alerts=0)
    expected = {i.id for i in tenants.acme.incidents}
    seen = await _walk(server, tenants.acme.key, 2)
    assert len(seen) == len(set(seen)) == 12
    assert expected <= set(seen)


async def test_walk_while_rows_arrive(server: Server, tenants: Tenants) -> None:
    before = set(await _walk(server, tenants.acme.key, 50))

    async def arrive() -> None:
        await make_incident(server.db, tenants.acme.workspace, title="arrived", alerts=0)

    seen = await _walk(server, tenants.acme.key, 1, on_page=arrive)
    assert len(seen) == len(set(seen)), "no row twice"
    assert before <= set(seen), "no old row skipped"


async def test_backward_pages(server: Server, tenants: Tenants) -> None:
    forward = await _walk(server, tenants.acme.key, 50)
    body = await server.graphql(PAGE, {"last": 2}, key=tenants.acme.key)
    conn = body["data"]["incidents"]
    assert [e["node"]["id"] for e in conn["edges"]] == forward[-2:]
    assert conn["pageInfo"]["hasPreviousPage"] is True
    body = await server.graphql(
        PAGE, {"last": 2, "before": conn["pageInfo"]["startCursor"]}, key=tenants.acme.key
    )
    assert [e["node"]["id"] for e in body["data"]["incidents"]["edges"]] == forward[-3:-2]


async def test_page_size_and_cursor_validation(server: Server, tenants: Tenants) -> None:
    # Page sizes are refused before execution (query limits), bad cursors during it.
    for variables, field, code in (
        ({"first": 101}, "first", "GRAPHQL_VALIDATION_FAILED"),
        ({"first": 0}, "first", "GRAPHQL_VALIDATION_FAILED"),
        ({"first": -1}, "first", "GRAPHQL_VALIDATION_FAILED"),
        ({"first": 5, "after": "not-a-cursor"}, "after", "BAD_USER_INPUT"),
        ({"first": 1, "last": 1}, "first", "BAD_USER_INPUT"),
    ):
        body = await server.graphql(PAGE, variables, key=tenants.acme.key)
        assert body["data"] is None
        error = body["errors"][0]
        assert error["extensions"]["code"] == code, variables
        assert f"`{field}`" in error["message"]
        if code == "BAD_USER_INPUT":
            assert error["extensions"]["field"] == field


async def test_default_page_is_50(server: Server, tenants: Tenants) -> None:
    for _ in range(52):
        await make_incident(server.db, tenants.globex.workspace, alerts=0)
    body = await server.graphql(PAGE, {}, key=tenants.globex.key)
    conn = body["data"]["incidents"]
    assert len(conn["edges"]) == 50
    assert conn["totalCount"] == 55
    assert conn["pageInfo"]["hasNextPage"] is True


async def test_a_bad_cursor_fails_only_the_field_that_sent_it(
    server: Server, tenants: Tenants
) -> None:
    """Both `alerts` lists are loaded in one dataloader batch; the bad cursor of `b` used to fail
    the batch, and with it `a`, which asked for nothing wrong."""
    query = """query($a: ID!, $b: ID!) {
      a: incident(id: $a) { alerts(first: 1) { nodes { id } } }
      b: incident(id: $b) { alerts(first: 1, after: "not-a-cursor") { nodes { id } } }
    }"""
    first, second = tenants.acme.incidents[:2]
    body = await server.graphql(query, {"a": first.id, "b": second.id}, key=tenants.acme.key)
    assert [error["path"] for error in body["errors"]] == [["b", "alerts"]]
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["data"]["b"] is None
    assert len(body["data"]["a"]["alerts"]["nodes"]) == 1
