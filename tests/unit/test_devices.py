"""Cycles devices (renderd/kinds/devices.py): specs, a recorded CUDA host's listing, slots,
the argv a slot's chunks get, the host record and the job rule that carry them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from renderd.format.fields import Fields
from renderd.format.host import HostRecord
from renderd.format.rules import JobRules
from renderd.kinds.blender import build_argv
from renderd.kinds.devices import SCRIPT, describe, device_args, parse_listing, parse_spec, select, slot_devices
from renderd.schedule import HostView, JobView, static_refusal, waits

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "devices"
FIELDS = {"scene": "Main", "extra": [], "after": []}


def test_specs_are_normalised_and_anything_else_is_refused_in_one_sentence() -> None:
    assert parse_spec("cuda:0") == "CUDA:0"
    assert parse_spec("OPTIX") == "OPTIX:*"
    assert parse_spec("optix:*") == "OPTIX:*"
    assert parse_spec("cpu") == "CPU"
    for bad in ("GPU", "CUDA:-1", "CUDA:0;import os", "", "CUDA:0:1", "-y"):
        with pytest.raises(ValueError, match="is not a device"):
            parse_spec(bad)


def test_a_recorded_cuda_host_lists_its_cpu_and_each_card_once_per_backend() -> None:
    devices = parse_listing((FIXTURES / "cuda_2gpu.txt").read_text())
    assert [d.spec for d in devices] == ["CPU", "CUDA:0", "CUDA:1", "OPTIX:0", "OPTIX:1"]
    assert [d.name for d in select(devices, "CUDA:1")] == ["NVIDIA GeForce RTX 3080"]
    assert len(select(devices, "OPTIX:*")) == 2
    assert "no GPU" not in "\n".join(describe(devices))
    with pytest.raises(ValueError, match=r"no such device on this host \(it has: CPU, CUDA:0"):
        select(devices, "HIP:*")


def test_this_machines_recorded_listing_says_plainly_that_only_the_cpu_is_there() -> None:
    devices = parse_listing((FIXTURES / "cpu_only.txt").read_text())
    assert [d.spec for d in devices] == ["CPU"]
    assert describe(devices)[-1] == "no GPU: Cycles can render only on the CPU on this host"
    with pytest.raises(ValueError, match="it has: CPU;"):
        select(devices, "CUDA:0")


def test_garbage_where_the_listing_belongs_is_a_sentence_not_a_crash() -> None:
    for text in ("", "RENDERD-DEVICES {", "RENDERD-DEVICES [1]", 'RENDERD-DEVICES [{"type": "GPU"}]'):
        with pytest.raises(ValueError):
            parse_listing(text)


def test_one_spec_per_slot_in_order_or_one_for_all() -> None:
    assert slot_devices(["CUDA:0", "CUDA:1"], 2) == ["CUDA:0", "CUDA:1"]
    assert slot_devices(["OPTIX:*"], 3) == ["OPTIX:*"] * 3
    assert slot_devices([], 2) == [None, None]


def test_a_slots_device_runs_our_script_after_the_file_and_before_the_render() -> None:
    argv = build_argv("/usr/bin/blender", "/s/a.blend", FIELDS, 1, 10, 1, "/s/out/####.png", "CUDA:1")
    assert argv[:4] == ["/usr/bin/blender", "-b", "/s/a.blend", "-Y"]
    expr = argv[argv.index("--python-expr") + 1]
    assert str(SCRIPT) in expr and "'RENDERD_DEVICE': 'CUDA:1'" in expr
    assert argv.index("--python-exit-code") < argv.index("--python-expr") < argv.index("-S") < argv.index("-a")
    assert "--python-expr" not in build_argv("/usr/bin/blender", "/s/a.blend", FIELDS, 1, 10, 1)
    with pytest.raises(ValueError):
        device_args("CUDA:0'); import os; ('")


def test_the_host_record_carries_devices_and_slots_and_reads_back() -> None:
    devices = parse_listing((FIXTURES / "cuda_2gpu.txt").read_text())
    rec = HostRecord(name="ws1", gpu=True, devices=tuple(d.as_dict() for d in devices),
                     slot_devices=("CUDA:0", "CUDA:1"))
    back = HostRecord.from_bytes(rec.to_bytes(), "ws1.json")
    assert back.gpu and back.slot_devices == ("CUDA:0", "CUDA:1")
    assert back.devices[1]["name"] == "NVIDIA GeForce RTX 3090"
    plain = json.loads(HostRecord(name="ws2").to_bytes())
    assert "gpu" not in plain and "devices" not in plain and "slot_devices" not in plain


def test_a_gpu_job_goes_only_to_hosts_that_render_on_a_gpu() -> None:
    rules = JobRules(gpu=True)
    assert JobRules.from_fields(Fields(rules.as_dict(), None, "scheduling")) == rules
    assert rules.as_dict()["gpu"] is True and "gpu" not in JobRules().as_dict()
    assert static_refusal(rules, HostView("cpu-box")) == "needs a GPU (a daemon started with renderd --device)"
    assert static_refusal(rules, HostView("gpu-box", gpu=True)) is None
    job = JobView("j", 50, 0, rules=rules)
    assert waits(job, [HostView("cpu-box")]) == "waits: no live host renders on a GPU (renderd --device)"
    assert waits(job, [HostView("cpu-box"), HostView("gpu-box", gpu=True)]) is None
