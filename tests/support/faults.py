"""Database faults the tests cannot get from a healthy server, made at the driver's edge."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.domain.storage.engine import Database


def lose_the_connection_after_commit(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next COMMIT is carried out, then its connection fails before the answer arrives (as
    when a network drops between PostgreSQL committing and asyncpg hearing of it)."""
    dialect = db.engine.sync_engine.dialect
    real = dialect.do_commit
    failures = [1]

    def do_commit(dbapi_connection: Any) -> None:
        real(dbapi_connection)
        if failures[0]:
            failures[0] -= 1
            raise dialect.loaded_dbapi.OperationalError("connection lost after COMMIT")

    monkeypatch.setattr(dialect, "do_commit", do_commit)
