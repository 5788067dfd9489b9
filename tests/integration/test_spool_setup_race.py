"""Several daemons started at the same moment on an empty folder all set it up as one spool."""

from __future__ import annotations

import subprocess
from pathlib import Path

from helpers.daemons import BIN, Daemon, wait_for


def test_daemons_started_at_once_on_an_empty_folder_all_register(spool: Path, tmp_path: Path,
                                                                 daemons: list[Daemon]) -> None:
    for round_ in range(3):
        folder = spool / f"s{round_}"
        folder.mkdir()
        started = [Daemon(folder, f"d{i}", tmp_path, ["--poll", "0.5"]) for i in range(4)]
        daemons.extend(started)
        for d in started:  # no wait between them: they race to lay the spool out
            fh = open(d.log, "ab")
            d.proc = subprocess.Popen([str(BIN / "renderd"), "--spool", str(folder), "--name", d.name, "--when",
                                       "always", "--min-free-mem", "0", *d.args], stdout=fh, stderr=subprocess.STDOUT)
            fh.close()
        for d in started:
            wait_for(lambda d=d: d.registered() or not d.alive(), 60, what=f"{d.name} to register or exit")
            assert d.alive(), d.output()[-2000:]
        assert "format = " in (folder / "renderd-spool.toml").read_text()
        assert not [p.name for p in folder.iterdir() if p.name.startswith(".renderd-spool.toml.")]
