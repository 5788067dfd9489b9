"""Runs inside real Blender (not pytest): install and enable the add-on zip, press its buttons.

    blender -b FILE.blend --factory-startup --python addon_driver.py -- ZIP RENDER SPOOL OUT.json [follow]

With `follow`, the live readout's timer function is called (background Blender runs no timers)
until it stops, as it does once the job is no longer under way.
"""

import json
import sys
import time

import addon_utils
import bpy

zip_path, render_program, spool, out, *mode = sys.argv[sys.argv.index("--") + 1 :]
bpy.ops.preferences.addon_install(filepath=zip_path)
addon_utils.enable("renderd_blender", default_set=True, handle_error=None)
prefs = bpy.context.preferences.addons["renderd_blender"].preferences
prefs.render_program = render_program
prefs.spool = spool
prefs.notify = mode == ["notify"]

scene = bpy.context.scene
scene.renderd.chunk = 1
scene.renderd.priority = 70
submitted = sorted(bpy.ops.renderd.submit())
refreshed = sorted(bpy.ops.renderd.refresh())
addon = sys.modules["renderd_blender"]
result = {
    "scene": scene.name,
    "submit": submitted,
    "refresh": refreshed,
    "last_job": scene.renderd.last_job,
    "readout": addon._readout["lines"],
    "is_dirty": bpy.data.is_dirty,
    "modules": sorted(sys.modules),
    "waiters": [list(proc.args) for proc in sys.modules["renderd_blender"]._waiters],
}

if mode == ["follow"]:
    deadline, ticks = time.monotonic() + 600, 0
    while time.monotonic() < deadline and addon._tick() is not None:
        ticks += 1
        time.sleep(0.2)
    result.update(followed=addon._readout["lines"], ticks=ticks)

bpy.ops.wm.read_homefile(use_empty=True)  # an unsaved file cannot be sent
try:
    result["unsaved"] = sorted(bpy.ops.renderd.submit())
except RuntimeError as err:  # background mode turns an operator's ERROR report into an exception
    result["unsaved"] = str(err)

with open(out, "w") as fh:
    json.dump(result, fh)
