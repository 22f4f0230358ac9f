"""A request's deadline, as the write path sees it: a write either commits and is answered, or is
answered with an error and wrote nothing.

The HTTP middleware starts one `Deadline` per request (`SELIQ_REQUEST_TIMEOUT_SECONDS`) and makes
it current for the request's task. When it passes, the task is cancelled (as `asyncio.timeout`
would) and the request is answered 504: whatever it had not committed rolls back. Except once the
request has started to commit a write (`shield`): from then on the deadline no longer cancels it,
because cancelling a COMMIT in flight cannot undo it (SQLite finishes it in the driver's thread;
PostgreSQL may have committed already), and a 504 for a write that is on disk makes a sender that
retries without an `Idempotency-Key` count its alert twice. So:

- `Database.write()` flushes its work while the deadline can still cancel it, then shields the
  request and commits;
- `GroupCommit` shields a request when its group takes the request's unit; a unit still queued
  when the deadline passes is withdrawn (it never runs) and its caller gets `Unavailable` (503
  with `Retry-After`) instead of the cancellation;
- a shielded request is never cancelled by its deadline: it gets its real answer, however late.

Background work has no deadline (`current()` is None), and then none of this applies.
"""

from __future__ import annotations

import asyncio
import contextvars


class Deadline:
    """Cancels `task` `seconds` from now unless it was shielded by then."""

    def __init__(self, seconds: float, task: asyncio.Task[object] | None = None) -> None:
        loop = asyncio.get_running_loop()
        found = task or asyncio.current_task()
        if found is None:
            raise RuntimeError("a deadline belongs to a task")
        self.task = found
        self.seconds = seconds
        self.when = loop.time() + seconds
        self.shielded = False  # the request started committing: the deadline no longer applies
        self.passed = False  # the time is up (whether or not that cancelled anything)
        self.cancelled = False  # the deadline cancelled the task
        self._absorbed = False  # ... and that cancellation was turned into an answer
        self._timer = loop.call_at(self.when, self.expire)

    def expire(self) -> None:
        """The time is up (the timer calls this; a test may call it to move the clock)."""
        self._timer.cancel()
        if self.passed:
            return
        self.passed = True
        if not self.shielded and not self.task.done():
            self.cancelled = True
            self.task.cancel()

    def shield(self) -> bool:
        """The request starts committing a write: from now on the deadline does not cancel it.
        False when it already did (the write must not start)."""
        if self.cancelled:
            return False
        self.shielded = True
        return True

    def absorb(self) -> None:
        """The deadline's cancellation was caught and answered otherwise (a queued write withdrawn
        and answered 503): take it back from the task, so nothing else treats it as cancelled."""
        if self.cancelled and not self._absorbed:
            self._absorbed = True
            self.task.uncancel()

    @property
    def cancellation_pending(self) -> bool:
        """The deadline cancelled the task and nobody answered that yet."""
        return self.cancelled and not self._absorbed

    def stop(self) -> None:
        """The request is over: the timer goes, and a cancellation nobody claimed is taken back."""
        self._timer.cancel()
        self.absorb()


_current: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "seliq_deadline", default=None
)


def current() -> Deadline | None:
    return _current.get()


def activate(deadline: Deadline | None) -> contextvars.Token[Deadline | None]:
    return _current.set(deadline)


def deactivate(token: contextvars.Token[Deadline | None]) -> None:
    _current.reset(token)


def shield_current() -> None:
    """Called right before a COMMIT: the current request (if any) may no longer be cancelled by
    its deadline. Raises CancelledError if the deadline already cancelled it (never expected:
    its cancellation is delivered at the await that was in progress when it passed)."""
    deadline = _current.get()
    if deadline is not None and not deadline.shield():
        raise asyncio.CancelledError("the request's deadline passed before its commit")
