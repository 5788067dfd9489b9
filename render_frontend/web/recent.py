"""A farm snapshot at most `ttl` seconds old, shared by the requests that ask meanwhile.

Reading 200 jobs of 50 chunks from the spool costs about 0.2 s of CPU; a dashboard refreshes on
every burst of events, and twenty of them would read the spool over and over.  So a result is
served again for up to `ttl` seconds (1 s: the daemons' own records are seconds behind anyway),
and requests that arrive while it is being read wait for that one read instead of starting
their own.  This service's own changes drop everything at once, so a change is seen at once.
`ttl` 0 reads the spool for every request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable
from typing import Any

from starlette.concurrency import run_in_threadpool


class Recent:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._pending: dict[Hashable, asyncio.Future[Any]] = {}
        self._generation = 0

    async def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if self.ttl <= 0:
            return await run_in_threadpool(compute)
        hit = self._entries.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # nobody waiting is fine
        self._pending[key] = future
        started, generation = time.monotonic(), self._generation
        try:
            value = await run_in_threadpool(compute)
        except BaseException as err:
            if isinstance(err, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(err)
            raise
        finally:
            self._pending.pop(key, None)
        if generation == self._generation:  # not read across one of our own changes
            self._entries[key] = (started, value)
        future.set_result(value)
        return value

    def clear(self) -> None:
        """After a change through this service: the next read goes to the spool."""
        self._entries.clear()
        self._pending.clear()
        self._generation += 1


def recent_of(app_state: Any) -> Recent:
    found = app_state.recent
    assert isinstance(found, Recent)
    return found
