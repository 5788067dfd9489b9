#!/usr/bin/env python3
"""Stands in for `systemd-run --scope` where no systemd runs (this machine): it appends its
arguments to $FAKE_SYSTEMD_RUN_LOG and, like the real one, execs the command after `--` in the
same process (so the caller stays the parent)."""

import os
import sys

with open(os.environ["FAKE_SYSTEMD_RUN_LOG"], "a") as fh:
    fh.write(" ".join(sys.argv[1:]) + "\n")
command = sys.argv[sys.argv.index("--") + 1 :]
os.execvp(command[0], command)
