"""Mail to a job's owner (`render add --mail`): one message when the job is done, one for each
chunk that fails for good (docs/hooks.md, "Mail").

A daemon listener (renderd/daemon/core.py).  It acts on two events only, and both are emitted
exactly once in the farm, by the daemon that saw them: `job-done` by the one daemon whose
mkdir of jobs/<job>/ended succeeded (renderd/jobend.py), and `chunk-failed` with state "failed"
by the one daemon that moved the chunk to failed/.  So the message is sent once per event, by
that daemon, through that daemon's [mail] settings (renderd/mailconfig.py).

The listener runs on the daemon's main thread and only puts the event in a queue; one
background thread reads what the message needs (the manifest, the done records, the log's tail:
all through the spool's I/O layer, bounded), builds it (renderd/mailmsg.py) and talks SMTP.
A send that fails is logged and tried again `retries` times, after `retry_delay`, doubled each
time; then given up with one line.  Nothing here can fail a job or stop the daemon: the job's
state is already written when the event is emitted.  At most once, not at least once: mail
still waiting when the daemon stops is logged as not sent.
"""

from __future__ import annotations

import logging
import os
import queue
import smtplib
import ssl
import threading
import time
from email.message import EmailMessage
from typing import Any

from renderd.access import owners_manifest
from renderd.format.manifest import Manifest
from renderd.mailconfig import MailSettings
from renderd.mailmsg import JobFacts, log_lines, message, printable
from renderd.spool import Spool

log = logging.getLogger(__name__)
TAIL_BYTES = 16 * 1024
MAX_DONE_READ = 5000  # done records read for the hosts line; a bigger job's mail points to `render stats JOB`
MAX_PENDING = 1000  # a farm failing chunk after chunk must not grow the queue without end
CLOSE_WAIT = 5.0


