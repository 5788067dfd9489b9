"""The config file: lookup order, precedence (flag > environment > file > default), clear errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import click
import pytest
from helpers.daemons import BIN

from renderd.config import ConfiguredCommand, settable


def run(prog: str, *args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / prog), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment where no real user or system config file can leak in."""
    home = tmp_path / "home"
    home.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RENDERD")}
    return {**clean, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


def settings(text: str) -> dict[str, tuple[str, str]]:
    """Parse --print-config output into {key: (value, source)}."""
    out = {}
    for line in text.splitlines():
        if line.startswith(("#", "[")):
            continue
        setting, source = line.split("  # ", 1)
        key, value = setting.split(" = ", 1)
        out[key.strip()] = (value.strip(), source)
    return out


def test_flag_beats_environment_beats_file_beats_default(tmp_path: Path, env: dict[str, str]) -> None:
    cfg = tmp_path / "renderd.toml"
    cfg.write_text('[renderd]\nspool = "/srv/spool"\nslots = 3\npoll = 2\nlease = 90\nallow-commands = true\n')
    env.update(RENDERD_CONFIG=str(cfg), RENDERD_POLL="7", RENDERD_LEASE="45")
    proc = run("renderd", "--print-config", "--lease", "30", env=env)
    assert proc.returncode == 0, proc.stderr
    got = settings(proc.stdout)
    assert got["lease"] == ("30.0", "command line")
    assert got["poll"] == ("7.0", "environment $RENDERD_POLL")
    assert got["slots"] == ("3", f"config file {cfg}")
    assert got["allow_commands"] == ("true", f"config file {cfg}")
    assert got["spool"] == ('"/srv/spool"', f"config file {cfg}")
    assert got["grace"] == ("10.0", "default")
    assert "# name is not set" in proc.stdout


def test_lookup_order_explicit_then_env_then_user_then_system(tmp_path: Path, env: dict[str, str]) -> None:
    user = Path(env["XDG_CONFIG_HOME"]) / "renderd" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text("[renderd]\nslots = 2\n")
    from_env = tmp_path / "env.toml"
    from_env.write_text("[renderd]\nslots = 4\n")
    explicit = tmp_path / "explicit.toml"
    explicit.write_text("[renderd]\nslots = 6\n")

    assert settings(run("renderd", "--print-config", env=env).stdout)["slots"][0] == "2"
    env["RENDERD_CONFIG"] = str(from_env)
    assert settings(run("renderd", "--print-config", env=env).stdout)["slots"][0] == "4"
    proc = run("renderd", "--config", str(explicit), "--print-config", env=env)
    assert settings(proc.stdout)["slots"][0] == "6"
    assert f"# config file: {explicit}" in proc.stdout


def test_relative_paths_are_relative_to_the_file(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "etc").mkdir()
    cfg = tmp_path / "etc" / "renderd.toml"
    cfg.write_text('[renderd]\nspool = "../farm"\n')
    proc = run("renderd", "--config", str(cfg), "--print-config", env=env, cwd=Path("/"))
    assert Path(json.loads(settings(proc.stdout)["spool"][0])).resolve() == tmp_path / "farm"

    # lists of paths too (render add --shared-root is repeatable)
    (tmp_path / "projects").mkdir()
    spool = tmp_path / "etc" / "spool"
    spool.mkdir()
    blend = tmp_path / "projects" / "shot.blend"
    shutil.copy(Path(__file__).parents[1] / "fixtures" / "blend" / "render_b34.blend", blend)
    cfg.write_text('[render]\nspool = "spool"\n[render.add]\nshared_root = ["../projects"]\n')
    proc = run("render", "--config", str(cfg), "add", "--dry-run", "--json", str(blend), env=env, cwd=Path("/"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["file"] == str(blend)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[renderd]\nslot = 3\n", "unknown key 'slot' in [renderd] (did you mean 'slots'?)"),
        ("[renderd]\nslots = 'many'\n", "[renderd] slots: 'many' is not a valid integer range"),
        ("[renderd]\npoll = -1\n", "[renderd] poll: must be"),  # the option's own callback refuses it
        ("[renderd]\nslots = 2.7\n", "[renderd] slots: 2.7 is not a whole number"),
        ("[renderd]\nslots = true\n", "[renderd] slots: true is not a value"),
        ("[renderd]\nspool = 5\n", "[renderd] spool: 5 is not a string"),
        ("[renderd]\nlease = 'soon'\n", "[renderd] lease: 'soon' is not a duration"),
        ("[renderd]\nwhen = 'sometimes'\n", "[renderd] when: 'sometimes' is not one of"),
        ("[daemon]\nslots = 1\n", "unknown table [daemon]"),
        ("[renderd\n", "not valid TOML"),
        ("renderd = 3\n", "renderd must be a table"),
    ],
)
def test_a_bad_config_file_is_one_clear_line(tmp_path: Path, env: dict[str, str], text: str, message: str) -> None:
    cfg = tmp_path / "renderd.toml"
    cfg.write_text(text)
    proc = run("renderd", "--config", str(cfg), "--spool", str(tmp_path), env=env)
    assert proc.returncode != 0
    assert proc.stderr.startswith(f"Error: {cfg}: ")
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_missing_explicit_file_is_an_error_but_a_missing_default_is_not(tmp_path: Path, env: dict[str, str]) -> None:
    proc = run("renderd", "--config", str(tmp_path / "nope.toml"), "--print-config", env=env)
    assert proc.returncode == 1 and "nope.toml: config file not found" in proc.stderr
    proc = run("renderd", "--print-config", env=env)
    assert proc.returncode == 0 and "# config file: none" in proc.stdout


def test_no_spool_anywhere_is_a_usage_error(env: dict[str, str]) -> None:
    proc = run("renderd", env=env)
    assert proc.returncode == 2 and "no spool" in proc.stderr


def test_the_front_end_takes_its_defaults_and_the_daemons_spool(tmp_path: Path, env: dict[str, str]) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    cfg = tmp_path / "renderd.toml"
    cfg.write_text(f'[renderd]\nspool = "{spool}"\n\n[render.add]\nchunk = 4\npriority = 70\n')
    env["RENDERD_CONFIG"] = str(cfg)
    proc = run("render", "add", "--json", "--frames", "1-10", "--", "true", env=env)
    assert proc.returncode == 0, proc.stderr
    starts = [c["start"] for c in json.loads(proc.stdout)["chunks"]]
    assert starts == [1, 5, 9]
    manifest = next(spool.glob("jobs/*/manifest.json"))
    assert json.loads(manifest.read_text())["priority"] == 70
    # a flag still wins over the file
    proc = run("render", "add", "--json", "--chunk", "10", "--frames", "1-10", "--", "true", env=env)
    assert len(json.loads(proc.stdout)["chunks"]) == 1


def test_front_end_errors_name_the_table(tmp_path: Path, env: dict[str, str]) -> None:
    cfg = tmp_path / "renderd.toml"
    cfg.write_text("[render]\nchunk = 3\n")
    proc = run("render", "--config", str(cfg), "status", env=env)
    assert proc.returncode == 1
    assert "unknown key 'chunk' in [render] (an option of `render add`: put it in a [render.add] table)" in proc.stderr
    cfg.write_text("[render.add]\npriority = 5000\n")
    proc = run("render", "--config", str(cfg), "status", env=env)
    assert "[render.add] priority: 5000 is not in the range" in proc.stderr


def test_every_option_of_a_command_is_a_config_key() -> None:
    """Options added later (by any module) are settable without touching the config module."""

    @click.command(cls=ConfiguredCommand)
    @click.option("--idle-after", type=float)
    @click.option("--verbose", "-v", is_flag=True)
    def cmd(idle_after: float | None, verbose: bool) -> None:
        pass

    assert set(settable(cmd)) == {"idle_after", "verbose"}


def test_render_add_options_come_from_renderd_add_variables_and_print_config_shows_them(
    tmp_path: Path, env: dict[str, str]
) -> None:
    cfg = tmp_path / "renderd.toml"
    cfg.write_text('[render.add]\npriority = 70\n')
    env.update(RENDERD_CONFIG=str(cfg), RENDERD_ADD_CHUNK="5", RENDERD_NAME="daemon-name-only")
    proc = run("render", "--print-config", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "[render.add]" in proc.stdout
    add = proc.stdout.split("[render.add]")[1].split("\n\n")[0]
    got = settings("\n".join(line for line in add.splitlines() if line))
    assert got["chunk"] == ("5", "environment $RENDERD_ADD_CHUNK")
    assert got["priority"] == ("70", f"config file {cfg}")
    assert got["max_attempts"] == ("3", "default")
    assert "# name is not set" in add  # RENDERD_NAME is the daemon's, never a job's name
    spool = tmp_path / "spool"
    spool.mkdir()
    out = run("render", "--spool", str(spool), "add", "--frames", "1-20", "--dry-run", "--json", "--local-ok",
              "--", "true", env=env)
    assert len(json.loads(out.stdout)["chunks"]) == 4


def test_renderd_print_config_and_check_as_json(env: dict[str, str]) -> None:
    proc = run("renderd", "--print-config", "--json", "--lease", "2m", env=env)
    data = json.loads(proc.stdout)
    assert data["config_file"] is None
    assert data["settings"]["lease"] == {"value": 120.0, "source": "command line"}
    assert data["settings"]["slots"] == {"value": 1, "source": "default"}
    check = json.loads(run("renderd", "--check", "--json", env=env).stdout)["check"]
    names = [s["name"] for s in check]
    assert "owner-activity signals" in names and "memory" in names and "chunk priorities" in names
    bad = run("renderd", "--json", "--spool", "/nonexistent", env=env)
    assert bad.returncode == 2 and "--json goes with --check" in bad.stderr
