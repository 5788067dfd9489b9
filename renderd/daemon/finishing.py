"""How a finished run ends: a pure `classify()` of the run and its exit, then the spool moves.

`classify` decides (done / failed attempt / given back / lost / cancelled) from what the daemon
asked of the run (its stop reason) and how the program exited; it reads nothing, so its rules
have spec-like unit tests.  `FinishingMixin` then records the decision: the done record (on the
recorder's thread), a failed attempt, a chunk given back, the log footer.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeGuard

from renderd import claim, failreason
from renderd.daemon.hooks import HooksMixin
from renderd.daemon.state import Deferred, log
from renderd.format import stats
from renderd.format.info import ChunkInfo
from renderd.format.names import ClaimName
from renderd.kinds import kind_of
from renderd.runner import Run
from renderd.states import ChunkState


class Ending(StrEnum):
    DONE = "done"  # exit 0 and not stopped: the chunk's kind still judges its output
    FAILED = "failed"  # a failed attempt: attempts + 1, back to the queue or to failed/
    GIVEN_BACK = "given-back"  # stopped by us (shutdown, preempt): not an attempt
    LOST = "lost"  # another host took the claim over: nothing of ours to record
    CANCELLED = "cancelled"  # `render cancel`


@dataclass(frozen=True)
class Exit:
    """How the launcher said the program ended (its `exited` message)."""

    code: int | None = None
    signal: int | None = None
    error: str | None = None  # the program could not start
    died: str | None = None  # the launcher died without reporting the end (the daemon saw it go)
    log_error: str | None = None  # the launcher could not write the log (and stopped logging)

    @classmethod
    def from_message(cls, msg: Mapping[str, Any]) -> Exit:
        code, sig, error = msg.get("code"), msg.get("signal"), msg.get("error")
        died, log_error = msg.get("died"), msg.get("log_error")
        return cls(
            code if _is_int(code) else None,
            sig if _is_int(sig) else None,
            str(error) if error else None,
            str(died) if died else None,
            str(log_error) if log_error else None,
        )


@dataclass(frozen=True)
class Outcome:
    ending: Ending
    reason: str | None = None  # FAILED: why; GIVEN_BACK: the history event ("returned"/"preempted")


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def classify(stop_reason: str | None, seconds: float, exit: Exit) -> Outcome:
    """How a run ends, from why we stopped it (if we did) and how its program exited."""
    if stop_reason == "cancel":
        return Outcome(Ending.CANCELLED)
    if stop_reason == "lost":
        return Outcome(Ending.LOST)
    if stop_reason in ("shutdown", "preempt"):
        return Outcome(Ending.GIVEN_BACK, "returned" if stop_reason == "shutdown" else "preempted")
    if stop_reason == "timeout":
        return Outcome(Ending.FAILED, f"timed out after {seconds:g} s")
    if exit.died:
        return Outcome(Ending.FAILED, f"the launcher died: {exit.died}")
    if exit.error:
        return Outcome(Ending.FAILED, f"could not start: {exit.error}")
    if exit.signal is not None:
        return Outcome(Ending.FAILED, f"killed by signal {_signal_name(exit.signal)}")
    if exit.code != 0:
        return Outcome(Ending.FAILED, f"exit code {exit.code}")
    return Outcome(Ending.DONE)


MAX_RETRY_DELAY = 600.0


def retry_delay(attempts: int, poll: float) -> float:
    """How long a chunk that failed here waits before this daemon tries it again.

    Doubling from one poll up to ten minutes: a chunk that fails at once (a missing cwd, a
    .blend that is not a file) with a huge max_attempts would otherwise be claimed, failed and
    re-queued in a busy loop; other hosts may take it meanwhile."""
    return min(max(poll, 0.1) * 2.0 ** min(max(attempts - 1, 0), 16), MAX_RETRY_DELAY)


class FinishingMixin(HooksMixin):
    """Records how each run ended, as `classify()` decided, through the claim protocol (claim.py)."""

    def _fail_attempt(self, held: claim.Claim, info: ChunkInfo, reason: str) -> str | None:
        """Count a failed attempt (claim.finish_failed) and back off before trying it here again."""
        state = claim.finish_failed(self.spool, held, info, reason, self.cfg.name)
        if state is not None:  # a failed attempt of ours (not a claim lost meanwhile): the blocklist counts it
            self.picture.note_failure(info.job, info.chunk)
        if state == "failed":
            self._after_failed_for_good(info)
        if state == "queued":
            delay = retry_delay(info.attempts, self.cfg.poll)
            self.deferred[info.chunk] = Deferred(time.monotonic() + delay, f"failed here: retry in {delay:g} s")
        self.rescan = True
        return state

    def _finish(self, run: Run, msg: Mapping[str, Any]) -> None:
        info, name = run.info, self.cfg.name
        # A slot frees up: the next pick looks at the queue as it is now (folders whose mtime moved are
        # re-listed), not as the last poll saw it, so a job queued since (a small test render) is a
        # candidate at once, and the farm's claims are counted afresh (fair share, docs/scheduling.md).
        self.rescan = True
        self.picture.look_again()
        seconds = round(run.elapsed, 3)
        run_number = info.run_number  # before a failed attempt counts
        outputs = self._end_progress(run)
        exit = Exit.from_message(msg)
        if exit.log_error:
            log.warning("%s: the launcher %s (%s)", info.chunk, exit.log_error, run.log)
            self._footer(run, f"the launcher {exit.log_error}; the log is incomplete")
        outcome = classify(run.stop_reason, seconds, exit)
        if run.phase != "main" and self._hook_phase_ended(run, outcome):
            return
        if run.launch is not None:  # frames into place (kinds/blender_staging.py), before they are judged
            outputs["saved"] = run.launch.settle(outputs.pop("saved", []), outcome.ending is Ending.DONE)
            outputs = {k: v for k, v in outputs.items() if v}
        if outcome.ending is Ending.CANCELLED:
            self._finish_cancelled(run)
            return
        if outcome.ending is Ending.LOST:
            self._footer(run, "stopped: the claim was taken over by another host")
            self.emit("chunk-lost", chunk=info.chunk, job=info.job)
            return
        if outcome.ending is Ending.GIVEN_BACK:
            self._footer(run, f"stopped ({run.stop_reason}); chunk given back to the queue")
            claim.give_back(self.spool, run.claim, info, outcome.reason or "returned", name)
            self.emit("chunk-requeued", chunk=info.chunk, job=info.job, reason=run.stop_reason, state="queued")
            return
        reason = outcome.reason
        if outcome.ending is Ending.DONE:
            kind = kind_of(info)
            reason = kind.check_result(info, self.spool, run.log) if kind is not None else None
        if reason is None:
            if run.post_argv is not None:  # frames are in place and complete: post runs on the same claim
                run.kept, run.launch = (seconds, outputs), None
                self._start_phase(run, "post")
                return
            self._record_done(run, seconds, outputs)
            return
        if run.stop_reason is None and reason.startswith(("exit code", "killed by signal")):
            reason = failreason.explain(reason, run.log)  # `exit code 1: Error: ...` from the program's own log
        self._footer(run, f"FAILED: {reason}")
        state = self._fail_attempt(run.claim, info, reason)
        log.warning("failed %s: %s -> %s", info.chunk, reason, state or "claim lost")
        self.emit("chunk-failed", chunk=info.chunk, job=info.job, reason=reason, state=state, seconds=seconds,
                  log=str(run.log.relative_to(self.spool.root)), run=run_number, slots=self.cfg.slots,
                  suspended=round(min(run.suspended_seconds, seconds), 3))

    def _hook_phase_ended(self, run: Run, outcome: Outcome) -> bool:
        """A pre or post phase ended: go on, or fail the attempt (True), or leave a stop (cancel, lost
        claim, shutdown, preempt) to the program's own handling (False)."""
        if outcome.ending is Ending.DONE:
            if run.phase == "pre":
                self._start_phase(run, "main")
            else:
                assert run.kept is not None
                self._record_done(run, *run.kept)
            return True
        if outcome.ending is not Ending.FAILED:
            return False
        reason = f"{run.phase} hook failed: {outcome.reason or 'no reason given'}"
        if run.phase == "pre" and run.launch is not None:
            run.launch.settle([], False)  # the program never ran: its staging folder goes
        self._footer(run, f"FAILED: {reason}")
        state = self._fail_attempt(run.claim, run.info, reason)
        log.warning("failed %s: %s -> %s", run.info.chunk, reason, state or "claim lost")
        self.emit("chunk-failed", chunk=run.info.chunk, job=run.info.job, reason=reason, state=state,
                  seconds=round(run.elapsed, 3), log=str(run.log.relative_to(self.spool.root)))
        return True

    def _record_done(self, run: Run, seconds: float, outputs: dict[str, Any]) -> None:
        info = run.info
        self.exit_rule.ran(seconds)  # a pilot claims only what can end before its time limit
        self._footer(run, f"done in {seconds:g} s")
        record = {
            "chunk": info.chunk,
            "job": info.job,
            "host": self.cfg.name,
            "run": info.run_number,
            "start": info.start,
            "end": info.end,
            "step": info.step,
            "frames": len(info.frames),
            "started": round(run.started_wall, 3),
            "finished": round(time.time(), 3),
            "seconds": seconds,  # wall time, suspended time included ...
            "suspended": round(min(run.suspended_seconds, seconds), 3),  # ... and that part of it
            "log": str(run.log.relative_to(self.spool.root)),
            # the info file is deleted: keep why this chunk took more than one run
            "attempts": info.attempts,
            "requeues": info.requeues,
            "history": info.history,
            **outputs,  # saved files and per-frame times read from the output
        }
        # The record's fsync runs on the recorder's thread: the slot takes its next chunk meanwhile.
        self.recording.add(run.claim.name)
        line = stats.from_run(time=record["finished"], host=self.cfg.name, job=info.job, chunk=info.chunk, ok=True,
                              frames=len(info.frames), seconds=seconds, suspended=record["suspended"],
                              frame_times=outputs.get("frame_times"), slots=self.cfg.slots, run=info.run_number)
        self.recorder.record(
            lambda: claim.finish_done(self.spool, run.claim, info, record), (info, seconds, run.claim.name, line)
        )

    def _recorded(self, tag: tuple[ChunkInfo, float, ClaimName, stats.StatsLine], ok: bool,
                  error: Exception | None) -> None:
        """The recorder wrote a done record and dropped the claim (or could not)."""
        info, seconds, held, line = tag
        self.recording.discard(held)
        if error is not None:
            log.error("cannot record the end of %s: %s (its lease will expire)", info.chunk, error)
        elif ok:
            log.info("done %s in %.2fs", info.chunk, seconds)
            self.emit("chunk-finished", chunk=info.chunk, job=info.job, seconds=seconds, frames=len(info.frames),
                      suspended=line.suspended, frame_seconds=line.frame_seconds, fastest=line.fastest,
                      slowest=line.slowest, run=line.run, slots=line.slots)
            self._after_done(info)
        else:
            log.warning("%s finished but its claim was taken over meanwhile: result not recorded", info.chunk)

    def _footer(self, run: Run, text: str) -> None:
        try:  # never through a link or into a FIFO swapped in for the log during the run
            with os.fdopen(self.spool.io.open(run.log, os.O_WRONLY | os.O_APPEND), "ab") as fh:
                fh.write(f"\nrenderd: {text}\n".encode())
        except OSError as err:
            log.warning("cannot write to %s: %s", run.log, err)

    def _finish_cancelled(self, run: Run) -> None:
        """A run stopped by `render cancel`: recorded as cancelled, not as a failed attempt."""
        self._footer(run, "cancelled (render cancel)")
        if not claim.still_ours(run.claim):
            return
        # when it ran, for the job's elapsed time (render_frontend/farm.py): the record keeps the info only
        run.info.note("ran", self.cfg.name, started=round(run.started_wall, 3), seconds=round(run.elapsed, 3))
        self.spool.record_cancelled(run.claim.path, run.info, ChunkState.CLAIMED, self.cfg.name)
        self.spool.unlink(run.claim.heartbeat)
        self.emit("chunk-cancelled", chunk=run.info.chunk, job=run.info.job, seconds=round(run.elapsed, 3))

    def _on_progress(self, token: str, summary: dict[str, Any]) -> None:
        run = self.runs.get(token)
        if run is None:
            return
        self.progress_now[token] = summary
        self.emit("chunk-progress", chunk=run.info.chunk, job=run.info.job, **summary)

    def _end_progress(self, run: Run) -> dict[str, Any]:
        """What the output told about the finished run: saved files and per-frame times."""
        self.progress_now.pop(run.token, None)
        self.jobs.forget(run.token)
        parsed = self.progress.forget(run.token)
        if parsed is None or not (parsed.saved or parsed.frame_times):
            return {}
        return {"saved": parsed.saved[-1000:], "frame_times": parsed.frame_times[-1000:]}
