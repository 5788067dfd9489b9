"""A stand-in renderer for the demo: writes one small PPM image per frame."""

import sys
from pathlib import Path


def main() -> None:
    pattern, start, end, step = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    for frame in range(start, end + 1, step):
        out = Path(pattern.replace("####", f"{frame:04d}") + ".ppm")
        out.parent.mkdir(parents=True, exist_ok=True)
        shade = frame * 5 % 256
        out.write_bytes(b"P6 8 8 255\n" + bytes([shade, 64, 255 - shade]) * 64)
        print(f"Saved: '{out}'", flush=True)


if __name__ == "__main__":
    main()
