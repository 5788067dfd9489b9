"""Host records: a chunk is shown on the host that holds its claim now; dead hosts can be forgotten
(`render host forget`, `render clean --hosts-older-than`); `render tail --socket` of nothing is an error."""

from __future__ import annotations

import json
import time
from pathlib import Path

from helpers.daemons import render


def _plant_host(spool: Path, name: str, beat: float, chunks: list[dict[str, object]]) -> None:
    (spool / "hosts").mkdir(exist_ok=True)
    record = {"format": 1, "name": name, "hostname": name, "pid": 1, "state": "offline" if beat < time.time() - 60
              else "busy", "heartbeat": beat, "stale_after": 30.0, "chunks": chunks}
    (spool / "hosts" / f"{name}.json").write_text(json.dumps(record))


def test_a_dead_hosts_chunk_is_listed_on_the_host_that_took_it_over(spool: Path) -> None:
    job = json.loads(render(spool, "add", "--frames", "1", "--json", "--", "true", cwd=spool).stdout)
    chunk = job["chunks"][0]["chunk"]
    (info,) = (spool / "queue").rglob("*.info")
    (spool / "claimed").mkdir(exist_ok=True)
    info.rename(spool / "claimed" / f"{chunk}.info@b.4242.0badf00d")  # b holds the claim now
    entry = {"chunk": chunk, "job": job["job"], "start": 1, "end": 1}
    _plant_host(spool, "a", time.time() - 3600, [entry])  # died with it
    _plant_host(spool, "b", time.time(), [entry])
    rows = {r["name"]: r for r in json.loads(render(spool, "hosts", "--json").stdout)["hosts"]}
    assert rows["a"]["chunks"] == [] and rows["a"]["taken_over"] == [{"chunk": chunk, "by": "b"}]
    assert [c["chunk"] for c in rows["b"]["chunks"]] == [chunk]
    table = render(spool, "hosts").stdout
    (line_a,) = [ln for ln in table.splitlines() if ln.startswith("a ")]
    assert chunk not in line_a


def test_dead_hosts_are_forgotten_by_name_or_by_age_and_live_ones_are_kept(spool: Path) -> None:
    render(spool, "add", "--frames", "1", "--", "true", cwd=spool)
    _plant_host(spool, "old", time.time() - 10 * 86400, [])
    _plant_host(spool, "gone", time.time() - 3600, [])
    _plant_host(spool, "live", time.time(), [])
    (spool / "hosts" / "gone.control").write_text('{"format": 1, "control": "pause"}')
    live = render(spool, "host", "forget", "live", check=False)
    assert live.returncode == 1 and "live is live" in live.stderr
    unknown = render(spool, "host", "forget", "nobody", check=False)
    assert unknown.returncode == 2 and "no host 'nobody'" in unknown.stderr
    out = json.loads(render(spool, "host", "forget", "gone", "--json").stdout)
    assert out == {"host": "gone", "action": "forget", "removed": ["hosts/gone.json", "hosts/gone.control"]}
    dry = json.loads(render(spool, "clean", "--hosts-older-than", "7d", "--dry-run", "--json").stdout)
    assert dry["hosts"] == ["old"] and (spool / "hosts" / "old.json").exists()
    render(spool, "clean", "--hosts-older-than", "7d")
    assert sorted(p.name for p in (spool / "hosts").iterdir()) == ["live.json"]


def test_clean_reads_a_bare_number_as_days_with_a_deprecation_line(spool: Path) -> None:
    render(spool, "add", "--frames", "1", "--", "true", cwd=spool)
    old = json.loads(render(spool, "clean", "--older-than", "3", "--dry-run", "--json").stdout)
    assert old["older_than"] == 3 * 86400
    warned = render(spool, "clean", "--older-than", "3", "--dry-run").stderr
    assert "a bare number here means days (deprecated: write 3d" in warned
    new = render(spool, "clean", "--older-than", "36h", "--dry-run")
    mixed = render(spool, "clean", "--older-than", "1h30m", "--dry-run", "--json")
    assert json.loads(mixed.stdout)["older_than"] == 5400
    assert "deprecated" not in new.stderr


def test_tail_of_a_socket_that_is_not_there_is_an_error(spool: Path) -> None:
    out = render(spool, "tail", "--socket", str(spool / "missing.sock"), "--timeout", "5s", check=False)
    assert out.returncode == 2 and "missing.sock: No such file or directory" in out.stderr
    (spool / "plain").write_text("")
    out = render(spool, "tail", "--socket", str(spool / "plain"), check=False)
    assert out.returncode == 2 and "not a socket" in out.stderr
