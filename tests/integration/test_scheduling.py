"""Farm scheduling with real daemons on a temp spool (docs/scheduling.md): tags and host lists,
fair share between jobs of equal priority, --max-share, the blocklist, dependencies."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from conftest import FAKEPROG
from helpers.daemons import BIN, add_job, render, wait_for

FAILON = str(Path(__file__).parent.parent / "helpers" / "failon.py")
FAST = ("--allow-commands", "--poll", "0.5")


def done_hosts(spool: Path, job: str) -> set[str]:
    return {json.loads(p.read_text())["host"] for p in (spool / "jobs" / job / "done").glob("*.json")}


def status(spool: Path, job: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render(spool, "status", job, "--json").stdout)["jobs"][0]
    return data


def starts(markers: Path, prefix: str) -> list[float]:
    """Start times of the fakeprog runs whose chunk names begin with `prefix`."""
    out = []
    for path in markers.glob(f"{prefix}*.starts"):
        out += [float(line.split()[0]) for line in path.read_text().splitlines()]
    return sorted(out)


def runs(markers: Path, prefix: str) -> list[tuple[float, float]]:
    out = []
    for path in markers.glob(f"{prefix}*.runs"):
        out += [(float(s), float(e)) for s, e, *_ in (line.split() for line in path.read_text().splitlines())]
    return sorted(out)


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    most = current = 0
    for _, delta in edges:
        current += delta
        most = max(most, current)
    return most


def test_jobs_land_only_on_hosts_with_their_tags_and_an_unmatched_tag_is_reported(
    spool: Path, markers: Path, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    start_daemon("a", *FAST, "--tags", "gpu")
    plain = start_daemon("b", *FAST)
    start_daemon("c", *FAST, "--tags", "gpu,lighting")
    prog = ["python3", FAKEPROG, str(markers)]
    gpu = add_job(spool, "1-6", [*prog, "g{start}", "--sleep", "0.1"], "--chunk", "1", "--tags", "gpu")["job"]
    lit = add_job(spool, "1-3", [*prog, "l{start}"], "--chunk", "1", "--tags", "lighting,gpu")["job"]
    only_b = add_job(spool, "1-3", [*prog, "b{start}"], "--chunk", "1", "--hosts", "b")["job"]
    nowhere = add_job(spool, "1-2", [*prog, "n{start}"], "--chunk", "1", "--tags", "nosuch")["job"]
    for job in (gpu, lit, only_b):
        waited = render(spool, "wait", job, "--timeout", "300", check=False, timeout=400)
        assert waited.returncode == 0, waited.stderr
    assert done_hosts(spool, gpu) <= {"a", "c"}
    assert done_hosts(spool, lit) == {"c"}
    assert done_hosts(spool, only_b) == {"b"}
    assert not list(markers.glob("n*.starts")), "a job with a tag no host has ran"
    sched = status(spool, nowhere)["scheduling"]
    assert sched["tags"] == ["nosuch"] and sched["waits"] == "waits: no live host has tag nosuch"
    assert "! waits: no live host has tag nosuch" in render(spool, "status").stdout
    waited = render(spool, "wait", nowhere, "--timeout", "2", check=False)
    assert waited.returncode == 3
    assert waited.stderr.count("waits: no live host has tag nosuch") == 1, waited.stderr
    hosts = {h["name"]: h for h in json.loads(render(spool, "hosts", "--json").stdout)["hosts"]}
    assert hosts["a"]["tags"] == ["gpu"] and hosts["b"]["tags"] == [] and hosts["c"]["tags"] == ["gpu", "lighting"]
    assert "tags gpu,lighting" in render(spool, "hosts").stdout
    assert plain.output().count(f"leaving job {gpu} to other hosts: needs tag gpu") == 1


def test_a_small_job_starts_before_the_next_chunk_of_a_big_job_of_equal_priority(
    spool: Path, markers: Path, tmp_path: Path, start_daemon, daemons: list[Any]  # type: ignore[no-untyped-def]
) -> None:
    holds = tmp_path / "holds"
    holds.mkdir()
    for i in range(1, 201):
        (holds / f"h{i}").touch()
    for name in ("a", "b"):
        start_daemon(name, *FAST, "-v")  # (the debug log says why each chunk was taken, should this fail)
    big = add_job(spool, "1-200", ["python3", FAKEPROG, str(markers), "big{start}", "--hold", f"{holds}/h{{start}}"],
                  "--chunk", "1")["job"]
    wait_for(lambda: len(starts(markers, "big")) == 2, 120, what="both daemons on the big job")
    small = add_job(spool, "1-2", ["python3", FAKEPROG, str(markers), "small{start}"], "--chunk", "1")["job"]
    (holds / "h1").unlink()  # one host frees up: the small job (0 running) goes before the big one (1 running)
    wait_for(lambda: starts(markers, "small") or len(starts(markers, "big")) > 2, 300, what="the next start")
    assert starts(markers, "small"), ("the big job's next chunk went first", [d.output()[-2000:] for d in daemons])
    waited = render(spool, "wait", small, "--timeout", "300", check=False, timeout=400)
    assert waited.returncode == 0, (waited.stderr, sorted(p.name for p in markers.glob("*.starts")),
                                    [d.output()[-3000:] for d in daemons])
    later = starts(markers, "big")[2:]  # the big job's chunks started after the first two
    assert not later or min(later) >= max(starts(markers, "small")), "a big chunk started before the small job did"
    render(spool, "cancel", big)


def test_max_share_1_keeps_one_chunk_running_at_a_time_on_three_daemons(
    spool: Path, markers: Path, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    for name in ("a", "b", "c"):
        start_daemon(name, *FAST)
    job = add_job(spool, "1-6", ["python3", FAKEPROG, str(markers), "s{start}", "--sleep", "0.3"],
                  "--chunk", "1", "--max-share", "1")["job"]
    assert status(spool, job)["scheduling"]["max_share"] == "1"
    waited = render(spool, "wait", job, "--timeout", "300", check=False, timeout=400)
    assert waited.returncode == 0, waited.stderr
    intervals = runs(markers, "s")
    assert len(intervals) == 6
    assert max_overlap(intervals) == 1, intervals


def test_a_host_that_fails_a_job_block_after_times_takes_no_more_of_it(
    spool: Path, markers: Path, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    start_daemon("good", *FAST)
    start_daemon("bad", *FAST)
    job = add_job(spool, "1-20", ["python3", FAILON, str(markers), "bad", "c{start}", "0.3"], "--chunk", "1",
                  "--block-after", "2", "--max-attempts", "10")["job"]
    waited = render(spool, "wait", job, "--timeout", "300", check=False, timeout=400)
    assert waited.returncode == 0, waited.stderr
    assert done_hosts(spool, job) == {"good"}
    bad_runs = (markers / "bad.runs").read_text().splitlines()
    assert len(bad_runs) == 2, bad_runs  # blocked after its second failure
    record = json.loads((spool / "jobs" / job / "failures" / "bad.json").read_text())
    assert record["host"] == "bad" and record["failures"] == 2

    # A job only the bad host may run: blocked after one failure, status says so, unblock clears it.
    lone = add_job(spool, "1-2", ["python3", FAILON, str(markers), "bad", "l{start}"], "--chunk", "1",
                   "--hosts", "bad", "--block-after", "1", "--max-attempts", "10")["job"]
    sched = wait_for(lambda: (s := status(spool, lone)["scheduling"])["blocked"] and s, 120, what="bad blocked")
    assert sched["blocked"] == [{"host": "bad", "failures": 1}]
    assert "blocked" in str(sched["waits"]), sched
    assert f"render unblock {lone} bad" in render(spool, "status", lone).stdout
    hosts = {h["name"]: h for h in json.loads(render(spool, "hosts", "--json").stdout)["hosts"]}
    assert hosts["bad"]["blocked_from"] == [{"job": lone, "failures": 1}]
    out = render(spool, "unblock", lone, "bad")
    assert "may take its chunks again" in out.stderr
    wait_for(lambda: len((markers / "bad.runs").read_text().splitlines()) >= 4, 120, what="bad to try again")
    render(spool, "cancel", lone)


def test_a_job_starts_only_after_the_job_it_waits_for_and_never_when_that_one_fails(
    spool: Path, markers: Path, tmp_path: Path, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    hold = tmp_path / "hold"
    hold.touch()
    began = time.monotonic()
    verbose = start_daemon("a", *FAST, "-v", "--slots", "3")  # a free slot while the first job runs: it looks
    start_daemon("b", *FAST)
    first = add_job(spool, "1-2", ["python3", FAKEPROG, str(markers), "a{start}", "--hold", str(hold)],
                    "--chunk", "1")["job"]
    second = add_job(spool, "1-2", ["python3", FAKEPROG, str(markers), "b{start}"], "--chunk", "1",
                     "--after", first)["job"]
    wait_for(lambda: len(starts(markers, "a")) == 2, 120, what="the first job to run")
    sched = status(spool, second)["scheduling"]
    assert sched["dependency"] == "waiting" and sched["waiting_for"] == [first]
    assert f"waiting for {first}" in render(spool, "status").stdout
    assert not list(markers.glob("b*.starts"))
    hold.unlink()
    waited = render(spool, "wait", second, "--timeout", "300", check=False, timeout=400)
    assert waited.returncode == 0, waited.stderr
    assert min(starts(markers, "b")) >= max(e for _, e in runs(markers, "a"))
    # the debug log: one line per kind of decision, a few a minute (renderd/ratelog.py), not one per poll
    said = verbose.output().count(f"job {second}: waiting for {first}")
    assert 1 <= said <= 3 * (1 + int((time.monotonic() - began) // 60)), said

    failing = add_job(spool, "1-1", ["false"], "--max-attempts", "1")["job"]
    waiting = add_job(spool, "1-2", ["python3", FAKEPROG, str(markers), "w{start}"], "--chunk", "1",
                      "--after", failing)["job"]
    waited = render(spool, "wait", waiting, "--timeout", "300", check=False, timeout=400)
    assert waited.returncode == 1, waited.stderr
    assert f"never starts: {failing} failed" in waited.stderr
    assert status(spool, waiting)["scheduling"]["dependency"] == "broken"
    assert not list(markers.glob("w*.starts"))
    refused = render(spool, "add", "--frames", "1", "--after", "no-such-job", "--", "true", check=False)
    assert refused.returncode == 2 and "only existing jobs" in refused.stderr


def test_tags_come_from_the_command_line_or_the_config_file_and_bad_ones_are_refused(
    spool: Path, tmp_path: Path
) -> None:
    config = tmp_path / "renderd.toml"
    config.write_text('[renderd]\ntags = "gpu,lighting"\n')
    shown = subprocess.run([str(BIN / "renderd"), "--config", str(config), "--spool", str(spool), "--print-config"],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and 'tags = "gpu,lighting"' in shown.stdout, shown.stdout + shown.stderr
    bad = subprocess.run([str(BIN / "renderd"), "--spool", str(spool), "--tags", "gpu,-y"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "'-y' is not a tag" in bad.stderr and "Traceback" not in bad.stderr
    refused = render(spool, "add", "--frames", "1", "--tags", "a b", "--", "true", check=False)
    assert refused.returncode == 2 and "not a tag" in refused.stderr
    refused = render(spool, "add", "--frames", "1", "--max-share", "0%", "--", "true", check=False)
    assert refused.returncode == 2 and "not a share" in refused.stderr
