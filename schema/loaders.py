"""Per-request dataloaders: however many rows a query touches, each kind of related data costs one
statement per distinct set of arguments, so statement counts do not grow with page size.

Loaders are keyed by the workspace of the row asking (already authorized), so a row reached
through a child workspace loads its relations from that child, never from the acting one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from functools import cached_property
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from gateway.domain.errors import DomainError
from gateway.domain.incidents import alerts, incidents, timeline
from gateway.domain.pagination import Page, PageArgs
from gateway.domain.reports import service as reports
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Alert, Incident, Note, Report, TimelineEvent, Workspace
from gateway.domain.tenancy import workspaces
from gateway.domain.tenancy.auth import Principal

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

ByIdFetch = Callable[[Any, str, list[str]], Awaitable[dict[str, Any]]]
# (session, workspace_id, parent ids, *what else the key holds) -> a value per parent id
PerParentFetch = Callable[..., Awaitable[dict[str, Any]]]
AlertPageKey = tuple[str, str, PageArgs, alerts.AlertFilter]


class Loaders:
    """Each loader is made on first use: most requests (a mutation, a list page) use one or two
    of them, and making a dozen per request showed in the webhook's profile."""

    def __init__(self, db: Database, principal: Principal) -> None:
        self.db = db
        self.principal = principal

    @cached_property
    def incident(self) -> DataLoader[tuple[str, str], Incident | None]:
        return self._by_id(incidents.incidents_by_ids)

    @cached_property
    def alert(self) -> DataLoader[tuple[str, str], Alert | None]:
        return self._by_id(alerts.alerts_by_ids)

    @cached_property
    def report(self) -> DataLoader[tuple[str, str], Report | None]:
        return self._by_id(reports.reports_by_ids)

    @cached_property
    def note(self) -> DataLoader[tuple[str, str], Note | None]:
        return self._by_id(incidents.notes_by_ids)

    @cached_property
    def event(self) -> DataLoader[tuple[str, str], TimelineEvent | None]:
        return self._by_id(timeline.events_by_ids)

    @cached_property
    def alert_page(self) -> DataLoader[AlertPageKey, Page[Alert]]:
        return self._per_parent(alerts.pages_for_incidents)

    @cached_property
    def alert_count(self) -> DataLoader[tuple[str, str, alerts.AlertFilter], int]:
        """Alerts of an incident matching a filter (without one, its `alert_count` column)."""
        return self._per_parent(alerts.counts_for_incidents)

    @cached_property
    def timeline_page(self) -> DataLoader[tuple[str, str, PageArgs], Page[TimelineEvent]]:
        return self._per_parent(timeline.pages_for_incidents)

    @cached_property
    def note_page(self) -> DataLoader[tuple[str, str, PageArgs], Page[Note]]:
        return self._per_parent(incidents.notes_for_incidents)

    @cached_property
    def timeline_count(self) -> DataLoader[tuple[str, str], int]:
        return self._by_id(timeline.counts_for_incidents)

    @cached_property
    def note_count(self) -> DataLoader[tuple[str, str], int]:
        return self._by_id(incidents.note_counts_for_incidents)

    @cached_property
    def workspace(self) -> DataLoader[str, Workspace | None]:
        return DataLoader(self._load_workspaces)

    @cached_property
    def children(self) -> DataLoader[str, list[Workspace]]:
        return DataLoader(self._load_children)

    def _by_id(self, fetch: ByIdFetch) -> DataLoader[Any, Any]:
        """A loader of (workspace_id, id) keys: one statement per workspace in the batch."""

        async def load(keys: Sequence[tuple[str, str]]) -> list[Any]:
            found: dict[tuple[str, str], Any] = {}
            async with self.db.read() as session:
                for workspace_id, wanted in _group(keys).items():
                    rows = await fetch(session, workspace_id, wanted)
                    found.update({(workspace_id, k): v for k, v in rows.items()})
            return [found.get(key) for key in keys]

        return DataLoader(load)

    def _per_parent(self, fetch: PerParentFetch) -> DataLoader[Any, Any]:
        """A loader of (workspace_id, parent_id, *arguments) keys: one statement per distinct
        workspace and arguments (a page's args, a filter), whatever the number of parents."""

        async def load(keys: Sequence[tuple[Any, ...]]) -> list[Any]:
            groups: dict[tuple[Any, ...], list[str]] = defaultdict(list)
            for workspace_id, parent_id, *arguments in keys:
                groups[(workspace_id, *arguments)].append(parent_id)
            found: dict[tuple[Any, ...], Any] = {}
            async with self.db.read() as session:
                for (workspace_id, *arguments), parents in groups.items():
                    try:
                        values = await fetch(session, workspace_id, parents, *arguments)
                    except DomainError as exc:
                        # A bad cursor fails the fields that sent it, never the other fields
                        # that happen to share the batch (the loader sets an exception value
                        # on those keys' futures only).
                        values = dict.fromkeys(parents, exc)
                    found.update(
                        ((workspace_id, p, *arguments), value) for p, value in values.items()
                    )
            return [found[key] for key in keys]

        return DataLoader(load)

    async def _load_workspaces(self, keys: Sequence[str]) -> list[Workspace | None]:
        permitted = [k for k in keys if k in self.principal.permitted_workspace_ids]
        async with self.db.read() as session:
            rows = await workspaces.workspaces_by_ids(session, permitted)
        by_id = {row.id: row for row in rows}
        return [by_id.get(key) for key in keys]

    async def _load_children(self, keys: Sequence[str]) -> list[list[Workspace]]:
        async with self.db.read() as session:
            grouped = await workspaces.children_of(
                session, list(keys), self.principal.permitted_workspace_ids
            )
        return [grouped.get(key, []) for key in keys]


def _group(keys: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for workspace_id, row_id in keys:
        grouped[workspace_id].append(row_id)
    return grouped
