"""A real `render serve` process on a random loopback port, and a small HTTP client for it (stdlib only)."""

from __future__ import annotations

import json
import os
import re
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.attacker import SYSTEM_PYTHON, env_for_others
from helpers.daemons import BIN, wait_for

URL_RE = re.compile(r"render serve: .* on (https?://127\.0\.0\.1:\d+/)")
RENDER = "import sys; from render_frontend.cli import main; sys.argv[0] = 'render'; main()"


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


class Service:
    """`render --spool SPOOL serve --port 0 ...`, its stderr in a file; `url` once it listens."""

    def __init__(self, spool: Path, logdir: Path, args: Sequence[str] = (), env: dict[str, str] | None = None,
                 user: tuple[int, int] | None = None) -> None:
        self.spool = spool
        self.log = logdir / f"serve-{time.monotonic_ns()}.log"
        self.args = list(args)
        self.env = env
        self.user = user
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.token = ""

    def start(self) -> Service:
        args = ["--spool", str(self.spool), "serve", "--port", "0", *self.args]
        with open(self.log, "ab") as fh:
            if self.user is None:
                self.proc = subprocess.Popen([str(BIN / "render"), *args], stdout=fh, stderr=subprocess.STDOUT,
                                             env=self.env)
            else:  # as another Unix user (root runs the tests)
                uid, gid = self.user
                self.proc = subprocess.Popen([SYSTEM_PYTHON, "-c", RENDER, *args], stdout=fh,
                                             stderr=subprocess.STDOUT, env=env_for_others(), user=uid, group=gid,
                                             extra_groups=[gid], umask=0o002, cwd="/")
        found = wait_for(self._listening, 60, what="render serve to listen")
        self.url = found[1]
        return self

    def _listening(self) -> tuple[int, str] | None:
        assert self.proc is not None
        text = self.output()
        if self.proc.poll() is not None:
            raise AssertionError(f"render serve exited {self.proc.returncode}: {text}")
        m = URL_RE.search(text)
        return (1, m[1]) if m else None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    # ------------------------------------------------------------------ HTTP

    def call(self, method: str, path: str, body: Any = None, token: str | None = "default",
             raw: bytes | None = None, headers: dict[str, str] | None = None,
             context: ssl.SSLContext | None = None) -> Answer:
        token = self.token if token == "default" else token
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.url.rstrip("/") + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=60, context=context) as resp:
                return Answer(resp.status, resp.read(), {k.lower(): v for k, v in resp.headers.items()})
        except urllib.error.HTTPError as err:
            return Answer(err.code, err.read(), {k.lower(): v for k, v in err.headers.items()})

    def get(self, path: str, **kw: Any) -> Answer:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Answer:
        return self.call("POST", path, body if body is not None else {}, **kw)

    def events(self, query: str = "", timeout: float = 120) -> Iterator[dict[str, Any]]:
        """Connects now (once this returns, no later event is missed); then yields the SSE stream's
        messages (the JSON of each `data:` line) until `timeout` has passed."""
        req = urllib.request.Request(self.url.rstrip("/") + "/api/v1/events" + query)
        resp = urllib.request.urlopen(req, timeout=30)
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        assert resp.readline() == b"retry: 2000\n"  # sent after the service's first look at the logs

        def messages() -> Iterator[dict[str, Any]]:
            deadline = time.monotonic() + timeout
            with resp:
                while time.monotonic() < deadline:
                    line = resp.readline()
                    if not line:
                        return
                    if line.startswith(b"data: "):
                        yield json.loads(line[6:])

        return messages()


def token_env(home: Path) -> dict[str, str]:
    """An environment whose config folder is `home`/.config (the token is generated there)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENDERD") and k != "XDG_CONFIG_HOME"}
    return {**env, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


def write_token(path: Path, token: str = "test-token-0123456789abcdef") -> str:
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


def other_can_run_this_checkout(uid: int, gid: int) -> bool:
    """Can that user import the web service from this checkout (its folders may be root's only)?"""
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import render_frontend.web.app"], env=env_for_others(), user=uid,
                           group=gid, capture_output=True, timeout=60, cwd="/")
    return probe.returncode == 0
