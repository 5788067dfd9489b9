"""One TOML configuration file for both programs (docs/config.md).

    [renderd]            the daemon's long option names, dashes or underscores: spool, slots, idle_after, ...
    [render]             the front-end's own options (spool); [render.add] etc. for a sub-command's options
    [hooks]              the daemon's hooks for every job: pre, post, end, error (docs/hooks.md)
    [mail]               the daemon's mail settings: smtp, from, starttls, user, password_file (docs/hooks.md)

The file is the first that exists of: `--config FILE`, `$RENDERD_CONFIG`,
`$XDG_CONFIG_HOME/renderd/config.toml` (default `~/.config/...`), `/etc/renderd/renderd.toml`.
Files are not merged.  Values become click's `default_map`, so precedence is click's own:
command line, then environment variable, then the file, then the built-in default.  The keys
come from the click command's parameters, so an option added to `renderd` is settable here
without touching this module.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

ENVVAR = "RENDERD_CONFIG"
SYSTEM_FILE = Path("/etc/renderd/renderd.toml")
TABLES = ("renderd", "render", "hooks", "mail")
# Parameters that are actions of one run, not settings.
NOT_SETTINGS = frozenset({"help", "version", "config", "print_config", "check", "as_json"})
_META_PATH = "renderd.config.path"
_META_PRINT = "renderd.config.print"


class ConfigError(click.ClickException):
    """A problem in a configuration file: one line that names the file."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")


def user_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "renderd" / "config.toml"


def find(explicit: Path | None) -> Path | None:
    """The configuration file to use: the explicit one (which must exist), else the first found."""
    if explicit is not None:
        return explicit
    for candidate in (user_file(), SYSTEM_FILE):
        try:
            if candidate.is_file():
                return candidate
        except OSError as err:  # e.g. ~/.config not readable: say so once, and look further
            click.echo(f"Warning: {candidate}: cannot look for a config file here ({err.strerror}); skipped",
                       err=True)
    return None


def load(path: Path) -> dict[str, dict[str, Any]]:
    """Read and check the file's tables (their keys are checked against a command later)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, "config file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(path, f"cannot read the config file: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(path, f"not valid TOML: {err}") from None
    for name, table in data.items():
        if name not in TABLES:
            raise ConfigError(path, f"unknown table [{name}]{_suggest(name, TABLES)} (known: "
                              f"{', '.join(f'[{t}]' for t in TABLES)})")
        if not isinstance(table, dict):
            raise ConfigError(path, f"{name} must be a table: write [{name}] on its own line")
    return data


def table(name: str) -> dict[str, Any]:
    """A table of the config file the running command read (empty without one): [hooks], [mail]."""
    ctx = click.get_current_context(silent=True)
    path = None if ctx is None else ctx.find_root().meta.get(_META_PATH)
    if path is None:
        return {}
    value = load(Path(path)).get(name, {})
    return dict(value) if isinstance(value, dict) else {}


def settable(command: click.Command) -> dict[str, click.Option]:
    """Config keys of a command's options: each long option name, dashes written as underscores."""
    keys: dict[str, click.Option] = {}
    for param in command.params:
        if not isinstance(param, click.Option) or param.name is None or param.name in NOT_SETTINGS:
            continue
        for opt in param.opts:
            if opt.startswith("--"):
                keys[opt[2:].replace("-", "_")] = param
    return keys


def option_envvars(command: click.Command, name: str) -> None:
    """`RENDERD_<COMMAND>_<OPTION>` for each option of a `render` sub-command that has none of its own
    (`RENDERD_ADD_CHUNK=5`, from the long option name like the config keys, not click's parameter
    name).  The command's name is part of it because `RENDERD_NAME`, `RENDERD_TIMEOUT`, ... are the
    daemon's: an artist's `RENDERD_NAME` must not rename every job (docs/config.md)."""
    prefix = "RENDERD_" + name.upper().replace("-", "_")
    for key, param in settable(command).items():
        if param.envvar is None and param.name != "as_json":
            param.envvar = f"{prefix}_{key.upper()}"


