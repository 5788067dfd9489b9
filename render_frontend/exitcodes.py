"""`render`'s exit codes, the same in every sub-command (and in `render --help` and the man page).

    0  it worked (wait: every chunk of the job is done)
    1  an error or a refusal, one line on stderr (wait: the job ended, but not every chunk is done)
    2  a usage error: a bad or missing option, options that do not go together, or a JOB (or
       chunk) the spool does not hold -- the same in every command, so a script can tell a typo
       from a failure
    3  wait --timeout ran out

A JOB that does not exist is a usage error (2) because it is a bad argument, like a misspelt
option, and because `render wait` has said 2 for it from the start.
"""

from __future__ import annotations

import click

OK = 0
FAILED = 1
USAGE = 2
TIMEOUT = 3

HELP = ("Exit codes: 0 ok; 1 an error or refusal (wait: the job did not fully succeed); 2 usage error: bad or "
        "conflicting options, or a JOB that does not exist; 3 wait --timeout ran out.")
MAN = (
    (OK, "It worked (render wait: every chunk of the job is done)."),
    (FAILED, "An error or a refusal, told in one line on stderr (render wait: the job ended, not every chunk done)."),
    (USAGE, "A usage error: a bad or missing option, options that do not go together, or a JOB (or chunk) the spool "
            "does not hold; the same in every command."),
    (TIMEOUT, "render wait --timeout ran out."),
)


class UnknownName(click.ClickException):
    """`no job 'x' in /spool` (or no such chunk or host): exit 2 in every command."""

    exit_code = USAGE


UnknownJob = UnknownName
