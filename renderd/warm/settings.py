"""`renderd --warm-chunks/--warm-max-mem/--warm-idle`: when a warm Blender is replaced or stopped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WarmSettings:
    max_chunks: int = 50  # chunks one warm Blender renders before a fresh one replaces it
    max_rss: int = 0  # bytes; above this before a chunk it is replaced (0: half of this host's memory)
    idle_after: float = 120.0  # seconds without a chunk after which it is stopped (it holds memory)
    prestart: bool = False  # keep a Blender with no file ready in each free slot (start-up paid before the job)
