"""Single risk decisions of concurrent requests, made together (see centime.api.screen).

Like the ledger's group commit: a decision asked while another is being made waits, and
whatever waited is then decided by one ``decide_many`` call in one worker thread. A thread
hop per request (anyio's ``to_thread``: a queue put, a wake-up, a GIL hand-over each way)
cost the event loop about a fifth of its time at 64 clients; grouped, it is one hop per
group.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Final

from anyio import to_thread

from centime.platform.context import Platform
from centime.platform.review import decide, decide_many
from centime.risk.types import Decision, RiskEvent

__all__ = ["SCREEN_GROUP_MAX", "ScreenQueue"]

# Single decisions made by one decide_many call at most: bounds how long the last of a
# group waits for the others (a decision's features cost tens of microseconds).
SCREEN_GROUP_MAX: Final = 256


class ScreenQueue:
    """Single decisions of one screen, grouped: a decision asked while none is being made
    starts a drain, which takes (at the loop's next turn) whatever was asked by then; those
    asked meanwhile wait for the next group. A group of one is decided by ``decide``, a
    larger one, in arrival order, by one ``decide_many``, in one worker thread. Each event
    is decided as the screen decides a batch: the same decision as alone, except that a
    failure inside the screen fails the whole group closed (BLOCK ``risk_engine_error``).

    Event-loop side only (no lock): one queue per running loop."""

    def __init__(self, platform: Platform, group_max: int = SCREEN_GROUP_MAX) -> None:
        self._platform = platform  # its screen, read per group (it may be replaced)
        self._group_max = group_max
        self._waiting: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, list[tuple[RiskEvent, asyncio.Future[Decision]]]
        ] = weakref.WeakKeyDictionary()
        self._tasks: set[asyncio.Task[None]] = set()  # running drains (kept referenced)

    async def decide(self, event: RiskEvent) -> Decision:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Decision] = loop.create_future()
        waiting = self._waiting.get(loop)
        if waiting is None:  # nothing being decided on this loop: this one starts a drain
            waiting = self._waiting[loop] = []
            task = loop.create_task(self._drain(loop, waiting))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        waiting.append((event, future))
        return await future

    async def _drain(
        self,
        loop: asyncio.AbstractEventLoop,
        waiting: list[tuple[RiskEvent, asyncio.Future[Decision]]],
    ) -> None:
        """Decide what waits, a group at a time, until nothing does."""
        group: list[tuple[RiskEvent, asyncio.Future[Decision]]] = []
        try:
            while waiting:
                group = waiting[: self._group_max]
                del waiting[: self._group_max]
                events = [event for event, _ in group]
                screen = self._platform.screen
                if len(events) == 1:
                    decisions = [await to_thread.run_sync(decide, screen, events[0])]
                else:
                    decisions = await to_thread.run_sync(decide_many, screen, events)
                for (_, future), decision in zip(group, decisions, strict=True):
                    if not future.done():  # a request that went away no longer waits
                        future.set_result(decision)
        except BaseException as error:  # the loop is stopping: fail whoever still waits
            for _, future in [*group, *waiting]:
                if future.done():
                    continue
                if isinstance(error, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(error)
            raise
        finally:
            del self._waiting[loop]
