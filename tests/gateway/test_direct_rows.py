"""Rows read and changed without the ORM (`gateway.domain.storage.direct`), on both backends:
`load` makes the objects the ORM would load (every column, converted the same way), and a
watched row's changes go out at the flush as one UPDATE of the changed columns only, once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, delete, event, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import SQLModel, col

from gateway.domain.ingest import lookups
from gateway.domain.storage import direct
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Alert, Incident, Workspace
from gateway.domain.timeutil import utcnow
from tests.ingest.test_group_commit import ingest_alone
from tests.support.data import Tenants


def values(row: SQLModel) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in direct.columns_of(type(row))}


async def seed(db: Database, workspace_id: str) -> None:
    for n in range(3):
        await ingest_alone(db, workspace_id, {
            "title": f"disk {n}", "fingerprint": f"fp-{n}", "severity": "high",
            "labels": {"alertname": "disk", "host": f"h{n % 2}", "note": "ünïcode"},
            "description": "a description",
        })


async def test_loaded_rows_are_what_the_orm_loads(db: Database, tenants: Tenants) -> None:
    workspace = tenants.acme.id
    await seed(db, workspace)
    async with db.write() as session:
        loaded = await direct.load(
            session, Workspace, lookups.locked_workspace_row(), {"workspace_id": workspace}
        )
        alerts = await direct.load(
            session, Alert, lookups.firing_by_fingerprints(4),
            {"workspace_id": workspace, **lookups.in_values(["fp-0", "fp-1", "fp-2"])},
        )
        keys = sorted({a.labels["alertname"] for a in alerts})
        group_keys = sorted({i.group_key for i in (await session.execute(
            select(Incident).where(col(Incident.workspace_id) == workspace)
        )).scalars() if i.group_key})
        incidents = await direct.load(
            session, Incident, lookups.open_by_group_keys(lookups.in_size(len(group_keys))),
            {"workspace_id": workspace, "cutoff": utcnow().replace(year=2000),
             **lookups.in_values(group_keys)},
        )
        orm_workspace = await session.get(Workspace, workspace)
        orm_alerts = (await session.execute(
            select(Alert).where(col(Alert.workspace_id) == workspace)
            .where(col(Alert.fingerprint).in_(["fp-0", "fp-1", "fp-2"]))
        )).scalars().all()
        orm_incidents = (await session.execute(
            select(Incident).where(col(Incident.workspace_id) == workspace)
            .where(col(Incident.group_key).in_(group_keys))
        )).scalars().all()
    assert keys == ["disk"]
    assert [values(w) for w in loaded] == [values(orm_workspace)]  # type: ignore[arg-type]
    assert sorted(map(values, alerts), key=str) == sorted(map(values, orm_alerts), key=str)
    assert len(alerts) == 3
    assert sorted(map(values, incidents), key=str) == sorted(map(values, orm_incidents), key=str)
    assert len(incidents) == 2  # one per host


def updates(db: Database) -> tuple[list[str], Any]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            seen.append(" ".join(statement.split()))

    return seen, record


async def test_watched_changes_are_written_once_and_only_what_changed(
    db: Database, tenants: Tenants
) -> None:
    workspace = tenants.acme.id
    await seed(db, workspace)
    seen, record = updates(db)
    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with db.write() as session:
            alerts = await direct.load(
                session, Alert, lookups.firing_by_fingerprints(1),
                {"workspace_id": workspace, **lookups.in_values(["fp-1"])},
            )
            direct.watch(session, alerts)
            await session.flush()
            assert seen == []  # nothing changed: nothing written
            alert = alerts[0]
            alert.occurrences += 4
            alert.labels = {**alert.labels, "extra": "yes"}
            await session.flush()
            assert len(seen) == 1
            assert "occurrences" in seen[0] and "labels" in seen[0]
            assert "title" not in seen[0] and "severity" not in seen[0]
            await session.flush()
            assert len(seen) == 1  # written already
            alert.status = "resolved"
        assert len(seen) == 2 and "status" in seen[1] and "occurrences" not in seen[1]
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    async with db.read() as session:
        stored = await session.get(Alert, alert.id)
    assert stored is not None
    assert (stored.occurrences, stored.status, stored.labels["extra"]) == (5, "resolved", "yes")
    assert stored.labels["note"] == "ünïcode"


async def test_a_watched_row_that_is_gone_fails_the_flush(db: Database, tenants: Tenants) -> None:
    """As the ORM's StaleDataError: an UPDATE that matches fewer rows than it was given is an
    error (the group fails and its units run again one by one), never a change reported and not
    stored. Nothing deletes alerts today; this holds the write path to it if something does."""
    workspace = tenants.acme.id
    await seed(db, workspace)
    with pytest.raises(StaleDataError, match="UPDATE of alerts matched 0 of 1 rows"):
        async with db.write() as session:
            alerts = await direct.load(
                session, Alert, lookups.firing_by_fingerprints(1),
                {"workspace_id": workspace, **lookups.in_values(["fp-1"])},
            )
            direct.watch(session, alerts)
            await session.execute(delete(Alert).where(col(Alert.id) == alerts[0].id))
            alerts[0].occurrences += 1
            await session.flush()


async def test_a_rolled_back_write_leaves_watched_rows_as_they_were(
    db: Database, tenants: Tenants
) -> None:
    workspace = tenants.acme.id
    await seed(db, workspace)
    async with db.read() as session:
        before = await session.get(Workspace, workspace)
    assert before is not None
    try:
        async with db.write() as session:
            found = await direct.load(
                session, Workspace, lookups.locked_workspace_row(), {"workspace_id": workspace}
            )
            direct.watch(session, found)
            found[0].incident_seq += 100
            await session.flush()
            raise RuntimeError("the unit failed")
    except RuntimeError:
        pass
    async with db.read() as session:
        stored = await session.get(Workspace, workspace)
    assert stored is not None and stored.incident_seq == before.incident_seq


def test_in_lists_come_in_powers_of_two_padded_with_their_last_value() -> None:
    assert [lookups.in_size(n) for n in range(1, 10)] == [1, 2, 4, 4, 8, 8, 8, 8, 16]
    assert lookups.in_values(["a", "b", "c"]) == {"in_0": "a", "in_1": "b", "in_2": "c",
                                                  "in_3": "c"}
    big = [str(n) for n in range(lookups.IN_LIST_MAX + 3)]
    assert [len(piece) for piece in lookups.pieces(big)] == [lookups.IN_LIST_MAX, 3]


def test_rows_made_before_any_orm_use_work() -> None:
    """A process whose first use of a model is a row made here (a worker's first group
    prefetch) gets a working object: the ORM's attributes are set up first."""
    script = (
        "from gateway.domain.storage.direct import new_row\n"
        "from gateway.domain.storage.models import Workspace\n"
        "print(new_row(Workspace, id='ws_1', slug='a', name='A').id)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ws_1"


async def test_compiled_statements_live_with_their_engine(db: Database, tenants: Tenants) -> None:
    """Kept on the engine's dialect, not in a module: a process has one engine, a test run
    thousands, and each engine's statements go with it."""
    await seed(db, tenants.acme.id)
    cache = direct.compiled_cache(db.engine.sync_engine.dialect)
    assert any(key[0] == "insert" for key in cache)
    other = Database(str(db.engine.url.render_as_string(hide_password=False)))
    try:
        assert direct.compiled_cache(other.engine.sync_engine.dialect) == {}
    finally:
        await other.dispose()


def test_parameters_map_to_their_columns_whatever_the_columns_are_called() -> None:
    """Parameters are matched to columns by name, not by stripping a prefix: columns called
    `set_by` or `pk_hint` (the UPDATE's own prefixes) keep their values."""
    table = Table(
        "odd", MetaData(), Column("id", Integer, primary_key=True),
        Column("set_by", String), Column("pk_hint", String),
    )
    row = {"id": 7, "set_by": "ana", "pk_hint": "h"}
    inserted = direct.insert_of(table, sqlite.dialect())
    assert dict(zip(("id", "set_by", "pk_hint"), inserted.arguments(row), strict=True)) == row
    updated = direct._update_of(table, ("set_by", "pk_hint"), sqlite.dialect())
    assert updated.sql == "UPDATE odd SET set_by=?, pk_hint=? WHERE odd.id = ?"
    assert updated.arguments(row) == ("ana", "h", 7)


async def test_a_copied_row_keeps_its_values_when_the_row_changes(
    db: Database, tenants: Tenants
) -> None:
    """What an answer of a group reads (`IngestResult.frozen`): the row as it was then, with
    every column, detached; a row missing a loaded column is refused rather than copied with
    None in its place."""
    await ingest_alone(db, tenants.acme.id, {"title": "copied", "fingerprint": "copied-1"})
    async with db.write() as session:
        row = (await session.execute(
            select(Alert).where(col(Alert.fingerprint) == "copied-1")
        )).scalar_one()
        copy = direct.copy_row(row)
        row.occurrences += 1
        row.labels = {"changed": "yes"}
        assert copy.model_dump() == {**row.model_dump(), "occurrences": 1, "labels": {}}
        assert copy not in session and copy is not row
        session.expire(row, ["occurrences"])
        with pytest.raises(ValueError, match="occurrences"):
            direct.copy_row(row)
