"""Under journald, renderd's lines carry syslog priorities (`<4>` for a warning), so that
`journalctl -p warning` finds them; elsewhere they are plain (no `<4>` in a redirected log)."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

from helpers.daemons import Daemon, wait_for

from renderd.logsetup import JournalFormatter, configure, is_journal, priority


def test_levels_map_to_syslog_priorities_and_every_line_is_prefixed() -> None:
    assert [priority(lv) for lv in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, 50)] == [7, 6, 4, 3, 2]
    record = logging.LogRecord("renderd", logging.ERROR, __file__, 1, "first\nsecond", None, None)
    assert JournalFormatter("%(message)s").format(record) == "<3>first\n<3>second"


def test_the_prefix_goes_on_only_when_stderr_is_the_journal_stream(tmp_path: Path) -> None:
    with open(tmp_path / "stream", "w") as fh:
        st = os.fstat(fh.fileno())
        assert is_journal(fh, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        assert not is_journal(fh, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"})
        assert not is_journal(fh, {"JOURNAL_STREAM": "nonsense"}) and not is_journal(fh, {})
    assert not is_journal(io.StringIO(), {"JOURNAL_STREAM": "1:2"})
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure(False, io.StringIO(), {})
    finally:
        root.handlers[:], root.level = saved


def test_a_daemon_on_the_journal_stream_writes_a_new_spool_warning_with_priority_4(tmp_path: Path) -> None:
    log = tmp_path / "journal"
    log.touch()
    st = os.stat(log)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENDERD")}
    env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
    spool = tmp_path / "new-spool"  # an empty folder on a local file system: a warning
    spool.mkdir()
    daemon = Daemon(spool, "jr", tmp_path, env=env)
    daemon.log = log
    daemon.start()
    try:
        text = wait_for(lambda: "created a NEW spool" in log.read_text() and log.read_text(), 60, what="the warning")
    finally:
        daemon.stop()
    (line,) = [ln for ln in text.splitlines() if "created a NEW spool" in ln]
    assert line.startswith("<4>WARNING created a NEW spool"), line
    assert "WARNING WARNING" not in text
    assert all(ln.startswith("<") for ln in text.splitlines() if ln), text