class Mailer:
    """The listener, and the one thread that builds and sends the messages."""

    def __init__(self, spool: Spool, settings: MailSettings | None, daemon: str,
                 admin_group: str | None = None) -> None:
        self.spool, self.settings, self.daemon = spool, settings, daemon
        self.admin_group = admin_group  # whose rewritten manifest still counts (access.owners_manifest)
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(MAX_PENDING)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind != "job-done" and not (kind == "chunk-failed" and event.get("state") == "failed"):
            return
        if self._stop.is_set():
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="renderd-mail", daemon=True)
                self._thread.start()
        try:
            self._queue.put_nowait(dict(event))
        except queue.Full:
            log.warning("mail for %s of job %s not sent: %d messages are already waiting",
                        kind, event.get("job"), MAX_PENDING)

    def close(self) -> None:
        """At shutdown: let a send in progress finish for a few seconds; say what is left unsent."""
        self._stop.set()
        if self._thread is None:
            return
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(CLOSE_WAIT)
        left = 0
        while True:
            try:
                left += self._queue.get_nowait() is not None
            except queue.Empty:
                break
        if left:
            log.warning("%d mail message(s) not sent: the daemon is stopping", left)

    # ------------------------------------------------------------------ the thread

    def _work(self) -> None:
        while True:
            event = self._queue.get()
            if event is None or self._stop.is_set():
                if event is not None:
                    self._queue.put_nowait(event)  # counted as unsent by close()
                return
            try:
                self._one(event)
            except Exception:  # a bug here must not end the thread: the next job gets its mail
                log.exception("mail for job %s failed", event.get("job"))

    def _one(self, event: dict[str, Any]) -> None:
        job = str(event.get("job") or "")
        # The address only from the owner's manifest: one replaced by another artist (the job folder
        # is 2775) would send the owner's mail, a failed run's log included, where it says.
        manifest = owners_manifest(self.spool, job, self.admin_group) if job else None
        if manifest is None or not manifest.mail:
            return
        what = f"{'job-done' if event['event'] == 'job-done' else 'failure of ' + str(event.get('chunk'))} of {job}"
        if self.settings is None:
            log.info("job %s asks for mail to %s, but this renderd's config file has no [mail] smtp setting: "
                     "nothing sent (docs/config.md)", job, manifest.mail)
            return
        msg = message(self.facts(event, manifest, self.settings))
        self._send(msg, manifest.mail, what)

    def facts(self, event: dict[str, Any], manifest: Manifest, settings: MailSettings) -> JobFacts:
        """What the message says, read from the spool (every read bounded, never followed)."""
        many = len(manifest.chunks) > MAX_DONE_READ  # one read per record: not 100 000 of them over NFS
        done = {} if many else self.spool.done_chunks(manifest.job)
        hosts = [rec.host for rec in done.values()]
        seconds = sum(rec.seconds or 0.0 for rec in done.values())
        chunk = str(event.get("chunk") or "") if event["event"] == "chunk-failed" else ""
        frames, log_path, tail = "", "", list[str]()
        if chunk:
            entry = next((c for c in manifest.chunks if c.chunk == chunk), None)
            frames = "" if entry is None else f"{entry.start}-{entry.end}" + (f":{entry.step}" if entry.step > 1
                                                                               else "")
            log_path, tail = self._log_tail(manifest.job, chunk, str(event.get("log") or ""))
        return JobFacts(
            job=manifest.job, name=manifest.name, owner=manifest.owner, to=manifest.mail or "",
            sender=settings.sender, daemon=self.daemon, spool=str(self.spool.root), frames=manifest.frames,
            chunks=len(manifest.chunks), created=manifest.created, ended=float(event.get("time") or time.time()),
            hosts=hosts, hosts_unread=many, render_seconds=seconds, chunk=chunk, frames_of_chunk=frames,
            reason=str(event.get("reason") or "") or self.spool.failed_reason(chunk), log_path=log_path, log=tail,
        )

    def _log_tail(self, job: str, chunk: str, named: str) -> tuple[str, list[str]]:
        """The failed run's log (the one the event names, if it is one of the chunk's logs, else the
        newest): its last lines.  A log is the program's output: any bytes, any size."""
        logs = self.spool.chunk_logs(job, chunk)
        if not logs:
            return "", []
        path = next((p for p in logs if str(p.relative_to(self.spool.root)) == named), logs[-1])
        try:
            fd = self.spool.io.open(path)
        except OSError as err:
            log.warning("mail: cannot read the log %s: %s", path, err)
            return str(path.relative_to(self.spool.root)), []
        try:
            size = os.fstat(fd).st_size
            start = max(0, size - TAIL_BYTES)
            raw = os.pread(fd, TAIL_BYTES, start)
        finally:
            os.close(fd)
        return str(path.relative_to(self.spool.root)), log_lines(raw, partial=start > 0)

    def _send(self, msg: EmailMessage, to: str, what: str) -> None:
        assert self.settings is not None
        s = self.settings
        delay = s.retry_delay
        for attempt in range(1, s.retries + 2):
            try:
                self._smtp(msg, to)
            except (OSError, smtplib.SMTPException, ValueError) as err:
                text = printable(str(err) or type(err).__name__)
                if attempt > s.retries:
                    log.error("mail for %s to %s not sent, given up after %d %s: %s", what, to, attempt,
                              "try" if attempt == 1 else "tries", text)
                    return
                log.warning("mail for %s to %s not sent (try %d of %d): %s; trying again in %gs",
                            what, to, attempt, s.retries + 1, text, delay)
                if self._stop.wait(delay):
                    log.warning("mail for %s to %s not sent: the daemon is stopping", what, to)
                    return
                delay *= 2
                continue
            log.info("mailed %s to %s via %s:%d: %s", what, to, s.host, s.port, msg["Subject"])
            return

    def _smtp(self, msg: EmailMessage, to: str) -> None:
        assert self.settings is not None
        s = self.settings
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
            smtp.ehlo()
            if s.starttls:
                cafile = None if s.ca_file is None else str(s.ca_file)
                smtp.starttls(context=ssl.create_default_context(cafile=cafile))  # the name and the chain checked
                smtp.ehlo()
            if s.user is not None:
                smtp.login(s.user, s.password())
            refused = smtp.send_message(msg, from_addr=s.sender, to_addrs=[to])
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)
