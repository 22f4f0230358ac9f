"""T5, in-process: `schema.execute` of the dashboard query with every production extension
(schema/build.py) against the same schema built with none, in alternating rounds, timed in CPU
seconds of this process (so other load on the machine does not count).

Run by the benchmark as `python -m bench.inprocess --database URL ...` in its own process,
pinned to the server core; prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from typing import Any

import orjson

from bench.procs import pin_self
from bench.queries import DASHBOARD, DASHBOARD_NAME
from bench.seed import API_KEY
from gateway.service.processes import event_loop_factory


async def measure(database_url: str, rounds: int, seconds: float, first: int) -> dict[str, Any]:
    from gateway.domain.storage.engine import Database
    from gateway.domain.tenancy.auth import authenticate
    from schema.build import build_schema
    from schema.context import make_context

    db = Database(database_url)
    try:
        async with db.read() as session:
            principal = await authenticate(session, f"Bearer {API_KEY}", None)
        schemas = {
            "extensions": build_schema(),
            "none": build_schema(with_extensions=False),
        }
        variables = {"first": first}

        async def execute(name: str) -> Any:
            context = make_context(db, principal, "req_bench")
            result = await schemas[name].execute(
                DASHBOARD, variable_values=variables, context_value=context,
                operation_name=DASHBOARD_NAME,
            )
            if result.errors:
                raise RuntimeError(f"T5: the dashboard query failed: {result.errors[0]}")
            return result.data

        answers = {name: orjson.dumps(await execute(name)) for name in schemas}
        if answers["extensions"] != answers["none"]:
            raise RuntimeError("T5: the two schemas answer the dashboard query differently")
        for name in schemas:  # warm-up
            for _ in range(3):
                await execute(name)
        per_op: dict[str, list[float]] = {name: [] for name in schemas}
        for index in range(rounds):
            order = list(schemas) if index % 2 == 0 else list(reversed(schemas))
            for name in order:
                count = 0
                cpu = time.process_time()  # this process's CPU (all threads): other load on
                deadline = time.perf_counter() + seconds  # the machine does not count
                while time.perf_counter() < deadline or count < 3:
                    await execute(name)
                    count += 1
                per_op[name].append((time.process_time() - cpu) / count)
    finally:
        await db.dispose()
    with_ms = statistics.median(per_op["extensions"]) * 1000
    none_ms = statistics.median(per_op["none"]) * 1000
    paired = statistics.median(
        w / n for w, n in zip(per_op["extensions"], per_op["none"], strict=True)
    )
    return {
        "ratio": paired,
        "with_extensions_ms": with_ms,
        "no_extensions_ms": none_ms,
        "rounds_ms": {name: [v * 1000 for v in values] for name, values in per_op.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--first", type=int, default=50)
    parser.add_argument("--core", type=int, default=None)
    args = parser.parse_args(argv)
    pin_self(args.core)
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        result = runner.run(measure(args.database, args.rounds, args.seconds, args.first))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
