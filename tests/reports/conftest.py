"""Reports run by the real worker inside the real server; it polls fast here."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.domain.settings import Settings
from tests.support.server import Server
from tests.support.sla import eventually

REPORT_FIELDS = "id kind status error content markdown html startedAt completedAt"
GENERATE = """mutation($input: GenerateReportInput!) {
  generateReport(input: $input) { report { id status } userErrors { field message code } }
}"""
GET = f"query($id: ID!) {{ report(id: $id) {{ {REPORT_FIELDS} }} }}"


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url, debug_headers=True, graphiql=True, report_poll_seconds=0.05,
        sla_sweep_seconds=0,
    )


async def generate(server: Server, key: str, **input_: Any) -> str:
    body = await server.graphql(GENERATE, {"input": input_}, key=key)
    payload = body["data"]["generateReport"]
    assert payload["userErrors"] == [], payload
    assert payload["report"]["status"] == "QUEUED"
    return str(payload["report"]["id"])


async def fetch(server: Server, key: str, report_id: str) -> dict[str, Any]:
    body = await server.graphql(GET, {"id": report_id}, key=key)
    assert "errors" not in body, body
    return dict(body["data"]["report"])


async def finished(server: Server, key: str, report_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        report = await fetch(server, key, report_id)
        return report if report["status"] in ("READY", "FAILED") else None

    result = await eventually(done)
    assert result is not None
    return result
