"""`python -m renderd.preflight`: can this user load renderd at all?  One line if not.

renderd.service runs it as ExecStartPre=, as the service user.  When that user cannot read the
venv (installed under a home folder with mode 0700, a root-only umask, ...) the daemon's own
start would end in a Python traceback in the journal; this says in one line what is wrong and
where.  If Python itself cannot be run, systemd says so in one line (status 203/EXEC).  The
console scripts (renderd/entry.py) do the same check for a hand-started `renderd`/`render`.
"""

from __future__ import annotations

import getpass
import os
import sys


def problem(module: str = "renderd.cli") -> str | None:
    """None if `module` (and what it imports) loads; else one sentence."""
    try:
        __import__(module)
    except (ImportError, OSError) as err:  # unreadable files, missing modules: the answer, not a crash
        who = _user()
        return (f"renderd cannot be loaded by user {who} with {sys.executable}: {type(err).__name__}: {err} "
                "(is the installation readable by this user? install renderd somewhere like /opt/renderd)")
    return None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def main() -> None:
    said = problem()
    if said is not None:
        print(f"<3>{said}" if "JOURNAL_STREAM" in os.environ else said, file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
