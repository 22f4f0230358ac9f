"""Rows read and changed without the ORM's machinery, for the write path's hot statements.

A group of ingest requests reads the rows it needs up front (the locked workspace, the firing
alerts its fingerprints match, the open incidents its group keys match) and changes a few
columns of some of them. Through the ORM each of those reads built a query context, a result and
identity-mapped objects, and each change went through the unit of work's history and flush
(together about a fifth of a webhook alert's CPU). Here:

- `load` runs a SELECT compiled once per dialect (`Select`) on the session's connection and
  makes the model objects the way SQLAlchemy makes loaded rows (`new_row`): values
  converted by the same result processors SQLAlchemy's own execution applies. They are not in
  the session's identity map: the caller keeps them (the group's cache, `ingest.prefetch`).
- `watch` notes such rows' values; at the session's next flush (`bulk.WriteSession.flush`)
  `write_changes` compares each watched row with what it noted and sends one executemany
  `UPDATE ... WHERE <primary key>` per table and set of changed columns, then notes the new
  values (a later flush writes only what changed after it). Only changed columns are written,
  as the unit of work would.

A watched row must not be `session.add`ed (the session would take it for a new row and insert
it): callers check `is_watched` first, as they check `bulk.is_pending` for new rows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Dialect, Select, Table, bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, configure_mappers
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import SQLModel

WATCH_KEY = "seliq_direct_watched"

Processor = Callable[[Any], Any] | None

M = TypeVar("M", bound=SQLModel)
_MISSING = object()


def new_row(model: type[M], **values: Any) -> M:
    """A new `model` object, made the way SQLAlchemy makes the rows it loads: its values go
    straight into the instance, without the per-attribute events and pydantic checks of
    `model(...)` (about a fifth of the time an alert took). Fields not given take their defaults;
    names that are not fields are ignored. For rows passed to `add`, whose values are inserted
    as they are at the flush."""
    shape = _shape(model)
    if not shape.required <= values.keys():
        missing = next(name for name in shape.order if name in shape.required - values.keys())
        raise TypeError(f"{model.__name__}: {missing} is required")
    fields = {**shape.defaults, **values}
    for name, factory in shape.factories:
        if name not in values:
            fields[name] = factory()
    if len(fields) != len(shape.order):  # names that are not fields were given
        for name in values.keys() - shape.order:
            del fields[name]
    return _instance(model, fields, set(values))


def _instance(model: type[M], fields: dict[str, Any], fields_set: set[str]) -> M:
    """A `model` object holding `fields`, made as SQLAlchemy makes loaded rows."""
    row: M = model._sa_class_manager.new_instance()  # type: ignore[attr-defined]
    row.__dict__.update(fields)
    object.__setattr__(row, "__pydantic_fields_set__", fields_set)
    return row


def copy_row(row: M) -> M:
    """A detached copy of `row` with its values as they are now, made as `new_row` makes rows.
    For an answer read after its transaction committed, when later work in that transaction
    (another request of the same group) changes `row` itself."""
    values = row.__dict__.copy()
    del values["_sa_instance_state"]
    order = _shape(type(row)).order
    if len(values) < len(order):  # an expired attribute: the copy would read None for it
        missing = sorted(set(order) - values.keys())
        raise ValueError(f"{type(row).__name__}: cannot copy without {missing}")
    return _instance(type(row), values, set(row.__pydantic_fields_set__))


@dataclass(frozen=True)
class _Shape:
    """A model's fields as `new_row` fills them."""

    order: tuple[str, ...]
    defaults: dict[str, Any]  # plain default values
    factories: tuple[tuple[str, Callable[[], Any]], ...]  # default factories
    required: frozenset[str]


_SHAPES: dict[type[SQLModel], _Shape] = {}


def _shape(model: type[SQLModel]) -> _Shape:
    found = _SHAPES.get(model)
    if found is None:
        # The ORM sets its attributes up on first use (a query, a constructor); rows made here
        # may be a process's first use of the model, before any of those.
        configure_mappers()
        defaults: dict[str, Any] = {}
        factories: list[tuple[str, Callable[[], Any]]] = []
        required: set[str] = set()
        for name, field in model.model_fields.items():
            if field.default_factory is not None:
                factories.append((name, field.default_factory))  # type: ignore[arg-type]
            elif field.is_required():
                required.add(name)
            elif callable(field.default):
                factories.append((name, field.default))
            else:
                defaults[name] = field.default
        found = _SHAPES[model] = _Shape(
            tuple(model.model_fields), defaults, tuple(factories), frozenset(required)
        )
    return found


