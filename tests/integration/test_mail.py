"""Mail to a job's owner (render add --mail, renderd/mailer.py): real daemons, a real SMTP server
(aiosmtpd) on a loopback port; the message arrives once, with the right subject and body, and a
mail server that is down never fails the job."""

from __future__ import annotations

import getpass
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FAKEPROG
from helpers.daemons import BIN, Daemon, add_job, render, wait_for
from helpers.smtp import SMTPServer, certificate, free_port

TO = "someone@example.test"
FAIL = [sys.executable, "-c", "import sys; print('rendering 1'); print('Error: the texture is gone'); sys.exit(3)"]


def _config(tmp_path: Path, port: int, extra: str = "") -> Path:
    path = tmp_path / "renderd.toml"
    path.write_text(f'[mail]\nsmtp = "127.0.0.1:{port}"\nfrom = "farm@example.test"\n{extra}')
    return path


def _start(daemons: list[Daemon], spool: Path, tmp_path: Path, name: str, config: Path) -> Daemon:
    d = Daemon(spool, name, tmp_path, ["--allow-commands", "--poll", "0.5", "--config", str(config)])
    daemons.append(d)
    return d.start()


def test_a_done_job_mails_its_owner_once_from_one_of_two_daemons(spool: Path, markers: Path, tmp_path: Path,
                                                                 daemons: list[Daemon]) -> None:
    with SMTPServer() as server:
        config = _config(tmp_path, server.port)
        job = add_job(spool, "1-8", ["python3", FAKEPROG, str(markers), "c{start}"], "--chunk", "2",
                      "--name", "shot", "--mail", TO)
        a = _start(daemons, spool, tmp_path, "a", config)
        b = _start(daemons, spool, tmp_path, "b", config)
        assert render(spool, "wait", job["job"], "--timeout", "120", check=False).returncode == 0
        wait_for(lambda: server.messages(), 60, what="the mail")
        wait_for(lambda: "mailed job-done" in a.output() + b.output(), 60, what="the daemon's line")
        assert a.stop() == 0 and b.stop() == 0  # nothing more can be sent after this
        got = server.messages()
    assert len(got) == 1, [m.message["Subject"] for m in got]
    assert got[0].mail_from == "farm@example.test" and got[0].rcpt_tos == [TO]
    msg = got[0].message
    assert msg["Subject"] == f"renderd: job {job['job']} (shot) is done"
    assert msg["To"] == TO
    text = msg.get_content()
    assert "Frames:    8 in 4 chunk(s)" in text and "since it was added" in text
    hosts = text.split("Hosts:", 1)[1].splitlines()[0]
    assert "chunk" in hosts and all(h in ("a", "b") for h in
                                    (part.strip().split(" ")[0] for part in hosts.split(",")))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # a loopback port: on purpose
def test_a_chunk_that_fails_for_good_mails_the_reason_and_the_log(spool: Path, tmp_path: Path,
                                                                    daemons: list[Daemon]) -> None:
    password = tmp_path / "smtp-password"
    password.write_text("s3cret\n")
    with SMTPServer(login=("farm", "s3cret")) as server:  # and logs in first (user, password_file)
        job = add_job(spool, "1-1", FAIL, "--max-attempts", "2", "--name", "shot", "--mail", TO)
        config = _config(tmp_path, server.port, f'user = "farm"\npassword_file = "{password}"\n')
        d = _start(daemons, spool, tmp_path, "a", config)
        assert render(spool, "wait", job["job"], "--timeout", "120", check=False).returncode == 1
        wait_for(lambda: "mailed failure" in d.output(), 60, what="the failure's mail")
        assert d.stop() == 0
        got = server.messages()
    chunk = job["chunks"][0]["chunk"]
    assert server.logins == [("farm", True)]
    assert len(got) == 1  # the first attempt was retried, not a failure for good: no mail for it
    msg = got[0].message
    assert msg["Subject"] == f"renderd: job {job['job']} (shot): chunk {chunk} failed"
    text = msg.get_content()
    assert "Reason:    exit code 3" in text and "Error: the texture is gone" in text
    assert "Last " in text and "  rendering 1" in text
    assert "Host:      a" in text


