"""Writing done records off the daemon's main thread.

A done record is written to tmp/, fsynced and renamed into place before the claim is
dropped (claim.finish_done).  The fsync costs milliseconds on a local disk; on the main
thread it held up every other slot and every heartbeat.  The recorder runs those writes
in order on one thread of its own and posts each outcome back to the main thread, which
logs and emits it.  The claim stays in claimed/ until its record is durable, so a crash
in between leaves a claim whose lease expires (the chunk runs again), never a lost chunk.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

_STOP = object()


class Recorder:
    """Runs `write` callables one after another; `post(tag, ok, error)` reports each."""

    def __init__(self, post: Callable[[Any, bool, Exception | None], None]) -> None:
        self._post = post
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="renderd-recorder", daemon=True)
        self._thread.start()

    def record(self, write: Callable[[], bool], tag: Any) -> None:
        self._jobs.put((write, tag))

    def close(self, timeout: float = 60.0) -> None:
        """Finish every queued write, then stop."""
        self._jobs.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("done records still being written after %gs: their leases will expire", timeout)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            write, tag = job
            try:
                ok = write()
            except OSError as err:
                self._post(tag, False, err)
            except Exception as err:  # a bug: show where, and keep writing the other records
                log.exception("writing a done record failed")
                self._post(tag, False, err)
            else:
                self._post(tag, ok, None)
