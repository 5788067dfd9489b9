"""`render serve` refuses bad requests with the right status and one JSON sentence, never a 500:
unknown jobs, bad frames, paths outside the spool, missing or wrong tokens, another user's job."""

from __future__ import annotations

import grp
import json
import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import attacker
from helpers.daemons import render
from helpers.web import Answer, Service, other_can_run_this_checkout, write_token

from renderd.spool import LAYOUT, Spool

pytest.importorskip("starlette")


@pytest.fixture
def svc(spool: Path, tmp_path: Path) -> Iterator[Service]:
    Spool.open(spool, create=True)
    (spool / "scenes").mkdir()
    (spool / "scenes" / "notes.txt").write_text("not a blend")
    (spool / "scenes" / "shot.blend").write_bytes(b"BLENDER-v304 this is no real .blend")
    service = Service(spool, tmp_path, ["--token-file", str(tmp_path / "token")])
    service.token = write_token(tmp_path / "token")
    yield service.start()
    service.kill()


def refused(answer: Answer, status: int, words: str = "") -> str:
    """The answer is `status` with {"error": one sentence}; returns the sentence."""
    assert answer.status == status, (answer.status, answer.body)
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert list(body) == ["error"] and isinstance(body["error"], str)
    assert "\n" not in body["error"] and "Traceback" not in body["error"]
    assert words.lower() in body["error"].lower(), body["error"]
    return str(body["error"])


def test_unknown_things_are_404(svc: Service) -> None:
    refused(svc.get("/api/v1/jobs/nope"), 404, "no job 'nope'")
    refused(svc.get("/api/v1/jobs/..%2F..%2Fetc"), 404)
    refused(svc.get("/api/v1/jobs/nope/chunks/1/log"), 404, "no job")
    refused(svc.get("/api/v1/jobs/nope/frames/1/thumbnail"), 404)
    refused(svc.post("/api/v1/jobs/nope/pause"), 404, "no job")
    refused(svc.post("/api/v1/jobs/nope/explode"), 404, "no action")
    refused(svc.call("DELETE", "/api/v1/jobs/nope"), 404)
    refused(svc.get("/api/v1/nothing"), 404)
    refused(svc.call("DELETE", "/api/v1/hosts"), 405)
    page = svc.get("/jobs/nope")
    assert page.status == 404 and page.headers["content-type"].startswith("text/html") and b"No such job" in page.body


def test_bad_submissions_are_400_and_queue_nothing(svc: Service, spool: Path) -> None:
    cmd = {"argv": ["true"], "frames": "1-10"}
    refused(svc.post("/api/v1/jobs", {**cmd, "frames": "10-1"}), 400, "bad frame")
    refused(svc.post("/api/v1/jobs", {**cmd, "frames": "1-x"}), 400, "frame")
    refused(svc.post("/api/v1/jobs", {"argv": ["true"]}), 400, "needs 'frames'")
    refused(svc.post("/api/v1/jobs", {**cmd, "argv": []}), 400, "argv")
    refused(svc.post("/api/v1/jobs", {**cmd, "argv": "true"}), 400, "list of strings")
    refused(svc.post("/api/v1/jobs", {**cmd, "blend": "/x.blend"}), 400, "not both")
    refused(svc.post("/api/v1/jobs", {}), 400, "either")
    refused(svc.post("/api/v1/jobs", {**cmd, "colour": "red"}), 400, "unknown field")
    refused(svc.post("/api/v1/jobs", {**cmd, "chunk": 0}), 400, "'chunk'")
    refused(svc.post("/api/v1/jobs", {**cmd, "priority": "high"}), 400, "whole number")
    refused(svc.post("/api/v1/jobs", {**cmd, "priority": True}), 400, "whole number")
    refused(svc.post("/api/v1/jobs", {**cmd, "timeout": -1}), 400, "timeout")
    refused(svc.post("/api/v1/jobs", {**cmd, "dry_run": "yes"}), 400, "true or false")
    refused(svc.call("POST", "/api/v1/jobs", raw=b"{not json"), 400, "not valid JSON")
    refused(svc.call("POST", "/api/v1/jobs", raw=b"[1, 2]"), 400, "JSON object")
    refused(svc.call("POST", "/api/v1/jobs", raw=b"[" * 100_000), 400, "not valid JSON")
    refused(svc.call("POST", "/api/v1/jobs", raw=b" " * (2 * 1024 * 1024)), 413)
    assert not list((spool / "queue").iterdir())