def default_map(
    ctx: click.Context, command: click.Command, table: Mapping[str, Any], path: Path, where: str
) -> dict[str, Any]:
    """Turn one table into click's default_map for `command`, refusing unknown keys and bad values."""
    keys = settable(command)
    out: dict[str, Any] = {}
    for key, value in table.items():
        norm = key.replace("-", "_")
        # get_command, not .commands: `render` loads its sub-commands lazily (a [render.add] table loads add).
        sub = command.get_command(ctx, key) if isinstance(command, click.Group) else None
        if sub is not None and isinstance(value, dict):
            out[sub.name or key] = default_map(ctx, sub, value, path, f"{where}.{key}")
            continue
        param = keys.get(norm)
        if param is None or param.name is None:
            raise ConfigError(path, f"unknown key {key!r} in [{where}]{_hint(ctx, command, norm, keys)}")
        _check_toml_type(param, value, path, f"[{where}] {key}")
        value = _resolve_paths(param, value, path)
        try:
            param.type_cast_value(ctx, value)
        except click.BadParameter as err:
            raise ConfigError(path, f"[{where}] {key}: {err.message}") from None
        out[param.name] = value
    return out


def _check_toml_type(param: click.Option, value: Any, path: Path, where: str) -> None:
    """What click would quietly coerce from a TOML value: `slots = 2.7` became 2, `slots = true` 1,
    and `spool = 5` a traceback further on.  Refused here with the file and the key."""
    values = value if isinstance(value, list) and param.multiple else [value]
    for v in values:
        if param.is_flag or isinstance(param.type, click.types.BoolParamType):
            continue
        if isinstance(v, bool):
            raise ConfigError(path, f"{where}: {_toml_value(v)} is not a value for this option")
        if isinstance(param.type, (click.types.IntParamType, click.IntRange)) and isinstance(v, float):
            raise ConfigError(path, f"{where}: {_toml_value(v)} is not a whole number")
        textual = (click.Path, click.Choice, click.types.StringParamType)
        if isinstance(param.type, textual) and isinstance(v, (int, float)):
            raise ConfigError(path, f"{where}: {_toml_value(v)} is not a string (write it in quotes)")


def _resolve_paths(param: click.Option, value: Any, path: Path) -> Any:
    """A relative path in a config file is relative to the file's folder, not to wherever the program runs."""
    if not isinstance(param.type, click.Path):
        return value
    if isinstance(value, list):
        return [_resolve_paths(param, v, path) for v in value]
    if isinstance(value, str):
        expanded = Path(os.path.expanduser(value))
        return str(expanded if expanded.is_absolute() else path.absolute().parent / expanded)
    return value


def _hint(ctx: click.Context, command: click.Command, key: str, keys: Mapping[str, click.Option]) -> str:
    if isinstance(command, click.Group):
        names = command.list_commands(ctx)  # only on an error: loading every sub-command is fine here
        subs = [(name, command.get_command(ctx, name)) for name in names]
        owners = [name for name, sub in subs if sub is not None and key in settable(sub)]
        if owners:
            return f" (an option of `{command.name} {owners[0]}`: put it in a [{command.name}.{owners[0]}] table)"
        return _suggest(key, [*keys, *names])
    return _suggest(key, keys)


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ----------------------------------------------------------------------------- click glue


def _apply(ctx: click.Context, table: str, explicit: Path | None) -> None:
    """Eager --config callback: find the file, check it, and install it as the default_map."""
    path = find(explicit)
    if path is None:
        return
    try:
        data = load(path)
        command = ctx.command
        values = dict(data.get(table, {}))
        if table == "render" and "spool" not in values and "spool" in data.get("renderd", {}):
            values["spool"] = data["renderd"]["spool"]  # one spool setting serves both programs
        ctx.default_map = default_map(ctx, command, values, path, table)
    except ConfigError:
        if ctx.resilient_parsing:  # shell completion: never fail, just complete without the file
            return
        raise
    ctx.meta[_META_PATH] = path.absolute()


