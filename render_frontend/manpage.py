"""Man pages generated from the click commands, so they never disagree with `--help`.

    python -m render_frontend.manpage DIR      # writes DIR/renderd.1 and DIR/render.1
    man -l DIR/render.1

`render.1` documents every sub-command; `renderd.1` every daemon option (docs/config.md has the
same options as config-file keys).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from render_frontend import terminal
from renderd import __version__

FILES = """.SH FILES
.TP
.I ~/.config/renderd/config.toml
A user's settings ($XDG_CONFIG_HOME is honoured).
.TP
.I /etc/renderd/renderd.toml
The machine's settings, read when no user file exists.  [renderd] holds the daemon's long option
names (dashes or underscores), [render] and [render.COMMAND] the front-end's.  See config.md in
the documentation (SEE ALSO).
.TP
.I SPOOL/renderd-spool.toml
Marks a folder as a spool; the layout is in spool-format.md in the documentation.
.SH ENVIRONMENT
.TP
.B RENDERD_SPOOL
The spool folder, for both programs (instead of \\-\\-spool).
.TP
.B RENDERD_CONFIG
The configuration file to read (instead of the search above).
.TP
.B RENDERD_\\fIOPTION\\fP
Any renderd option, e.g. RENDERD_SLOTS=2 (flags beat the environment, which beats the file).
"""


def escape(text: str) -> str:
    """Text as roff: backslashes and dashes escaped, no line starting with a control character."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in text.splitlines())


def _paragraphs(text: str) -> str:
    return "\n.PP\n".join(escape(" ".join(p.split())) for p in text.split("\n\n") if p.strip())


def _options(ctx: click.Context, command: click.Command) -> list[str]:
    out = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
        if record is None:
            continue
        names, help_text = record
        out += [".TP", f".B {escape(names)}", escape(help_text) or "\\&"]
    return out


def _commands(ctx: click.Context, group: click.Group, prefix: str) -> list[str]:
    """One sub-section per sub-command, nested groups (`render addon build`) included."""
    lines: list[str] = []
    for sub_name in group.list_commands(ctx):
        sub = group.get_command(ctx, sub_name)
        if sub is None or sub.hidden:
            continue
        sub_ctx = click.Context(sub, info_name=sub_name, parent=ctx, **sub.context_settings)
        usage = " ".join(sub.collect_usage_pieces(sub_ctx))
        lines += [f".SS {escape(f'{prefix} {sub_name} {usage}')}", _paragraphs(sub.help or "")]
        options = _options(sub_ctx, sub)
        if options:
            lines += [".RS", *options, ".RE"]
        if isinstance(sub, click.Group):
            lines += _commands(sub_ctx, sub, f"{prefix} {sub_name}")
    return lines


def _exit_status(name: str) -> list[str]:
    """`render`'s codes (render_frontend/exitcodes.py); `renderd`'s: 0 stopped cleanly, 1 an error, 2 usage."""
    from render_frontend.exitcodes import MAN

    rows = MAN if name == "render" else (
        (0, "Stopped cleanly (SIGTERM, SIGINT); --check and --print-config: they reported."),
        (1, "An error, told in one line on stderr (a spool it cannot use, a name in use, ...)."),
        (2, "A usage error: a bad or missing option, or a bad value in the config file."),
    )
    out = [".SH EXIT STATUS"]
    for code, text in rows:
        out += [".TP", f".B {code}", escape(text)]
    return out


def page(command: click.Command, name: str) -> str:
    """One man page for `command` (and, for a group, each of its sub-commands)."""
    ctx = click.Context(command, info_name=name, **command.context_settings)
    short = command.get_short_help_str(limit=200).rstrip(".")
    lines = [
        f'.TH {name.upper()} 1 "" "{name} {__version__}" "User Commands"',
        ".SH NAME",
        f"{name} \\- {escape(short)}",
        ".SH SYNOPSIS",
        f".B {name}",
        escape(" ".join(command.collect_usage_pieces(ctx))),
        ".SH DESCRIPTION",
        _paragraphs(command.help or ""),
        ".SH OPTIONS",
        *_options(ctx, command),
    ]
    if isinstance(command, click.Group):
        lines += [".SH COMMANDS", *_commands(ctx, command, name)]
    lines += _exit_status(name)
    lines += [
        FILES.rstrip("\n"),
        ".SH SHELL COMPLETION",
        escape(f'eval "$(_{name.upper()}_COMPLETE=bash_source {name})"  (zsh_source and fish_source likewise)'),
        ".SH SEE ALSO",
        ".BR render (1)," if name == "renderd" else ".BR renderd (1),",
        escape("The documentation: /usr/local/share/doc/renderd/*.md (written by render install-service; "
               "~/.local/share/doc/renderd with --user), or docs/ in the source tree."),
    ]
    return "\n".join(lines) + "\n"


def pages() -> dict[str, str]:
    """{"renderd.1": text, "render.1": text}"""
    from render_frontend.cli import cli
    from renderd.cli import main as renderd_main

    return {f"{name}.1": page(command, name) for command, name in ((renderd_main, "renderd"), (cli, "render"))}


def write_pages(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, text in pages().items():
        path = folder / filename
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: python -m render_frontend.manpage DIR")
    for path in write_pages(Path(sys.argv[1])):
        terminal.echo(path)


if __name__ == "__main__":
    main()