def test_paths_outside_the_spool_and_shared_roots_are_refused(svc: Service, spool: Path, tmp_path: Path) -> None:
    refused(svc.post("/api/v1/jobs", {"blend": "/etc/passwd"}), 403, "outside the spool")
    (tmp_path / "elsewhere.blend").write_bytes(b"BLENDER")
    (spool / "scenes" / "link.blend").symlink_to(tmp_path / "elsewhere.blend")
    refused(svc.post("/api/v1/jobs", {"blend": str(spool / "scenes" / "link.blend")}), 403, "outside")
    refused(svc.post("/api/v1/jobs", {"blend": "scenes/shot.blend"}), 400, "not an absolute path")
    refused(svc.post("/api/v1/jobs", {"blend": str(spool / "scenes" / "notes.txt")}), 400)
    refused(svc.post("/api/v1/jobs", {"blend": str(spool / "scenes" / "shot.blend")}), 400)
    refused(svc.post("/api/v1/jobs", {"argv": ["true"], "frames": "1-2", "cwd": "/etc"}), 403, "outside")
    refused(svc.get("/api/v1/files?path=/etc"), 403, "outside the spool")
    refused(svc.get(f"/api/v1/files?path={spool}/../.."), 403)
    refused(svc.get("/api/v1/files?path=scenes"), 400, "absolute")
    refused(svc.get(f"/api/v1/files?path={spool}/missing"), 404)
    refused(svc.get(f"/api/v1/files?path={spool}/scenes/notes.txt"), 400, "not a folder")
    listing = svc.get(f"/api/v1/files?path={spool}/scenes").json()
    assert [(e["name"], e["type"]) for e in listing["entries"]] == [("link.blend", "blend"), ("shot.blend", "blend")]
    assert listing["parent"] == str(spool)
    assert [e["path"] for e in svc.get("/api/v1/files").json()["entries"]] == [str(spool)]


def test_every_change_needs_the_right_token(svc: Service) -> None:
    changes = [("POST", "/api/v1/jobs", {"argv": ["true"], "frames": "1-1"}), ("POST", "/api/v1/jobs/x/pause", {}),
               ("POST", "/api/v1/jobs/x/cancel", {}), ("PUT", "/api/v1/jobs/x/priority", {"priority": 1}),
               ("DELETE", "/api/v1/jobs/x", None)]
    for method, path, body in changes:
        refused(svc.call(method, path, body, token=None), 401, "needs the API token")
        refused(svc.call(method, path, body, token="wrong-token-0123456789"), 401, "wrong API token")
        refused(svc.call(method, path, body, headers={"Authorization": "Basic eDp5"}, token=None), 401)
    assert svc.get("/api/v1/jobs", token=None).status == 200
    assert svc.get("/api/v1/jobs", token=None).headers.get("www-authenticate") is None


