"""Our own inotify watcher: a folder arriving in queue/ wakes for queue/, a chunk arriving in a job
folder wakes for that folder (once per batch), a symlinked folder is never watched."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from renderd.inotify import TreeWatch

WAIT = 30.0  # generous: a loaded machine may take a while to schedule the thread


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[Path, TreeWatch, queue.Queue[str | None]]]:
    root = tmp_path / "queue"
    (root / "old-job").mkdir(parents=True)
    wakes: queue.Queue[str | None] = queue.Queue()
    tree = TreeWatch(str(root), wakes.put)
    tree.start()
    try:
        yield root, tree, wakes
    finally:
        tree.stop()


def _next(wakes: queue.Queue[str | None]) -> str | None:
    return wakes.get(timeout=WAIT)


def test_a_chunk_renamed_into_an_existing_job_folder_wakes_for_that_folder(
    watched: tuple[Path, TreeWatch, queue.Queue[str | None]], tmp_path: Path
) -> None:
    root, _tree, wakes = watched
    (tmp_path / "chunk.json").write_text("{}")
    os.rename(tmp_path / "chunk.json", root / "old-job" / "chunk.json")
    assert _next(wakes) == "old-job"


def test_a_job_folder_moved_in_wakes_for_queue_and_is_watched_from_then_on(
    watched: tuple[Path, TreeWatch, queue.Queue[str | None]], tmp_path: Path
) -> None:
    root, tree, wakes = watched
    staged = tmp_path / "new-job"
    staged.mkdir()
    for i in range(200):
        (staged / f"{i}.json").write_text("{}")
    os.rename(staged, root / "new-job")
    assert _next(wakes) is None
    assert "new-job" in tree.watched()
    (root / "new-job" / "late.json").write_text("{}")
    assert _next(wakes) == "new-job"
    extra = []
    try:
        while True:  # absence of made-up events per moved-in file: drain what is there
            extra.append(wakes.get(timeout=0.5))
    except queue.Empty:
        pass
    assert len(extra) < 5, extra


def test_a_folder_planted_as_a_symlink_is_not_watched(
    watched: tuple[Path, TreeWatch, queue.Queue[str | None]], tmp_path: Path
) -> None:
    root, tree, wakes = watched
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "linked").symlink_to(elsewhere)
    assert _next(wakes) is None
    assert "linked" not in tree.watched()


def test_stop_ends_the_thread(tmp_path: Path) -> None:
    tree = TreeWatch(str(tmp_path), lambda _f: None)
    tree.start()
    tree.stop()
    assert not any(t.name == "inotify" and t.is_alive() for t in threading.enumerate())
