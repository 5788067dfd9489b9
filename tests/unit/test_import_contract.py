"""The import contract (issue 10 scope 5, ../shared/ARCHITECTURE.md): which module may import which.

Read from the source with `ast`, every import counts: at the top, under TYPE_CHECKING, inside a
function.  (a) no import cycles at all; (b) the front-end reaches, directly or through what it
imports, only the shared lower layers of renderd (never the daemon's runner, spawner, launcher,
policy, daemon/, idle, scanner, claim, server...); (c) renderd/format/ imports only the standard
library and renderd.errors / renderd.states; (d) renderd never imports render_frontend.

KNOWN_* below list violations that other helpers are removing right now.  They may only shrink:
an entry that no longer happens fails the test too, so it is deleted when its fix lands.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("renderd", "render_frontend")

# (a) Cycles still being removed, as the set of modules in the cycle -> who removes it.
KNOWN_CYCLES: dict[frozenset[str], str] = {}

# (b) What render_frontend may reach in renderd: L0-L1 (ARCHITECTURE.md).  A prefix covers a package.
FRONTEND_MAY_REACH = (
    "renderd.errors", "renderd.states", "renderd.format",  # L0
    "renderd.spool", "renderd.ratelog",  # L1: the spool, and the one way in and out
    "renderd.kinds",  # the chunk kinds (validation, frame paths)
    "renderd.blender_output", "renderd.protocol", "renderd.sockets", "renderd.access", "renderd.procfs",
    "renderd.config", "renderd.config_file", "renderd.duration", "renderd.framelist", "renderd.fsinfo",
    "renderd.jobcancel",  # the moves of `render cancel`, shared with the daemons
    "renderd.hostorder",  # `render host pause|drain` orders
    "renderd.host",  # the default host name (stdlib only; checked like the rest)
    "renderd.schedule",  # the scheduling rules, pure: render status says what the daemons decide
    "renderd.blocklist",  # the blocklist's records in the spool (render unblock, status, hosts)
)
# Edges that are allowed on purpose, with the reason.
ALLOWED_EDGES: dict[tuple[str, str], str] = {
    ("render_frontend.manpage", "renderd.cli"): "renderd.1 documents the daemon's options from its click "
    "command (a build step and `render install-service`; imported inside pages())",
}
# (b) Front-end imports of the daemon's parts still being removed: (importer, imported) -> who.
KNOWN_FRONTEND: dict[tuple[str, str], str] = {}

FORMAT_MAY_IMPORT = ("renderd.errors", "renderd.states", "renderd.format")


def module_files(root: Path) -> dict[str, Path]:
    """Dotted name -> file for every module of our packages (the Blender add-on runs in bpy: left out)."""
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            if "blender_addon" in rel.parts:
                continue
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path) -> set[str]:
    """Every module name `path` imports (absolute; `from a import b` gives both a and a.b)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def graph(root: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(edges between our modules, the outside modules each imports)."""
    files = module_files(root)
    ours: dict[str, set[str]] = {}
    outside: dict[str, set[str]] = {}
    for name, path in files.items():
        ours[name], outside[name] = set(), set()
        for target in imports_of(name, path):
            if target.split(".")[0] not in PACKAGES:
                outside[name].add(target)
                continue
            parts = target.split(".")
            hit = next((".".join(parts[:i]) for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in files), None)
            if hit is not None and hit != name:
                ours[name].add(hit)
            # `from renderd import __version__` adds "renderd.__version__", which resolves to "renderd"
    return ours, outside


def cycles(edges: Mapping[str, Iterable[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def _covered(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _frontend_may(name: str) -> bool:
    return name == "renderd" or _covered(name, FRONTEND_MAY_REACH)  # the package itself: __version__


def frontend_reach(edges: Mapping[str, set[str]], allowed: Mapping[tuple[str, str], str]) -> dict[str, list[str]]:
    """Each renderd module the front-end reaches that it may not, with one import chain that gets there."""
    bad: dict[str, list[str]] = {}
    seen: dict[str, list[str]] = {m: [m] for m in edges if m.startswith("render_frontend")}
    todo = list(seen)
    while todo:
        node = todo.pop()
        for child in sorted(edges[node]):
            if (node, child) in allowed or child in seen:
                continue
            seen[child] = [*seen[node], child]
            if child.startswith("renderd") and not _frontend_may(child):
                bad[child] = seen[child]
            todo.append(child)
    return bad


def direct_frontend_violations(edges: Mapping[str, set[str]]) -> set[tuple[str, str]]:
    return {(m, t) for m, targets in edges.items() if m.startswith("render_frontend") for t in targets
            if t.startswith("renderd") and not _frontend_may(t) and (m, t) not in ALLOWED_EDGES}


def format_violations(edges: Mapping[str, set[str]], outside: Mapping[str, set[str]]) -> list[str]:
    out = []
    for name in sorted(edges):
        if not _covered(name, ("renderd.format",)):
            continue
        out += [f"{name} imports {t}" for t in sorted(edges[name]) if not _covered(t, FORMAT_MAY_IMPORT)]
        out += [f"{name} imports {t} (not the standard library)" for t in sorted(outside[name])
                if t.split(".")[0] not in sys.stdlib_module_names]
    return out


# --------------------------------------------------------------------------- the contract


@pytest.fixture(scope="module")
def ours() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    edges, outside = graph(ROOT)
    assert len(edges) > 40 and "render_frontend.cli" in edges and "renderd.spool" in edges
    return edges, outside


def test_no_import_cycles(ours: tuple[dict[str, set[str]], dict[str, set[str]]]) -> None:
    found = set(cycles(ours[0]))
    new = [sorted(c) for c in found if c not in KNOWN_CYCLES]
    assert not new, f"import cycles: {new}"
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in found]
    assert not gone, f"these cycles are gone: delete them from KNOWN_CYCLES: {gone}"


def test_the_front_end_reaches_only_the_shared_layers(ours: tuple[dict[str, set[str]], dict[str, set[str]]]) -> None:
    edges = ours[0]
    direct = direct_frontend_violations(edges)
    new = sorted(direct - set(KNOWN_FRONTEND))
    assert not new, f"the front-end imports the daemon's parts: {new}"
    gone = sorted(set(KNOWN_FRONTEND) - direct)
    assert not gone, f"fixed: delete from KNOWN_FRONTEND: {gone}"
    known = {t for _, t in KNOWN_FRONTEND}
    reached = {m: chain for m, chain in frontend_reach(edges, ALLOWED_EDGES).items() if m not in known}
    assert not reached, "the front-end reaches the daemon's parts through: " + "; ".join(
        " -> ".join(chain) for chain in reached.values())
    for importer, imported in ALLOWED_EDGES:
        assert imported in edges[importer], f"ALLOWED_EDGES has {importer} -> {imported}, which no longer happens"


def test_the_format_layer_imports_only_the_standard_library_errors_and_states(
    ours: tuple[dict[str, set[str]], dict[str, set[str]]],
) -> None:
    assert any(m.startswith("renderd.format") for m in ours[0]), "renderd/format/ exists"
    assert format_violations(*ours) == []


def test_renderd_never_imports_the_front_end(ours: tuple[dict[str, set[str]], dict[str, set[str]]]) -> None:
    wrong = sorted((m, t) for m, targets in ours[0].items() if m.startswith("renderd") for t in targets
                   if t.startswith("render_frontend"))
    assert not wrong


# --------------------------------------------------------------------------- the checker itself


def test_the_checker_finds_each_kind_of_violation(tmp_path: Path) -> None:
    """A planted tree with one of each: a TYPE_CHECKING cycle, a front-end import of the daemon
    inside a function, and a format module importing a third-party package and the spool."""
    files = {
        "renderd/__init__.py": "",
        "renderd/errors.py": "",
        "renderd/server.py": "from renderd.handlers import ping\n",
        "renderd/handlers/__init__.py": "from . import ping\n",
        "renderd/handlers/ping.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                    "    from renderd.server import Server\n",
        "renderd/runner.py": "import os\n",
        "renderd/spool.py": "from renderd import errors\n",
        "renderd/format/__init__.py": "import json\nfrom renderd.errors import X\n",
        "renderd/format/info.py": "import zstandard\nfrom ..spool import Spool\n",
        "render_frontend/__init__.py": "",
        "render_frontend/cli.py": "def f():\n    from renderd.runner import Runner\n",
        "render_frontend/status.py": "from renderd import spool\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    edges, outside = graph(tmp_path)
    assert cycles(edges) == [frozenset({"renderd.server", "renderd.handlers.ping", "renderd.handlers"})]
    assert direct_frontend_violations(edges) == {("render_frontend.cli", "renderd.runner")}
    assert set(frontend_reach(edges, {})) == {"renderd.runner"}
    assert format_violations(edges, outside) == [
        "renderd.format.info imports renderd.spool", "renderd.format.info imports zstandard (not the standard library)"]
