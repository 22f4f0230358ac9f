"""`serve`: prepare the database, optionally seed the demo, and run the aiohttp server: one
process, or `--workers N` processes on one port (`gateway.service.processes`: SO_REUSEPORT,
clean shutdown on SIGTERM)."""

from __future__ import annotations

import asyncio
import json
import sys

from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from gateway.service import processes as workers
from gateway.service.prepare import ensure_schema, seed_demo


def serve(settings: Settings, *, demo_data: bool = False) -> int:
    refused = workers.check_workers(settings)
    if refused is not None:
        print(f"seliq-gateway: {refused}", file=sys.stderr, flush=True)
        return 2

    async def prepare() -> None:
        await ensure_schema(settings)
        if demo_data:
            db = Database(settings.database_url)
            try:
                info = await seed_demo(db, settings)
            finally:
                await db.dispose()
            print(json.dumps(info), flush=True)
            print(
                f"\nSeliq demo is ready. Open {info['graphiql']} and paste this header:\n"
                f'  {{"Authorization": "Bearer {info["key"]}"}}\n'
                f"or try:\n  curl -s {settings.base_url}/graphql -H 'Authorization: Bearer "
                f"{info['key']}' -H 'Content-Type: application/json' -d "
                "'{\"query\":\"{ incidents(first: 5) { totalCount edges { node { id title "
                "status } } } }\"}'\n",
                flush=True,
            )

    asyncio.run(prepare())
    if settings.workers > 1:
        print(
            f"Seliq gateway listening on {settings.base_url} ({settings.workers} workers)",
            file=sys.stderr, flush=True,
        )
        return workers.supervise(settings)
    print(f"Seliq gateway listening on {settings.base_url}", file=sys.stderr, flush=True)
    return workers.run(settings)
