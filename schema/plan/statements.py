"""The SQL of each level of a plan, built once per shape with named parameters: the root page,
the nested lists for a whole page of parents, and the counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, bindparam, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from gateway.domain.pagination import (
    PageArgs,
    SortKey,
    decode_cursor,
    ordering,
)
from gateway.domain.storage.engine import current_counter
from schema.plan.selections import Fetched, RowPage
from schema.plan.values import MAX_PARENTS, Fallback

# ---- statements --------------------------------------------------------------------------------

def _keyset(sort: SortKey, backward: bool) -> ColumnElement[bool]:
    """gateway.domain.pagination.keyset_condition, with named parameters."""
    row = tuple_(sort.column, sort.id_column)
    bound = tuple_(
        bindparam("cursor_value", type_=sort.column.type),
        bindparam("cursor_id", type_=sort.id_column.type),
    )
    return row < bound if sort.descending != backward else row > bound


class Statements:
    """The statements of one list, prebuilt once per shape (with or without a cursor, forward
    or backward): building a SQLAlchemy statement costs more than running it. They are the
    statements of `gateway.domain.incidents.incidents.list_incidents` (no filter, default order)
    and of
    `gateway.domain.storage.rows.limited_per_parent`, reading only `columns`."""

    def __init__(
        self, model: Any, sort: SortKey, columns: list[str], parent: str | None = None
    ) -> None:
        self.model = model
        self.sort = sort
        self.parent = parent
        extra = [sort.attribute, "id"] + ([parent] if parent else [])
        self.columns = list(dict.fromkeys([*columns, *extra]))
        self._built: dict[tuple[bool, bool], Select[Any]] = {}
        self._raw: dict[tuple[bool, bool, int], tuple[str, list[str], dict[str, Any], Any]] = {}
        # For a nested list: its JSON below one parent row (set by `finish_connection`).
        self.nested_value: Callable[[Any, Fetched], dict[str, Any]] | None = None

    def get(self, cursor: bool, backward: bool) -> Select[Any]:
        stmt = self._built.get((cursor, backward))
        if stmt is None:
            stmt = self._built[(cursor, backward)] = self._build(cursor, backward)
        return stmt

    def _build(self, cursor: bool, backward: bool) -> Select[Any]:
        model, sort = self.model, self.sort
        columns = [getattr(model, name) for name in self.columns]
        scope = model.workspace_id == bindparam("workspace_id")
        order = ordering(self.sort, backward=backward)
        if self.parent is None:
            stmt = select(*columns).where(scope)
            if cursor:
                stmt = stmt.where(_keyset(sort, backward))
            return stmt.order_by(*order).limit(bindparam("limit"))
        parent = getattr(model, self.parent)
        number = func.row_number().over(partition_by=parent, order_by=order).label("rn")
        inner = select(*columns, number).where(
            scope, parent.in_(bindparam("parents", expanding=True))
        )
        if cursor:
            inner = inner.where(_keyset(sort, backward))
        numbered = inner.subquery()
        return (
            select(*(numbered.c[name] for name in self.columns))
            .where(numbered.c.rn <= bindparam("limit"))
            .order_by(numbered.c[self.parent], numbered.c.rn)
        )

    def parameters(self, workspace_id: str, args: PageArgs) -> dict[str, Any]:
        values: dict[str, Any] = {"workspace_id": workspace_id, "limit": args.size + 1}
        if args.cursor is not None:
            field = "before" if args.backward else "after"
            value, row_id = decode_cursor(
                args.cursor, is_datetime=self.sort.is_datetime, field=field
            )
            values["cursor_value"], values["cursor_id"] = value, row_id
        return values

    async def rows(
        self, connection: AsyncConnection, values: dict[str, Any], args: PageArgs,
        parents: list[str] | None,
    ) -> list[Any]:
        """The rows, each a tuple of `self.columns`: through the aiosqlite connection itself
        on SQLite (one hop to its thread instead of SQLAlchemy's four, raw values), else
        through SQLAlchemy."""
        stmt = self.get(args.cursor is not None, args.backward)
        dialect = connection.dialect
        if dialect.name != "sqlite" or dialect.driver != "aiosqlite":
            if parents is not None:
                values["parents"] = parents
            return list((await connection.execute(stmt, values)).all())
        sql, order, defaults, convert = self._compiled(
            stmt, dialect, args, len(parents) if parents is not None else 0
        )
        values.update(defaults)
        if "cursor_value" in values and convert is not None:
            values["cursor_value"] = convert(values["cursor_value"])
        if parents is not None:
            values.update(zip(PARENT_NAMES, parents, strict=False))
        parameters = [values[name] for name in order]
        driver: Any = (await connection.get_raw_connection()).driver_connection
        counter = current_counter.get()  # what X-Seliq-SQL-Statements reports
        if counter is not None:
            counter.count += 1
            counter.statements.append(sql)
        return list(await driver.execute_fetchall(sql, parameters))

    def _compiled(
        self, stmt: Select[Any], dialect: Any, args: PageArgs, parents: int
    ) -> tuple[str, list[str], dict[str, Any], Any]:
        key = (args.cursor is not None, args.backward, parents)
        found = self._raw.get(key)
        if found is None:
            dummy: dict[str, Any] = {"workspace_id": "", "limit": 0}
            if args.cursor is not None:
                dummy.update(cursor_value=None, cursor_id="")
            if self.parent is not None:
                dummy["parents"] = [""] * parents
            compiled = stmt.params(**dummy).compile(
                dialect=dialect, compile_kwargs={"render_postcompile": True}
            )
            order = list(compiled.positiontup or ())
            defaults = {
                name: compiled.binds[name].value for name in order
                if name in compiled.binds and name not in dummy
                and not name.startswith("parents_")
            }
            sort_type = self.sort.column.type
            convert = sort_type.dialect_impl(dialect).bind_processor(dialect)
            found = self._raw[key] = (str(compiled), order, defaults, convert)
        return found

    async def page(
        self, connection: AsyncConnection, workspace_id: str, args: PageArgs
    ) -> RowPage:
        rows = await self.rows(connection, self.parameters(workspace_id, args), args, None)
        return self.row_page(rows, args)

    async def pages(
        self, connection: AsyncConnection, workspace_id: str, parent_ids: list[str],
        args: PageArgs,
    ) -> dict[str, RowPage]:
        if not parent_ids:
            return {}
        if len(parent_ids) > len(PARENT_NAMES):
            raise Fallback("value", "more parents than a plan batches")
        rows = await self.rows(
            connection, self.parameters(workspace_id, args), args, parent_ids
        )
        grouped: dict[str, list[Any]] = {parent: [] for parent in parent_ids}
        at = self.columns.index(self.parent or "")
        for row in rows:
            grouped[row[at]].append(row)
        return {parent: self.row_page(found, args) for parent, found in grouped.items()}

    def row_page(self, rows: list[Any], args: PageArgs) -> RowPage:
        """gateway.domain.pagination.make_page, for rows read by position."""
        items = rows[: args.size]
        more = len(rows) > args.size
        sort_at, id_at = self.columns.index(self.sort.attribute), self.columns.index("id")
        if args.backward:
            items.reverse()
            return RowPage(items, args.cursor is not None, more, sort_at, id_at)
        return RowPage(items, more, args.cursor is not None, sort_at, id_at)


PARENT_NAMES = tuple(f"parents_{number}" for number in range(1, MAX_PARENTS + 1))
