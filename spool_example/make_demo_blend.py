"""Make the demo's .blend: a small spinning cube, 24 frames, rendered in seconds.

    blender -b --factory-startup --python spool_example/make_demo_blend.py -- OUT.blend

Cycles on the CPU with a few samples at 160x90 (Workbench and EEVEE need a display, which a
render node may not have).  Frames go to //frames/demo_####.png beside the .blend.
"""

from __future__ import annotations

import math
import sys

import bpy


def main() -> None:
    args = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else []
    if len(args) != 1:
        raise SystemExit("usage: blender -b --factory-startup --python make_demo_blend.py -- OUT.blend")
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.name = "Demo"
    scene.frame_start, scene.frame_end = 1, 24

    render = scene.render
    render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 4
    scene.cycles.use_denoising = False
    render.resolution_x, render.resolution_y, render.resolution_percentage = 160, 90, 100
    render.image_settings.file_format = "PNG"
    render.filepath = "//frames/demo_####"
    render.use_overwrite = True

    world = bpy.data.worlds.new("World")
    world.color = (0.05, 0.06, 0.08)
    scene.world = world

    mesh = bpy.data.meshes.new("Cube")
    corners = [(x, y, z) for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]
    faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    mesh.from_pydata(corners, [], faces)
    material = bpy.data.materials.new("Orange")
    material.diffuse_color = (0.9, 0.35, 0.05, 1.0)
    mesh.materials.append(material)
    cube = bpy.data.objects.new("Cube", mesh)
    scene.collection.objects.link(cube)
    for frame, turn in ((1, 0.0), (25, 1.0)):  # one full turn, looping
        cube.rotation_euler = (0.4, 0.0, turn * 2 * math.pi)
        cube.keyframe_insert("rotation_euler", frame=frame)
    for fcurve in cube.animation_data.action.fcurves:
        for point in fcurve.keyframe_points:
            point.interpolation = "LINEAR"

    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    camera.location = (0.0, -9.0, 1.5)
    camera.rotation_euler = (math.radians(80.5), 0.0, 0.0)
    scene.collection.objects.link(camera)
    scene.camera = camera

    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    sun.data.energy = 4.0
    sun.rotation_euler = (math.radians(40), math.radians(20), math.radians(30))
    scene.collection.objects.link(sun)

    bpy.ops.wm.save_as_mainfile(filepath=args[0], compress=True)


main()
