"""Issue 10, finding 15: escape sequences planted in the spool never reach the terminal raw.

Anyone who can write the spool can write a host record or an event file.  Printed as they are,
`ESC ] 0 ; ... BEL` sets the reader's window title and `ESC ] 52 ; c ; ... BEL` writes their
clipboard (a command they may paste into a shell).  Every `render` command that prints spool text
goes through render_frontend/terminal.py; these tests plant the sequences and read what reaches
stdout, through pipes and (for `render top`'s live screen) through a pseudo-terminal.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

from helpers.daemons import BIN

TITLE = "\x1b]0;pwned\x07"
CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4K\x07"  # base64 of "rm -rf ~"
CSI = "\x9b2J"  # the one-byte C1 CSI: clear screen
FORGED = "12:00:00 ws-boss job-payroll done"  # a line that a newline in a field would forge


def render(spool: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, RENDERD_SPOOL=str(spool))
    return subprocess.run([str(BIN / "render"), *args], capture_output=True, timeout=timeout, env=env)


def plant(spool: Path) -> None:
    """A spool made by `render add`, then a forged host record and event file of host `evil`."""
    made = render(spool, "add", "--name", f"job{TITLE}", "--frames", "1-2", "--", "true")
    assert made.returncode == 0, made.stderr
    now = time.time()
    record = {
        "format": 1, "name": "evil", "hostname": f"ws{TITLE}", "pid": 1, "cpus": 2, "load": [0.5, 0.1, 0.0],
        "mem_total": 1, "mem_free": 1, "swap_total": 0, "swap_free": 0, "state": f"idle{CLIPBOARD}",
        # ids must be safe names (the format's readers refuse a record or line with others): text fields carry it
        "chunks": [{"chunk": "j-1", "job": "j"}], "version": f"0.1{CSI}",
        "heartbeat": now, "started": now, "slots": 1,
    }
    (spool / "hosts" / "evil.json").write_text(json.dumps(record))
    head = {"v": 1, "type": "event", "time": now}
    events = [
        {**head, "host": "evil", "event": "daemon-started", "pid": 1, "slots": f"1{CLIPBOARD}"},
        {**head, "host": "evil", "event": "chunk-failed", "chunk": "c-1", "reason": f"x{TITLE}{CSI}"},
        {**head, "host": "evil", "event": f"odd{CLIPBOARD}", "chunk": "x"},
        {**head, "host": "evil", "event": "chunk-requeued", "chunk": "y", "reason": f"z\n{FORGED}"},
    ]
    (spool / "events" / "evil.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


def assert_clean(out: bytes, what: str) -> None:
    assert b"\x1b" not in out and b"\x07" not in out, f"{what} printed a raw escape sequence: {out!r}"
    assert "\x9b" not in out.decode("utf-8", errors="replace"), f"{what} printed a raw C1 CSI: {out!r}"


def test_tail_farm_hosts_status_top_once_print_no_raw_escape(spool: Path) -> None:
    plant(spool)
    tail = render(spool, "tail", "--farm", "--timeout", "1.5")
    assert tail.returncode == 0, tail.stderr
    assert_clean(tail.stdout + tail.stderr, "render tail --farm")
    assert b"\\x1b]52;c;" in tail.stdout and b"\\x1b]0;pwned" in tail.stdout  # shown, made visible
    assert not [line for line in tail.stdout.splitlines() if line.startswith(FORGED.encode())], tail.stdout
    assert FORGED.encode() in tail.stdout  # it is there, on the line of its event
    for args in (["top", "--once"], ["hosts"], ["status"]):
        proc = render(spool, *args)
        assert proc.returncode == 0, proc.stderr
        assert_clean(proc.stdout + proc.stderr, f"render {' '.join(args)}")
        if args[0] != "status":  # status shows job ids (slugs), not the planted name
            assert b"\\x1b]" in proc.stdout, f"render {' '.join(args)} shows the planted text, made visible"


def test_error_messages_quoting_spool_text_print_no_raw_escape(spool: Path) -> None:
    plant(spool)
    job = json.loads(render(spool, "status", "--json").stdout)
    job_id = next(iter(j["job"] for j in job["jobs"])) if isinstance(job, dict) and "jobs" in job else None
    for args in (["wait", f"nojob{TITLE}"], ["log", f"nojob{CLIPBOARD}"], ["status", f"x{TITLE}"]):
        proc = render(spool, *args)
        assert proc.returncode != 0
        assert_clean(proc.stdout + proc.stderr, f"render {args[0]} (error)")
    if job_id is not None:
        proc = render(spool, "log", f"{job_id}:{CLIPBOARD}")
        assert_clean(proc.stdout + proc.stderr, "render log JOB:CHUNK (error)")


def test_top_live_screen_shows_markup_and_escapes_as_text(spool: Path) -> None:
    """The live screen writes its own escape codes, but none of the planted ones; `[bold]` stays text."""
    plant(spool)
    record = json.loads((spool / "hosts" / "evil.json").read_text())
    record["state"] = f"[bold]boom[/bold]{CLIPBOARD}"  # chunk ids must be safe names: a text field carries it
    (spool / "hosts" / "evil.json").write_text(json.dumps(record))
    master, slave = pty.openpty()
    env = dict(os.environ, RENDERD_SPOOL=str(spool), TERM="xterm", COLUMNS="200", LINES="40")
    proc = subprocess.Popen([str(BIN / "render"), "top", "--interval", "0.5"], stdin=slave, stdout=slave,
                            stderr=slave, env=env, close_fds=True)
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while b"[bold]boom" not in seen and time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        os.write(master, b"q")
        proc.wait(timeout=60)
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert b"[bold]boom" in seen, seen[-2000:]  # not eaten as rich markup
    assert b"\x1b]52" not in seen and b"\x1b]0;" not in seen and b"\x07" not in seen, "a planted sequence got out"
    assert b"\\x1b]52;c;" in seen  # the planted state, made visible


def test_completion_shows_planted_names_and_states_made_visible(spool: Path) -> None:
    """zsh and fish show each candidate's help (a job's name, a host's state) in their menu."""
    plant(spool)
    for words, cword in (("render status ", "2"), ("render host pause ", "3")):
        env = dict(os.environ, RENDERD_SPOOL=str(spool), _RENDER_COMPLETE="zsh_complete", COMP_WORDS=words,
                   COMP_CWORD=cword)
        proc = subprocess.run([str(BIN / "render")], capture_output=True, timeout=60, env=env)
        assert proc.returncode == 0, proc.stderr
        assert_clean(proc.stdout, f"completion of {words!r}")
        assert b"\\x1b]" in proc.stdout, proc.stdout  # the planted help is there, made visible
