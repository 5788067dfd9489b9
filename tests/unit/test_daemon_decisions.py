"""The daemon's pure decisions, as a spec: how a run ends (classify), what to do with a queued
chunk (choose), whether a host record holds our name (name_conflict), how long a failed chunk
waits (retry_delay).  The real-process stories are in tests/security/test_daemon.py."""

from __future__ import annotations

import os
import time
from typing import Any

from renderd.daemon.claiming import Verdict, choose, differs_from_manifest, last_failure_here, prefer_others
from renderd.daemon.finishing import MAX_RETRY_DELAY, Ending, Exit, classify, retry_delay
from renderd.daemon.host_record import OwnedRecord, name_conflict
from renderd.format.host import HostRecord
from renderd.format.info import ChunkInfo
from renderd.format.manifest import Manifest
from renderd.kinds import Capabilities

BLENDER = {"file": "shots/a.blend", "scene": "Shot", "output": "frames/a_####.png", "version": [3, 4]}
CAN_RENDER = Capabilities(allow_commands=False, allow_scripts=False, blender="/usr/bin/blender",
                          blender_version="3.4.1")


def manifest(kind: str, **blend: Any) -> Manifest:
    """A job's manifest as `render add` writes it (the typed record the daemon reads)."""
    data: dict[str, Any] = {"format": 1, "job": "j", "name": "j", "kind": kind, "owner": "a", "uid": 1000,
                            "priority": 50, "created": 1.0, "submitted_ms": 1000, "frames": 1,
                            "chunks": [{"chunk": "j-0001", "start": 1, "end": 1, "step": 1}]}
    if kind == "blender":
        data["blend"] = {"file": "shots/a.blend", **blend}
    return Manifest.from_dict(data)


def host(name: str, **fields: Any) -> HostRecord:
    return HostRecord.from_dict({"format": 1, "name": name, **fields})


def chunk(kind: str = "blender", **over: Any) -> ChunkInfo:
    fields: dict[str, Any] = {"job": "j", "chunk": "j-0001", "index": 1, "kind": kind, "argv": ["true"],
                              "start": 1, "end": 1, "step": 1}
    if kind == "blender":
        fields["blender"] = dict(BLENDER)
    fields.update(over)
    return ChunkInfo(**fields)


# --------------------------------------------------------------------------- classify


def test_a_clean_exit_is_done_for_the_kind_to_judge() -> None:
    assert classify(None, 1.0, Exit(code=0)).ending is Ending.DONE


def test_what_we_stopped_is_ours_to_name_whatever_the_exit() -> None:
    killed = Exit(signal=15)
    assert classify("cancel", 1.0, killed).ending is Ending.CANCELLED
    assert classify("lost", 1.0, killed).ending is Ending.LOST
    assert classify("shutdown", 1.0, killed).reason == "returned"
    assert classify("preempt", 1.0, killed).reason == "preempted"
    assert classify("timeout", 2.5, killed).reason == "timed out after 2.5 s"


def test_failures_say_why() -> None:
    assert classify(None, 1.0, Exit(code=3)).reason == "exit code 3"
    assert classify(None, 1.0, Exit(signal=9)).reason == "killed by signal SIGKILL"
    assert classify(None, 1.0, Exit(signal=200)).reason == "killed by signal 200"
    assert classify(None, 1.0, Exit(code=127, error="no such file")).reason == "could not start: no such file"
    died = classify(None, 1.0, Exit(died="pid 7 exited"))
    assert died.ending is Ending.FAILED and died.reason == "the launcher died: pid 7 exited"


def test_an_incomplete_log_alone_is_no_failure() -> None:
    assert classify(None, 1.0, Exit(code=0, log_error="stopped writing the log: ENOSPC")).ending is Ending.DONE


def test_exit_messages_with_wrong_types_read_as_absent() -> None:
    exit = Exit.from_message({"code": "0", "signal": True, "error": "", "died": None})
    assert exit == Exit()


# --------------------------------------------------------------------------- retry_delay


def test_a_chunk_that_keeps_failing_waits_longer_each_time_up_to_ten_minutes() -> None:
    delays = [retry_delay(n, 5.0) for n in range(1, 12)]
    assert delays[:4] == [5.0, 10.0, 20.0, 40.0]
    assert delays == sorted(delays) and max(delays) == MAX_RETRY_DELAY
    assert retry_delay(10**6, 5.0) == MAX_RETRY_DELAY  # a huge count costs no huge power
    assert retry_delay(1, 0.0) > 0  # a zero poll does not make it spin


# --------------------------------------------------------------------------- choose


def test_a_chunk_in_another_jobs_folder_is_quarantined() -> None:
    assert choose(chunk(), "other", CAN_RENDER, "me", None).verdict is Verdict.QUARANTINE


