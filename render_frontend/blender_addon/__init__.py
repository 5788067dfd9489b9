"""renderd for Blender: "Send to renderd" and "Farm status" in Render Properties.

Blender's own Python has neither click nor filelock nor blender-asset-tracer, so this add-on
imports none of them: it saves the file and runs the `render` program with --json, so the
farm has one chunking implementation.  Installs as a legacy add-on (bl_info) and as a
Blender 4.2+ extension (blender_manifest.toml); built by `render addon build`.
"""

import json
import os
import shutil
import subprocess
import tempfile
import typing

import bpy

bl_info = {
    "name": "renderd",
    "author": "renderd maintainers",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "Properties > Render > renderd",
    "description": "Send the open file to a renderd render farm",
    "category": "Render",
}

TIMEOUT = 120  # seconds for one `render` call (reading a big .blend over NFS can take a while)
REFRESH_EVERY = 5.0  # seconds between live readouts while the job is under way
POLL = 0.5  # seconds between looks at a readout in progress
ACTIVE = ("queued", "running")
_readout: dict[str, list[str]] = {"lines": []}
_live: dict[str, list[tuple[subprocess.Popen, typing.IO[str], typing.IO[str]]]] = {"pending": []}
_waiters: list[subprocess.Popen] = []  # `render wait JOB --notify` started for "Notify when done"


# ----------------------------------------------------------------------------- running `render`


def _prefs(context: bpy.types.Context) -> bpy.types.AddonPreferences | None:
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon is not None else None


def _render_argv(context: bpy.types.Context, *args: str) -> list[str]:
    """`render [--spool SPOOL] ARGS...`; the spool from preferences, else $RENDERD_SPOOL, else render's config."""
    prefs = _prefs(context)
    program = (prefs.render_program if prefs else "") or shutil.which("render")
    if not program:
        raise RuntimeError("no `render` program: put it on PATH or set it in the add-on's preferences")
    spool = (prefs.spool if prefs else "") or os.environ.get("RENDERD_SPOOL", "")
    return [bpy.path.abspath(program), *(["--spool", bpy.path.abspath(spool)] if spool else []), *args]


def _answer(argv: list[str], code: int, out: str, err: str) -> dict:
    """`render`'s JSON answer, or RuntimeError with its one-line error."""
    if code != 0:
        lines = (err or out).strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"{argv[0]} exited {code}")
    try:
        return json.loads(out)
    except ValueError:
        raise RuntimeError(f"render printed no JSON: {out[:200]!r}") from None


def _run_render(context: bpy.types.Context, *args: str) -> dict:
    """Run `render ... --json` without a shell and wait for its answer."""
    argv = _render_argv(context, *args)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise RuntimeError(f"{argv[0]}: {err}") from None
    return _answer(argv, proc.returncode, proc.stdout, proc.stderr)


def _queries(context: bpy.types.Context) -> list[list[str]]:
    job = context.scene.renderd.last_job
    return ([["status", job, "--json"]] if job else []) + [["hosts", "--json"]]


def _show(answers: list[dict]) -> bool:
    """Fill the "Farm status" readout from the answers to `_queries`; True while the job is under way."""
    lines, active = [], False
    jobs = (answers[0].get("jobs") or []) if len(answers) > 1 else []
    for job in jobs:
        c = job.get("chunks", {})
        lines.append(f"{job.get('job')}: {job.get('state')}")
        lines.append(
            f"chunks {c.get('done', 0)}/{c.get('total', 0)} done, {c.get('running', 0)} running, "
            f"{c.get('queued', 0)} queued, {c.get('failed', 0) + c.get('bad', 0)} failed"
        )
        active = active or job.get("state") in ACTIVE
    hosts = answers[-1].get("hosts") or []
    live = [h for h in hosts if h.get("live")]
    busy = [h for h in live if h.get("state") == "busy"]
    lines.append(f"hosts: {len(live)} live, {len(busy)} busy, {len(hosts) - len(live)} offline")
    _readout["lines"] = lines
    return active


def _refresh(context: bpy.types.Context) -> bool:
    """Read the farm now (the last job sent from this file, and the hosts); True while the job is under way."""
    return _show([_run_render(context, *q) for q in _queries(context)])


def _notify_when_done(context: bpy.types.Context, job: str) -> None:
    """`render wait JOB --notify` in the background, in a session of its own: the desktop
    notification comes when the job ends, also after Blender is closed (docs/hooks.md)."""
    _waiters[:] = [proc for proc in _waiters if proc.poll() is None]  # reap the ones that ended
    argv = _render_argv(context, "wait", job, "--notify")
    _waiters.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True))


# ----------------------------------------------------------------------------- live readout


def _tick() -> float | None:
    """Timer: refresh the readout in the background every few seconds while the job is under way.

    The `render` calls run as child processes (output to temporary files, so a large answer
    cannot fill a pipe and stall them); the timer only polls them, so Blender never waits.
    """
    pending = _live["pending"]
    if not pending:
        try:
            for query in _queries(bpy.context):
                out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
                argv = _render_argv(bpy.context, *query)
                pending.append((subprocess.Popen(argv, stdout=out, stderr=err, text=True), out, err))
        except (RuntimeError, OSError) as error:
            _readout["lines"] = [f"status: {error}"]
            _finish_pending()
            return None
        return POLL
    if any(proc.poll() is None for proc, _, _ in pending):
        return POLL
    try:
        answers = [_answer(proc.args, proc.returncode, _read(out), _read(err)) for proc, out, err in pending]
        active = _show(answers)
    except RuntimeError as error:
        _readout["lines"], active = [f"status: {error}"], False
    _finish_pending()
    _redraw()
    return REFRESH_EVERY if active else None


