"""The daemon's mail settings: the config file's [mail] table (docs/config.md, docs/hooks.md).

    [mail]
    smtp = "mail.studio.example:587"     # host:port (port 25 when left out); required
    from = "renderd@studio.example"      # default: renderd@<this host's fqdn>
    starttls = true                      # default false
    ca_file = "/etc/ssl/studio-ca.pem"   # trust this CA for the server's certificate (default: the system's)
    user = "renderd"                     # log in (only with starttls, or to a loopback server)
    password_file = "/etc/renderd/smtp-password"   # its first line is the password
    retries = 3                          # further tries of a failed send (default 3)
    retry_delay = "30s"                  # before the first retry, doubled for each next one
    domain = "studio.example"            # `render add --mail` alone: user@domain (read by `render`)

The table is the host admin's (the config file is theirs), so its values are trusted as settings
but still checked here once, at start, with one sentence per mistake: a daemon that would only
find out at the first finished job, hours later, that its mail server was written `host:prot`
is worse than one that does not start.  The password is read from its file at each send (so a
rotated password needs no restart) and never kept in the settings.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renderd.duration import DurationError, parse_duration
from renderd.format.manifest import MAIL_RE

KEYS = ("smtp", "from", "starttls", "ca_file", "user", "password_file", "retries", "retry_delay", "timeout", "domain")
DOMAIN_RE = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class MailConfigError(ValueError):
    """A mistake in the [mail] table: the message names the key."""


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int = 25
    sender: str = ""
    starttls: bool = False
    ca_file: Path | None = None  # the CA file the server's certificate is checked against (else the system's)
    user: str | None = None
    password_file: Path | None = None
    retries: int = 3
    retry_delay: float = 30.0
    timeout: float = 30.0  # of one SMTP conversation's socket operations

    def password(self) -> str:
        """The first line of password_file (OSError if it cannot be read)."""
        if self.password_file is None:
            return ""
        with open(self.password_file, encoding="utf-8") as fh:
            return fh.readline(4096).rstrip("\r\n")


def from_table(table: dict[str, Any]) -> MailSettings | None:
    """The settings of a [mail] table; None for an absent or empty table (no mail is sent)."""
    for key in table:
        if key not in KEYS:
            raise MailConfigError(f"unknown key {key!r} (known: {', '.join(KEYS)})")
    domain = table.get("domain")
    if domain is not None and (not isinstance(domain, str) or not DOMAIN_RE.match(domain)):
        raise MailConfigError(f"domain: {domain!r} is not a mail domain (e.g. studio.example)")
    if not set(table) - {"domain"}:  # nothing, or a workstation's file that only sets render add --mail's domain
        return None
    smtp = table.get("smtp")
    if not isinstance(smtp, str) or not smtp.strip():
        raise MailConfigError('smtp: the mail server is required, as "host:port"')
    host, port = _host_port(smtp.strip())
    sender = table.get("from", f"renderd@{socket.getfqdn()}")
    if not isinstance(sender, str) or len(sender) > 254 or not MAIL_RE.match(sender):
        raise MailConfigError(f"from: {sender!r} is not a mail address (user@host)")
    starttls = table.get("starttls", False)
    if not isinstance(starttls, bool):
        raise MailConfigError("starttls: write true or false")
    ca_file = table.get("ca_file")
    if ca_file is not None:
        if not isinstance(ca_file, str) or not ca_file:
            raise MailConfigError("ca_file: a path")
        if not starttls:
            raise MailConfigError("ca_file without starttls: the certificate is only checked with starttls = true")
        if not Path(ca_file).is_file():
            raise MailConfigError(f"ca_file: {ca_file}: no such file")
    user = table.get("user")
    if user is not None and (not isinstance(user, str) or not user or any(c in user for c in "\r\n\0")):
        raise MailConfigError("user: a user name on one line")
    password_file = table.get("password_file")
    if password_file is not None:
        if not isinstance(password_file, str) or not password_file:
            raise MailConfigError("password_file: a path")
        if user is None:
            raise MailConfigError("password_file without user: whom would the password log in?")
        if not Path(password_file).is_file():
            raise MailConfigError(f"password_file: {password_file}: no such file")
    if user is not None and not starttls and host not in LOOPBACK:
        raise MailConfigError("user without starttls would send the password in clear to " + host +
                              " (set starttls = true)")
    retries = table.get("retries", 3)
    if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 20:
        raise MailConfigError("retries: a whole number from 0 to 20")
    return MailSettings(host=host, port=port, sender=sender, starttls=starttls,
                        ca_file=None if ca_file is None else Path(ca_file), user=user,
                        password_file=None if password_file is None else Path(password_file), retries=retries,
                        retry_delay=_duration(table, "retry_delay", 30.0), timeout=_duration(table, "timeout", 30.0))


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = text, "25"
    host = host.strip("[]")  # [::1]:25
    if not host or any(c.isspace() or c in "/@" for c in host):
        raise MailConfigError(f'smtp: {text!r} is not "host:port"')
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise MailConfigError(f"smtp: {port_text!r} is not a port number (1-65535)")
    return host, int(port_text)


def _duration(table: dict[str, Any], key: str, default: float) -> float:
    value = table.get(key, default)
    try:
        seconds = parse_duration(str(value)) if not isinstance(value, bool) else -1.0
    except DurationError as err:
        raise MailConfigError(f"{key}: {err}") from None
    if seconds <= 0:
        raise MailConfigError(f"{key}: a duration above zero, e.g. 30s")
    return seconds
