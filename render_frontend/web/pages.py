"""The dashboard's HTML: `/` (jobs and hosts) and `/jobs/{job}` (chunks, logs, thumbnails).

Rendered on the server from the same data as the API, so the page shows the farm before any
script runs; static/dashboard.js then keeps it live from the event stream.  Every string that
comes from the spool is hostile: each goes through `esc()` here and through `textContent` in
the script, never into markup; the page loads no inline script or style (the CSP forbids it)."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from render_frontend.views import NoSuchJob, hosts_json, jobs_json
from render_frontend.web.auth import require_read
from render_frontend.web.inputs import job_param
from render_frontend.web.jobdetail import job_json
from render_frontend.web.recent import recent_of
from render_frontend.web.settings import settings_of

ACTIONS = (("pause", "Pause"), ("resume", "Resume"), ("retry", "Retry"), ("cancel", "Cancel"), ("remove", "Remove"))


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def duration(s: Any) -> str:
    if not isinstance(s, (int, float)) or isinstance(s, bool):
        return "-"
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def gib(n: Any) -> str:
    return f"{n / 2**30:.1f}G" if isinstance(n, (int, float)) and not isinstance(n, bool) else "?"


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def progress(done: Any, total: Any) -> str:
    d, t = _number(done), max(_number(total), 0)
    return (f'<progress class="bar" max="{max(t, 1)}" value="{min(d, max(t, 1))}"></progress>'
            f'<span class="frames">{d}/{t}</span>')


def action_buttons(job: str) -> str:
    out = [f'<button type="button" data-action="{a}" data-job="{esc(job)}">{label}</button>' for a, label in ACTIONS]
    out.append(f'<input type="number" class="prio" min="0" max="999" aria-label="priority" data-job="{esc(job)}">'
               f'<button type="button" data-action="priority" data-job="{esc(job)}">Set priority</button>')
    return "".join(out)


def job_row(j: dict[str, Any]) -> str:
    c = j.get("chunks") or {}
    frames = j.get("frames") or {}
    job = str(j.get("job"))
    bad = _number(c.get("failed")) + _number(c.get("bad"))
    failed = f" ({bad} failed)" if bad else ""
    return (
        f'<tr data-job="{esc(job)}"><td><a href="/jobs/{esc(job)}">{esc(job)}</a></td>'
        f"<td>{esc(j.get('name'))}</td><td>{esc(j.get('owner'))}</td>"
        f'<td class="state state-{esc(j.get("state"))}">{esc(j.get("state"))}</td>'
        f"<td>{progress(frames.get('done'), frames.get('total'))}</td>"
        f"<td>{_number(c.get('done'))}/{_number(c.get('total'))}{failed}</td>"
        f"<td>{duration(j.get('eta'))}</td><td>{duration(j.get('elapsed'))}</td>"
        f"<td>{esc(j.get('priority'))}</td><td>{esc(', '.join(map(str, j.get('hosts') or [])))}</td>"
        f'<td class="actions">{action_buttons(job)}</td></tr>'
    )


def host_row(h: dict[str, Any]) -> str:
    load = h.get("load")
    first = load[0] if isinstance(load, list) and load else None
    chunks = []
    for c in h.get("chunks") or []:
        if isinstance(c, dict):
            p = c.get("progress")
            frac = p.get("progress") if isinstance(p, dict) else None
            pct = f" {100 * frac:.0f}%" if isinstance(frac, (int, float)) else ""
            chunks.append(f"{c.get('chunk')}{pct}")
    return (
        f"<tr><td>{esc(h.get('name'))}</td>"
        f'<td class="state state-{esc(h.get("state"))}">{esc(h.get("state"))}</td>'
        f"<td>{esc(h.get('cpus'))}</td><td>{esc(first)}</td>"
        f"<td>{gib(h.get('mem_free'))}/{gib(h.get('mem_total'))}</td>"
        f"<td>{gib(h.get('swap_free'))}/{gib(h.get('swap_total'))}</td>"
        f"<td>{esc(', '.join(chunks) or '-')}</td><td>{esc(h.get('heartbeat_age'))}s</td></tr>"
    )


def _rows(rows: Iterable[str], columns: int, empty: str) -> str:
    body = "".join(rows)
    return body or f'<tr class="empty"><td colspan="{columns}">{esc(empty)}</td></tr>'


def page(title: str, body: str, data: dict[str, str]) -> str:
    attrs = "".join(f' data-{k}="{esc(v)}"' for k, v in data.items())
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{esc(title)}</title><link rel="stylesheet" href="/static/dashboard.css">'
        '<script src="/static/dashboard.js" defer></script></head>'
        f"<body{attrs}>"
        '<header><a class="home" href="/">renderd</a><span id="live" class="live">connecting…</span>'
        '<span class="spacer"></span>'
        '<input id="token" type="password" placeholder="API token (for changes)" autocomplete="off">'
        '<button type="button" id="token-save">Use token</button></header>'
        '<div id="banner" class="banner" hidden></div><div id="message" class="message" hidden></div>'
        f"<main>{body}</main></body></html>"
    )


JOB_HEAD = ("Job", "Name", "Owner", "State", "Frames", "Chunks", "ETA", "Elapsed", "Priority", "Hosts", "")
HOST_HEAD = ("Host", "State", "CPUs", "Load", "Memory free", "Swap free", "Rendering", "Heartbeat")


def _head(names: Iterable[str]) -> str:
    return "<thead><tr>" + "".join(f"<th>{esc(n)}</th>" for n in names) + "</tr></thead>"


SUBMIT = """
<dialog id="submit-dialog"><form id="submit-form" method="dialog">
<h2>Queue a job</h2>
<fieldset><legend>What</legend>
<label><input type="radio" name="kind" value="blend" checked> a .blend file</label>
<label><input type="radio" name="kind" value="command"> a command</label></fieldset>
<div class="blend-only"><label>File <input id="blend-path" name="blend" size="60"></label>
<div id="browser" class="browser"><div id="browser-path"></div><ul id="browser-list"></ul></div></div>
<div class="command-only" hidden><label>Program and arguments, one per line
<textarea id="argv" name="argv" rows="4" cols="60"></textarea></label></div>
<label>Frames <input name="frames" placeholder="1-250 (a .blend: its own range)"></label>
<label>Frames per chunk <input name="chunk" type="number" min="1" value="10"></label>
<label>Priority <input name="priority" type="number" min="0" max="999" value="50"></label>
<label>Name <input name="name"></label>
<div id="submit-result" class="result"></div>
<menu><button type="button" id="submit-check">Check (dry run)</button>
<button type="button" id="submit-queue">Queue</button>
<button type="button" id="submit-close">Close</button></menu>
</form></dialog>"""


async def dashboard(request: Request) -> HTMLResponse:
    require_read(request)
    spool = settings_of(request).spool

    recent = recent_of(request.app.state)
    jobs = await recent.get(("jobs", False), lambda: jobs_json(spool))
    hosts = await recent.get(("hosts",), lambda: hosts_json(spool))
    body = (
        '<section><h1>Jobs <button type="button" id="submit-open">Queue a job…</button></h1>'
        f'<table id="jobs">{_head(JOB_HEAD)}<tbody>'
        f"{_rows((job_row(j) for j in reversed(jobs)), len(JOB_HEAD), 'no jobs in the spool')}</tbody></table>"
        f'</section><section><h1>Hosts</h1><table id="hosts">{_head(HOST_HEAD)}<tbody>'
        f"{_rows(map(host_row, hosts), len(HOST_HEAD), 'no host has registered')}</tbody></table></section>"
        + SUBMIT
    )
    return HTMLResponse(page(f"renderd: {spool.root}", body, {"page": "dashboard"}))


CHUNK_HEAD = ("Chunk", "Frames", "State", "Host", "Seconds", "Runs (logs)", "Failure")


def chunk_row(job: str, c: dict[str, Any]) -> str:
    runs = "".join(
        f'<button type="button" class="log-link" data-chunk="{esc(c.get("chunk"))}" data-run="{esc(r.get("run"))}">'
        f'{esc(r.get("run"))} on {esc(r.get("host"))}</button>'
        for r in c.get("runs") or [] if isinstance(r, dict)
    )
    seconds = c.get("seconds")
    return (
        f'<tr data-chunk="{esc(c.get("chunk"))}"><td>{esc(c.get("chunk"))}</td>'
        f"<td>{esc(c.get('start'))}-{esc(c.get('end'))}</td>"
        f'<td class="state state-{esc(c.get("state"))}">{esc(c.get("state"))}</td><td>{esc(c.get("host") or "")}</td>'
        f"<td>{esc(round(seconds, 1) if isinstance(seconds, (int, float)) else '')}</td><td>{runs}</td>"
        f'<td class="reason">{esc(c.get("reason") or "")}</td></tr>'
    )


async def job_page(request: Request) -> HTMLResponse:
    require_read(request)
    job = job_param(request)
    spool = settings_of(request).spool
    try:
        j = await recent_of(request.app.state).get(("job", job), lambda: job_json(spool, job))
    except NoSuchJob as err:  # a person followed a link: a page that says so, and the way back
        body = f'<section><h1>No such job</h1><p>{esc(err)}</p><p><a href="/">All jobs</a></p></section>'
        return HTMLResponse(page("renderd: no such job", body, {"page": "missing"}), status_code=404)
    frames = j.get("frames") or {}
    body = (
        f'<section><h1>Job <span id="job-id">{esc(job)}</span> <span class="name">{esc(j.get("name"))}</span></h1>'
        f'<p class="summary">State <span id="job-state" class="state state-{esc(j.get("state"))}">'
        f'{esc(j.get("state"))}</span> · owner {esc(j.get("owner"))} · priority '
        f'<span id="job-priority">{esc(j.get("priority"))}</span> · ETA <span id="job-eta">{duration(j.get("eta"))}'
        f'</span></p><p id="job-progress">{progress(frames.get("done"), frames.get("total"))}</p>'
        f'<p class="actions">{action_buttons(job)}</p></section>'
        '<section><h2>Frames</h2><div id="thumbs" class="thumbs"></div></section>'
        f'<section><h2>Chunks</h2><table id="chunks">{_head(CHUNK_HEAD)}<tbody>'
        f"{_rows((chunk_row(job, c) for c in j.get('chunk_list') or []), len(CHUNK_HEAD), 'no chunks')}"
        "</tbody></table></section>"
        '<section><h2>Log <span id="log-title"></span></h2><pre id="log" class="log">'
        "(choose a run above)</pre></section>"
    )
    return HTMLResponse(page(f"renderd: {job}", body, {"page": "job", "job": job}))
