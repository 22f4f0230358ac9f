"""Background loops stop when asked, whatever their step does with the cancellation: a report
worker that kept polling after the app's shutdown asked it to stop held the shutdown (and a CI
run) for ever."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from gateway.domain.background import Periodic, cancel_and_wait

log = logging.getLogger("tests.background")


def _raise_a_driver_error() -> None:
    """As a driver does that raises its own error while cleaning up after a cancelled query."""
    raise RuntimeError("connection was closed in the middle of operation")


def _swallow() -> None:
    """The cancellation is lost: the loop must not take another turn."""


@pytest.mark.parametrize(
    "on_cancel", [_raise_a_driver_error, _swallow], ids=["turned into an error", "swallowed"]
)
async def test_a_step_that_loses_its_cancellation_still_stops_the_loop(
    on_cancel: Callable[[], None],
) -> None:
    steps = 0
    running = asyncio.Event()

    async def step() -> None:
        nonlocal steps
        steps += 1
        running.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            on_cancel()

    loop = Periodic("test-loop", 0.001, step, log=log, failure="step failed")
    loop.start()
    await running.wait()
    async with asyncio.timeout(2):
        await loop.stop()
    await asyncio.sleep(0.01)
    assert steps == 1


async def test_cancel_and_wait_never_swallows_the_callers_own_cancellation() -> None:
    released = asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            await released.wait()  # takes its time to clean up

    inner = asyncio.create_task(slow_to_stop())
    await asyncio.sleep(0)
    outer = asyncio.create_task(cancel_and_wait(inner))
    await asyncio.sleep(0.01)
    outer.cancel()  # the caller is cancelled while it waits
    with pytest.raises(asyncio.CancelledError):
        await outer
    released.set()
    await asyncio.wait([inner])
    assert inner.cancelled()


async def test_cancel_and_wait_reports_a_task_that_failed_unless_told_to_ignore_it() -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise ValueError("while stopping") from None

    for ignore in (False, True):
        task = asyncio.create_task(fails_on_cancel())
        await asyncio.sleep(0)
        if ignore:
            await cancel_and_wait(task, ignore_errors=True)
        else:
            with pytest.raises(ValueError, match="while stopping"):
                await cancel_and_wait(task)
