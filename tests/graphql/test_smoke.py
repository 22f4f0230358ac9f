from tests.support.data import Tenants
from tests.support.server import Server


async def test_incidents_query(server: Server, tenants: Tenants) -> None:
    body = await server.graphql(
        "{ incidents(first: 2) { totalCount edges { node { id title } } } }",
        key=tenants.acme.key,
    )
    assert body["data"]["incidents"]["totalCount"] == 3
