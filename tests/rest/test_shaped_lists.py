"""A REST list answered by its cached plan is built as REST resources by the plan itself (no
reshaping pass, issue 14), and is byte for byte what the standard executor's answer reshaped
gives: the first request of a route runs on the standard executor, the next ones on the plan."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from gateway.domain import ids
from gateway.domain.storage.models import Report
from gateway.domain.timeutil import utcnow
from gateway.service.app import EXECUTOR_KEY
from schema.plan import selections
from tests.rest.conftest import Rest
from tests.support.data import Tenants, make_incident


async def _reports(rest: Rest, workspace_id: str) -> None:
    now = utcnow()
    async with rest.server.db.write() as session:
        for index in range(3):
            session.add(Report(
                id=ids.new_id(ids.REPORT), workspace_id=workspace_id, kind="sla",
                status="ready" if index else "queued", period_start=now - timedelta(days=7),
                period_end=now, created_at=now - timedelta(minutes=index),
            ))


LISTS = [
    "/v1/incidents?limit=3",
    "/v1/incidents?status=triggered,acknowledged&severity=high,critical&limit=2",
    "/v1/incidents?assignee=ana@soc.example",
    "/v1/incidents?q=disk&limit=5",
    "/v1/alerts?limit=4",
    "/v1/alerts?status=firing&severity=high&limit=2",
    "/v1/workspaces",
    "/v1/reports?limit=2",
]


@pytest.mark.parametrize("path", LISTS)
async def test_a_list_from_its_plan_is_the_reshaped_answer_byte_for_byte(
    rest: Rest, tenants: Tenants, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    acme = tenants.acme
    await make_incident(rest.server.db, acme.workspace, title="disk full", severity="critical",
                        status="acknowledged", assignee="ana@soc.example")
    await _reports(rest, acme.id)
    key = tenants.mssp.key if path.startswith("/v1/workspaces") else acme.key
    assert rest.server.app is not None
    plans = rest.server.app[EXECUTOR_KEY].plans
    built: list[Any] = []
    real = selections.shaped_builder

    def spy(plan: Any, shape: Any) -> Any:
        built.append(plan.type_name)
        return real(plan, shape)

    monkeypatch.setattr(selections, "shaped_builder", spy)
    pages: list[bytes] = []
    next_path: str | None = path
    while next_path is not None and len(pages) < 6:
        # The first request of the route runs on the standard executor (and teaches the plan).
        standard = await rest.get(next_path, key=key)
        answered = plans.answered
        planned = await rest.get(next_path, key=key)
        assert standard.status == planned.status == 200, standard.body
        assert plans.answered == answered + 1, f"no plan answered {next_path}"
        assert planned.raw == standard.raw, next_path
        pages.append(planned.raw)
        cursor = planned.body["pagination"]["next_cursor"]
        joiner = "&" if "?" in path else "?"
        next_path = f"{path}{joiner}cursor={cursor}" if cursor else None
    assert built, "the plan did not build the REST resources itself"
    assert len(pages) >= 1
