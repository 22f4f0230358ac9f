"""Reports end to end through the REST routes: POST /v1/reports (202 queued), the worker in the
real server, GET /v1/reports/{id} until ready, then its Markdown and HTML renderings."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from gateway.domain.storage.engine import Database
from gateway.domain.timeutil import isoformat_z
from tests.reports.test_reports import SVG, D, seed_week
from tests.support.server import Server
from tests.support.sla import eventually, workspace_with_key


async def test_report_through_rest(server: Server, db: Database) -> None:
    workspace, key = await workspace_with_key(db, "rest-reports")
    start = await seed_week(db, workspace)
    headers = {"Authorization": f"Bearer {key}"}
    async with server.http.post(
        f"{server.url}/v1/reports", headers=headers,
        json={"kind": "sla", "period_start": isoformat_z(start),
              "period_end": isoformat_z(start + 7 * D)},
    ) as response:
        assert response.status == 202
        queued = await response.json()
    assert queued["status"] == "queued" and queued["kind"] == "sla"
    assert response.headers["Location"] == f"/v1/reports/{queued['id']}"

    async def ready() -> dict | None:
        async with server.http.get(
            f"{server.url}/v1/reports/{queued['id']}", headers=headers
        ) as answer:
            body = await answer.json()
        return body if body["status"] in ("ready", "failed") else None

    report = await eventually(ready)
    assert report is not None and report["status"] == "ready", report
    content = report["content"]
    assert content["kind"] == "sla" and content["workspace"]["slug"] == "rest-reports"
    assert len(content["per_day"]) == 7 and isinstance(content["breaches"], list)
    assert content["breaches"], "the never-acknowledged high incident breached"
    async with server.http.get(
        f"{server.url}/v1/reports/{queued['id']}", params={"format": "markdown"}, headers=headers
    ) as answer:
        assert answer.status == 200
        assert answer.content_type == "text/markdown"
        assert (await answer.text()).startswith("# ")
    async with server.http.get(
        f"{server.url}/v1/reports/{queued['id']}", params={"format": "html"}, headers=headers
    ) as answer:
        assert answer.status == 200 and answer.content_type == "text/html"
        html = await answer.text()
    svg = ET.fromstring(html[html.index("<svg"):html.index("</svg>") + len("</svg>")])
    days = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "day"]
    assert len(days) == 7
