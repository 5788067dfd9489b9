"""renderd's daemon, one module per job: core (start-up, loop, dispatch, shutdown), claiming
(pure `choose()`), running (start a chunk), finishing (pure `classify()` of how a run ends),
leases, host_record (our record in hosts/, the name check), jobguard (obeying control files), state
(what they share), config."""

from renderd.daemon.config import DaemonConfig
from renderd.daemon.core import Daemon

__all__ = ["Daemon", "DaemonConfig"]
