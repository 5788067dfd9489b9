"""The text of a job's mail (renderd/mailer.py sends it): pure, so it is tested on hostile text.

Everything in it comes from the spool, which every artist writes: a job's name, a failure's
reason and a log's lines may hold CR/LF (a header of their own: `Bcc:` to anyone), escape
sequences, NULs or megabytes.  So every value is made one printable line (or, for the log,
printable lines), bounded, before it goes in; the subject is one such line, and the message is
built with `email.message.EmailMessage` under the SMTP policy, which refuses a header value with
a line break (a second guard, not the first).  The body is text/plain UTF-8; the mail library
picks the transfer encoding, so a long or non-ASCII line cannot break the SMTP conversation.
"""

from __future__ import annotations

import email.policy
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

MAX_FIELD = 300
MAX_SUBJECT_NAME = 80
MAX_LOG_LINES = 30
MAX_HOSTS = 50
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, limit: int = MAX_FIELD) -> str:
    """One line: controls (CR, LF, ESC, bidi overrides...) shown as `\\x1b`-style escapes, bounded."""
    out = _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                           else f"\\u{ord(m.group()):04x}", text)
    out = out.replace("\t", " ")
    return out if len(out) <= limit else out[: limit - 1] + "…"


def log_lines(raw: bytes, partial: bool, count: int = MAX_LOG_LINES) -> list[str]:
    """The last `count` non-blank lines of a log's tail, each printable and bounded; `partial`: the
    tail was read from the middle of the file, so its first line is a piece and is dropped."""
    lines = raw.decode("utf-8", errors="replace").split("\n")
    if partial:
        lines = lines[1:]
    kept = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in lines]  # a progress line's last state
    return [printable(line) for line in kept if line.strip()][-count:]


@dataclass(frozen=True)
class JobFacts:
    """What the mail says; every text field is spool text (hostile), made printable here."""

    job: str
    name: str
    owner: str
    to: str
    sender: str
    daemon: str
    spool: str
    frames: int
    chunks: int
    created: float  # the manifest's time (render add), 0 when unknown
    ended: float
    hosts: Sequence[str] = ()  # one entry per done chunk: the host that rendered it
    hosts_unread: bool = False  # a job too big to read every done record of for the mail
    render_seconds: float = 0.0  # the done chunks' run time, added up
    chunk: str = ""  # a failure's chunk
    frames_of_chunk: str = ""
    reason: str = ""
    log_path: str = ""
    log: Sequence[str] = field(default_factory=list)


def duration(seconds: float) -> str:
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def subject(facts: JobFacts) -> str:
    name = printable(facts.name, MAX_SUBJECT_NAME)
    what = f"{printable(facts.job, 80)}" + (f" ({name})" if name and name != facts.job else "")
    if facts.chunk:
        return f"renderd: job {what}: chunk {printable(facts.chunk, 120)} failed"
    return f"renderd: job {what} is done"


def host_summary(hosts: Iterable[str]) -> str:
    counts = Counter(printable(h or "?", 64) for h in hosts)
    parts = [f"{h} ({n} chunk{'s' if n != 1 else ''})" for h, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    more = len(parts) - MAX_HOSTS
    return ", ".join(parts[:MAX_HOSTS]) + (f", and {more} more" if more > 0 else "") if parts else "none yet"


def body(facts: JobFacts) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(facts.created)) if facts.created else "unknown"
    taken = duration(facts.ended - facts.created) if facts.created else "unknown"
    lines = [
        f"Job:       {printable(facts.job, 120)}" + (f"  ({printable(facts.name)})" if facts.name else ""),
        f"Outcome:   {'a chunk failed for good' if facts.chunk else 'done: every chunk succeeded'}",
        f"Owner:     {printable(facts.owner, 120) or 'unknown'}",
        f"Frames:    {facts.frames} in {facts.chunks} chunk(s)",
        f"Submitted: {when}",
        f"Time:      {taken} since it was added" + (f"; {duration(facts.render_seconds)} of rendering"
                                                     if facts.render_seconds else ""),
        f"Hosts:     {host_summary(facts.hosts)}" if not facts.hosts_unread else
        f"Hosts:     see render stats {printable(facts.job, 120)} (too many chunks to read for a mail)",
    ]
    if facts.chunk:
        lines += [
            "",
            f"Chunk:     {printable(facts.chunk, 120)}" + (f" (frames {printable(facts.frames_of_chunk, 60)})"
                                                           if facts.frames_of_chunk else ""),
            f"Host:      {printable(facts.daemon, 64)}",
            f"Reason:    {printable(facts.reason) or 'no reason given'}",
        ]
        if facts.log_path:
            lines.append(f"Log:       {printable(facts.log_path)}")
        if facts.log:
            lines += ["", f"Last {len(facts.log)} line(s) of the log:", *(f"  {line}" for line in facts.log)]
        lines += ["", f"Retry it with: render retry {printable(facts.job, 120)}"]
    lines += ["", f"-- renderd {printable(facts.daemon, 64)}, spool {printable(facts.spool)}"]
    return "\n".join(lines) + "\n"


def message(facts: JobFacts) -> EmailMessage:
    """The whole message; ValueError if a header would still not be one line (never expected)."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = subject(facts)
    msg["From"] = facts.sender
    msg["To"] = facts.to
    msg["Date"] = formatdate(facts.ended, localtime=True)
    msg["Message-ID"] = make_msgid("renderd")
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a farm
    msg["X-Renderd-Job"] = printable(facts.job, 120)
    msg.set_content(body(facts), charset="utf-8")
    for name, value in msg.items():
        if any(c in str(value) for c in "\r\n"):
            raise ValueError(f"header {name} is not one line")
    return msg
