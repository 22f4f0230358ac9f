"""`serve`: prepare the database, optionally seed the demo, and run the aiohttp server."""

from __future__ import annotations

import asyncio
import json
import sys

from aiohttp import web

from gateway.app import create_app
from gateway.db import Database
from gateway.settings import Settings


def serve(settings: Settings, *, demo_data: bool = False) -> int:
    from gateway.cli import ensure_schema, seed_demo

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
    app = create_app(settings)
    print(f"Seliq gateway listening on {settings.base_url}", file=sys.stderr, flush=True)
    web.run_app(app, host=settings.host, port=settings.port, print=None)
    return 0
