"""`render serve`'s REST API with a real server process and real daemons on a temp spool."""

from __future__ import annotations

import io
import json
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FAKEPROG
from helpers.daemons import BIN, add_job, render, wait_for
from helpers.web import Service, token_env, write_token
from PIL import Image

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
PNGPROG = str(Path(__file__).parents[1] / "helpers" / "pngprog.py")


@pytest.fixture
def serve(spool: Path, tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """Starts `render serve` (token in a file of the test's) and stops it after the test."""
    started: list[Service] = []

    def start(*args: str, token: bool = True, **kw: Any) -> Service:
        extra = list(args)
        value = ""
        if token:
            value = write_token(tmp_path / "token")
            extra += ["--token-file", str(tmp_path / "token")]
        svc = Service(spool, tmp_path, extra, **kw)
        started.append(svc)
        svc.start()
        svc.token = value
        return svc

    yield start
    for svc in started:
        svc.kill()


@pytest.fixture
def made_spool(spool: Path) -> Path:
    from renderd.spool import Spool

    Spool.open(spool, create=True)
    return spool


def job_status(spool: Path, job: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render(spool, "status", job, "--json").stdout)["jobs"][0]
    return data


TIMING = ("elapsed", "eta", "frame_time")


def test_jobs_and_hosts_read_what_render_status_and_hosts_print(
    made_spool: Path, markers: Path, start_daemon, serve  # type: ignore[no-untyped-def]
) -> None:
    spool = made_spool
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    job = add_job(spool, "1-4", ["python3", FAKEPROG, str(markers), "c{start}"], "--chunk", "2")["job"]
    wait_for(lambda: job_status(spool, job)["state"] == "done", 60, what="the job to finish")
    svc = serve()
    answer = svc.get("/api/v1/jobs", token=None)  # reads are open on loopback
    assert answer.status == 200 and answer.headers["content-type"] == "application/json"
    (got,) = answer.json()["jobs"]
    want = job_status(spool, job)
    assert {k: v for k, v in got.items() if k not in TIMING} == {k: v for k, v in want.items() if k not in TIMING}
    assert got["frames"] == {"total": 4, "done": 4} and got["state"] == "done"

    one = svc.get(f"/api/v1/jobs/{job}").json()
    assert one["job"] == job and one["missing_frames"] == []
    assert [c["state"] for c in one["chunk_list"]] == ["done", "done"]
    assert one["chunk_list"][0]["frames"] == [1, 2] and one["chunk_list"][0]["runs"] == [{"host": "a", "run": 1}]

    hosts = svc.get("/api/v1/hosts").json()["hosts"]
    cli = json.loads(render(spool, "hosts", "--json").stdout)["hosts"]
    assert [h["name"] for h in hosts] == [h["name"] for h in cli] == ["a"]
    assert hosts[0]["live"] is True and hosts[0]["state"] in ("idle", "busy")
    assert {"cpus", "load", "mem_total", "mem_free", "swap_total", "swap_free", "chunks"} <= set(hosts[0])
    csp = answer.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp


def test_submit_watch_the_event_stream_until_done_then_read_status_and_logs(
    made_spool: Path, markers: Path, start_daemon, serve  # type: ignore[no-untyped-def]
) -> None:
    spool = made_spool
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    svc = serve()
    events = svc.events()
    dry = svc.post("/api/v1/jobs", {"argv": ["python3", FAKEPROG, str(markers), "c{start}"], "frames": "1-6",
                                    "chunk": 2, "dry_run": True})
    assert dry.status == 200 and dry.json()["dry_run"] is True and len(dry.json()["chunks"]) == 3
    assert not list((spool / "queue").iterdir()), "a dry run queues nothing"
    made = svc.post("/api/v1/jobs", {"argv": ["python3", FAKEPROG, str(markers), "c{start}"], "frames": "1-6",
                                     "chunk": 2, "name": "web job", "priority": 70})
    assert made.status == 201, made.body
    job = made.json()["job"]
    assert [c["argv"][-1] for c in made.json()["chunks"]] == ["c1", "c3", "c5"]
    finished: set[str] = set()
    seen: list[str] = []
    for message in events:
        if message.get("job") == job:
            seen.append(str(message.get("event")))
            if message.get("event") == "chunk-finished":
                finished.add(str(message["chunk"]))
        if len(finished) == 3:
            break
    assert "chunk-claimed" in seen and "chunk-started" in seen, seen
    status = svc.get(f"/api/v1/jobs/{job}").json()
    assert status["name"] == "web job" and status["priority"] == 70
    wait_for(lambda: svc.get(f"/api/v1/jobs/{job}").json()["state"] == "done", 30, what="the job done in status")

    chunk = f"{job}-0002"
    log = svc.get(f"/api/v1/jobs/{job}/chunks/{chunk}/log")
    assert log.status == 200
    (entry,) = log.json()["logs"]
    assert entry["run"] == 1 and entry["host"] == "a" and "renderd: " in entry["text"]
    cli = json.loads(render(spool, "log", f"{job}:2", "--json").stdout)["logs"]
    assert cli[0]["text"] == entry["text"]
    assert svc.get(f"/api/v1/jobs/{job}/chunks/2/log?run=1").json()["logs"][0]["path"] == entry["path"]
    missing = svc.get(f"/api/v1/jobs/{job}/chunks/2/log?run=7")
    assert missing.status == 404 and "run 7" in missing.json()["error"]


def test_reads_need_the_token_from_a_host_name_that_is_not_local(serve, made_spool: Path) -> None:  # type: ignore[no-untyped-def]
    svc = serve()
    rebound = svc.get("/api/v1/jobs", token=None, headers={"Host": "evil.example:8470"})
    assert rebound.status == 401 and "token" in rebound.json()["error"]
    assert svc.get("/api/v1/jobs", headers={"Host": "evil.example:8470"}).status == 200


def test_a_generated_token_is_private_and_shown_once(made_spool: Path, tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    home.mkdir()
    first = serve(token=False, env=token_env(home))
    token_file = home / ".config/renderd/api-token"
    token = token_file.read_text().strip()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600 and len(token) >= 32
    assert token in first.output()
    first.stop()
    second = serve(token=False, env=token_env(home))
    assert token not in second.output()
    second.token = token
    assert second.post("/api/v1/jobs/nope/pause", token=None).status == 401
    assert second.post("/api/v1/jobs/nope/pause").status == 404
    url = subprocess.run([str(BIN / "render"), "--spool", str(made_spool), "serve", "--print-url", "--port", "8471"],
                         capture_output=True, text=True, env=token_env(home), timeout=60, check=True).stdout
    assert url == f"http://127.0.0.1:8471/#token={token}\n"


def test_binding_beyond_loopback_without_a_token_file_is_refused(made_spool: Path) -> None:
    proc = render(made_spool, "serve", "--bind", "0.0.0.0", check=False)
    assert proc.returncode == 2 and "--token-file" in proc.stderr and "Traceback" not in proc.stderr


def test_pause_resume_priority_cancel_retry_and_remove_change_the_spool_as_render_does(
    made_spool: Path, markers: Path, tmp_path: Path, start_daemon, serve  # type: ignore[no-untyped-def]
) -> None:
    spool = made_spool
    hold = tmp_path / "hold"
    hold.touch()
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    svc = serve()
    job = svc.post("/api/v1/jobs", {"argv": ["python3", FAKEPROG, str(markers), "c{start}", "--hold", str(hold)],
                                    "frames": "1-3", "chunk": 1}).json()["job"]
    wait_for(lambda: list(markers.glob("*.running")), 60, what="a chunk running")

    paused = svc.post(f"/api/v1/jobs/{job}/pause")
    assert paused.status == 200 and paused.json()["message"].startswith(f"{job}: paused")
    assert json.loads((spool / "jobs" / job / "control.json").read_text())["paused"] is True
    assert job_status(spool, job)["state"] == "paused" and paused.json()["status"]["paused"] is True
    assert svc.post(f"/api/v1/jobs/{job}/resume").json()["message"] == f"{job}: resumed"
    assert job_status(spool, job)["paused"] is False

    changed = svc.call("PUT", f"/api/v1/jobs/{job}/priority", {"priority": 80})
    assert changed.status == 200 and changed.json()["message"].endswith("-> 80")
    from renderd.format.names import QueueDir

    assert [QueueDir.parse(q.name).priority for q in (spool / "queue").iterdir()] == [80]  # type: ignore[union-attr]
    assert job_status(spool, job)["priority"] == 80

    busy = svc.call("DELETE", f"/api/v1/jobs/{job}")
    assert busy.status == 409 and "still running" in busy.json()["error"]
    wait_for(lambda: job_status(spool, job)["state"] == "cancelled", 60, what="the job cancelled by remove")
    assert svc.post(f"/api/v1/jobs/{job}/pause").status == 409  # a cancelled job is not paused

    retried = svc.post(f"/api/v1/jobs/{job}/retry", {"missing": True})
    assert retried.status == 200 and "back in the queue" in retried.json()["message"], retried.body
    assert job_status(spool, job)["cancelled"] is False
    hold.unlink()
    wait_for(lambda: job_status(spool, job)["state"] == "done", 60, what="the retried job to finish")
    cancelled = svc.post(f"/api/v1/jobs/{job}/cancel")
    assert cancelled.status == 200 and "cancelled" in cancelled.json()["message"]
    removed = svc.call("DELETE", f"/api/v1/jobs/{job}")
    assert removed.status == 200 and removed.json() == {"job": job, "message": f"{job}: removed", "status": None}
    assert not (spool / "jobs" / job).exists()
    assert svc.get(f"/api/v1/jobs/{job}").status == 404


def test_a_thumbnail_of_a_rendered_png_is_made_once_and_cached_in_the_spool(
    made_spool: Path, start_daemon, serve  # type: ignore[no-untyped-def]
) -> None:
    spool = made_spool
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    svc = serve()
    out = spool / "out"
    job = svc.post("/api/v1/jobs", {"argv": [sys.executable, PNGPROG, str(out), "{start}", "{end}"],
                                    "frames": "1-3", "chunk": 3}).json()["job"]
    text = svc.post("/api/v1/jobs", {"argv": [sys.executable, "-c", SAVES_TEXT, str(out / "note_{start}.txt")],
                                     "frames": "7-7"}).json()["job"]
    outside = svc.post("/api/v1/jobs", {"argv": ["python3", "-c", "print(\"Saved: '/etc/passwd'\")"],
                                        "frames": "1-1"}).json()["job"]
    for j in (job, text, outside):
        wait_for(lambda j=j: job_status(spool, j)["state"] == "done", 60, what=f"{j} to finish")

    thumb = svc.get(f"/api/v1/jobs/{job}/frames/2/thumbnail")
    assert thumb.status == 200 and thumb.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(thumb.body)) as im:
        assert im.format == "PNG" and max(im.size) == 256 and im.size == (256, 144)
    cached = spool / "jobs" / job / "thumbnails" / "2.png"
    assert cached.read_bytes() == thumb.body
    stamp = cached.stat().st_mtime_ns
    assert svc.get(f"/api/v1/jobs/{job}/frames/2/thumbnail").body == thumb.body
    assert cached.stat().st_mtime_ns == stamp, "made once"

    unreadable = svc.get(f"/api/v1/jobs/{text}/frames/7/thumbnail")
    assert unreadable.status == 415 and "not an image format" in unreadable.json()["error"]
    refused = svc.get(f"/api/v1/jobs/{outside}/frames/1/thumbnail")
    assert refused.status == 403 and "outside the spool" in refused.json()["error"]
    assert svc.get(f"/api/v1/jobs/{job}/frames/99/thumbnail").status == 404
    assert svc.get(f"/api/v1/jobs/{job}/frames/x/thumbnail").status == 400


SAVES_TEXT = "import sys; open(sys.argv[1], 'w').write('not an image'); print(\"Saved: '\" + sys.argv[1] + \"'\")"


BLEND = Path(__file__).parents[1] / "fixtures" / "blend"


def test_a_blend_is_checked_and_queued_as_render_add_does(made_spool: Path, serve) -> None:  # type: ignore[no-untyped-def]
    spool = made_spool
    shots = spool / "shots"
    shots.mkdir()
    shutil.copy(BLEND / "render_b34.blend", shots / "render_b34.blend")
    svc = serve()
    browse = svc.get(f"/api/v1/files?path={shots}").json()
    assert [(e["name"], e["type"]) for e in browse["entries"]] == [("render_b34.blend", "blend")]
    path = browse["entries"][0]["path"]
    dry = svc.post("/api/v1/jobs", {"blend": path, "dry_run": True})
    assert dry.status == 200, dry.body
    cli = json.loads(render(spool, "add", "--json", "--dry-run", path).stdout)
    assert {k: v for k, v in dry.json().items() if k not in ("dry_run", "message", "warnings")} == cli
    assert dry.json()["message"].startswith("would queue 1 chunk(s), 3 frame(s)")
    assert not list((spool / "queue").iterdir())
    made = svc.post("/api/v1/jobs", {"blend": path, "priority": 60})
    assert made.status == 201 and made.json()["message"].startswith("queued 1 chunk(s)")
    job = made.json()["job"]
    assert job_status(spool, job)["kind"] == "blender" and job_status(spool, job)["priority"] == 60
    again = svc.post("/api/v1/jobs", {"blend": path})
    assert again.status == 409 and "pass --again" in again.json()["error"]
    assert svc.post("/api/v1/jobs", {"blend": path, "again": True}).status == 201


def test_a_failed_chunk_shows_its_reason_and_retry_brings_it_back(
    made_spool: Path, start_daemon, serve  # type: ignore[no-untyped-def]
) -> None:
    spool = made_spool
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    svc = serve()
    job = svc.post("/api/v1/jobs", {"argv": ["python3", "-c", "import sys; sys.exit('the render broke')"],
                                    "frames": "1-1", "max_attempts": 1}).json()["job"]
    wait_for(lambda: job_status(spool, job)["state"] == "failed", 60, what="the chunk to fail")
    (chunk,) = svc.get(f"/api/v1/jobs/{job}").json()["chunk_list"]
    assert chunk["state"] == "failed" and chunk["reason"], chunk
    assert chunk["runs"] == [{"host": "a", "run": 1}]
    log = svc.get(f"/api/v1/jobs/{job}/chunks/1/log?last=1").json()["logs"]
    assert "the render broke" in log[0]["text"]
    retried = svc.post(f"/api/v1/jobs/{job}/retry")
    assert retried.status == 200 and retried.json()["message"].endswith("1 chunk(s) back in the queue")
    # attempts start anew, so the run is run 1 again: its log file gets the second run appended
    wait_for(lambda: svc.get(f"/api/v1/jobs/{job}/chunks/1/log").json()["logs"][0]["text"].count("renderd: FAILED")
             >= 2, 60, what="the chunk to run again")
