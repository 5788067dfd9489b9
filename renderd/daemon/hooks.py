"""Hooks around a job's chunks (docs/hooks.md): pre and post as phases of the chunk's own run, end
and error as side runs.

pre and post run exactly like the chunk's program — through the spawner's launcher, at idle
priority, in the chunk's process group (so suspend, cancel, the lease and kill-with-daemon hold
for them too), appending to the chunk's log — one after the other on the same claim: pre, then
the program, then (once the frames are judged complete and in place) post.  A hook has its own
time limit (--hook-timeout).  A non-zero pre or post fails the attempt with "pre hook failed: ...".

end (once per job, renderd/jobend.py says who) and error (by the daemon that moved a chunk to
failed/) have no claim to run under: they are side runs, started at nice 19 / SCHED_IDLE in a
process group of their own, reaped by the main loop, their output in
jobs/<job>/logs/<job>.<hook>.<host>.log, stopped at --hook-timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from renderd import jobend, launcher
from renderd.access import owners_manifest
from renderd.daemon.state import DaemonState, log
from renderd.format.hooks import Hooks, expand
from renderd.format.info import ChunkInfo
from renderd.format.manifest import Manifest
from renderd.kinds.blender import on_this_host
from renderd.runner import Run


@dataclass
class SideRun:
    what: str  # "end hook of JOB" / "error hook of CHUNK"
    process: subprocess.Popen[bytes]
    deadline: float
    killed: bool = False


def hook_values(info: ChunkInfo, manifest: Manifest | None, spool_root: Path, host: str) -> dict[str, str]:
    """The placeholders' values for one chunk (docs/hooks.md).

    Only a Blender chunk's `blender` fields are read: the info reader checks them (no value that
    reads as an option) for that kind alone, and any other kind's `blender` block is whatever its
    writer put there (`{scene}` was `--anything` for an encode chunk).  Paths are absolute."""
    fields = (info.blender or {}) if info.kind == "blender" else {}
    blend = str(on_this_host(spool_root, str(fields["file"]))) if isinstance(fields.get("file"), str) else ""
    output = str(fields.get("output") or "")
    if output and not output.startswith("/"):
        output = str(spool_root / output)
    return {
        "job": info.job, "chunk": info.chunk, "file": blend, "scene": str(fields.get("scene") or ""),
        "start": str(info.start), "end": str(info.end), "frames": f"{info.start}-{info.end}:{info.step}",
        "frames_dir": os.path.dirname(output) if output else "", "output": output, "host": host,
    }


class HooksMixin(DaemonState):
    """Phases of a chunk's run, and the side runs of end and error hooks."""

    def _footer(self, run: Run, text: str) -> None:
        raise NotImplementedError  # finishing.py

    def _cwd(self, info: ChunkInfo) -> str | None:
        raise NotImplementedError  # running.py

    def _env(self, info: ChunkInfo) -> dict[str, str]:
        raise NotImplementedError  # running.py

    def _stop_side_runs(self) -> None:
        """At shutdown: a hook does not outlive its daemon (as a chunk does not)."""
        for side in self.side_runs:
            if side.process.poll() is None:
                _killpg(side.process.pid, signal.SIGKILL)
                side.process.wait()
        self.side_runs.clear()

    def _job_hooks(self, manifest: Manifest | None) -> Hooks:
        """The hooks this daemon runs for a job: none at all without --allow-hooks/--allow-commands
        (the config's [hooks] neither), and a job's own only from its owner's manifest (the caller
        passes what owners_manifest gave).  The claim was decided on a manifest read earlier: this
        is read again, so it is judged again here."""
        if not self.cfg.runs_hooks:
            return Hooks()
        own = manifest.hooks if manifest is not None else Hooks()
        return own.merged_over(self.cfg.default_hooks)

    def _owners_manifest(self, job: str) -> Manifest | None:
        return owners_manifest(self.spool, job, self.cfg.admin_group)

    def _plan_phases(self, run: Run, manifest: Manifest | None) -> None:
        """Set the run's pre and post argv (with this chunk's values) and start with pre if it has one."""
        hooks = self._job_hooks(manifest)
        if not hooks.pre and not hooks.post:
            return
        values = hook_values(run.info, manifest, self.spool.root, self.cfg.name)
        run.post_argv = expand(hooks.post, values) if hooks.post else None
        if hooks.pre:
            run.main_argv, run.argv, run.phase = run.argv, expand(hooks.pre, values), "pre"
            run.main_deadline, run.deadline = run.deadline, time.monotonic() + self.cfg.hook_timeout

    def _start_phase(self, run: Run, phase: str) -> None:
        """The next phase of a run on the same claim: the program after pre, post after the program."""
        if phase == "main":
            assert run.main_argv is not None
            run.argv, run.deadline = run.main_argv, run.main_deadline
        else:
            assert run.post_argv is not None
            run.argv, run.deadline = run.post_argv, time.monotonic() + self.cfg.hook_timeout
        run.phase = phase
        run.launcher = run.program = run.forked = run.launcher_gone_at = None
        run.stop_sent = False
        self._footer(run, f"{phase if phase != 'main' else 'program'} argv {run.argv!r}")
        self.runs[run.token] = run
        if phase == "main":  # the pre phase's end stopped the progress reader: the program's frames need it
            self.progress.watch(run.token, run.log, len(run.info.frames),
                                run.launch.collect if run.launch is not None else None)
        self.runner.start(run, run.cwd, run.env)

    def _side_run(self, what: str, argv: list[str], job: str, hook: str, cwd: str, env: dict[str, str]) -> None:
        if not self.cfg.runs_hooks:
            return
        log_path = self.spool.job_dir(job) / "logs" / f"{job}.{hook}.{self.cfg.name}.log"
        try:
            self.spool.ensure_job_dir(job, "logs")
            fd = self.spool.open_own(log_path)
        except (OSError, ValueError) as err:
            log.warning("%s not run: cannot write its log %s: %s", what, log_path, err)
            return
        try:
            os.write(fd, f"renderd: {what} on {self.cfg.name}: argv {argv!r}\n".encode())
            process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=fd,
                                       stderr=subprocess.STDOUT, process_group=0, preexec_fn=launcher.lower_priority)
        except OSError as err:
            log.warning("%s could not start: %s", what, err)
            os.write(fd, f"renderd: could not start: {err}\n".encode())
            return
        finally:
            os.close(fd)
        log.info("%s started (pid %d)", what, process.pid)
        self.side_runs.append(SideRun(what, process, time.monotonic() + self.cfg.hook_timeout))

    def _reap_side_runs(self) -> None:
        now = time.monotonic()
        for side in list(self.side_runs):
            code = side.process.poll()
            if code is None:
                if now >= side.deadline and not side.killed:
                    log.warning("%s ran past --hook-timeout: stopping it", side.what)
                    _killpg(side.process.pid, signal.SIGKILL)
                    side.killed = True
                continue
            self.side_runs.remove(side)
            if code == 0:
                log.info("%s done", side.what)
            else:
                log.warning("%s failed (exit code %s)", side.what, code)

    def _after_done(self, info: ChunkInfo) -> None:
        """A done record of ours is written: if it was the job's last chunk, end the job (exactly once)."""
        if not jobend.nothing_left(self.spool, info.job):
            return
        manifest = self._owners_manifest(info.job)
        if manifest is None or not jobend.all_done(self.spool, manifest) or not jobend.claim_end(self.spool, info.job):
            return
        log.info("job %s is done: every chunk succeeded", info.job)
        self.emit("job-done", job=info.job, chunks=len(manifest.chunks), frames=manifest.frames)
        hooks = self._job_hooks(manifest)
        if hooks.end:
            values = hook_values(info, manifest, self.spool.root, self.cfg.name)
            values.update(chunk="", start=str(min(c.start for c in manifest.chunks)),
                          end=str(max(c.end for c in manifest.chunks)))
            self._side_run(f"end hook of {info.job}", expand(hooks.end, values), info.job, "end",
                           self._cwd(info) or str(self.spool.root), self._env(info))

    def _after_failed_for_good(self, info: ChunkInfo) -> None:
        """We moved a chunk to failed/ (no other daemon did): its error hook, once."""
        manifest = self._owners_manifest(info.job)
        hooks = self._job_hooks(manifest)
        if hooks.error:
            values = hook_values(info, manifest, self.spool.root, self.cfg.name)
            self._side_run(f"error hook of {info.chunk}", expand(hooks.error, values), info.job,
                           f"error.{info.chunk}", self._cwd(info) or str(self.spool.root), self._env(info))


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