def test_bad_values_in_changes_and_queries_are_400(svc: Service, spool: Path) -> None:
    job = svc.post("/api/v1/jobs", {"argv": ["true"], "frames": "1-4", "chunk": 2}).json()["job"]
    refused(svc.call("PUT", f"/api/v1/jobs/{job}/priority", {"priority": 1000}), 400, "from 0 to 999")
    refused(svc.call("PUT", f"/api/v1/jobs/{job}/priority", {}), 400, "priority")
    refused(svc.post(f"/api/v1/jobs/{job}/pause", {"missing": True}), 400)
    refused(svc.post(f"/api/v1/jobs/{job}/pause", {"now": "yes"}), 400)
    refused(svc.get(f"/api/v1/jobs/{job}/chunks/1/log?run=abc"), 400, "?run=")
    refused(svc.get(f"/api/v1/jobs/{job}/chunks/9/log"), 404, "no chunk '9'")
    refused(svc.get(f"/api/v1/jobs/{job}/chunks/1/log"), 404, "nothing of it has run")
    refused(svc.get(f"/api/v1/jobs/{job}/frames/3/thumbnail"), 404, "not rendered yet")
    refused(svc.get(f"/api/v1/jobs/{job}/frames/-/thumbnail"), 400)
    assert json.loads(render(spool, "status", job, "--json").stdout)["jobs"][0]["priority"] == 50


def test_openapi_describes_every_route(svc: Service) -> None:
    doc = svc.get("/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert {"/api/v1/jobs", "/api/v1/jobs/{job}", "/api/v1/jobs/{job}/chunks/{chunk}/log", "/api/v1/hosts",
            "/api/v1/jobs/{job}/pause", "/api/v1/jobs/{job}/priority", "/api/v1/events", "/api/v1/files",
            "/api/v1/jobs/{job}/frames/{frame}/thumbnail"} <= set(doc["paths"])


@pytest.mark.skipif(not attacker.can_run_as_others(), reason="needs root, useradd and the system's Python 3.11")
def test_a_service_run_by_another_user_may_change_only_that_users_jobs(tmp_path: Path) -> None:
    with attacker.studio_spool() as studio:
        spool, artist = studio.spool, studio.attacker
        Spool.open(spool, create=True)
        artists = grp.getgrnam(attacker.GROUP).gr_gid
        for folder in (spool / sub for sub in LAYOUT):  # as a studio sets its spool up: 2775, group artists
            os.chown(folder, 0, artists)
            os.chmod(folder, 0o2775)
        if not other_can_run_this_checkout(artist.uid, artist.gid):
            pytest.skip(f"{artist.name} cannot read this checkout")
        root_job = json.loads(render(spool, "add", "--frames", "1-2", "--json", "--", "true").stdout)["job"]
        token_file = studio.base / "token"
        token = write_token(token_file)
        os.chown(token_file, artist.uid, artist.gid)
        other = Service(spool, tmp_path, ["--token-file", str(token_file)], user=(artist.uid, artist.gid))
        other.token = token
        try:
            other.start()
            error = refused(other.post(f"/api/v1/jobs/{root_job}/pause"), 403, "belongs to root")
            assert "only its owner" in error
            refused(other.call("DELETE", f"/api/v1/jobs/{root_job}"), 403)
            refused(other.call("PUT", f"/api/v1/jobs/{root_job}/priority", {"priority": 3}), 403)
            assert not (spool / "jobs" / root_job / "control.json").exists()
            mine = other.post("/api/v1/jobs", {"argv": ["true"], "frames": "1-2"})
            assert mine.status == 201, mine.body
            job = mine.json()["job"]
            assert (spool / "jobs" / job / "manifest.json").stat().st_uid == artist.uid
            assert other.post(f"/api/v1/jobs/{job}/pause").status == 200
            assert json.loads(render(spool, "status", job, "--json").stdout)["jobs"][0]["owner"] == artist.name
        finally:
            other.kill()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a test certificate")
def test_tls_with_a_certificate_and_key(spool: Path, tmp_path: Path) -> None:
    Spool.open(spool, create=True)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                    "-days", "1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=120)
    write_token(tmp_path / "token")
    service = Service(spool, tmp_path, ["--token-file", str(tmp_path / "token"), "--tls-cert", str(cert),
                                        "--tls-key", str(key)])
    try:
        service.start()
        assert service.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        assert service.get("/api/v1/jobs", context=context).json() == {"jobs": []}
    finally:
        service.kill()
    half = render(spool, "serve", "--tls-cert", str(cert), check=False)
    assert half.returncode == 2 and "--tls-key" in half.stderr
