"""terminal.visible() and the rule that `render` prints only through render_frontend/terminal.py."""

from __future__ import annotations

import ast
from pathlib import Path

from render_frontend.terminal import visible

ROOT = Path(__file__).resolve().parents[2] / "render_frontend"


def test_escape_sequences_and_controls_become_visible() -> None:
    assert visible("\x1b]52;c;ZXZpbA==\x07") == "\\x1b]52;c;ZXZpbA==\\x07"
    assert visible("\x1b]0;title\x1b\\") == "\\x1b]0;title\\x1b\\"
    assert visible("a\x9bb\x7fc\x00") == "a\\x9bb\\x7fc\\x00"  # one-byte CSI, DEL, NUL
    assert visible("evil\u202etxt.exe\u2028") == "evil\\u202etxt.exe\\u2028"
    assert visible("one\ntwo\tthree\r") == "one\\x0atwo\\x09three\\x0d"  # a field cannot forge a line
    assert visible("one\ntwo\tthree\r", lines=True) == "one\ntwo\tthree\\x0d"
    assert visible("[bold]ünïcödé — ok") == "[bold]ünïcödé — ok"
    assert visible(42) == "42"


def _prints_around_terminal(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "print":
            found.append(f"{path.name}:{node.lineno} print()")
        if isinstance(func, ast.Attribute):
            owner = ast.unparse(func.value)
            if (owner == "click" and func.attr in ("echo", "secho")) or (
                owner in ("sys.stdout", "sys.stderr", "sys.stdout.buffer", "sys.stderr.buffer") and func.attr == "write"
            ):
                found.append(f"{path.name}:{node.lineno} {owner}.{func.attr}()")
    return found


def test_nothing_in_the_front_end_prints_around_terminal_py() -> None:
    """A new command that prints spool text with click.echo would print escape sequences raw."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        if "blender_addon" in path.parts or path.name == "terminal.py":
            continue
        found += _prints_around_terminal(path)
    assert not found, found
    planted = ROOT.parent / "tests" / "unit" / "test_terminal.py"  # the check itself finds a planted call
    assert _prints_around_terminal(planted) == [], "this file has none"
    assert _prints_around_terminal(ROOT / "terminal.py"), "terminal.py's own writes are found"