def _config_option(table: str) -> click.Option:
    def callback(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
        _apply(ctx, table, value)

    return click.Option(
        ["--config"],
        envvar=ENVVAR,
        type=click.Path(dir_okay=False, path_type=Path),
        is_eager=True,
        expose_value=False,
        callback=callback,
        help=f"TOML file with a [{table}] table (or ${ENVVAR}; else ~/.config/renderd/config.toml, "
        f"then {SYSTEM_FILE}).",
    )


def _print_option() -> click.Option:
    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        ctx.meta[_META_PRINT] = value

    return click.Option(
        ["--print-config"],
        is_flag=True,
        expose_value=False,
        callback=callback,
        help="Print the effective settings and where each comes from, then exit.",
    )


class _ConfigMixin:
    config_table = ""

    def _add_config_params(self, params: list[click.Parameter]) -> None:
        params.append(_config_option(self.config_table))

    def _explain(self, ctx: click.Context, err: click.BadParameter) -> click.ClickException:
        """A value from the file that a callback refused: say which file it came from."""
        path = ctx.meta.get(_META_PATH)
        name = err.param.name if err.param is not None else None
        if path is None or name is None or ctx.get_parameter_source(name) is not ParameterSource.DEFAULT_MAP:
            return err
        return ConfigError(path, f"[{self.config_table}] {name}: {err.message}")


class ConfiguredCommand(_ConfigMixin, click.Command):
    """`renderd`: options default from the [renderd] table; adds --config and --print-config."""

    config_table = "renderd"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._add_config_params(self.params)
        self.params.append(_print_option())

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.BadParameter as err:
            raise self._explain(ctx, err) from None

    def invoke(self, ctx: click.Context) -> Any:
        if ctx.meta.get(_META_PRINT):
            if ctx.params.get("as_json"):
                click.echo(json.dumps(effective_json(ctx, self)))
            else:
                click.echo(effective(ctx, self), nl=False)
            ctx.exit(0)
        return super().invoke(ctx)


class ConfiguredGroup(_ConfigMixin, click.Group):
    """`render`: options default from the [render] table, sub-commands' from [render.<command>]."""

    config_table = "render"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._add_config_params(self.params)
        self.params.append(_print_option())

    def invoke(self, ctx: click.Context) -> Any:
        if ctx.meta.get(_META_PRINT):
            click.echo(effective_group(ctx, self), nl=False)
            ctx.exit(0)
        return super().invoke(ctx)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.BadParameter as err:
            raise self._explain(ctx, err) from None


# ----------------------------------------------------------------------------- --print-config


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def _source(ctx: click.Context, param: click.Option) -> str:
    source = ctx.get_parameter_source(param.name or "")
    if source is ParameterSource.COMMANDLINE:
        return "command line"
    if source is ParameterSource.ENVIRONMENT:
        envvar = param.envvar or f"{ctx.auto_envvar_prefix}_{(param.name or '').upper()}"
        return f"environment ${envvar if isinstance(envvar, str) else envvar[0]}"
    if source is ParameterSource.DEFAULT_MAP:
        return f"config file {ctx.meta.get(_META_PATH)}"
    return "default"


def _settings(ctx: click.Context, command: click.Command) -> list[tuple[str, Any, str]]:
    """(key, value, source) of each setting of `command` in `ctx`."""
    rows = []
    seen: set[str] = set()
    for key, param in settable(command).items():
        if param.name is None or param.name in seen:
            continue
        seen.add(param.name)
        rows.append((key, ctx.params.get(param.name), _source(ctx, param)))
    return rows


def _table(rows: list[tuple[str, Any, str]]) -> list[str]:
    texts = [(f"# {key} is not set" if value is None else f"{key} = {_toml_value(value)}", source)
             for key, value, source in rows]
    width = max((len(t) for t, _ in texts), default=0)
    return [f"{text:<{width}}  # {source}" for text, source in texts]


def _header(ctx: click.Context) -> list[str]:
    path = ctx.meta.get(_META_PATH)
    looked = ", ".join(str(p) for p in (user_file(), SYSTEM_FILE))
    return [
        f"# {ctx.info_name} --print-config: effective settings and where each comes from",
        f"# config file: {path}" if path else f"# config file: none (looked for ${ENVVAR}, {looked})",
    ]


def effective(ctx: click.Context, command: click.Command) -> str:
    """The settings as a TOML file (unset ones commented out), each with where it came from."""
    lines = [*_header(ctx), f"[{ConfiguredCommand.config_table}]", *_table(_settings(ctx, command))]
    return "\n".join(lines) + "\n"


def effective_json(ctx: click.Context, command: click.Command) -> dict[str, Any]:
    """`--print-config --json`: {"config_file": PATH|null, "settings": {key: {"value", "source"}}}."""
    path = ctx.meta.get(_META_PATH)
    settings = {key: {"value": _json_value(value), "source": source} for key, value, source in _settings(ctx, command)}
    return {"config_file": None if path is None else str(path), "settings": settings}


def _json_value(value: Any) -> Any:
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return str(value)


def effective_group(ctx: click.Context, group: click.Group) -> str:
    """`render --print-config`: [render] and a [render.COMMAND] table for each sub-command's settings."""
    lines = [*_header(ctx), f"[{ConfiguredGroup.config_table}]", *_table(_settings(ctx, group))]
    for name in group.list_commands(ctx):
        sub = group.get_command(ctx, name)
        if sub is None or not settable(sub):
            continue
        sub_ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
        lines += ["", f"[{ConfiguredGroup.config_table}.{name}]", *_table(_settings(sub_ctx, sub))]
    return "\n".join(lines) + "\n"
