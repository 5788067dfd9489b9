"""The mail's text (renderd/mailmsg.py) and the [mail] settings (renderd/mailconfig.py): hostile
spool text cannot add a header or break a line; a wrong setting is one sentence at start."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from renderd.mailconfig import MailConfigError, from_table
from renderd.mailmsg import JobFacts, log_lines, message, printable

EVIL = "shot\r\nBcc: victim@example.test\r\n\r\nfake body\x1b]0;title\x07\u202e"


def _facts(**kw: object) -> JobFacts:
    base: dict[str, object] = dict(job="shot-1a2b", name="shot", owner="alice", to="alice@example.test",
                                   sender="renderd@example.test", daemon="a", spool="/farm", frames=8, chunks=4,
                                   created=1000.0, ended=1725.0, hosts=["a", "a", "b", "a"], render_seconds=600.0)
    base.update(kw)
    return JobFacts(**base)  # type: ignore[arg-type]


def _parsed(facts: JobFacts):  # type: ignore[no-untyped-def]
    return message_from_bytes(message(facts).as_bytes(), policy=policy.default)


def test_a_done_message_says_job_frames_time_and_hosts() -> None:
    msg = _parsed(_facts())
    assert msg["Subject"] == "renderd: job shot-1a2b (shot) is done"
    assert msg["To"] == "alice@example.test" and msg["From"] == "renderd@example.test"
    text = msg.get_content()
    assert "Frames:    8 in 4 chunk(s)" in text
    assert "12m05s since it was added; 10m00s of rendering" in text
    assert "Hosts:     a (3 chunks), b (1 chunk)" in text


def test_crlf_in_a_name_a_reason_or_a_log_adds_no_header() -> None:
    msg = _parsed(_facts(name=EVIL, chunk=f"c1{EVIL}", reason=EVIL, log=log_lines(EVIL.encode() * 3, False)))
    assert msg.get_all("Bcc") is None
    assert len(msg.get_all("Subject")) == 1 and "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
    assert sorted(set(msg.keys())) == sorted({"Subject", "From", "To", "Date", "Message-ID", "Auto-Submitted",
                                              "X-Renderd-Job", "Content-Type", "Content-Transfer-Encoding",
                                              "MIME-Version"})
    body = msg.get_content()
    assert "\x1b" not in body and "\u202e" not in body and "\x07" not in body
    assert "\\x0d\\x0aBcc: victim@example.test" in body  # shown, escaped, on one line
    assert all(not line.startswith("Bcc:") for line in body.splitlines())


def test_sizes_are_bounded() -> None:
    facts = _facts(name="n" * 100_000, chunk="c1", reason="r" * 100_000, hosts=[f"h{i}" for i in range(5000)],
                   log=log_lines(b"x" * 20_000 + b"\n" + b"line\n" * 10_000, True))
    assert len(message(facts).as_bytes()) < 20_000
    assert len(facts.log) == 30 and set(facts.log) == {"line"}


def test_log_lines_drop_a_partial_first_line_and_keep_a_progress_lines_last_state() -> None:
    assert log_lines(b"tial line\nFra:1\rFra:2\r\nbad \xff byte\n\n", True) == ["Fra:2", "bad \ufffd byte"]
    assert printable("a\tb\x00c") == "a b\\x00c"


def test_mail_settings_are_checked_once_with_one_sentence(tmp_path: Path) -> None:
    assert from_table({}) is None
    assert from_table({"domain": "studio.example"}) is None  # a workstation's file: render add --mail's domain
    s = from_table({"smtp": "127.0.0.1:2525", "from": "farm@example.test"})
    assert s is not None and (s.host, s.port, s.sender, s.starttls, s.retries) == ("127.0.0.1", 2525,
                                                                                     "farm@example.test", False, 3)
    assert from_table({"smtp": "mail.example.test"}).port == 25  # type: ignore[union-attr]
    password = tmp_path / "pw"
    password.write_text("secret\n")
    s = from_table({"smtp": "mail:587", "starttls": True, "user": "r", "password_file": str(password),
                    "retry_delay": "2s", "retries": 1})
    assert s is not None and s.password() == "secret" and s.retry_delay == 2.0
    for table, words in [({"smtp": "h:prot"}, "port"), ({"from": "x@y"}, "smtp"), ({"smtp": "h:25", "tls": 1},
                         "unknown key 'tls'"), ({"smtp": "h:25", "from": "a\r\nBcc: b@c"}, "from"),
                         ({"smtp": "mail:25", "user": "u"}, "in clear"), ({"smtp": "h:25", "starttls": "yes"},
                         "true or false"), ({"smtp": "h:25", "retry_delay": "soon"}, "retry_delay"),
                         ({"smtp": "h:25", "user": "u", "starttls": True, "password_file": "/no/such"}, "no such"),
                         ({"domain": "a b"}, "not a mail domain"),
                         ({"smtp": "h:25", "ca_file": str(password)}, "ca_file without starttls")]:
        with pytest.raises(MailConfigError, match=words):
            from_table(table)
