"""Dependency bounds (blender-asset-tracer 2.x is another tool) and the packages BAT pulls in unused."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _install_requires() -> list[str]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "install_requires":
            value = ast.literal_eval(node.value)
            assert isinstance(value, list)
            return [str(v) for v in value]
    raise AssertionError("no install_requires in setup.py")


def test_every_dependency_has_an_upper_bound_and_bat_stays_below_2() -> None:
    requires = _install_requires()
    assert all("<" in r for r in requires), requires
    assert "blender-asset-tracer>=1.19,<2" in requires
    # the product's card fixes filelock, watchdog, click and blender-asset-tracer
    for package in ("filelock", "watchdog", "click", "blender-asset-tracer"):
        assert any(r.startswith(package + ">=") for r in requires), package
    assert "watchdog>=7.0,<8" in requires  # renderd/inotify.py uses InotifyFD, public since 7.0


def test_reading_a_blend_never_imports_requests_or_its_dependencies() -> None:
    code = (
        "import sys\n"
        "for m in ('requests', 'urllib3', 'idna', 'certifi', 'charset_normalizer'): sys.modules[m] = None\n"
        "import render_frontend.blend_inspect, render_frontend.cli, renderd.cli\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
