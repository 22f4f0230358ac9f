"""Reports: requests for a report are rows in a durable queue (status `queued`); the worker that
fills them in lives with the SLA/summary/report capability.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from gateway.domain import ids
from gateway.domain.errors import InvalidInput, NotFound
from gateway.domain.listing import Listing
from gateway.domain.pagination import Page, PageArgs, SortKey, apply_keyset, make_page
from gateway.domain.storage.models import REPORT_KINDS, Report
from gateway.domain.timeutil import utcnow

REPORT_SORT = SortKey(Report.created_at, Report.id, descending=True, attribute="created_at")
# A workspace's reports, newest first (the cached plans in schema/plan read it too).
REPORTS = Listing(Report, Report.workspace_id, {"created_at:desc": REPORT_SORT}, "created_at:desc")
DEFAULT_PERIOD = timedelta(days=30)
MAX_PERIOD = timedelta(days=366)


async def list_reports(session: AsyncSession, workspace_id: str, args: PageArgs) -> Page[Report]:
    stmt = apply_keyset(REPORTS.select(workspace_id), REPORT_SORT, args)
    return make_page((await session.execute(stmt)).scalars().all(), REPORT_SORT, args)


async def reports_by_ids(
    session: AsyncSession, workspace_id: str, wanted: list[str]
) -> dict[str, Report]:
    if not wanted:
        return {}
    stmt = select(Report).where(
        col(Report.workspace_id) == workspace_id,
        col(Report.id).in_(wanted),
    )
    return {row.id: row for row in (await session.execute(stmt)).scalars()}


async def get_report(session: AsyncSession, workspace_id: str, report_id: str) -> Report:
    found = await reports_by_ids(session, workspace_id, [report_id])
    if report_id not in found:
        raise NotFound(f"no report {report_id}", field="id")
    return found[report_id]


async def request_report(
    session: AsyncSession,
    workspace_id: str,
    kind: str,
    period_start: datetime | None,
    period_end: datetime | None,
    requested_by: str,
) -> Report:
    """Queue a report; the period defaults to the last 30 days, and may span at most a year."""
    if kind not in REPORT_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(REPORT_KINDS)}", field="kind")
    end = period_end or utcnow()
    try:
        start = period_start or end - DEFAULT_PERIOD
    except OverflowError:  # an end within 30 days of year 1
        raise InvalidInput("periodEnd is too early; give periodStart", field="periodEnd") from None
    if start >= end:
        raise InvalidInput("periodStart must be before periodEnd", field="periodStart")
    if end - start > MAX_PERIOD:
        raise InvalidInput("a report period may span at most 366 days", field="periodStart")
    report = Report(
        id=ids.new_id(ids.REPORT),
        workspace_id=workspace_id,
        kind=kind,
        period_start=start,
        period_end=end,
        requested_by=requested_by,
    )
    session.add(report)
    await session.flush()
    return report


async def count_reports(session: AsyncSession, workspace_id: str) -> int:
    stmt = select(func.count()).select_from(Report).where(col(Report.workspace_id) == workspace_id)
    return int((await session.execute(stmt)).scalar_one())
