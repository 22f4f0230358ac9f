"""What runs before the gateway serves or a management command touches the database: the schema
check (SQLite files are upgraded in place, PostgreSQL must be upgraded explicitly) and the demo
seed. Shared by `cli` and `server`, so neither imports the other's internals."""

from __future__ import annotations

from typing import Any

from gateway.domain import demo
from gateway.domain.settings import Settings
from gateway.domain.storage import migrate
from gateway.domain.storage.engine import Database
from gateway.domain.tenancy.auth import create_key


class CommandError(Exception):
    """A failure to report as one line / one JSON object, not a traceback."""


async def ensure_schema(settings: Settings) -> None:
    """SQLite files are upgraded in place; a PostgreSQL database must be upgraded explicitly
    (`db upgrade`), because several replicas migrating at once is an operator's decision."""
    if settings.is_sqlite:
        await migrate.upgrade(settings.database_url)
        return
    current = await migrate.current_revision(settings.database_url)
    if current != migrate.head_revision():
        raise CommandError(
            f"database schema is at {current or 'nothing'}, the gateway needs "
            f"{migrate.head_revision()}: run `seliq-gateway db upgrade`"
        )


async def seed_demo(db: Database, settings: Settings) -> dict[str, Any]:
    """Seed the demo (once) and mint fresh keys: secrets cannot be read back, so each run
    prints new ones."""
    async with db.write() as session:
        created = await demo.seed(session)
        customer = created["acme-corp"]
        _, customer_key = await create_key(session, customer, "demo (acme-corp)", "write")
        _, mssp_key = await create_key(session, created[demo.MSSP_SLUG], "demo (MSSP)", "write")
    return {
        "key": customer_key,
        "workspace": customer.slug,
        "mssp_key": mssp_key,
        "mssp_workspace": demo.MSSP_SLUG,
        "graphiql": f"{settings.base_url}/graphql",
    }