def _read(fh: typing.IO[str]) -> str:
    fh.seek(0)
    return fh.read()


def _finish_pending() -> None:
    for _, out, err in _live["pending"]:
        out.close()
        err.close()
    _live["pending"] = []


def _follow() -> None:
    if not bpy.app.timers.is_registered(_tick):
        bpy.app.timers.register(_tick, first_interval=REFRESH_EVERY)


def _redraw() -> None:
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "PROPERTIES":
                area.tag_redraw()


# ----------------------------------------------------------------------------- operators


class RENDERD_OT_submit(bpy.types.Operator):
    """Save this file and queue its scene on the renderd farm"""

    bl_idname = "renderd.submit"
    bl_label = "Send to renderd"

    def execute(self, context: bpy.types.Context) -> set[str]:
        if not bpy.data.filepath:
            self.report({"ERROR"}, "Save the file first: the farm renders it from where it is saved")
            return {"CANCELLED"}
        try:
            saved = bpy.ops.wm.save_mainfile()
        except RuntimeError as err:  # background mode raises what the UI would report
            saved, why = set(), str(err)
        else:
            why = "see Blender's report"
        if "FINISHED" not in saved:
            self.report({"ERROR"}, f"renderd: the file could not be saved ({why}); nothing was sent")
            return {"CANCELLED"}
        settings = context.scene.renderd
        args = ["add", "--json", "--chunk", str(settings.chunk), "--priority", str(settings.priority)]
        args += ["--scene", context.scene.name, bpy.data.filepath]
        try:
            answer = _run_render(context, *args)
        except RuntimeError as err:
            self.report({"ERROR"}, f"renderd: {err}")
            return {"CANCELLED"}
        settings.last_job = str(answer.get("job", ""))
        self.report({"INFO"}, f"renderd: queued {settings.last_job} ({len(answer.get('chunks', []))} chunks)")
        prefs = _prefs(context)
        if prefs is not None and prefs.notify and settings.last_job:
            try:
                _notify_when_done(context, settings.last_job)
            except (RuntimeError, OSError) as err:
                self.report({"WARNING"}, f"renderd: no notification when it is done: {err}")
        try:
            _refresh(context)
        except RuntimeError as err:
            _readout["lines"] = [f"status: {err}"]
        _follow()
        return {"FINISHED"}


class RENDERD_OT_refresh(bpy.types.Operator):
    """Read the farm's state from the spool"""

    bl_idname = "renderd.refresh"
    bl_label = "Refresh farm status"

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            active = _refresh(context)
        except RuntimeError as err:
            _readout["lines"] = [f"status: {err}"]
            self.report({"WARNING"}, f"renderd: {err}")
            return {"CANCELLED"}
        if active:
            _follow()
        return {"FINISHED"}


# ----------------------------------------------------------------------------- settings and UI


class RenderdSceneSettings(bpy.types.PropertyGroup):
    chunk: bpy.props.IntProperty(name="Chunk size", description="Rendered frames per chunk", default=10, min=1)
    priority: bpy.props.IntProperty(name="Priority", description="Higher runs first", default=50, min=0, max=999)
    last_job: bpy.props.StringProperty(name="Last job", description="The job last sent from this file")


class RenderdPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    spool: bpy.props.StringProperty(
        name="Spool",
        description="The farm's shared spool folder (empty: $RENDERD_SPOOL, or render's config file)",
        subtype="DIR_PATH",
    )
    render_program: bpy.props.StringProperty(
        name="render program",
        description="The `render` program (empty: found on PATH)",
        subtype="FILE_PATH",
    )

    notify: bpy.props.BoolProperty(
        name="Notify when done",
        description="Show a desktop notification when a job sent from Blender ends (render wait --notify)",
        default=False,
    )

    def draw(self, context: bpy.types.Context) -> None:
        self.layout.prop(self, "spool")
        self.layout.prop(self, "render_program")
        self.layout.prop(self, "notify")


class RENDER_PT_renderd(bpy.types.Panel):
    bl_label = "renderd"
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "render"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.renderd
        row = layout.row(align=True)
        row.prop(settings, "chunk")
        row.prop(settings, "priority")
        layout.operator(RENDERD_OT_submit.bl_idname, icon="RENDER_ANIMATION")
        box = layout.box()
        header = box.row()
        header.label(text="Farm status")
        header.operator(RENDERD_OT_refresh.bl_idname, text="", icon="FILE_REFRESH")
        for line in _readout["lines"] or ["(press refresh)"]:
            box.label(text=line)


CLASSES = (RenderdSceneSettings, RenderdPreferences, RENDERD_OT_submit, RENDERD_OT_refresh, RENDER_PT_renderd)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.renderd = bpy.props.PointerProperty(type=RenderdSceneSettings)


def unregister() -> None:
    if bpy.app.timers.is_registered(_tick):
        bpy.app.timers.unregister(_tick)
    _finish_pending()
    del bpy.types.Scene.renderd
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
