"""`render install-service` from a wheel installed into a fresh venv (not the source checkout)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding only the wheel; the dependencies come from the test venv's site-packages as a
    plain path (a .pth line), so the test venv's editable hook for renderd is not loaded."""
    tmp = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"),
         str(ROOT)],
        capture_output=True, text=True, timeout=600, cwd=tmp,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp / "dist").glob("renderd-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    (Path(site) / "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    return venv


def _render(venv: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RENDERD", "XDG_CONFIG"))}
    env["HOME"] = str(home)
    return subprocess.run([str(venv / "bin" / "render"), *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd="/")


def test_the_wheel_carries_units_and_docs_and_install_service_uses_them(wheel_venv: Path, tmp_path: Path) -> None:
    code = "import render_frontend; print(render_frontend.__file__)"
    where = subprocess.run([str(wheel_venv / "bin" / "python"), "-c", code],
                           capture_output=True, text=True, check=True, timeout=60, cwd="/").stdout
    assert where.startswith(str(wheel_venv)), where  # the wheel's code, not the checkout's
    spool = tmp_path / "spool"
    spool.mkdir()
    root = tmp_path / "root"
    proc = _render(wheel_venv, "--spool", str(spool), "install-service", "--root", str(root), home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    unit = (root / "etc/systemd/system/renderd.service").read_text()
    assert f"ExecStart={wheel_venv / 'bin' / 'renderd'}" in unit
    assert (root / "usr/local/share/man/man1/renderd.1").is_file()
    assert (root / "usr/local/share/doc/renderd/config.md").read_text() == (ROOT / "docs/config.md").read_text()


def test_a_dry_run_prints_only_what_the_real_command_can_do(wheel_venv: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    proc = _render(wheel_venv, "--spool", str(spool), "install-service", "--user", "--dry-run", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "would write" in proc.stdout and "renderd.service" in proc.stdout
    assert "doc/renderd/config.md" in proc.stdout
    assert not (tmp_path / ".config").exists()
