"""A private one-node Slurm cluster for the tests: munged, slurmctld and slurmd with their own config.

Everything lives in one temp folder (config, state, spool, logs, the munge socket) and uses free
ports, so it neither needs nor touches a Slurm the machine may already run (the recipe in
../shared/slurm-recipe.md, made private).  Programs see it through `SLURM_CONF` (`env()`); the
pilots inherit it from slurmd.  `stop()` ends the three daemons by their pid files.  Needs root
(slurmd runs jobs as their submitter, munged as the munge user) and Debian's slurm-wlm + munge.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PROGRAMS = ("slurmctld", "slurmd", "munged", "sbatch", "squeue", "scancel", "sinfo")
MUNGE_KEY = Path("/etc/munge/munge.key")


def why_not() -> str | None:
    """Why a private Slurm cannot run here, or None."""
    for program in PROGRAMS:
        if shutil.which(program) is None and not os.access(f"/usr/sbin/{program}", os.X_OK):
            return f"`{program}` is not installed (Debian: apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "slurmd and munged need root here"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "there is no `munge` user (Debian's munge package makes it)"
    if not MUNGE_KEY.exists():
        return f"{MUNGE_KEY} does not exist (create it with `mungekey -c`)"
    return None


def _program(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Slurm:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.conf = base / "slurm.conf"
        # munged runs as the munge user, who cannot enter pytest's private (0700) temp folders
        self.munge_dir = Path(tempfile.mkdtemp(prefix="renderd-munge-"))
        self.node = socket.gethostname().split(".")[0]

    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def _write_conf(self) -> None:
        b = self.base
        for sub in ("state", "spool", "log"):
            (b / sub).mkdir(parents=True, exist_ok=True)
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=renderdtest",
                    f"SlurmctldHost={self.node}",
                    f"SlurmctldPort={_free_port()}",
                    f"SlurmdPort={_free_port()}",
                    "AuthType=auth/munge",
                    f"AuthInfo=socket={self.munge_dir}/sock",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "SchedulerType=sched/backfill",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core",
                    f"SlurmctldPidFile={b}/slurmctld.pid",
                    f"SlurmdPidFile={b}/slurmd.pid",
                    f"StateSaveLocation={b}/state",
                    f"SlurmdSpoolDir={b}/spool",
                    f"SlurmctldLogFile={b}/log/slurmctld.log",
                    f"SlurmdLogFile={b}/log/slurmd.log",
                    "SlurmUser=root",
                    "ReturnToService=2",
                    "KillWait=10",
                    "SchedulerParameters=sched_interval=2",
                    f"NodeName={self.node} CPUs=2 State=UNKNOWN",
                    f"PartitionName=main Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )

    def start(self, timeout: float = 60.0) -> None:
        self._write_conf()
        shutil.chown(self.munge_dir, "munge", "munge")
        self.munge_dir.chmod(0o755)  # munged wants its socket folder reachable by every client
        d = self.munge_dir
        self._start([_program("munged"), f"--socket={d}/sock", f"--pid-file={d}/pid", f"--log-file={d}/log",
                     f"--seed-file={d}/seed"], user="munge")
        for daemon in ("slurmctld", "slurmd"):
            self._start([_program(daemon)])
        deadline = time.monotonic() + timeout
        while True:
            state = self.run("sinfo", "--noheader", "--format", "%t").stdout.strip()
            if state in ("idle", "mix", "alloc"):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the private Slurm did not come up (node state {state!r}); logs in {self.base}/log")
            time.sleep(0.5)

    def _start(self, argv: list[str], user: str | None = None) -> None:
        out = subprocess.run(argv, env=self.env(), capture_output=True, text=True, timeout=30, user=user, group=user)
        if out.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} exited {out.returncode}: {out.stderr.strip()[:300]}")

    def run(self, *argv: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run([_program(argv[0]), *argv[1:]], env=self.env(), capture_output=True, text=True,
                              timeout=60, check=check)

    def jobs(self, job: str) -> list[str]:
        """`squeue` lines (`id state`) of a job's array tasks still known to Slurm."""
        out = self.run("squeue", "--noheader", "--array", "--jobs", job, "--format", "%i %T")
        return [line for line in out.stdout.splitlines() if line.strip()]

    def stop(self) -> None:
        """Cancel every job of this private cluster (their pilots with them), then end the daemons."""
        if self.conf.exists() and (self.base / "slurmctld.pid").exists():
            self.run("scancel", "--user", pwd.getpwuid(os.getuid()).pw_name)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.run("squeue", "--noheader").stdout.strip():
                time.sleep(0.2)
        for pidfile in (self.base / "slurmd.pid", self.base / "slurmctld.pid", self.munge_dir / "pid"):
            try:
                pid = int(pidfile.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
        shutil.rmtree(self.munge_dir, ignore_errors=True)
