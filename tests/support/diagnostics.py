"""What every asyncio task is awaiting, printed when a test waits too long: the test server runs
in the test's own event loop, so a wait that times out is explained by the server's tasks."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO


def print_task_stacks(headline: str, file: TextIO | None = None) -> None:
    """Each unfinished task's stack. Safe from another thread: asyncio keeps every live task,
    of any loop, in a WeakSet (there is no public way to read it from outside the loop), and a
    hung loop is not changing it."""
    out = file or sys.stderr
    tasks = [task for task in list(asyncio.tasks._all_tasks)  # type: ignore[attr-defined]
             if not task.done()]
    print(f"\n{headline}: {len(tasks)} asyncio task(s) pending", file=out)
    for task in tasks:
        task.print_stack(file=out)
