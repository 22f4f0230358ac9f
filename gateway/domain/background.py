"""Background work inside the gateway process: a loop that runs one step every interval (the SLA
sweeper, the report worker) and stopping tasks. The service starts and stops these loops with
the app (`gateway.service.lifecycle`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any


async def cancel_and_wait(*tasks: asyncio.Task[Any], ignore_errors: bool = False) -> None:
    """Cancel `tasks`, then wait until each has finished. Their cancellation is not an error,
    and with `ignore_errors` neither is any exception they ended with. A cancellation of the
    caller itself while it waits is never swallowed (it propagates): swallowing it left a
    stopped loop running, since the caller's own stop request was the one lost."""
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    await asyncio.wait(tasks)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None and not ignore_errors:
            raise task.exception()  # type: ignore[misc]


class Periodic:
    """Runs `step()` every `interval` seconds until stopped, the first time one interval after
    `start` (out of start-up's way); an interval of 0 means never. A step that raises is logged
    (`failure` on `log`) and the loop goes on: it is tried again at the next interval. `runs`
    counts the steps taken, failed ones included."""

    def __init__(
        self, name: str, interval: float, step: Callable[[], Awaitable[object]], *,
        log: logging.Logger, failure: str,
    ) -> None:
        self.name = name
        self.interval = interval
        self._step = step
        self._log = log
        self._failure = failure
        self.runs = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        if self._task is None and self.interval > 0:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping = True
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        # The loop also ends on the flag, not on the cancellation alone: a step can lose the
        # CancelledError (a driver that raises its own error while cleaning up after it, which
        # the `except` below then logs), and a loop that went on after that kept stop() waiting
        # for ever.
        while not self._stopping:
            await asyncio.sleep(self.interval)
            try:
                await self._step()
            except Exception:
                if self._stopping:
                    return
                self._log.exception(self._failure)
            self.runs += 1
