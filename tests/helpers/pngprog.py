"""A chunk program that renders real PNG frames with Pillow, for the web tests' thumbnails.

usage: pngprog.py OUTDIR START END [--sleep S]

For each frame: sleeps S seconds, writes OUTDIR/frame_NNNN.png (a gradient with the frame
number in it) and prints `Saved: '/abs/path'` as Blender does, so the daemon records the file
in the chunk's done record."""

import os
import sys
import time

from PIL import Image, ImageDraw


def main() -> int:
    outdir, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    opts = dict(zip(sys.argv[4::2], sys.argv[5::2], strict=False))
    os.makedirs(outdir, exist_ok=True)
    for frame in range(start, end + 1):
        time.sleep(float(opts.get("--sleep", "0")))
        im = Image.new("RGB", (640, 360))
        draw = ImageDraw.Draw(im)
        for x in range(0, 640, 8):
            draw.rectangle([x, 0, x + 8, 360], fill=(x * 255 // 640, 80 + frame * 20 % 170, 255 - x * 255 // 640))
        draw.ellipse([220, 80, 420, 280], fill=(255, 255, 255))
        draw.text((300, 170), f"frame {frame}", fill=(0, 0, 0))
        path = os.path.abspath(os.path.join(outdir, f"frame_{frame:04d}.png"))
        im.save(path + ".tmp.png")
        os.rename(path + ".tmp.png", path)
        print(f"Fra:{frame} Mem:1.00M (Peak 1.00M) | Time:00:00.10 | Rendering", flush=True)
        print(f"Saved: '{path}'", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
