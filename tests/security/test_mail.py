"""Mail (renderd/mailer.py) with hostile spool text: a manifest's name and a program's output are
any artist's writing.  CR/LF in them must not add a header or a recipient, escape sequences must
not reach the reader's mail program, and sizes stay bounded; a real daemon, a real SMTP server."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from helpers.daemons import Daemon, add_job, render, wait_for
from helpers.smtp import SMTPServer

TO = "owner@example.test"
EVIL = "shot\r\nBcc: victim@example.test\r\nSubject: free money\r\n\r\nfake body"
NOISE = ("import sys; sys.stdout.write('x' * 200_000 + chr(10)); "
         "sys.stdout.write('Error: gone' + chr(13) + chr(10) + 'Bcc: victim@example.test' + chr(10) + "
         "chr(27) + ']0;pwned' + chr(7) + chr(10)); sys.exit(2)")


def test_crlf_in_a_planted_name_and_in_the_log_adds_no_header_or_recipient(spool: Path, tmp_path: Path,
                                                                           daemons: list[Daemon]) -> None:
    with SMTPServer() as server:
        config = tmp_path / "renderd.toml"
        config.write_text(f'[mail]\nsmtp = "127.0.0.1:{server.port}"\nfrom = "farm@example.test"\n')
        job = add_job(spool, "1-1", [sys.executable, "-c", NOISE], "--max-attempts", "1", "--mail", TO)
        manifest = spool / "jobs" / job["job"] / "manifest.json"
        data = json.loads(manifest.read_text())
        data["name"] = EVIL  # as the artist who owns the job can write it
        manifest.chmod(0o644)
        manifest.write_text(json.dumps(data))
        d = Daemon(spool, "a", tmp_path, ["--allow-commands", "--poll", "0.5", "--config", str(config)])
        daemons.append(d)
        d.start()
        assert render(spool, "wait", job["job"], "--timeout", "120", check=False).returncode == 1
        wait_for(lambda: "mailed failure" in d.output(), 60, what="the mail")
        assert d.stop() == 0
        got = server.messages()
    assert len(got) == 1 and got[0].rcpt_tos == [TO]
    msg = got[0].message
    assert msg.get_all("Bcc") is None and len(msg.get_all("Subject")) == 1
    assert "free money" not in msg["Subject"].split("(", 1)[0]
    assert msg["Subject"].startswith(f"renderd: job {job['job']} (shot\\x0d\\x0aBcc:")
    body = msg.get_content()
    assert "\x1b" not in body and "\x07" not in body and "\\x1b]0;pwned\\x07" in body
    assert not any(line.startswith(("Bcc:", "Subject:")) for line in body.splitlines())
    assert len(got[0].raw) < 40_000  # a 200 kB line in the log is cut
