"""The systemd units as `render install-service` installs them pass `systemd-analyze verify`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers.daemons import BIN, render

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze missing (tests/bootstrap installs `systemd`)"
)


def settings_of(unit: str) -> set[str]:
    return {line.split("=", 1)[0] for line in unit.splitlines() if "=" in line and not line.startswith("#")}


def verify(*paths: Path, user: bool = False, tmp: Path) -> None:
    runtime = tmp / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime))
    cmd = ["systemd-analyze", *(["--user"] if user else []), "verify", "--man=no", *map(str, paths)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    # verify exits 0 on unknown keys too, so any complaint on stderr fails the test
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_system_unit_and_slice_install_enable_and_verify(tmp_path: Path, spool: Path) -> None:
    root = tmp_path / "root"
    out = render(spool, "install-service", "--root", str(root)).stdout
    unit = root / "etc/systemd/system/renderd.service"
    assert f"write  {unit}" in out
    text = unit.read_text()
    assert f"ExecStart={BIN / 'renderd'}\n" in text and f"RequiresMountsFor={spool}\n" in text
    assert "Type=notify" in text and "WatchdogSec=" in text and "User=renderd" in text
    settings = settings_of(text)
    # Each of these breaks rendering: W+X memory for Blender's JIT and kernel compilers, GPU devices
    # (ProtectClock implies DeviceAllow, which closes all devices not listed), files in homes and /tmp.
    breaks = {"MemoryDenyWriteExecute", "PrivateDevices", "ProtectClock", "DeviceAllow", "DevicePolicy"}
    assert not settings & (breaks | {"ProtectHome", "PrivateTmp", "SystemCallFilter", "CPUWeight", "Nice"})
    assert {"NoNewPrivileges", "ProtectSystem", "Restart", "KillMode", "EnvironmentFile"} <= settings
    assert (root / "etc/systemd/system/multi-user.target.wants/renderd.service").is_symlink()
    config = root / "etc/renderd/renderd.toml"
    assert f'spool = "{spool}"' in config.read_text()
    spawner = (root / "etc/systemd/system/renderd-spawner@.service").read_text()
    (exec_start,) = [line for line in spawner.splitlines() if line.startswith("ExecStart=")]
    assert exec_start.startswith(f"ExecStart={BIN}/python") and exec_start.endswith(" -m renderd.spawner")
    assert "Slice=renderd-chunks.slice" in spawner and "StandardInput=socket" in spawner
    assert not settings_of(spawner) & breaks and "NoNewPrivileges" in settings_of(spawner)  # chunks run here
    assert "Requires=renderd-spawner.socket" in text
    assert "RENDERD_SPAWNER_SOCKET=/run/renderd-spawner/spawner.sock" in text
    units = root / "etc/systemd/system"
    verify(*(units / u for u in ("renderd.service", "renderd-chunks.slice", "renderd-spawner.socket")), tmp=tmp_path)
    verify(units / "renderd-spawner@.service", tmp=tmp_path)

    # Run again: the units are rewritten, the admin's config is kept.
    config.write_text(config.read_text() + "slots = 2\n")
    out = render(spool, "install-service", "--root", str(root)).stdout
    assert f"keep   {config} (exists)" in out and "slots = 2" in config.read_text()


def test_slice_runs_chunks_idle() -> None:
    text = (Path(__file__).parents[2] / "systemd/renderd-chunks.slice").read_text()
    assert "CPUWeight=idle" in text and "IOWeight=1" in text


def test_user_install_dry_run_prints_a_unit_that_verifies_and_changes_nothing(tmp_path: Path, spool: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CONFIG_HOME", "RENDERD_CONFIG")}
    proc = subprocess.run(
        [str(BIN / "render"), "--spool", str(spool), "install-service", "--user", "--dry-run"],
        capture_output=True, text=True, env={**env, "HOME": str(home)}, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"would write  {home}/.config/systemd/user/renderd.service" in proc.stdout
    assert "would run    systemctl --user enable --now renderd.service" in proc.stdout
    assert f"    | ExecStart={BIN / 'renderd'}" in proc.stdout
    assert not any(home.rglob("*"))

    printed = [line[6:] for line in proc.stdout.splitlines() if line.startswith("    | ")]
    unit = tmp_path / "renderd.service"
    unit.write_text("\n".join(printed[: printed.index("[Install]") + 2]) + "\n")
    assert "Type=notify" in unit.read_text()
    verify(unit, user=True, tmp=tmp_path)


def test_install_service_refuses_unclear_requests(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENDERD")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / ".config"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "render"), *args], capture_output=True, text=True, env=env, timeout=60)

    proc = run("install-service", "--dry-run")
    assert proc.returncode == 2 and "which spool?" in proc.stderr
    proc = run("--spool", str(tmp_path), "install-service", "--user", "--root", str(tmp_path / "r"))
    assert proc.returncode == 2 and "--root installs the system unit" in proc.stderr
    assert not (tmp_path / "r").exists()


def test_a_spool_path_with_blanks_and_percent_signs_stays_one_path(tmp_path: Path) -> None:
    spool = tmp_path / "render farm 100%"
    spool.mkdir()
    root = tmp_path / "root"
    render(spool, "install-service", "--root", str(root))
    unit = root / "etc/systemd/system/renderd.service"
    assert f'RequiresMountsFor="{str(spool).replace("%", "%%")}"\n' in unit.read_text()
    verify(unit, tmp=tmp_path)


def test_web_unit_runs_render_serve_on_loopback_with_a_token_file_and_verifies(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "systemd/renderd-web.service").read_text()
    (exec_start,) = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    assert " serve " in exec_start and "--bind 127.0.0.1" in exec_start and "--token-file " in exec_start
    settings = settings_of(text)
    assert {"User", "NoNewPrivileges", "ProtectSystem", "Restart", "RequiresMountsFor", "EnvironmentFile"} <= settings
    # verify needs an executable that exists: this checkout's `render`
    unit = tmp_path / "renderd-web.service"
    unit.write_text(text.replace("ExecStart=/usr/local/bin/render ", f"ExecStart={BIN / 'render'} "))
    verify(unit, tmp=tmp_path)
