"""`render add --gpu` with real daemons: only one started with `--device` on a GPU takes it
(the GPU listing recorded from a CUDA host: tests/fixtures/devices), and its host record shows
the devices and which slot renders on which."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import FAKEPROG
from helpers.daemons import BIN, add_job, render, wait_for

CUDA = Path(__file__).resolve().parents[1] / "fixtures" / "devices" / "cuda_2gpu.txt"
FAST = ("--allow-commands", "--poll", "0.5")


def test_a_gpu_job_runs_only_on_the_daemon_with_a_gpu_and_its_record_shows_the_slots(
    spool: Path, markers: Path, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    start_daemon("cpu", *FAST)
    start_daemon("gpu", *FAST, "--slots", "2", "--device-list", str(CUDA), "--device", "cuda:0", "--device", "CUDA:1")
    rec = json.loads((spool / "hosts" / "gpu.json").read_text())
    assert rec["gpu"] is True and rec["slot_devices"] == ["CUDA:0", "CUDA:1"]
    assert [d["type"] for d in rec["devices"]] == ["CPU", "CUDA", "CUDA", "OPTIX", "OPTIX"]
    assert "gpu" not in json.loads((spool / "hosts" / "cpu.json").read_text())
    job = add_job(spool, "1-4", ["python3", FAKEPROG, str(markers), "g{start}", "--sleep", "0.2"], "--chunk", "1",
                  "--gpu")["job"]
    wait_for(lambda: len(list((spool / "jobs" / job / "done").glob("*.json"))) == 4, 60, what="the gpu job")
    hosts = {json.loads(p.read_text())["host"] for p in (spool / "jobs" / job / "done").glob("*.json")}
    assert hosts == {"gpu"}
    assert "gpu" in render(spool, "status", job).stdout


def test_a_gpu_job_with_no_gpu_daemon_says_why_it_waits(spool: Path, markers: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    start_daemon("cpu", *FAST)
    job = add_job(spool, "1-2", ["python3", FAKEPROG, str(markers), "w{start}"], "--gpu")["job"]
    def said() -> str | None:
        out = render(spool, "status", job).stdout
        return out if "GPU" in out else None

    assert "no live host renders on a GPU" in wait_for(said, 30, what="the wait")


def test_a_device_this_host_lacks_stops_the_daemon_at_start_in_one_line(spool: Path) -> None:
    proc = subprocess.run([str(BIN / "renderd"), "--spool", str(spool), "--device-list", str(CUDA), "--device",
                           "HIP:0", "--when", "always"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "Error: --device: --device HIP:0: no such device on this host (it has: CPU, CUDA:0, CUDA:1, OPTIX:0, "
        "OPTIX:1; renderd --list-gpus)")
    assert "Traceback" not in proc.stderr
