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
_readout: dict[str, list[str]] = {"lines": []}


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


def _run_render(context: bpy.types.Context, *args: str) -> dict:
    """Run `render ... --json` without a shell; its JSON answer, or RuntimeError with its one-line error."""
    argv = _render_argv(context, *args)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise RuntimeError(f"{argv[0]}: {err}") from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"render exited {proc.returncode}")
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise RuntimeError(f"render printed no JSON: {proc.stdout[:200]!r}") from None


def _refresh(context: bpy.types.Context) -> None:
    """Fill the "Farm status" readout: the last job sent from this session, and the live hosts."""
    settings = context.scene.renderd
    lines = []
    if settings.last_job:
        jobs = _run_render(context, "status", settings.last_job, "--json").get("jobs") or []
        for job in jobs:
            c = job.get("chunks", {})
            lines.append(f"{job.get('job')}: {job.get('state')}")
            lines.append(
                f"chunks {c.get('done', 0)}/{c.get('total', 0)} done, {c.get('running', 0)} running, "
                f"{c.get('queued', 0)} queued, {c.get('failed', 0) + c.get('bad', 0)} failed"
            )
    hosts = _run_render(context, "hosts", "--json").get("hosts") or []
    live = [h for h in hosts if h.get("live")]
    busy = [h for h in live if h.get("state") == "busy"]
    lines.append(f"hosts: {len(live)} live, {len(busy)} busy, {len(hosts) - len(live)} offline")
    _readout["lines"] = lines


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
        try:
            _refresh(context)
        except RuntimeError as err:
            _readout["lines"] = [f"status: {err}"]
        return {"FINISHED"}


class RENDERD_OT_refresh(bpy.types.Operator):
    """Read the farm's state from the spool"""

    bl_idname = "renderd.refresh"
    bl_label = "Refresh farm status"

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            _refresh(context)
        except RuntimeError as err:
            _readout["lines"] = [f"status: {err}"]
            self.report({"WARNING"}, f"renderd: {err}")
            return {"CANCELLED"}
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

    def draw(self, context: bpy.types.Context) -> None:
        self.layout.prop(self, "spool")
        self.layout.prop(self, "render_program")


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
    del bpy.types.Scene.renderd
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