@dataclass(frozen=True)
class _Compiled:
    """A statement's SQL for one dialect, its parameters in order with their bind processors
    (what SQLAlchemy's own execution would turn each value into: datetimes and JSON as text on
    SQLite, for instance), and a SELECT's result columns with their result processors. Values go
    to the driver as tuples, without SQLAlchemy's per-row parameter handling (half the cost of a
    group's INSERTs)."""

    sql: str
    # (name, bind processor, the statement's own value for it: a literal, or _MISSING)
    parameters: tuple[tuple[str, Processor, Any], ...]
    columns: tuple[tuple[str, Processor], ...]

    def arguments(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        found = []
        for name, process, own in self.parameters:
            value = values[name] if own is _MISSING else own
            found.append(value if process is None else process(value))
        return tuple(found)


def compiled_cache(dialect: Dialect) -> dict[Any, Any]:
    """Statements compiled for `dialect`, kept on it: they live and go with its engine (a
    process has one; a test run makes thousands, which a module-level cache kept alive)."""
    cache: dict[Any, Any] = dialect.__dict__.setdefault("seliq_compiled", {})
    return cache


def _compiled(statement: Select[Any], dialect: Dialect) -> _Compiled:
    cache = compiled_cache(dialect)
    key = ("select", id(statement))
    found = cache.get(key)
    if found is None or found[0] is not statement:
        # Literal IN lists (`status IN ('triggered', ...)`) rendered as one parameter each; the
        # statement's literals are processed here, once.
        plain = statement.compile(dialect=dialect)
        required = {bind.key: None for bind in plain.binds.values() if bind.required}
        expanded = plain.construct_expanded_state(required)
        parameters = []
        for name in expanded.positiontup or ():
            bind = plain.binds.get(name)
            if bind is None:  # one value of an expanded literal list: `status_1_2`
                bind = plain.binds[name.rsplit("_", 1)[0]]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if name in required:
                parameters.append((name, process, _MISSING))
            else:
                own = expanded.parameters[name]
                parameters.append((name, None, own if process is None else process(own)))
        columns = tuple(
            (str(column.key), column.type.dialect_impl(dialect).result_processor(dialect, None))
            for column in statement.selected_columns
        )
        found = cache[key] = (
            statement, _Compiled(expanded.statement, tuple(parameters), columns)
        )
    return found[1]


async def load(
    session: AsyncSession, model: type[M], statement: Select[Any], values: Mapping[str, Any]
) -> list[M]:
    """The rows `statement` (built once, selecting `model`'s table's columns) finds with
    `values` for its bound parameters, as `model` objects kept out of the session."""
    connection = await session.connection()
    compiled = _compiled(statement, connection.dialect)
    result = await connection.exec_driver_sql(compiled.sql, compiled.arguments(values))
    columns = compiled.columns
    rows = []
    for raw in result.all():
        fields = {
            name: value if process is None or value is None else process(value)
            for (name, process), value in zip(columns, raw, strict=True)
        }
        rows.append(new_row(model, **fields))
    return rows


def columns_of(model: type[SQLModel]) -> Sequence[Any]:
    """`model`'s table's columns, for `select(*columns_of(model))`."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return list(table.columns)


# ---- changes to watched rows ---------------------------------------------------------------


def _watched(session: Any) -> dict[int, tuple[SQLModel, tuple[Any, ...]]]:
    sync = getattr(session, "sync_session", session)
    watched: dict[int, tuple[SQLModel, tuple[Any, ...]]] = sync.info.setdefault(WATCH_KEY, {})
    return watched


@functools.cache
def _names(table: Table) -> tuple[str, ...]:
    return tuple(column.key for column in table.columns)


def _snapshot(row: SQLModel, names: tuple[str, ...]) -> tuple[Any, ...]:
    found = row.__dict__
    return tuple(found[name] for name in names)


def watch(session: AsyncSession, rows: Iterable[SQLModel]) -> None:
    """Write what changes in `rows` (made by `load`) at the session's next flush."""
    watched = _watched(session)
    for row in rows:
        watched[id(row)] = (row, _snapshot(row, _names(type(row).__table__)))  # type: ignore[attr-defined]


def unwatch(session: AsyncSession, rows: Iterable[SQLModel]) -> None:
    """Stop watching `rows` (after a flush wrote their changes)."""
    watched = _watched(session)
    for row in rows:
        watched.pop(id(row), None)


def is_watched(session: Any, row: SQLModel) -> bool:
    sync = getattr(session, "sync_session", session)
    watched: dict[int, Any] = sync.info.get(WATCH_KEY) or {}
    return id(row) in watched


def write_changes(session: Session) -> None:
    """At a flush: one executemany UPDATE per table and set of changed columns."""
    watched: dict[int, tuple[SQLModel, tuple[Any, ...]]] | None = session.info.get(WATCH_KEY)
    if not watched:
        return
    changes: dict[tuple[Table, tuple[str, ...]], list[SQLModel]] = {}
    for key, (row, noted) in watched.items():
        table: Table = type(row).__table__  # type: ignore[attr-defined]
        names = _names(table)
        now = _snapshot(row, names)
        changed = tuple(
            name for name, before, after in zip(names, noted, now, strict=True)
            if before is not after and before != after
        )
        if changed:
            changes.setdefault((table, changed), []).append(row)
            watched[key] = (row, now)
    if not changes:
        return
    connection = session.connection()
    for (table, changed), rows in changes.items():
        statement = _update_of(table, changed, connection.dialect)
        result = connection.exec_driver_sql(
            statement.sql, [statement.arguments(r.__dict__) for r in rows]
        )
        # As the ORM's unit of work: a row gone from under us fails the flush rather than a
        # change being reported and not stored (-1: the driver does not count an executemany).
        if result.rowcount not in (-1, len(rows)):
            raise StaleDataError(
                f"UPDATE of {table.name} matched {result.rowcount} of {len(rows)} rows"
            )


def insert_of(table: Table, dialect: Dialect) -> _Compiled:
    """`INSERT INTO table` with every column, its parameters named after the columns; for
    `arguments(row.__dict__)` of a row made by `new_row` (every field set)."""
    cache = compiled_cache(dialect)
    found: _Compiled | None = cache.get(("insert", table))
    if found is None:
        compiled = insert(table).compile(
            dialect=dialect, column_keys=[column.key for column in table.columns]
        )
        assert sorted(compiled.positiontup or ()) == sorted(_names(table)), table.name
        names = {column.key: column.key for column in table.columns}
        found = cache[("insert", table)] = _row_statement(compiled, table, dialect, names)
    return found


def _update_of(table: Table, changed: tuple[str, ...], dialect: Dialect) -> _Compiled:
    """`UPDATE table SET <changed> WHERE <primary key>`, its parameters named after the row's
    attributes (the primary key's with a prefix, as SET's names are the columns')."""
    cache = compiled_cache(dialect)
    key = ("update", table, changed)
    found: _Compiled | None = cache.get(key)
    if found is None:
        attributes = {f"set_{name}": name for name in changed}
        statement = update(table).values({name: bindparam(f"set_{name}") for name in changed})
        for column in table.primary_key.columns:
            attributes[f"pk_{column.key}"] = column.key
            statement = statement.where(column == bindparam(f"pk_{column.key}"))
        compiled = statement.compile(dialect=dialect)
        found = cache[key] = _row_statement(compiled, table, dialect, attributes)
    return found


def _row_statement(
    compiled: Any, table: Table, dialect: Dialect, attributes: Mapping[str, str]
) -> _Compiled:
    """`compiled` (an `SQLCompiler`): an INSERT or UPDATE of `table` whose parameters each carry
    one column's value; `attributes` names the row attribute of each parameter. With the bind
    processor of each."""
    names = compiled.positiontup
    assert names is not None, "a positional paramstyle (SQLite, asyncpg)"
    parameters = []
    for name in names:
        attribute = attributes[name]
        process = table.columns[attribute].type.dialect_impl(dialect).bind_processor(dialect)
        parameters.append((attribute, process, _MISSING))
    return _Compiled(compiled.string, tuple(parameters), ())
