"""`render wait JOB`: block until nothing of the job is queued or running.

Exit 0 if every chunk succeeded, 1 if any failed, was quarantined or cancelled, 2 for an
unknown job (as in every command), 3 on timeout (render_frontend/exitcodes.py).  On a terminal
one line shows the progress live (frames, chunks, ETA); piped, only the final line is written.
--json prints the final state and each chunk's result on stdout; --notify shows a desktop
notification when it ends (render_frontend/notify.py)."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from render_frontend import completion, schedview, terminal
from render_frontend.context import Context, pass_ctx
from render_frontend.exitcodes import FAILED, OK, TIMEOUT, UnknownJob
from render_frontend.farm import JobView, snapshot, who_can_run
from render_frontend.progressbar import Line
from render_frontend.reasons import failed_reasons
from renderd.duration import NON_NEGATIVE
from renderd.schedule import DepState
from renderd.spool import Spool

POLL = 0.5


@click.command("wait", epilog="Exit codes: 0 every chunk done; 1 the job ended, not every chunk done (failed, "
               "quarantined or cancelled); 2 no such job; 3 --timeout ran out.")
@click.argument("job", shell_complete=completion.jobs)
@click.option("--timeout", type=NON_NEGATIVE, help="Give up after this long, e.g. 30m (exit 3).")
@click.option("--json", "as_json", is_flag=True, help="Print the final state and every chunk's result as JSON.")
@click.option("--notify", is_flag=True, help="Show a desktop notification when the job ends (else ring the "
              "terminal bell).")
@pass_ctx
def command(ctx: Context, job: str, timeout: float | None, as_json: bool, notify: bool) -> None:
    """Wait for JOB to finish; the exit code says how it went."""
    spool = ctx.spool()
    deadline = None if timeout is None else time.monotonic() + timeout
    line = Line()
    warned = looked_again = False
    told: str | None = None
    while True:
        farm = snapshot(spool, job)
        view = farm.jobs.get(job)
        if job in farm.unreadable:  # e.g. a manifest that lists no chunks: nothing to judge success by
            line.clear()
            raise UnknownJob(f"job {job!r} is unreadable: {farm.unreadable[job]}")
        if view is None:
            line.clear()
            raise UnknownJob(f"no job {job!r} in {spool.root}")
        if not view.active:
            missing = view.total - len(view.done)
            if 0 < missing and missing > len(view.failed) + len(view.bad) + len(view.cancelled) and not looked_again:
                # A chunk in no state was moving while the folders were read (done/ read just before
                # it arrived there, claimed/ just after it left): look again before judging.
                looked_again = True
                time.sleep(POLL)
                continue
            line.clear()
            _finish(spool, view, "done" if missing == 0 else "failed", as_json, notify=notify)
        why = schedview.explain(spool, farm, view) if not view.manifest.rules.is_default or view.queued else None
        if why is not None and why.deps is DepState.BROKEN and not view.running:
            line.clear()  # a job it waits for failed, was cancelled or removed: it never starts
            _finish(spool, view, "failed", as_json, why.note, notify=notify)
        if why is not None and why.waits and why.waits != told:
            line.clear()
            terminal.echo(f"{job}: {why.waits}; still waiting", err=True)  # once per reason
            told = why.waits
        if view.queued and not view.running and not warned and not who_can_run(farm, view):
            line.clear()
            terminal.echo(
                f"{job}: no live daemon may run its {view.manifest.kind} chunks "
                "(command chunks need a renderd started with --allow-commands); still waiting",
                err=True,
            )
            warned = True
        if deadline is not None and time.monotonic() >= deadline:
            line.clear()
            _finish(spool, view, "timeout", as_json, notify=notify)
        line.show(progress(view))
        time.sleep(POLL)


def progress(view: JobView) -> str:
    """`shot-1a2b: frames 12/40, chunks 3/8 done, 2 running, ETA 1m30s`"""
    t = view.timing()
    eta = t["eta"]
    eta_text = f", ETA {int(eta) // 60}m{int(eta) % 60:02d}s" if isinstance(eta, (int, float)) else ""
    return (f"{view.job}: frames {view.frames_done()}/{view.manifest.frames}, "
            f"chunks {len(view.done)}/{view.total} done, {len(view.running)} running{eta_text}")


def _finish(spool: Spool, view: JobView, outcome: str, as_json: bool, reason: str = "", notify: bool = False) -> None:
    code = {"done": OK, "failed": FAILED, "timeout": TIMEOUT}[outcome]
    if as_json:
        terminal.echo(json.dumps(result_json(spool, view, outcome, code) | ({"reason": reason} if reason else {})))
    if reason:
        detail = terminal.visible(reason)
    elif outcome == "done":
        detail = f"all {view.total} chunk(s) done"
    elif outcome == "timeout":
        detail = f"timed out with {len(view.queued)} queued, {len(view.running)} running"
    else:
        detail = (f"{len(view.failed)} failed, {len(view.bad)} quarantined, {len(view.cancelled)} cancelled, "
                  f"{len(view.done)}/{view.total} done")
    terminal.echo(f"{view.job}: {detail}", err=True)
    if notify:
        from render_frontend import notify as desktop  # jeepney only when asked for

        desktop.notify(view.job, view.manifest.name, outcome, detail)
    raise SystemExit(code)


def result_json(spool: Spool, view: JobView, outcome: str, code: int) -> dict[str, Any]:
    """The final state and each chunk's result (docs/json.md, `render wait --json`)."""
    reasons = failed_reasons(spool, view.failed)
    chunks: list[dict[str, Any]] = []
    for chunk, frames in view.chunk_frames().items():
        entry: dict[str, Any] = {"chunk": chunk, "frames": [frames[0], frames[-1]] if frames else []}
        if chunk in view.done:
            rec = view.done[chunk]
            entry.update(state="done", host=rec.host or None, seconds=rec.seconds)
        elif chunk in view.failed:
            entry.update(state="failed", reason=reasons.get(chunk) or None)
        elif chunk in view.cancelled:
            entry.update(state="cancelled")
        elif chunk in view.running:
            entry.update(state="running", host=view.running[chunk])
        elif chunk in view.queued:
            entry.update(state="queued")
        elif any(name.startswith(chunk + ".") for name in view.bad):
            entry.update(state="bad")
        else:
            entry.update(state="missing")
        chunks.append(entry)
    return {"job": view.job, "outcome": outcome, "exit_code": code, "state": view.state,
            **{k: v for k, v in view.to_json().items() if k in ("chunks", "frames", "elapsed")},
            "results": chunks}
