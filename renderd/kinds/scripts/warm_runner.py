"""Inside a warm Blender: render chunk after chunk of the file loaded once (renderd --warm).

Started by the daemon as `BLENDER -b FILE -Y [device] [extra] --python THIS_FILE [-- after]`,
so the file, `-Y` and the job's allowed extra options are exactly a cold run's.  It connects
to the daemon's socket (RENDERD_WARM_SOCKET, a 0700 folder of the daemon's own), says
`ready`, then for each request (one JSON line, with the chunk's log as a passed descriptor):

1. points fds 1 and 2 at the chunk's log, so Blender's own lines (`Fra:`, `Saved:`) go where
   a cold run's go and the daemon's progress watcher reads them unchanged;
2. reloads the file (`wm.open_mainfile`, scripts off) when it changed on disk since it was
   loaded (mtime, size, inode), when the chunk is of another scene than the last one, or when
   the file simulates (particles, cloth, soft bodies, fluids, dynamic paint, rigid bodies):
   their caches hold state from frames rendered before;
3. sets the scene's range, step and output (the staging folder's pattern), prints Blender's
   own `Scene switch for render: ...` line, renders with `render.render(animation=True)` (the
   `-a` code path: same names, formats, Overwrite/Placeholders and movie rules), and puts the
   scene's range, step, output and current frame back;
4. flushes C and Python output, points fds 1 and 2 back, answers `done` (ok, error).

It exits when the daemon closes the socket.  Nothing in a request is run as code: the scene
name, frames and output are data; the output path was made by the daemon.
"""

from __future__ import annotations

import ctypes
import json
import os
import runpy
import socket
import sys
from typing import Any

SIMULATING = {"PARTICLE_SYSTEM", "CLOTH", "SOFT_BODY", "FLUID", "DYNAMIC_PAINT", "FLUID_SIMULATION", "OCEAN"}
MAX_REQUEST = 64 * 1024
_libc = ctypes.CDLL(None)


def _flush() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    _libc.fflush(None)


def _file_key(path: str) -> tuple[int, int, int]:
    st = os.stat(path)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class Warm:
    def __init__(self, bpy: Any) -> None:
        self.bpy = bpy
        self.path = str(bpy.data.filepath)  # "" in a Blender pre-started without a file (--warm-prestart)
        self.loaded = _file_key(self.path) if self.path else (0, 0, 0)
        self.last_scene: str | None = None
        self.device = os.environ.get("RENDERD_WARM_DEVICE") or None
        self.device_script = os.environ.get("RENDERD_WARM_DEVICE_SCRIPT") or None
        self.served = 0

    def simulates(self) -> bool:
        bpy = self.bpy
        if any(getattr(s, "rigidbody_world", None) is not None for s in bpy.data.scenes):
            return True
        return any(m.type in SIMULATING for o in bpy.data.objects for m in getattr(o, "modifiers", ()))

    def reload(self, why: str) -> None:
        print(f"renderd: reloading {self.path} ({why})", flush=True)
        self.bpy.ops.wm.open_mainfile(filepath=self.path, load_ui=False, use_scripts=False)
        self.loaded = _file_key(self.path)
        self.use_device()

    def use_device(self) -> None:
        if self.device and self.device_script:  # scene.cycles.device is file data: set again after a load
            runpy.run_path(self.device_script, init_globals={"RENDERD_DEVICE": self.device}, run_name="__main__")

    def render(self, req: dict[str, Any]) -> str | None:
        """Render one chunk; None when Blender finished it, else why not (the daemon checks frames anyway)."""
        bpy = self.bpy
        name = str(req["scene"])
        if not self.path:  # pre-started without a file: its first chunk's file, loaded as `-b FILE -Y` would
            self.path = str(req["file"])
            self.reload("the first file handed to a pre-started Blender")
        try:
            now = _file_key(self.path)
        except OSError as err:
            return f"cannot stat the .blend: {err.strerror}"
        if now != self.loaded:
            self.reload("the .blend changed on disk since it was loaded")
        elif self.served and self.last_scene != name:
            self.reload(f"another scene than the last chunk's ({self.last_scene!r})")
        elif self.served and self.simulates():
            self.reload("the file simulates: its caches hold earlier frames")
        self.served += 1
        self.last_scene = name
        scene = bpy.data.scenes.get(name)
        if scene is None:  # Blender's own words for `-S`; the daemon's check fails the chunk on the missing switch
            print(f"Can't find scene: '{name}' in file: '{self.path}'", flush=True)
            return None
        print(f"Scene switch for render: '{name}' in file: '{self.path}'", flush=True)
        keep = (scene.frame_start, scene.frame_end, scene.frame_step, scene.render.filepath, scene.frame_current)
        threads = (scene.render.threads_mode, scene.render.threads)
        try:
            if isinstance(req.get("threads"), int):  # `-t N` of a job, for a Blender started without it
                scene.render.threads_mode, scene.render.threads = "FIXED", int(req["threads"])
            scene.frame_start = int(req["start"])
            scene.frame_end = int(req["end"])
            scene.frame_step = int(req["step"])
            scene.render.filepath = str(req["output"])
            result = bpy.ops.render.render(animation=True, scene=name)
        except (RuntimeError, ValueError, TypeError) as err:
            print(f"Error: {err}", flush=True)
            return str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        finally:
            scene.frame_start, scene.frame_end, scene.frame_step = keep[0], keep[1], keep[2]
            scene.render.filepath = keep[3]
            scene.frame_set(keep[4])
            scene.render.threads_mode, scene.render.threads = threads
        return None if "FINISHED" in result else f"the render ended {sorted(result)}"


def _serve(warm: Warm, conn: socket.socket) -> None:
    buf = b""
    out1, out2 = os.dup(1), os.dup(2)
    while True:
        data, fds, _flags, _addr = socket.recv_fds(conn, MAX_REQUEST, 4)
        if not data:
            return
        buf += data
        if b"\n" not in buf:
            for fd in fds:
                os.close(fd)
            continue
        line, _, buf = buf.partition(b"\n")
        req = json.loads(line)
        error: str | None = "no log descriptor passed"
        if fds:
            _flush()
            os.dup2(fds[0], 1)
            os.dup2(fds[0], 2)
            for fd in fds:
                os.close(fd)
            try:
                error = warm.render(req)
            except Exception as err:  # noqa: BLE001 - tell the daemon; it fails the chunk and replaces us
                print(f"Error: renderd's warm runner: {type(err).__name__}: {err}", flush=True)
                error = f"{type(err).__name__}: {err}"[:300]
            finally:
                _flush()
                os.dup2(out1, 1)
                os.dup2(out2, 2)
        reply = {"event": "done", "token": req.get("token"), "ok": error is None, "error": error}
        conn.sendall((json.dumps(reply) + "\n").encode())


def main() -> None:
    import bpy

    warm = Warm(bpy)
    warm.use_device()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(os.environ["RENDERD_WARM_SOCKET"])
    conn.sendall((json.dumps({"event": "ready", "pid": os.getpid(), "file": warm.path}) + "\n").encode())
    print(f"renderd: warm runner ready ({warm.path or 'no file yet'})", flush=True)
    try:
        _serve(warm, conn)
    finally:
        _flush()
        os._exit(0)  # the daemon closed the socket (or it broke): leave without Blender's own exit


if __name__ == "__main__":
    main()
