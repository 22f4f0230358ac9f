"""New rows a write session inserts in bulk: one Core `INSERT` per table (an executemany), tables
parents first, at the session's next flush, instead of one ORM unit-of-work insert per object.

Ingestion makes thousands of rows per group commit. The ORM's unit of work does not order inserts
by foreign key (it knows relationships, and the models declare none), so the pipeline used to
flush after every new incident to get it in before the rows that refer to it; that flush, and the
statements it makes, cost more than everything else an alert does. Here the model objects are
still made (callers answer with them), but `add(session, row)` keeps them out of the session:
when the session flushes (autoflush before a query, an explicit flush, the commit), `insert_pending`
runs first, inserts every kept row in foreign-key order, and then attaches the rows to the session
as persistent, so that later changes to them are ordinary UPDATEs and queries find them in the
identity map (rows made by `insert_later`, which nothing changes, stay transient). Until then,
a kept row is changed in place (`is_pending`): its final values are what
gets inserted, and it must not be `session.add`ed (that would insert it twice).

Write sessions (`Database.write`) are `WriteSession`s, which call `insert_pending` at every flush
(SQLAlchemy skips its own flush, and its `before_flush` hook, when the ORM has nothing to write,
so the override is on `flush` itself; `Database.write` flushes before it commits).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlmodel import SQLModel

from gateway.domain.storage import direct

SESSION_KEY = "seliq_bulk_rows"
FINAL_KEY = "seliq_bulk_final"  # ids of the kept rows that `insert_later` made
LAST_FLUSH_KEY = "seliq_bulk_last_flush"  # set by `Database.write` before the commit's flush


def _pending(session: Session) -> dict[Table, dict[Any, SQLModel]]:
    pending: dict[Table, dict[Any, SQLModel]] = session.info.setdefault(SESSION_KEY, {})
    return pending


M = TypeVar("M", bound=SQLModel)


def add(session: Any, row: SQLModel) -> None:
    """Insert `row` at the session's next flush (an `AsyncSession` or its sync session)."""
    sync = getattr(session, "sync_session", session)
    table: Table = type(row).__table__  # type: ignore[attr-defined]
    _pending(sync).setdefault(table, {})[id(row)] = row


def insert_later(session: Any, model: type[M], **values: Any) -> M:
    """A new `model` row that nothing changes before the commit (a timeline event, a webhook
    delivery), inserted at the session's next flush: with the other new rows of its table in a
    write session (`direct.new_row`, `add`), else by an ordinary `session.add`."""
    sync = getattr(session, "sync_session", session)
    if isinstance(sync, WriteSession):
        row = direct.new_row(model, **values)
        add(session, row)
        sync.info.setdefault(FINAL_KEY, set()).add(id(row))
        return row
    row = model(**values)
    session.add(row)
    return row


def is_pending(session: Any, row: SQLModel) -> bool:
    """`row` was `add`ed and is not inserted yet."""
    sync = getattr(session, "sync_session", session)
    table: Table | None = getattr(type(row), "__table__", None)
    pending: dict[Table, dict[Any, SQLModel]] = sync.info.get(SESSION_KEY) or {}
    return table is not None and id(row) in pending.get(table, {})


def insert_pending(session: Session) -> None:
    """Insert the kept rows, parents first, and attach them to the session as persistent, so
    that later changes to them are UPDATEs; rows of `insert_later`, which nothing changes, stay
    as they are (attaching them was ~3% of a webhook request's CPU)."""
    pending: dict[Table, dict[Any, SQLModel]] | None = session.info.pop(SESSION_KEY, None)
    final: set[int] = session.info.pop(FINAL_KEY, None) or set()
    if not pending:
        return
    connection = session.connection()
    for table in _parents_first(pending):
        rows = pending[table]
        if rows:
            statement = direct.insert_of(table, connection.dialect)
            connection.exec_driver_sql(
                statement.sql, [statement.arguments(r.__dict__) for r in rows.values()]
            )
    if session.info.get(LAST_FLUSH_KEY):
        return  # the commit's flush: nothing will change them or look them up any more
    for rows in pending.values():
        for key, row in rows.items():
            if key not in final:
                make_transient_to_detached(row)
                session.add(row)


def _parents_first(tables: Iterable[Table]) -> list[Table]:
    """`tables`, each after those its foreign keys name."""
    order = _dependency_order()
    if any(table not in order for table in tables):  # a table defined since: order again
        _dependency_order.cache_clear()
        order = _dependency_order()
    return sorted(tables, key=order.__getitem__)


@functools.cache
def _dependency_order() -> dict[Table, int]:
    return {table: index for index, table in enumerate(SQLModel.metadata.sorted_tables)}


class WriteSession(Session):
    """The session of `Database.write()`: kept rows go in before anything else flushes (a
    query's autoflush, an explicit flush, the commit's), also when nothing else is to flush."""

    def flush(self, objects: Sequence[Any] | None = None) -> None:
        if not self._flushing:
            insert_pending(self)
            direct.write_changes(self)
        super().flush(objects)
