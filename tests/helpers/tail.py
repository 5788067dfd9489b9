"""A real `render tail --json` process whose messages a thread collects, for the tests."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

from helpers.daemons import BIN


class Tail:
    def __init__(self, spool: Path, *args: str) -> None:
        self.proc = subprocess.Popen([str(BIN / "render"), "--spool", str(spool), "tail", "--json", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.messages: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.messages.append(json.loads(line))

    def states(self) -> list[dict[str, Any]]:
        return [m for m in list(self.messages) if m["type"] == "state"]

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        return [m for m in list(self.messages) if m["type"] == "event" and (name is None or m["event"] == name)]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
