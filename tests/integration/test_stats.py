"""`render stats`: the farm's history per host and per job, kept after `render clean` / `render remove`."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import FAKEPROG
from helpers.daemons import add_job, render, wait_for

from renderd.format.stats import StatsLine


def _stats(spool: Path, *args: str) -> dict:  # type: ignore[type-arg]
    return json.loads(render(spool, "stats", "--json", *args).stdout)


def test_two_hosts_history_outlives_the_jobs(spool: Path, markers: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    ok = add_job(spool, "1-6", ["python3", FAKEPROG, str(markers), "ok{start}"], "--chunk", "2")
    bad = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "bad", "--exit", "3"], "--max-attempts", "2")
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    start_daemon("b", "--allow-commands", "--poll", "0.5")
    assert render(spool, "wait", ok["job"], "--timeout", "120", check=False).returncode == 0
    assert render(spool, "wait", bad["job"], "--timeout", "120", check=False).returncode == 1
    # the stats line follows the done record a moment later (the event after the recorder's write)
    wait_for(lambda: _stats(spool)["total"]["chunks_done"] == 3, 60, what="3 done runs in stats/")
    wait_for(lambda: _stats(spool)["total"]["chunks_failed"] == 2, 60, what="2 failed runs in stats/")

    render(spool, "remove", ok["job"])
    render(spool, "remove", bad["job"])
    render(spool, "clean", "--older-than", "0s", check=False)

    farm = _stats(spool)
    assert farm["total"]["frames"] == 6
    assert set(farm["hosts"]) <= {"a", "b"} and farm["hosts"]
    assert sum(h["chunks_done"] for h in farm["hosts"].values()) == 3
    assert sum(farm["total"]["failure_reasons"].values()) == 2
    assert all(r.startswith("exit code 3") for r in farm["total"]["failure_reasons"])
    t = farm["total"]
    assert t["fastest_frame"] is not None and t["fastest_frame"] <= t["average_frame"] <= t["slowest_frame"]
    assert all(0 <= h["busy_share"] <= 1 for h in farm["hosts"].values())

    one = _stats(spool, ok["job"])
    assert one["job"] == ok["job"] and one["total"]["chunks_done"] == 3 and one["total"]["chunks_failed"] == 0
    host = next(iter(farm["hosts"]))
    only = _stats(spool, "--host", host)
    assert set(only["hosts"]) == {host}
    assert _stats(spool, "--since", "1s")["total"]["chunks_done"] <= 3
    text = render(spool, "stats").stdout
    assert "3 chunk(s) done, 2 failed attempt(s), 6 frame(s)" in text and "exit code 3" in text


def test_hostile_lines_are_left_out_and_an_unknown_job_is_exit_2(spool: Path) -> None:
    render(spool, "add", "--frames", "1-1", "--", "true")  # lays the spool out
    stats = spool / "stats"
    stats.mkdir(exist_ok=True)
    good = StatsLine(time=1.7e9, host="ws1", job="j", chunk="j-0000", ok=True, frames=2, seconds=4.0,
                     frame_seconds=4.0, fastest=1.5, slowest=2.5)
    lines = [good.to_line(), b"[" * 100_000 + b"\n", b'{"v": 1, "ok": "yes"}\n', b"\x1b]52;c;aGk=\x07\n",
             b'{"v":1,"time":1e400,"host":"h","job":"j","chunk":"j-1","ok":true,"frames":1,"seconds":1}\n']
    (stats / "ws1.jsonl").write_bytes(b"".join(lines))
    (stats / "evil.jsonl").symlink_to("/etc/passwd")
    out = _stats(spool)
    assert out["total"]["chunks_done"] == 1 and out["skipped_lines"] == 4
    assert out["total"]["average_frame"] == 2.0
    gone = render(spool, "stats", "no-such-job", check=False)
    assert gone.returncode == 2 and "no job" in gone.stderr and "Traceback" not in gone.stderr
