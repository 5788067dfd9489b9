"""The spool: where files live and how they move (layer L1, ../shared/ARCHITECTURE.md).

Layout (docs/spool-format.md is the user-facing description)::

    SPOOL/renderd-spool.toml                       marker: format version
    SPOOL/jobs/<job>/manifest.json                 the job and its chunk list
    SPOOL/jobs/<job>/done/<chunk>.json             one record per finished chunk
    SPOOL/jobs/<job>/logs/<chunk>.<host>.<run>.log
    SPOOL/jobs/<job>/control.json                  paused / cancelled flags (job control)
    SPOOL/jobs/<job>/cancelled/<chunk>.json        one record per cancelled chunk (its info kept)
    SPOOL/queue/<999-prio>-<submitted ms>-<job>/<chunk>.info
    SPOOL/claimed/<chunk>.info@<host>.<pid>.<nonce>     (+ .hb heartbeat)
    SPOOL/failed/<chunk>.info (+ .reason)
    SPOOL/bad/<name>.<nonce> (+ .reason)
    SPOOL/hosts/<host>.json, <host>.control
    SPOOL/events/<daemon>.jsonl
    SPOOL/tmp/  SPOOL/locks/

One job per module:
    io            the ONE way to open, list, rename and unlink under the root (no link followed,
                  regular files only, bounded, non-blocking, folder fsync)
    unsafe        UnsafeEntry: what io refuses (a link, FIFO, device, wrong type, too large)
    registry      the spools this process opened, for code that holds only a path
    layout        one path function per file kind; state_of(path); the names `render clean` may sweep
    base          a Spool's primitive I/O (listings that never fail on a plant, write-then-rename)
    listings      the read side: queue, claims, records, logs, hosts
    housekeeping  layout folders made again, plants moved aside, litter for `render clean`
    moves         every change: submit, move(held, to) through states.TRANSITIONS, records
    opening       Spool.open: the marker and laying a folder out

What the files contain is renderd.format's (no I/O there): import record kinds and names from
it, not from here.
"""

from __future__ import annotations

from renderd.spool.io import SpoolIO as SpoolIO
from renderd.spool.io import UnsafeEntry as UnsafeEntry
from renderd.spool.layout import LAYOUT as LAYOUT
from renderd.spool.layout import MARKER as MARKER
from renderd.spool.layout import is_spool as is_spool
from renderd.spool.layout import state_of as state_of
from renderd.spool.opening import Spool as Spool
from renderd.spool.registry import list_names as list_names
from renderd.spool.registry import open_regular as open_regular
