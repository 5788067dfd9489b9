"""`renderd --check`: what works on this host — idle signals, chunk priorities, I/O schedulers.

Every line is a fact measured here, not a promise: a signal is tried, a child process is
started with the chunks' priorities and asked what it got, the scheduler is read from sysfs.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import click

from renderd.fsinfo import fs_type, is_network_fs
from renderd.host import meminfo
from renderd.idle import SIGNALS, MemoryWatch, Probe, make_probes
from renderd.kinds.blender import on_this_host
from renderd.kinds.blender_version import host_version, resolve_program
from renderd.kinds.encode import host_ffmpeg
from renderd.spool import Spool, is_spool

IOPRIO_GET_SYSCALL = {"x86_64": 252, "aarch64": 31, "i686": 290, "i386": 290, "armv7l": 315, "ppc64le": 274}
IOPRIO_WHO_PROCESS = 1
IO_CLASSES = {0: "none (follows nice)", 1: "realtime", 2: "best-effort", 3: "idle"}
SCHED_POLICIES = {os.SCHED_OTHER: "SCHED_OTHER", os.SCHED_BATCH: "SCHED_BATCH", os.SCHED_IDLE: "SCHED_IDLE"}

_libc = ctypes.CDLL(None, use_errno=True)


def io_priority(pid: int) -> tuple[int, int] | None:
    """(class, level) of a process's I/O priority via ioprio_get(2); None where unknown."""
    nr = IOPRIO_GET_SYSCALL.get(platform.machine())
    if nr is None:
        return None
    value = int(_libc.syscall(nr, IOPRIO_WHO_PROCESS, pid))
    if value < 0:
        return None
    return value >> 13, value & 0x1FFF


def autogroup_nice(pid: int) -> int | None:
    """The nice value of the process's session CPU group (`/autogroup-24 nice 0`); None without autogroups."""
    try:
        with open(f"/proc/{pid}/autogroup", encoding="ascii") as fh:
            return int(fh.read().split()[-1])
    except (OSError, ValueError, IndexError):
        return None


def process_priorities(pid: int) -> dict[str, object]:
    """What a process runs with: scheduling policy, nice value, I/O class, session group's nice."""
    io = io_priority(pid)
    return {
        "policy": SCHED_POLICIES.get(os.sched_getscheduler(pid), str(os.sched_getscheduler(pid))),
        "nice": os.getpriority(os.PRIO_PROCESS, pid),
        "io_class": IO_CLASSES.get(io[0], str(io[0])) if io is not None else "unknown",
        "autogroup_nice": autogroup_nice(pid),
    }


_CHILD = (
    "import json, os, sys\n"
    "from renderd.launcher import lower_priority, lower_session_group\n"
    "from renderd.check import process_priorities\n"
    "lower_priority()\n"
    "lower_session_group()\n"
    "json.dump(process_priorities(os.getpid()), sys.stdout)\n"
)


def chunk_priorities() -> dict[str, object]:
    """Start a child exactly as the launcher lowers a chunk, and ask it what it got."""
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=30, check=False, start_new_session=True
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    data: dict[str, object] = json.loads(proc.stdout)
    return data


# --------------------------------------------------------------------------- I/O schedulers