def test_a_command_chunk_in_a_blender_job_is_quarantined_not_refused() -> None:
    planted = chunk("command", argv=["touch", "/tmp/x"])
    choice = choose(planted, "j", CAN_RENDER, "me", None, manifest("blender", version=[3, 4]))
    assert choice.verdict is Verdict.QUARANTINE and "'command' chunk in a 'blender' job" in (choice.reason or "")


def test_a_chunk_asking_for_more_than_its_manifest_is_quarantined() -> None:
    shot = manifest("blender", version=[3, 4], trust_scripts=False)
    scripts = chunk(blender={**BLENDER, "trust_scripts": True})
    newer = chunk(blender={**BLENDER, "version": [9, 9]})
    assert differs_from_manifest(scripts, shot) == "asks to run the .blend's scripts; its job's manifest does not"
    assert "Blender [9, 9]" in (differs_from_manifest(newer, shot) or "")
    assert differs_from_manifest(chunk(), shot) is None
    assert differs_from_manifest(chunk(), None) is None  # no manifest: nothing to compare with


def test_a_command_job_is_refused_by_a_daemon_without_allow_commands() -> None:
    choice = choose(chunk("command"), "j", CAN_RENDER, "me", None, manifest("command"))
    assert choice.verdict is Verdict.REFUSE and "--allow-commands" in (choice.reason or "")


def test_a_chunk_that_failed_here_waits_for_a_live_host_that_may_run_it() -> None:
    failed = chunk(failed_hosts=["me"])
    live = {"heartbeat": time.time(), "state": "idle", "blender_version": "3.4.1"}
    assert choose(failed, "j", CAN_RENDER, "me", {"other": host("other", **live)}).verdict is Verdict.DEFER
    no_blender = host("other", **{**live, "blender_version": None})
    assert choose(failed, "j", CAN_RENDER, "me", {"other": no_blender}).verdict is Verdict.TAKE
    assert choose(chunk(), "j", CAN_RENDER, "me", {"other": host("other", **live)}).verdict is Verdict.TAKE


# --------------------------------------------------------------------------- name_conflict


def live_record(**over: Any) -> HostRecord:
    return host("farm1", **{"hostname": "elsewhere", "pid": 4242, "state": "idle", "heartbeat": time.time(),
                            "stale_after": 30, **over})


def conflict(record: OwnedRecord | None, boot: str | None = "boot-now") -> tuple[str | None, str | None]:
    return name_conflict(record, "farm1", "here", os.getpid(), 1000, boot)


def test_a_record_written_by_another_uid_is_ignored_with_a_reason() -> None:
    forged = OwnedRecord(live_record(heartbeat=time.time() + 1e9), uid=2000)
    held, ignored = conflict(forged)
    assert held is None and ignored is not None and "written by uid 2000" in ignored


def test_a_live_record_of_our_uid_or_root_from_another_machine_holds_the_name() -> None:
    for uid in (1000, 0):
        held, _ = conflict(OwnedRecord(live_record(), uid))
        assert held is not None and "in use by pid 4242 on elsewhere" in held


def test_our_machines_record_frees_the_name_when_its_process_is_gone_or_the_machine_rebooted() -> None:
    dead = OwnedRecord(live_record(hostname="here", pid=4194000, boot_id="boot-now"), 1000)
    assert conflict(dead) == (None, None)
    alive = OwnedRecord(live_record(hostname="here", pid=1, boot_id="boot-now"), 1000)  # pid 1 is alive
    assert conflict(alive)[0] is not None
    rebooted = OwnedRecord(live_record(hostname="here", pid=1, boot_id="boot-before"), 1000)
    assert conflict(rebooted) == (None, None)


def test_an_offline_or_stale_record_frees_the_name() -> None:
    assert conflict(OwnedRecord(live_record(state="offline"), 1000)) == (None, None)
    assert conflict(OwnedRecord(live_record(heartbeat=time.time() - 3600), 1000)) == (None, None)
    assert conflict(None) == (None, None)


def test_the_wait_for_another_host_ends_two_leases_after_the_failure_here() -> None:
    live = host("ghost", heartbeat=time.time() + 1e9, state="idle", blender_version="3.4.1")  # forged: live for ever
    failed = chunk(failed_hosts=["me"], history=[{"time": 1000.0, "event": "failed", "host": "me"}])
    assert prefer_others(failed, "me", {"ghost": live}, now=1000.0 + 119, window=120) is not None
    assert prefer_others(failed, "me", {"ghost": live}, now=1000.0 + 120, window=120) is None
    assert last_failure_here(failed, "other") is None
