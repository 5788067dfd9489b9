"""Make a small Cycles animation with real Blender, for bench/placeholder.py and the warm tests.

    blender -b --factory-startup --python bench/make_blend.py -- OUT.blend SIZE SAMPLES FRAMES [SCENES [trick]]

SIZE is the square resolution in pixels, SAMPLES Cycles' samples (fixed seed, no denoising,
so a frame is the same bytes of pixels every time), FRAMES the range 1-FRAMES.  With SCENES=2
a second scene "B" (another colour, output //b/b_####) is added beside "A" (//a/a_####);
`trick` saves it with Placeholders on and Overwrite off (Blender's placeholder trick).
Runs inside Blender (bpy); nothing here is imported by renderd.
"""

from __future__ import annotations

import sys
from typing import Any


def scene_setup(bpy: Any, scene: Any, size: int, samples: int, frames: int, out: str, color: tuple[float, ...]) -> None:
    scene.render.engine = "CYCLES"
    scene.cycles.samples = samples
    scene.cycles.seed = 7
    scene.cycles.use_denoising = False
    scene.cycles.use_adaptive_sampling = False  # a frame costs SIZE x SIZE x SAMPLES, not what converges
    scene.cycles.device = "CPU"
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = out
    scene.render.use_overwrite = True
    scene.render.use_placeholder = False
    scene.frame_start, scene.frame_end = 1, frames
    if scene.world is None:
        scene.world = bpy.data.worlds.new(f"W{scene.name}")
    scene.world.color = color[:3]


def main() -> None:
    import bpy

    args = sys.argv[sys.argv.index("--") + 1:]
    out, size, samples, frames = args[0], int(args[1]), int(args[2]), int(args[3])
    scenes = int(args[4]) if len(args) > 4 else 1
    placeholders = len(args) > 5 and args[5] == "trick"
    bpy.ops.wm.read_factory_settings(use_empty=False)
    scene = bpy.context.scene
    scene.name = "A"
    cube = bpy.data.objects.get("Cube")
    if cube is not None:
        cube.animation_data_clear()
        cube.rotation_euler = (0.0, 0.0, 0.0)
        cube.keyframe_insert("rotation_euler", frame=1)
        cube.rotation_euler = (0.0, 0.0, 3.0)
        cube.keyframe_insert("rotation_euler", frame=max(frames, 2))
    scene_setup(bpy, scene, size, samples, frames, "//a/a_####", (0.05, 0.05, 0.05))
    if scenes > 1:
        other = scene.copy()  # a linked copy: the same objects, its own settings
        other.name = "B"
        other.use_fake_user = True  # a scene no window shows has no user: it would not be saved
        other.world = None
        scene_setup(bpy, other, size, samples, frames, "//b/b_####", (0.8, 0.1, 0.1))
    if placeholders:
        for each in bpy.data.scenes:
            each.render.use_placeholder = True
            each.render.use_overwrite = False
    bpy.ops.wm.save_as_mainfile(filepath=out, compress=False)


if __name__ == "__main__":
    main()