def _mount_source(path: Path, mountinfo: str = "/proc/self/mountinfo") -> str:
    target, best, source = os.path.realpath(path), "", ""
    try:
        with open(mountinfo, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                left, _, right = line.partition(" - ")
                fields, rest = left.split(), right.split()
                if len(fields) < 5 or len(rest) < 2:
                    continue
                mount = fields[4].replace("\\040", " ")
                if (target == mount or target.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best):
                    best, source = mount, rest[1]
    except OSError:
        return ""
    return source


def _block_dir(path: Path) -> Path | None:
    """The sysfs folder of the block device holding `path` (None for network and virtual file systems)."""
    dev = os.stat(path).st_dev
    if os.major(dev) != 0:
        sys_dir = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
        if sys_dir.exists():
            return sys_dir.resolve()
    source = _mount_source(path)  # btrfs and others report an anonymous device number
    if source.startswith("/dev/"):
        candidate = Path("/sys/class/block") / os.path.basename(os.path.realpath(source))
        if candidate.exists():
            return candidate.resolve()
    return None


def disk_schedulers(sys_dir: Path) -> dict[str, str]:
    """Disk name -> active scheduler, following partitions to their disk and dm/md devices to their members."""
    if (sys_dir / "partition").exists():
        sys_dir = sys_dir.parent
    slaves = sys_dir / "slaves"
    members = sorted(slaves.iterdir()) if slaves.is_dir() else []
    if members:
        out: dict[str, str] = {}
        for member in members:
            out.update(disk_schedulers(member.resolve()))
        return out
    try:
        text = (sys_dir / "queue" / "scheduler").read_text()
    except OSError:
        return {sys_dir.name: "unknown"}
    active = next((w[1:-1] for w in text.split() if w.startswith("[")), text.strip())
    return {sys_dir.name: active}


def scheduler_line(label: str, path: Path) -> str:
    if not path.exists():
        return f"{label} {path}: does not exist here"
    kind = fs_type(path) or "unknown"
    if is_network_fs(path):
        return f"{label} {path}: {kind} (network): the idle I/O class does not reach the server's disks"
    sys_dir = _block_dir(path)
    if sys_dir is None:
        return f"{label} {path}: {kind}, no local block device"
    disks = disk_schedulers(sys_dir)
    parts = [f"{disk} {sched}" for disk, sched in disks.items()]
    bfq = all(s == "bfq" for s in disks.values())
    verdict = "idle I/O class honoured" if bfq else "NOT bfq: the idle I/O class is ignored"
    return f"{label} {path}: {kind} on {', '.join(parts)} -> {verdict}"


def output_folders(spool_path: Path) -> list[Path]:
    """Where the spool's (latest 50) jobs write: Blender scenes' output folders, command jobs' working folders."""
    if not is_spool(spool_path):
        return []
    spool = Spool(spool_path.absolute())
    out: list[Path] = []
    for job in spool.list_jobs()[-50:]:
        manifest = spool.read_manifest(job)
        if manifest is None:
            continue
        scenes = manifest.blend.data.get("scenes", []) if manifest.blend is not None else []  # checked by its reader
        outputs = [str(sc.get("output", "")) for sc in scenes]
        folders = [on_this_host(spool.root, p).parent for p in outputs if p]
        if manifest.cwd.startswith("/"):
            folders.append(Path(manifest.cwd))
        for folder in map(_existing_folder, folders):
            if folder is not None and folder not in out:
                out.append(folder)
    return out


def _existing_folder(path: Path) -> Path | None:
    """The folder itself or its nearest existing parent (outputs are made on the first frame)."""
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return None


# --------------------------------------------------------------------------- the report


def signal_lines(probes: list[Probe]) -> list[str]:
    now = time.time()
    for p in probes:  # a first read, then a second one: the CPU signal needs two samples
        p.read(now)
    time.sleep(0.5)
    now = time.time()
    lines = []
    for p in probes:
        r = p.sample(now)
        lines.append(f"  {r.signal:7} {'works' if r.available else 'n/a':6} {r.detail}")
        p.close()
    return lines


def blender_line(blender: str) -> str:
    """The Blender program chunks would run: the absolute path the daemon resolves at start."""
    program = resolve_program(blender)
    if program is None:
        where = "on PATH" if "/" not in blender else "(not an executable file)"
        return f"blender: {blender!r} not found {where}: this host would leave Blender chunks to others"
    version = host_version(program)
    if version is None:
        return f"blender: {program} does not say which Blender it is: this host would leave Blender chunks to others"
    return f"blender: {program} (Blender {version})"


def ffmpeg_line() -> str:
    """The ffmpeg encode chunks would run (`render add --encode`), as the daemon finds it at start."""
    program, version = host_ffmpeg()
    if program is None:
        return "ffmpeg: none that runs on PATH: this host would leave encode chunks to others"
    return f"ffmpeg: {program} (ffmpeg {version})"


def report(
    spool: Path | None, activity_path: Path | None, signals: list[str], blender: str = "blender"
) -> list[str]:
    chosen = set(signals)
    probes = make_probes(SIGNALS, activity_path)
    lines = ["owner-activity signals (used: " + (", ".join(signals) or "none") + "):"]
    for line, probe in zip(signal_lines(probes), probes, strict=True):
        lines.append(line + ("" if probe.name in chosen or probe.name == "path" else "  [not used]"))
    mem = meminfo()
    MemoryWatch().read()
    lines.append(
        f"memory: {mem['mem_free'] / 2**30:.1f} GiB available of {mem['mem_total'] / 2**30:.1f}, "
        f"swap {mem['swap_free'] / 2**30:.1f} GiB free of {mem['swap_total'] / 2**30:.1f}"
    )
    prio = chunk_priorities()
    if "error" in prio:
        lines.append(f"chunk priorities: cannot be set here: {prio['error']}")
    else:
        group = prio.get("autogroup_nice")
        ok = prio.get("policy") == "SCHED_IDLE" and prio.get("nice") == 19 and prio.get("io_class") == "idle"
        ok = ok and group in (None, 19)
        lines.append(
            f"chunk priorities: {prio['policy']}, nice {prio['nice']}, I/O class {prio['io_class']}, "
            + ("no session CPU groups" if group is None else f"session CPU group nice {group}")
            + (" (all work)" if ok else " (NOT all as asked)")
        )
    lines.append(blender_line(blender))
    lines.append(ffmpeg_line())
    systemd = Path("/run/systemd/system").is_dir()
    lines.append(
        "systemd: running as PID 1" if systemd else "systemd: not PID 1 here (no logind sessions, no chunk slice)"
    )
    lines.append("I/O schedulers (the idle I/O class needs bfq):")
    if spool is None:
        lines.append("  no spool given (--spool or RENDERD_SPOOL): cannot check its disk")
    else:
        lines.append(scheduler_line("  spool", spool))
        lines.extend(scheduler_line("  output", p) for p in output_folders(spool))
    return lines


def as_sections(lines: list[str]) -> list[dict[str, object]]:
    """`renderd --check --json`: each top-level line is a section (`name: text`), indented lines its items."""
    sections: list[dict[str, object]] = []
    for line in lines:
        if line.startswith(" ") and sections:
            items = sections[-1]["items"]
            assert isinstance(items, list)
            items.append(line.strip())
            continue
        name, _, text = line.partition(":")
        sections.append({"name": name.split(" (")[0].strip(), "text": text.strip(), "line": line, "items": []})
    return sections


def run_check(spool: Path | None, activity_path: Path | None, signals: list[str], blender: str = "blender",
              as_json: bool = False) -> int:
    lines = report(spool, activity_path, signals, blender)
    if as_json:
        click.echo(json.dumps({"check": as_sections(lines)}))
        return 0
    for line in lines:
        click.echo(line)
    return 0
