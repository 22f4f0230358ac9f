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

    async def prepare() -> str | None:
        await ensure_schema(settings)
        if not demo_data:
            return None
        db = Database(settings.database_url)
        try:
            info = await seed_demo(db, settings)
        finally:
            await db.dispose()
        print(json.dumps(info), flush=True)
        graphiql = (
            f"Open {info['graphiql']}: GraphiQL has this key in its headers already.\n"
            if settings.graphiql and settings.workers == 1 else
            f"Open {info['graphiql']} and paste this header:\n"
            f'  {{"Authorization": "Bearer {info["key"]}"}}\n'
        )
        print(
            f"\nSeliq demo is ready. {graphiql}"
            f"or try:\n  curl -s {settings.base_url}/graphql -H 'Authorization: Bearer "
            f"{info['key']}' -H 'Content-Type: application/json' -d "
            "'{\"query\":\"{ incidents(first: 5) { totalCount edges { node { id title "
            "status } } } }\"}'\n",
            flush=True,
        )
        return str(info["key"])

    demo_key = asyncio.run(prepare())
    if settings.workers > 1:
        # Each worker builds its own app from `settings` alone: their GraphiQL pages keep the
        # placeholder (the key is printed above).
        print(
            f"Seliq gateway listening on {settings.base_url} ({settings.workers} workers)",
            file=sys.stderr, flush=True,
        )
        return workers.supervise(settings)
    print(f"Seliq gateway listening on {settings.base_url}", file=sys.stderr, flush=True)
    if demo_key is None:
        return workers.run(settings)
    return _run_demo(settings, demo_key)


def _run_demo(settings: Settings, demo_key: str) -> int:
    """`workers.run` with the demo key handed to the app, whose GraphiQL page opens with it."""
    from gateway.service.app import create_app

    async def main() -> None:
        await workers.serve_app(
            create_app(settings, demo_key=demo_key), settings, own_process=True
        )

    with asyncio.Runner(loop_factory=workers.event_loop_factory()) as runner:
        runner.run(main())
    return 0
