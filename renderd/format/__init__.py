"""What the spool's files contain: one module per record kind, each versioned, each with a typed
reader that validates every field and a writer.

This layer does no I/O and knows nothing of Blender's process: it turns bytes into records and
records into bytes.  Everything it reads is hostile, so a reader raises only `BadRecord` (or its
subclass `BadInfoFile`), carrying the path and one sentence; the caller treats such a record as
absent (the daemon, with one log line) or shows it as unreadable (the front-end).

It imports nothing of renderd but `renderd.errors` and `renderd.states`.
"""

FORMAT = 1  # the newest format this renderd writes and reads; older ones stay readable
