"""The SQL of a plan, built once per shape (which filters are set, which order, with or without
a cursor, which direction) from the domain's declarations (`gateway.domain.listing`): the
tenancy clause, the filters' conditions and the sort keys are the ones the domain's list
functions use; keyset pagination is `gateway.domain.pagination`'s, with named parameters.

Lists of values (parent ids, ids, a filter's statuses) are one parameter whatever their
length, so one statement serves every page: `json_each(?)` on SQLite, `unnest($1)` on
PostgreSQL. A page of children for many parents is one statement: on SQLite a join of the
parents with each one's first rows by rowid (an index walk per parent; ~3x cheaper than
numbering every child with a window function), on PostgreSQL a LATERAL join.

`Reader` runs them on the driver's own connection, compiled once per shape by SQLAlchemy: on
SQLite the aiosqlite connection (one hop to its thread per statement instead of SQLAlchemy's
four), on PostgreSQL the asyncpg connection of a pooled connection in autocommit (no
BEGIN/ROLLBACK around reads: each statement reads its own snapshot, as each SQLite read does);
the connection is `Database.plan_reads()`'s, kept between requests
(`gateway.domain.storage.held`).
Both hand back raw values that `schema.plan.values` converts as the schema's scalars would;
SQLAlchemy's result processing, a fifth of a PostgreSQL dashboard's time (measured with py-spy:
its timestamp type decorator alone 15%), is skipped. Another driver goes through SQLAlchemy
Core. Every statement is counted in X-Seliq-SQL-Statements.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ARRAY, Select, String, bindparam, func, literal_column, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import util as sql_util
from sqlalchemy.sql.elements import ColumnElement

from gateway.domain.listing import IN, Listing
from gateway.domain.pagination import SortKey, ordering
from gateway.domain.storage.engine import current_counter

SQLITE = "sqlite"
AIOSQLITE, ASYNCPG = "aiosqlite", "asyncpg"
# The drivers whose own connection runs a plan's statements (`Reader`).
RAW_DRIVERS = frozenset({(SQLITE, AIOSQLITE), ("postgresql", ASYNCPG)})


LIST = "list_"  # the prefix of parameters bound to a list of values


def list_values(name: str, dialect: str) -> Select[Any]:
    """`SELECT value FROM <the list bound as :list_name>`: one parameter for any number of
    values (a JSON array on SQLite, an array on PostgreSQL)."""
    name = LIST + name
    if dialect == SQLITE:
        return select(func.json_each(bindparam(name, type_=String)).table_valued("value").c.value)
    return select(func.unnest(bindparam(name, type_=ARRAY(String))))


def _keyset(sort: SortKey, backward: bool) -> ColumnElement[bool]:
    """gateway.domain.pagination.keyset_condition, with named parameters."""
    row = tuple_(sort.column, sort.id_column)
    bound = tuple_(
        bindparam("cursor_value", type_=sort.column.type),
        bindparam("cursor_id", type_=sort.id_column.type),
    )
    return row < bound if sort.descending != backward else row > bound


@dataclass(frozen=True)
class ListShape:
    """What a list statement depends on besides its columns."""

    order: str
    conditions: tuple[str, ...]  # names of the conditions the filter sets
    cursor: bool
    backward: bool


def _conditions(listing: Listing, shape: ListShape, dialect: str) -> list[ColumnElement[bool]]:
    out = []
    for condition in listing.conditions:
        if condition.name not in shape.conditions:
            continue
        name = f"f_{condition.name}"
        bound = list_values(name, dialect) if condition.op == IN else bindparam(name)
        out.append(condition.clause(bound))
    return out


def page(
    listing: Listing, columns: list[str], shape: ListShape, dialect: str, permitted: bool
) -> Select[Any]:
    """A root list's page: `SELECT columns WHERE <tenancy> AND <filter> AND <keyset> ORDER BY
    <sort> LIMIT :limit`. Tenancy is `scope = :workspace_id`, or for the workspaces a key may
    see `id IN :permitted`."""
    model = listing.model
    sort = listing.orders[shape.order]
    scope = (
        listing.scope.in_(list_values("permitted", dialect)) if permitted
        else listing.scope == bindparam("workspace_id")
    )
    stmt = select(*(getattr(model, name) for name in columns)).where(
        scope, *_conditions(listing, shape, dialect)
    )
    if shape.cursor:
        stmt = stmt.where(_keyset(sort, shape.backward))
    return stmt.order_by(*ordering(sort, backward=shape.backward)).limit(bindparam("limit"))


def children(
    listing: Listing, parent: Any, columns: list[str], shape: ListShape, dialect: str
) -> Select[Any]:
    """The first `:limit` rows below each of `:parents` (the values of the `parent` column),
    in the list's order, in one statement. Tenancy: `scope = :workspace_id`, unless the parent
    column is the scope itself (a workspace's incidents), whose parents are permitted
    workspaces."""
    table = listing.model.__table__
    sort = listing.orders[shape.order]
    conditions = _conditions(listing, shape, dialect)
    if shape.cursor:
        conditions.append(_keyset(sort, shape.backward))
    if parent.key != listing.scope.key:
        conditions.append(listing.scope == bindparam("workspace_id"))
    order = ordering(sort, backward=shape.backward)
    if dialect == SQLITE:
        rows, first = table.alias("c"), table.alias("s")
        adapt = sql_util.ClauseAdapter(first).traverse
        parents = func.json_each(bindparam(LIST + "parents", type_=String)).table_valued("value")
        parents = parents.alias("p")
        firsts: Select[Any] = (
            select(literal_column("s.rowid"))
            .select_from(first)
            .where(first.c[parent.key] == parents.c.value, *(adapt(c) for c in conditions))
            .order_by(*(adapt(o) for o in order))
            .limit(bindparam("limit"))
        )
        adapt_rows = sql_util.ClauseAdapter(rows).traverse
        return (
            select(*(rows.c[name] for name in columns))
            .select_from(parents)
            .join(rows, literal_column("c.rowid").in_(firsts))
            .order_by(*(adapt_rows(o) for o in order))
        )
    unnest = func.unnest(bindparam(LIST + "parents", type_=ARRAY(String))).table_valued("value")
    parent_ids = unnest.render_derived(name="p")
    lateral = (
        select(*(table.c[name] for name in columns))
        .where(table.c[parent.key] == parent_ids.c.value, *conditions)
        .order_by(*order)
        .limit(bindparam("limit"))
        .lateral("l")
    )
    adapt_lateral = sql_util.ClauseAdapter(lateral).traverse
    return (
        select(*(lateral.c[name] for name in columns))
        .select_from(parent_ids)
        .join(lateral, true())
        .order_by(*(adapt_lateral(o) for o in order))
    )


def count(listing: Listing, shape: ListShape, dialect: str) -> Select[Any]:
    """A root list's totalCount (`count_incidents` and friends, with parameters)."""
    return select(func.count()).select_from(listing.model).where(
        listing.scope == bindparam("workspace_id"), *_conditions(listing, shape, dialect)
    )


def counts(listing: Listing, parent: Any, shape: ListShape, dialect: str) -> Select[Any]:
    """totalCount of the list below each of `:parents`: one grouped count."""
    conditions = _conditions(listing, shape, dialect)
    if parent.key != listing.scope.key:
        conditions.append(listing.scope == bindparam("workspace_id"))
    return (
        select(parent, func.count())
        .where(parent.in_(list_values("parents", dialect)), *conditions)
        .group_by(parent)
    )


def by_key(model: Any, key: str, scoped: bool, dialect: str) -> Select[Any]:
    """Whole rows of `model` whose `key` is one of `:keys` (in `:workspace_id` if scoped)."""
    stmt = select(*model.__table__.columns).where(
        getattr(model, key).in_(list_values("keys", dialect))
    )
    if scoped:
        stmt = stmt.where(model.workspace_id == bindparam("workspace_id"))
    return stmt


def child_workspaces(model: Any, dialect: str) -> Select[Any]:
    """Whole workspace rows whose parent is one of `:parents`, oldest first
    (`workspaces.children_of`; the caller keeps only the permitted ones)."""
    return (
        select(*model.__table__.columns)
        .where(model.parent_id.in_(list_values("parents", dialect)))
        .order_by(model.created_at, model.id)
    )


# ---- running -----------------------------------------------------------------------------------


def _json_text(values: list[Any]) -> str:
    """A list as JSON text for SQLite's `json_each`: orjson (a sixth of `json.dumps`' time, on
    every nested list of every request), or `json` for what orjson refuses (a lone surrogate in
    a hostile filter value, an integer past 64 bits)."""
    try:
        return orjson.dumps(values).decode()
    except TypeError:
        return json.dumps(values)


@dataclass
class Compiled:
    """A statement as sent to the driver: its text, parameter names in order, default values,
    each parameter's conversion (the column type's bind processor) and which are lists that
    go as JSON text (SQLite's `json_each`; asyncpg takes a list as an array itself)."""

    sql: str
    names: list[str]
    defaults: dict[str, Any]
    processors: dict[str, Callable[[Any], Any]]
    json_lists: frozenset[str]

    def parameters(self, values: dict[str, Any]) -> list[Any]:
        parameters = []
        for name in self.names:
            value = values[name] if name in values else self.defaults[name]
            if name in self.json_lists:
                value = _json_text(value)
            else:
                processor = self.processors.get(name)
                if processor is not None and value is not None:
                    value = processor(value)
            parameters.append(value)
        return parameters


class Reader:
    """Runs a plan's statements on one connection for one request."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        dialect = connection.dialect
        self.dialect = dialect
        self.driver = dialect.driver if (dialect.name, dialect.driver) in RAW_DRIVERS else None
        self.name = SQLITE if dialect.name == SQLITE else dialect.name
        self._driver_connection: Any = None  # the driver's own, under `connection`

    async def rows(
        self, cache: dict[Any, Any], key: Any, build: Callable[[], Select[Any]],
        values: dict[str, Any],
    ) -> list[Any]:
        """The rows of the statement `build()` makes (kept in `cache` under `key`) for
        `values` (lists as Python lists)."""
        prepared = cache.get(key)
        if prepared is None:
            stmt = build()
            prepared = cache[key] = self._compile(stmt) if self.driver else stmt
        if isinstance(prepared, Select):
            return list((await self.connection.execute(prepared, values)).all())
        parameters = prepared.parameters(values)
        if self._driver_connection is None:
            raw = await self.connection.get_raw_connection()
            self._driver_connection = raw.driver_connection
        counter = current_counter.get()  # what X-Seliq-SQL-Statements reports
        if counter is not None:
            counter.count += 1
            counter.statements.append(prepared.sql)
        if self.driver == ASYNCPG:
            return list(await self._driver_connection.fetch(prepared.sql, *parameters))
        return list(await self._driver_connection.execute_fetchall(prepared.sql, parameters))

    def _compile(self, stmt: Select[Any]) -> Compiled | Select[Any]:
        compiled = stmt.compile(dialect=self.dialect)
        sql = str(compiled)
        if "POSTCOMPILE" in sql:  # expanded at execution time: only SQLAlchemy can send it
            return stmt
        names = list(compiled.positiontup or ())
        defaults: dict[str, Any] = {}
        processors: dict[str, Callable[[Any], Any]] = {}
        json_lists: set[str] = set()
        for name in names:
            bind = compiled.binds[name]
            if bind.value is not None:
                defaults[name] = bind.value
            if name.startswith(LIST) and self.driver == AIOSQLITE:
                json_lists.add(name)
                continue
            processor = bind.type.dialect_impl(self.dialect).bind_processor(self.dialect)
            if processor is not None:
                processors[name] = processor
        return Compiled(sql, names, defaults, processors, frozenset(json_lists))