def test_a_mail_server_that_is_down_never_fails_the_job_and_the_send_is_retried(
        spool: Path, markers: Path, tmp_path: Path, daemons: list[Daemon]) -> None:
    port = free_port()
    config = _config(tmp_path, port, 'retries = 6\nretry_delay = "1s"\ntimeout = "5s"\n')
    job = add_job(spool, "1-2", ["python3", FAKEPROG, str(markers), "c{start}"], "--mail", TO)
    d = _start(daemons, spool, tmp_path, "a", config)
    assert render(spool, "wait", job["job"], "--timeout", "120", check=False).returncode == 0  # done, mail or not
    wait_for(lambda: "not sent (try 1 of 7)" in d.output(), 60, what="the failed send in the log")
    assert render(spool, "status", job["job"], "--json").returncode == 0
    with SMTPServer(port) as server:  # the server comes back: a later try delivers
        wait_for(lambda: server.messages(), 90, what="the retried mail")
        wait_for(lambda: "mailed job-done" in d.output(), 60, what="the daemon's line")
        assert d.stop() == 0
        assert len(server.messages()) == 1


def test_without_mail_settings_one_line_and_nothing_sent(spool: Path, markers: Path, tmp_path: Path,
                                                         start_daemon) -> None:  # type: ignore[no-untyped-def]
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "c{start}"], "--mail", TO)
    d = start_daemon("a", "--allow-commands", "--poll", "0.5")
    assert render(spool, "wait", job["job"], "--timeout", "120", check=False).returncode == 0
    wait_for(lambda: "has no [mail] smtp setting" in d.output(), 60, what="the line")
    assert d.output().count(f"asks for mail to {TO}") == 1


def test_a_bad_mail_table_stops_the_daemon_with_one_line(spool: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[mail]\nsmtp = "mail:prot"\n')
    proc = subprocess.run([str(BIN / "renderd"), "--spool", str(spool), "--config", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == ["Error: config file [mail] smtp: 'prot' is not a port number (1-65535)"]


def test_render_add_mail_alone_is_the_user_at_the_config_files_domain(spool: Path, tmp_path: Path) -> None:
    config = tmp_path / "render.toml"
    config.write_text('[mail]\ndomain = "studio.example"\n')
    out = render(spool, "--config", str(config), "add", "--frames", "1-1", "--json", "--local-ok", "--mail", "--",
                 "true")
    job = json.loads(out.stdout)["job"]
    mail = json.loads((spool / "jobs" / job / "manifest.json").read_text())["mail"]
    assert mail == f"{getpass.getuser()}@studio.example"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a test certificate")
def test_starttls_with_the_studios_ca_and_a_login(spool: Path, markers: Path, tmp_path: Path,
                                                  daemons: list[Daemon]) -> None:
    cert, key = certificate(tmp_path)
    password = tmp_path / "smtp-password"
    password.write_text("s3cret\n")
    with SMTPServer(login=("farm", "s3cret"), tls=(cert, key)) as server:  # AUTH only after STARTTLS
        config = _config(tmp_path, server.port, f'starttls = true\nca_file = "{cert}"\nuser = "farm"\n'
                                                f'password_file = "{password}"\n')
        job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "c{start}"], "--mail", TO)
        d = _start(daemons, spool, tmp_path, "a", config)
        assert render(spool, "wait", job["job"], "--timeout", "120", check=False).returncode == 0
        wait_for(lambda: "mailed job-done" in d.output(), 60, what="the mail over TLS")
        assert d.stop() == 0
        assert server.logins == [("farm", True)] and len(server.messages()) == 1


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a test certificate")
def test_starttls_refuses_a_certificate_it_cannot_check(spool: Path, markers: Path, tmp_path: Path,
                                                        daemons: list[Daemon]) -> None:
    cert, key = certificate(tmp_path)
    with SMTPServer(tls=(cert, key)) as server:  # self-signed, and no ca_file: the system's CAs refuse it
        config = _config(tmp_path, server.port, 'starttls = true\nretries = 0\n')
        job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "c{start}"], "--mail", TO)
        d = _start(daemons, spool, tmp_path, "a", config)
        assert render(spool, "wait", job["job"], "--timeout", "120", check=False).returncode == 0
        wait_for(lambda: "given up after 1 try" in d.output(), 60, what="the refusal")
        assert "CERTIFICATE_VERIFY_FAILED" in d.output()
        assert d.stop() == 0
        assert server.messages() == []
