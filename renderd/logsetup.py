"""The daemon's log lines: on stderr, with syslog priorities when stderr is the journal.

journald reads a `<N>` prefix on each line of a service's stderr as its syslog priority
(SyslogLevelPrefix=, on by default), so `journalctl -u renderd -p warning` finds renderd's
warnings.  Without the prefix every line is priority 6 (info).  The prefix goes on only when
stderr really is the journal stream: JOURNAL_STREAM names its device and inode, and a renderd
started from a service with stderr redirected to a file must not write `<4>` into that file.
Every line of a multi-line record (a traceback) carries the prefix, or journald would file the
continuation lines as info.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import IO

PRIORITIES = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}
PLAIN_FORMAT = "%(asctime)s renderd[%(process)d] %(levelname)s %(message)s"
JOURNAL_FORMAT = "%(levelname)s %(message)s"  # journald stamps time and pid itself


def priority(levelno: int) -> int:
    """The syslog priority of a logging level (levels between two take the more severe)."""
    for level in sorted(PRIORITIES, reverse=True):
        if levelno >= level:
            return PRIORITIES[level]
    return 7


class JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines() or [""])


def is_journal(stream: IO[str], env: Mapping[str, str]) -> bool:
    """Is `stream` the journal stream systemd connected (JOURNAL_STREAM=<device>:<inode>)?"""
    value = env.get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in value.split(":"))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (device, inode)


def configure(verbose: bool, stream: IO[str], env: Mapping[str, str]) -> None:
    handler = logging.StreamHandler(stream)
    if is_journal(stream, env):
        handler.setFormatter(JournalFormatter(JOURNAL_FORMAT))
    else:
        handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
