"""The names the spool itself makes: job and chunk ids, queue folders, claimed files.

A name starts with a letter or digit, so NFS's `.nfs*` leftovers, editors' `.#x` and `..` never
match; it holds no `/` and no `@` (the claimed name's separator).  A file whose name is not one of
these is not the spool's and is ignored, never quarantined.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass

NAME = r"[A-Za-z0-9][A-Za-z0-9_+-]*(?:\.[A-Za-z0-9_+-]+)*"
NAME_RE = re.compile(rf"^{NAME}$")
INFO_RE = re.compile(rf"^(?P<chunk>{NAME})\.info$")
QUEUE_DIR_RE = re.compile(rf"^(?P<prio>\d{{3}})-(?P<submitted>\d{{13}})-(?P<job>{NAME})$")
CLAIMED_RE = re.compile(rf"^(?P<chunk>{NAME})\.info@(?P<host>{NAME})\.(?P<pid>\d+)\.(?P<nonce>[0-9a-f]{{8}})$")
ROTATED_RE = re.compile(rf"^{NAME}\.jsonl\.\d+$")
MAX_NAME = 160
MAX_PRIORITY = 999  # the queue folder's name holds `999 - priority` in 3 digits
MAX_SUBMITTED_MS = 10**13  # ... and the submission time in 13 digits of milliseconds
MAX_PID = 2**22  # Linux's pid_max ceiling


def valid_name(name: str, max_len: int = MAX_NAME) -> bool:
    return len(name) <= max_len and NAME_RE.match(name) is not None


def nonce() -> str:
    return secrets.token_hex(4)


def job_of_chunk(chunk: str) -> str:
    """`<job>-<index>` -> `<job>`."""
    return chunk.rsplit("-", 1)[0]


def chunk_id(job: str, index: int, total: int) -> str:
    """Zero-padded so that names sort: at least 4 digits."""
    return f"{job}-{index:0{max(4, len(str(total)))}d}"


@dataclass(frozen=True)
class ClaimName:
    """`claimed/<chunk>.info@<host>.<pid>.<nonce>`: who holds which chunk."""

    chunk: str
    host: str
    pid: int
    nonce: str

    @property
    def filename(self) -> str:
        return f"{self.chunk}.info@{self.host}.{self.pid}.{self.nonce}"

    @property
    def job(self) -> str:
        return job_of_chunk(self.chunk)

    @classmethod
    def parse(cls, filename: str) -> ClaimName | None:
        m = CLAIMED_RE.match(filename)
        if m is None or len(m["pid"]) > 10:  # a 5 000-digit pid is not a pid (and int() of it is slow)
            return None
        return cls(m["chunk"], m["host"], int(m["pid"]), m["nonce"])

    @classmethod
    def new(cls, chunk: str, host: str) -> ClaimName:
        return cls(chunk, host, os.getpid(), nonce())


@dataclass(frozen=True)
class QueueDir:
    """`queue/<999-prio>-<submitted ms>-<job>`: a job's queued chunks; the name sorts in claim order."""

    name: str
    priority: int
    submitted_ms: int
    job: str

    @classmethod
    def parse(cls, name: str) -> QueueDir | None:
        m = QUEUE_DIR_RE.match(name)
        if m is None:
            return None
        return cls(name, MAX_PRIORITY - int(m["prio"]), int(m["submitted"]), m["job"])

    @classmethod
    def build(cls, job: str, priority: int, submitted_ms: int) -> QueueDir:
        name = f"{MAX_PRIORITY - priority:03d}-{submitted_ms:013d}-{job}"
        return cls(name, priority, submitted_ms, job)
