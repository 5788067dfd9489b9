"""The dashboard in a real browser: headless Debian chromium driven by Playwright, against a real
`render serve` and a real daemon on a temp spool."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FAKEPROG
from helpers.daemons import render, wait_for
from helpers.web import Service, write_token

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PNGPROG = str(Path(__file__).parents[1] / "helpers" / "pngprog.py")

pytestmark = [
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                       reason="needs Debian's chromium (tests/bootstrap installs it)"),
]
playwright = pytest.importorskip("playwright.sync_api")
pytest.importorskip("starlette")


def status(spool: Path, job: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render(spool, "status", job, "--json").stdout)["jobs"][0]
    return data


def test_dashboard_goes_live_shows_thumbnails_pauses_and_says_when_the_service_stops(
    spool: Path, tmp_path: Path, markers: Path, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    start_daemon("a", "--allow-commands", "--poll", "0.5", "--slots", "2")
    token = write_token(tmp_path / "token")
    frames = tmp_path / "frames"  # where every host sees the frames: a shared root
    svc = Service(spool, tmp_path, ["--token-file", str(tmp_path / "token"), "--shared-root", str(frames)])
    svc.token = token
    try:
        svc.start()
        made = svc.post("/api/v1/jobs", {"argv": [sys.executable, PNGPROG, str(frames), "{start}", "{end}",
                                                   "--sleep", "1.5"], "frames": "1-6", "chunk": 1, "name": "shot"})
        assert made.status == 201, made.body
        job = made.json()["job"]
        hold = tmp_path / "hold"
        hold.touch()
        (spool / "shots").mkdir()
        shutil.copy(Path(__file__).parents[1] / "fixtures" / "blend" / "render_b34.blend", spool / "shots")
        held = svc.post("/api/v1/jobs", {"argv": ["python3", FAKEPROG, str(markers), "h{start}", "--hold", str(hold)],
                                         "frames": "1-4", "chunk": 1, "name": "held", "priority": 10}).json()["job"]
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(svc.url + "#token=" + token)
            page.wait_for_selector("#live.on", timeout=30_000)
            page.evaluate("window.__notReloaded = true")
            row = f'#jobs tr[data-job="{job}"] progress'
            page.wait_for_selector(row, timeout=30_000)
            first = int(page.get_attribute(row, "value") or 0)
            assert first < 6
            page.wait_for_function(
                "([sel, v]) => { const p = document.querySelector(sel); return p && Number(p.value) > v; }",
                arg=[row, first], timeout=60_000)
            assert page.evaluate("window.__notReloaded") is True, "the bar moved without a reload"

            # the pause button of the held job: the spool says paused
            page.click(f'#jobs tr[data-job="{held}"] button[data-action="pause"]')
            wait_for(lambda: status(spool, held)["paused"], 30, what="the held job to be paused in the spool")
            control = json.loads((spool / "jobs" / held / "control.json").read_text())
            assert control["paused"] is True
            page.wait_for_function(
                f"() => document.querySelector('#jobs tr[data-job=\"{held}\"] td.state').textContent === 'paused'",
                timeout=30_000)
            page.wait_for_function(
                f"() => document.querySelector('#jobs tr[data-job=\"{job}\"] td.state').textContent === 'done'",
                timeout=90_000)
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

            # the submit dialog: browse to a .blend, check it (dry run), nothing is queued
            page.click("#submit-open")
            page.click(f'#browser-list li[data-path="{spool}"]')
            page.click(f'#browser-list li[data-path="{spool / "shots"}"]')
            page.click(f'#browser-list li[data-path="{spool / "shots" / "render_b34.blend"}"]')
            assert page.input_value("#blend-path") == str(spool / "shots" / "render_b34.blend")
            page.click("#submit-check")
            page.wait_for_function("() => document.querySelector('#submit-result').textContent"
                                   ".includes('would queue 1 chunk(s), 3 frame(s)')", timeout=60_000)
            page.screenshot(path=str(tmp_path / "submit.png"))
            page.click("#submit-close")
            assert len(json.loads(render(spool, "status", "--json").stdout)["jobs"]) == 2, "a dry run queues nothing"

            # the job page: thumbnails of the rendered frames fill in
            page.goto(f"{svc.url}jobs/{job}")
            page.wait_for_function(
                "() => [...document.querySelectorAll('#thumbs img')].filter(i => i.complete && i.naturalWidth > 0)"
                ".length >= 6", timeout=60_000)
            width = page.evaluate("document.querySelector('#thumbs img').naturalWidth")
            assert 0 < width <= 256
            page.click("#chunks button.log-link")
            page.wait_for_function("() => document.querySelector('#log').textContent.includes('Saved:')",
                                   timeout=30_000)
            page.screenshot(path=str(tmp_path / "job.png"), full_page=True)

            # the service stops: the page says so
            page.goto(svc.url)
            page.wait_for_selector("#live.on", timeout=30_000)
            svc.stop()
            page.wait_for_selector("#banner:not([hidden])", timeout=30_000)
            assert "not answering" in page.inner_text("#banner")
            page.screenshot(path=str(tmp_path / "stopped.png"), full_page=True)
            browser.close()
        hold.unlink()
        print(f"screenshots: {tmp_path}/dashboard.png job.png stopped.png")
    finally:
        hold_file = tmp_path / "hold"
        hold_file.unlink(missing_ok=True)
        svc.kill()


@pytest.mark.blender
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("blender") is None, reason="needs the `blender` program (CI installs it)")
def test_frames_rendered_by_real_blender_show_as_thumbnails(
    spool: Path, tmp_path: Path, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    shots = spool / "shots"
    shots.mkdir(parents=True)
    shutil.copy(Path(__file__).parents[1] / "fixtures" / "blend" / "render_b34.blend", shots / "render_b34.blend")
    svc = Service(spool, tmp_path, ["--token-file", str(tmp_path / "token")])
    svc.token = write_token(tmp_path / "token")
    try:
        start_daemon("a", "--poll", "0.5")
        svc.start()
        made = svc.post("/api/v1/jobs", {"blend": str(shots / "render_b34.blend")})
        assert made.status == 201, made.body
        job = made.json()["job"]
        wait_for(lambda: status(spool, job)["state"] in ("done", "failed"), 300, what="Blender to render the job")
        assert status(spool, job)["state"] == "done"
        thumb = svc.get(f"/api/v1/jobs/{job}/frames/2/thumbnail")
        assert thumb.status == 200 and thumb.body.startswith(b"\x89PNG"), thumb.body[:200]
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 700})
            page.goto(f"{svc.url}jobs/{job}")
            page.wait_for_function(
                "() => [...document.querySelectorAll('#thumbs img')].filter(i => i.complete && i.naturalWidth > 0)"
                ".length >= 3", timeout=60_000)
            page.screenshot(path=str(tmp_path / "blender-job.png"), full_page=True)
            browser.close()
        print(f"screenshot: {tmp_path}/blender-job.png")
    finally:
        svc.kill()
