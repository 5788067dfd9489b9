"""Shell completion (click's own) offers job ids and host names read from the spool."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from helpers.daemons import BIN, add_job


def complete(prog: str, words: str, spool: Path | None = None, shell: str = "bash") -> list[str]:
    env = dict(os.environ, COMP_WORDS=words, COMP_CWORD=str(len(words.split(" ")) - 1))
    env[f"_{prog.upper()}_COMPLETE"] = f"{shell}_complete"
    env.pop("RENDERD_SPOOL", None)
    if spool is not None:
        env["RENDERD_SPOOL"] = str(spool)
    proc = subprocess.run([str(BIN / prog)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [line.split(",", 1)[1] for line in proc.stdout.splitlines() if line]


def test_job_ids_complete_from_the_spool(spool: Path) -> None:
    alpha = add_job(spool, "1-2", ["true"], "--name", "alpha")["job"]
    beta = add_job(spool, "1-2", ["true"], "--name", "beta")["job"]
    assert sorted(complete("render", f"render --spool {spool} status ")) == sorted([alpha, beta])
    assert complete("render", f"render wait {alpha[:3]}", spool=spool) == [alpha]
    assert complete("render", f"render tail --job {beta[:3]}", spool=spool) == [beta]


def test_host_names_complete_from_the_spool(spool: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    start_daemon("ws-one")
    start_daemon("ws-two")
    words = complete("render", "render host pause ws", spool=spool)
    assert sorted(words) == ["ws-one", "ws-two"]


def test_completion_without_a_spool_offers_nothing_and_does_not_fail(tmp_path: Path) -> None:
    assert complete("render", "render status ") == []
    assert complete("render", f"render --spool {tmp_path / 'missing'} status ") == []


def test_both_programs_print_a_completion_script() -> None:
    for prog in ("render", "renderd"):
        env = dict(os.environ, **{f"_{prog.upper()}_COMPLETE": "bash_source"})
        script = subprocess.run([str(BIN / prog)], capture_output=True, text=True, env=env, timeout=60).stdout
        assert f"_{prog}_completion" in script and "complete -o nosort -F" in script
    assert "--slots" in complete("renderd", "renderd --sl")


def test_both_programs_tell_their_version() -> None:
    from renderd import __version__

    for prog in ("render", "renderd"):
        out = subprocess.run([str(BIN / prog), "--version"], capture_output=True, text=True, timeout=60).stdout
        assert out.strip() == f"{prog}, version {__version__}"
