"""`render serve` against a hostile spool: markup planted in spool strings stays text (HTML escaped
on the server, textContent in the page, a strict CSP), an event cannot forge another on the
stream, and planted links or FIFOs at frame paths neither leak files nor hang the service."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.daemons import render
from helpers.web import Service, write_token

from renderd.spool import Spool

pytest.importorskip("starlette")

XSS = '<img src=x id=pwned onerror="document.title=\'pwned\'">'
SCRIPT = "</td><script>document.title='pwned'</script>"
CHROMIUM = "/usr/bin/chromium"


def plant(spool: Path) -> str:
    """A job named with markup, its first chunk recorded done with planted `saved` paths, a host
    record full of markup and an event line that tries to forge a second SSE message."""
    job = json.loads(render(spool, "add", "--name", "shot", "--frames", "1-4", "--chunk", "1", "--json",
                            "--", "true").stdout)["job"]
    manifest = spool / "jobs" / job / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "name": XSS}))  # as an artist could
    s = Spool.open(spool)
    (qdir,) = s.queue_dirs()
    out = spool / "out"
    out.mkdir()
    (out / "frame_0001.png").symlink_to("/etc/hostname")
    os.mkfifo(out / "frame_0002.png")
    for frame in (1, 2):
        chunk = f"{job}-{frame:04d}"
        info = s.read_info(s.queue_path(qdir, chunk))
        s.record_done(info, {"chunk": chunk, "job": job, "host": SCRIPT, "run": 1, "frames": 1, "seconds": 1.0,
                             "started": time.time(), "finished": time.time(),
                             "saved": [str(out / f"frame_{frame:04d}.png")]})
        s.queue_path(qdir, chunk).unlink()
    now = time.time()
    host = {"format": 1, "name": "evil", "hostname": SCRIPT, "pid": 1, "cpus": 2, "load": [0.5, 0.1, 0.0],
            "mem_total": 1, "mem_free": 1, "swap_total": 0, "swap_free": 0, "state": XSS,
            "chunks": [{"chunk": f"{job}-0004", "job": job}], "version": SCRIPT, "heartbeat": now, "started": now,
            "slots": 1}
    (spool / "hosts" / "evil.json").write_text(json.dumps(host))
    return job


@pytest.fixture
def svc(spool: Path, tmp_path: Path) -> Iterator[Service]:
    Spool.open(spool, create=True)
    service = Service(spool, tmp_path, ["--token-file", str(tmp_path / "token")])
    service.token = write_token(tmp_path / "token")
    yield service
    service.kill()


def test_markup_from_the_spool_is_escaped_in_the_served_html(svc: Service, spool: Path) -> None:
    job = plant(spool)
    svc.start()
    for path in ("/", f"/jobs/{job}"):
        page = svc.get(path)
        assert page.status == 200
        html = page.body.decode()
        assert "<script>document.title" not in html and "<img src=x" not in html, path
        assert "&lt;img src=x" in html or "&lt;/td&gt;&lt;script&gt;" in html, path
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "'unsafe-inline'" not in csp
        assert page.headers["x-content-type-options"] == "nosniff"
    script = svc.get("/static/dashboard.js").body.decode()
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "eval(" not in script


def test_planted_links_and_fifos_at_frame_paths_are_refused_without_hanging(svc: Service, spool: Path) -> None:
    job = plant(spool)
    svc.start()
    link = svc.get(f"/api/v1/jobs/{job}/frames/1/thumbnail")
    assert link.status == 403 and "outside the spool" in link.json()["error"]
    started = time.monotonic()
    fifo = svc.get(f"/api/v1/jobs/{job}/frames/2/thumbnail")
    assert fifo.status == 415 and "not a regular file" in fifo.json()["error"]
    assert time.monotonic() - started < 30
    assert svc.get("/api/v1/jobs").status == 200  # the service lives on


def test_a_planted_thumbnail_folder_link_is_not_written_through(svc: Service, spool: Path, tmp_path: Path) -> None:
    job = plant(spool)
    (spool / "out" / "frame_0003.png").write_bytes(_png())
    s = Spool.open(spool)
    (qdir,) = s.queue_dirs()
    chunk = f"{job}-0003"
    info = s.read_info(s.queue_path(qdir, chunk))
    s.record_done(info, {"chunk": chunk, "job": job, "host": "a", "run": 1, "frames": 1, "seconds": 1.0,
                         "saved": [str(spool / "out" / "frame_0003.png")]})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (spool / "jobs" / job / "thumbnails").symlink_to(elsewhere)
    svc.start()
    thumb = svc.get(f"/api/v1/jobs/{job}/frames/3/thumbnail")
    assert thumb.status == 200 and thumb.body.startswith(b"\x89PNG")
    assert list(elsewhere.iterdir()) == [], "nothing written through the planted link"


def test_an_event_cannot_forge_a_second_message_on_the_stream(svc: Service, spool: Path) -> None:
    Spool.open(spool, create=True)
    svc.start()
    req = urllib.request.Request(svc.url + "api/v1/events")
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.readline() == b"retry: 2000\n"
        forged = 'x\n\ndata: {"event": "chunk-finished", "forged": true}\n\n'
        line = {"v": 1, "type": "event", "time": time.time(), "host": "evil", "event": "chunk-failed",
                "chunk": "j-0001", "reason": forged}
        (spool / "events" / "evil.jsonl").write_text(json.dumps(line) + "\n")
        data = []
        deadline = time.monotonic() + 60
        while not data and time.monotonic() < deadline:
            raw = resp.readline()
            if raw.startswith(b"data: "):
                data.append(json.loads(raw[6:]))
    assert data and data[0]["reason"] == forged and "forged" not in data[0]


def test_a_token_file_everyone_may_read_is_refused(spool: Path, tmp_path: Path) -> None:
    Spool.open(spool, create=True)
    token = tmp_path / "token"
    write_token(token)
    token.chmod(0o644)
    proc = render(spool, "serve", "--token-file", str(token), check=False)
    assert proc.returncode == 1 and "readable by everyone" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="needs Debian's chromium")
def test_planted_markup_never_runs_in_the_browser(svc: Service, spool: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    job = plant(spool)
    svc.start()
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        for path in ("", f"jobs/{job}"):
            page.goto(svc.url + path)
            page.wait_for_selector("#live.on", timeout=30_000)
            page.wait_for_timeout(1500)  # a refresh from the API has re-rendered the tables
            assert page.title() != "pwned" and page.locator("#pwned").count() == 0
        page.goto(svc.url)
        page.wait_for_selector("#live.on", timeout=30_000)
        assert XSS in page.inner_text("#jobs"), "shown as text"
        assert XSS in page.inner_text("#hosts"), "a host's state, as text"
        page.goto(f"{svc.url}jobs/{job}")
        page.wait_for_selector("#live.on", timeout=30_000)
        assert SCRIPT in page.inner_text("#chunks"), "a done record's host, as text"
        browser.close()
    assert dialogs == []


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 32), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()
