"""`render add`'s hook and mail options (docs/hooks.md): --pre, --post, --end, --error, --mail.

A hook is given as one string and split here, shell-like (quotes group words), into the argv the
daemon runs — never a shell string: `--post 'verify-frames {frames_dir} {start} {end}'` is the
program `verify-frames` with three words whose placeholders the daemon fills in.
"""

from __future__ import annotations

import getpass
import shlex
import socket
from collections.abc import Callable
from typing import Any, TypeVar

import click

from renderd import config
from renderd.errors import UsageError
from renderd.format.hooks import PLACEHOLDERS, HookError, Hooks, check_argv
from renderd.format.manifest import MAIL_RE

F = TypeVar("F", bound=Callable[..., Any])
_PLACES = ", ".join("{" + p + "}" for p in PLACEHOLDERS)


def options(func: F) -> F:
    for opt in reversed([
        click.option("--pre", "pre_hook", metavar="COMMAND", help="Run COMMAND on the rendering host before each "
                     f"chunk (non-zero fails the attempt). Placeholders: {_PLACES}."),
        click.option("--post", "post_hook", metavar="COMMAND", help="Run COMMAND after each chunk that succeeded "
                     "(non-zero fails the attempt)."),
        click.option("--end", "end_hook", metavar="COMMAND", help="Run COMMAND once, when every chunk has succeeded."),
        click.option("--error", "error_hook", metavar="COMMAND", help="Run COMMAND once for each chunk that fails "
                     "for good."),
        click.option("--mail", "mail", metavar="ADDRESS", is_flag=False, flag_value="", default=None,
                     help="Mail ADDRESS (default: you, at the config file's [mail] domain, else user@host) "
                     "when the job is done or a chunk fails for good."),
    ]):
        func = opt(func)
    return func


def hooks(pre: str | None, post: str | None, end: str | None, error: str | None) -> Hooks:
    """The hooks asked for; UsageError with one sentence for one that cannot be split or stored."""
    words = {}
    for kind, text in (("pre", pre), ("post", post), ("end", end), ("error", error)):
        if text is None:
            continue
        try:
            argv = shlex.split(text)
        except ValueError as err:
            raise UsageError(f"--{kind}: {err} in {text!r}") from None
        if not argv:
            raise UsageError(f"--{kind}: no command")
        try:
            words[kind] = check_argv(argv, kind)
        except HookError as err:
            raise UsageError(f"--{kind}: {err}") from None
    return Hooks(**words)


def mail_address(value: str | None) -> str | None:
    """--mail alone: the user at the config file's [mail] domain, else at this host; --mail ADDRESS:
    that address, checked."""
    if value is None:
        return None
    domain = config.table("mail").get("domain")
    address = value or f"{getpass.getuser()}@{domain if isinstance(domain, str) and domain else socket.getfqdn()}"
    if not MAIL_RE.match(address) or len(address) > 254:
        raise UsageError(f"--mail: {address!r} is not a mail address (user@host)")
    return address
