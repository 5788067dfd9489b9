"""The one way `render` writes text to a terminal: whatever came from the spool is made visible.

Host records, event files, manifests, chunk logs and file names in the spool are written by
anyone with an artist's account (or a compromised workstation).  Printed raw, an escape
sequence in them is a command to the reader's terminal: `ESC ] 0 ;` sets the window title,
`ESC ] 52 ;` writes the clipboard, others move the cursor to forge lines (issue 10, finding 15).
`visible()` turns every control character (C0, DEL, C1 such as the one-byte CSI) and the Unicode
bidi and line-separator controls into a visible `\\x1b`-style escape; `echo()` is click.echo
through it, and cli.main() prints click's own error messages through it too.  JSON output needs
nothing: json.dumps writes such characters as `\\u001b`.  tests/security/test_frontend.py plants
them; tests/unit/test_terminal.py checks that no module prints around this one.
"""

from __future__ import annotations

import re
import sys
from typing import IO, Any

import click

# C0 controls but tab and newline (kept only where text is multi-line), DEL, C1 controls, and
# the Unicode controls that reorder or break lines (bidi embeddings/overrides/isolates, U+2028/9).
_ALWAYS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_FIELD = re.compile(f"[\t\n{_ALWAYS}]")
_LINES = re.compile(f"[{_ALWAYS}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object, lines: bool = False) -> str:
    """`text` with every control character written out (`\\x1b`); `lines`: keep newlines and tabs."""
    return (_LINES if lines else _FIELD).sub(_escape, str(text))


def fields(value: Any) -> Any:
    """A record read from the spool with every string in it made visible, newlines too (so a
    field cannot forge a line); for the human-readable output only (JSON output takes the record)."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return {visible(k): fields(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [fields(v) for v in value]
    return value


class _Visible:
    """A text stream that passes everything written through visible(lines=True)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(visible(text, lines=True))

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()


def stream(err: bool = False) -> IO[str]:
    """stdout (or stderr) as a file object that makes control characters visible."""
    return _Visible(sys.stderr if err else sys.stdout)  # type: ignore[return-value]


def echo(message: Any = "", err: bool = False, nl: bool = True) -> None:
    """click.echo, with control characters made visible (newlines and tabs kept)."""
    click.echo(message, file=stream(err), nl=nl)


def bell(err: bool = True) -> None:
    """The terminal's bell (BEL): the one control character `render` writes on purpose."""
    stream_ = sys.stderr if err else sys.stdout
    stream_.write("\a")
    stream_.flush()


def write_body(data: bytes) -> None:
    """A log's bytes: made visible on a terminal, copied exactly into a pipe or a file."""
    sys.stdout.flush()
    if sys.stdout.isatty():
        sys.stdout.write(visible(data.decode("utf-8", errors="replace"), lines=True))
        sys.stdout.flush()
        return
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
