"""What a .blend file renders, read without starting Blender: the only module that imports BAT.

blender-asset-tracer reads the file's header and block index, so a scene list costs tens of
milliseconds where `blender -b` costs a second. Zstd files (Blender 3.0+) are read through
their seek table, unpacking only the frames that are read (zstd_frames.py); gzip files, and
zstd files without a seek table, are unpacked to a temporary file by BAT first.  The fields (Blender's DNA names):

- `SC` blocks, one per scene: `id.name` (minus its 2-byte `SC` prefix), `r.sfra`, `r.efra`,
  `r.frame_step`, `r.pic` (output path), `r.im_format.imtype`, `r.engine`, `r.xsch`, `r.ysch`,
  `r.size` (percentage), `r.mode` (Overwrite), `r.scemode` (file extensions), `camera`;
- `REND` blocks, which Blender writes on every save for the scenes that are to be rendered
  (the active scene plus scenes flagged for background rendering): `int sfra, efra;
  char scene_name[]` (64 bytes before 5.0, 256 since);
- `GLOB.curscene`: the active scene, used when a file has no `REND` block.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import os
import resource
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import zstandard
from blender_asset_tracer import blendfile, trace
from blender_asset_tracer.blendfile import exceptions as bat_errors

from render_frontend.zstd_frames import NotSeekable, ZstdFrames
from renderd.errors import RenderdError

# BAT logs a warning for every missing file it meets; `render add` reports them itself.
logging.getLogger("blender_asset_tracer").setLevel(logging.ERROR)

R_NO_OVERWRITE = 1 << 22
R_EXTENSION = 1 << 4

# r.im_format.imtype -> (name, file extensions Blender accepts; the first is the one it adds)
IMAGE_TYPES: dict[int, tuple[str, tuple[str, ...]]] = {
    0: ("TARGA", (".tga",)),
    1: ("IRIS", (".rgb",)),
    4: ("JPEG", (".jpg", ".jpeg")),
    7: ("IRIZ", (".rgb",)),
    14: ("TARGA_RAW", (".tga",)),
    17: ("PNG", (".png",)),
    20: ("BMP", (".bmp",)),
    21: ("HDR", (".hdr",)),
    22: ("TIFF", (".tif", ".tiff")),
    23: ("OPEN_EXR", (".exr",)),
    26: ("CINEON", (".cin",)),
    27: ("DPX", (".dpx",)),
    28: ("OPEN_EXR_MULTILAYER", (".exr",)),
    29: ("DDS", (".dds",)),
    30: ("JPEG2000", (".jp2", ".j2c")),
    34: ("PSD", (".psd",)),
    35: ("WEBP", (".webp",)),
}
MOVIE_TYPES: dict[int, str] = {15: "AVI_RAW", 16: "AVI_JPEG", 24: "FFMPEG", 31: "H264", 32: "XVID", 33: "THEORA"}


class BlendError(RenderdError):
    """A file that cannot be read as a .blend: carries its path and the reason."""


@dataclass(frozen=True)
class Scene:
    name: str
    start: int
    end: int
    step: int
    output: str  # r.pic as stored in the file (`//` = relative to the .blend)
    output_pattern: str  # absolute, `#` run for the frame, extension added: Blender's own rule
    file_format: str
    movie: bool
    engine: str
    resolution: tuple[int, int]
    percentage: int
    camera: bool
    overwrite: bool
    fps: float = 24.0  # r.frs_sec / r.frs_sec_base: what `render add --encode` makes the video's frame rate


@dataclass(frozen=True)
class BlendInfo:
    path: Path
    version: tuple[int, int]  # of the Blender that saved it, e.g. (3, 4)
    compressed: bool
    scenes: list[Scene]  # in file order
    to_render: list[str]  # REND: what `blender -b file -a` and NeoGeo's Render would render
    dependencies: list[Dependency] | None = None  # traced by inspect(path, with_dependencies=True)

    @property
    def version_text(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    def scene(self, name: str) -> Scene | None:
        return next((s for s in self.scenes if s.name == name), None)


@dataclass(frozen=True)
class Dependency:
    kind: str  # "library", "image", ... (BAT's block code)
    path: Path
    exists: bool


DEP_KINDS = {b"LI": "library", b"IM": "image", b"MC": "movie clip", b"SO": "sound", b"VF": "font", b"CF": "cache"}


def inspect(path: Path, with_dependencies: bool = False) -> BlendInfo:
    """Read a .blend's scenes (and, asked, what it depends on); BlendError (path and reason) if it is
    not a readable .blend.  `render add` asks for both here, so the file is read in one stage."""
    if path.exists() and not path.is_file():
        raise BlendError("not a .blend file (not a regular file)", path)  # a FIFO would block the reader
    try:
        with _memory_cap(path):
            info = _inspect(path)
    except MemoryError:
        raise BlendError("damaged .blend file (its structure claims more data than any file holds)", path) from None
    return dataclasses.replace(info, dependencies=dependencies(path)) if with_dependencies else info


def _inspect(path: Path) -> BlendInfo:
    try:
        bfile = _open(path)
    except bat_errors.BlendFileError as err:
        raise BlendError(f"not a .blend file ({err.args[0]})", path) from None
    except (OSError, EOFError, struct.error, zlib.error, zstandard.ZstdError, *DAMAGED) as err:
        raise BlendError(f"cannot read it as a .blend file ({_reason(err)})", path) from None
    try:
        return _read(bfile, path)
    except (bat_errors.BlendFileError, bat_errors.SegmentationFault, OSError, EOFError, struct.error) as err:
        raise BlendError(f"damaged .blend file ({_reason(err)})", path) from None
    except DAMAGED as err:
        raise BlendError(f"unexpected .blend content ({_reason(err)})", path) from None
    finally:
        bfile.close()


# What BAT raises on a damaged file whose structure lies (counts, indices, types).
DAMAGED = (KeyError, ValueError, IndexError, TypeError, AttributeError, OverflowError, RecursionError)
MEMORY_HEADROOM = 1 << 30  # BAT needs tens of MB for any real file


@contextlib.contextmanager
def _memory_cap(path: Path) -> Iterator[None]:
    """A damaged file can make BAT believe in billions of entries and allocate the machine's whole
    memory: cap the address space while it reads, so that such a file is one error line instead."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _vm_size() + MEMORY_HEADROOM
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft != resource.RLIM_INFINITY and soft <= cap:
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _vm_size() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class _LazyBlendFile(blendfile.BlendFile):
    """BAT's BlendFile over a zstd file's frames: only the frames it reads are unpacked."""

    def _open_file(self, path: Path, mode: str) -> IO[bytes]:
        raw = ZstdFrames(path)
        self.filepath = self.raw_filepath = path
        self.is_compressed = True
        return io.BufferedReader(raw, 1 << 16)


def _open(path: Path) -> blendfile.BlendFile:
    try:
        return _LazyBlendFile(path)
    except NotSeekable:  # plain, gzip, or zstd without a seek table: BAT unpacks it whole
        return blendfile.BlendFile(path)


def dependencies(path: Path) -> list[Dependency]:
    """Linked libraries, images, caches... that the file uses, each with whether it exists."""
    out: dict[Path, Dependency] = {}
    try:
        with _memory_cap(path):
            _trace(path, out)
    except MemoryError:
        raise BlendError("cannot trace its dependencies (damaged: it claims more data than it holds)", path) from None
    return sorted(out.values(), key=lambda d: (d.kind, str(d.path)))


def _trace(path: Path, out: dict[Path, Dependency]) -> None:
    try:
        for usage in trace.deps(path):
            target = Path(usage.__fspath__())
            kind = DEP_KINDS.get(usage.block.code, usage.block.code.decode("ascii", "replace"))
            exists = _sequence_exists(target) if usage.is_sequence else target.exists()
            out.setdefault(target, Dependency(kind, target, exists))
    except (bat_errors.BlendFileError, bat_errors.SegmentationFault, OSError, EOFError, struct.error, *DAMAGED) as err:
        raise BlendError(f"cannot trace its dependencies ({_reason(err)})", path) from None
    finally:
        blendfile.close_all_cached()


def _sequence_exists(path: Path) -> bool:
    if path.is_dir():
        return any(path.iterdir())
    if "*" in path.name:
        return any(path.parent.glob(path.name))
    return path.exists()


def _reason(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    text = str(err.args[0]) if err.args else type(err).__name__
    return text[:200]


def _read(bfile: blendfile.BlendFile, path: Path) -> BlendInfo:
    major, minor = divmod(int(bfile.header.version), 100)
    scenes = [_scene(block, path) for block in bfile.find_blocks_from_code(b"SC")]
    if not scenes:
        raise BlendError("the file has no scenes", path)
    names = {s.name for s in scenes}
    to_render = [n for n in _rend_names(bfile) if n in names]
    if not to_render:
        active = _active_scene(bfile)
        to_render = [active] if active in names else [scenes[0].name]
    return BlendInfo(path, (major, minor), bool(bfile.is_compressed), scenes, to_render)


def _rend_names(bfile: blendfile.BlendFile) -> list[str]:
    names = []
    for block in bfile.find_blocks_from_code(b"REND"):
        bfile.fileobj.seek(block.file_offset)
        raw = bfile.fileobj.read(block.size)
        name = raw[8:].split(b"\0", 1)[0].decode("utf-8", errors="replace")
        if name and name not in names:
            names.append(name)
    return names


def _active_scene(bfile: blendfile.BlendFile) -> str | None:
    for glob in bfile.find_blocks_from_code(b"GLOB"):
        scene = glob.get_pointer(b"curscene")
        if scene is not None:
            return _id_name(scene)
    return None


def _id_name(block: Any) -> str:
    raw: bytes = block.get((b"id", b"name"))
    return raw[2:].decode("utf-8", errors="replace")


def normalise_engine(engine: str) -> str:
    """Blender 4.x calls EEVEE `BLENDER_EEVEE_NEXT` (and briefly Workbench `..._NEXT`)."""
    return engine.removesuffix("_NEXT")


def _scene(block: Any, blend: Path) -> Scene:
    def get(*names: bytes, default: Any = None) -> Any:
        return block.get(names, default=default)

    imtype = int(get(b"r", b"im_format", b"imtype", default=get(b"r", b"imtype", default=17)))
    mode = int(get(b"r", b"mode", default=0))
    scemode = int(get(b"r", b"scemode", default=R_EXTENSION))
    pic = get(b"r", b"pic", default=b"").decode("utf-8", errors="replace")
    movie = imtype in MOVIE_TYPES
    name, extensions = IMAGE_TYPES.get(imtype, (MOVIE_TYPES.get(imtype, f"type {imtype}"), ()))
    return Scene(
        name=_id_name(block),
        start=int(get(b"r", b"sfra", default=1)),
        end=int(get(b"r", b"efra", default=1)),
        step=max(1, int(get(b"r", b"frame_step", default=1))),
        output=pic,
        output_pattern=output_pattern(pic, blend, extensions if scemode & R_EXTENSION and not movie else ()),
        file_format=name,
        movie=movie,
        engine=normalise_engine(get(b"r", b"engine", default=b"BLENDER_RENDER").decode("ascii", errors="replace")),
        resolution=(int(get(b"r", b"xsch", default=0)), int(get(b"r", b"ysch", default=0))),
        percentage=int(get(b"r", b"size", default=100)),
        camera=bool(get(b"camera", default=0)),
        overwrite=not mode & R_NO_OVERWRITE,
        fps=frame_rate(get(b"r", b"frs_sec", default=24), get(b"r", b"frs_sec_base", default=1.0)),
    )


def frame_rate(frs_sec: Any, frs_sec_base: Any) -> float:
    """Blender's frame rate: frs_sec / frs_sec_base (29.97 is 30 / 1.001); 24 when the file says nonsense."""
    try:
        fps = float(frs_sec) / float(frs_sec_base)
    except (TypeError, ValueError, ZeroDivisionError):
        return 24.0
    return round(fps, 6) if 0 < fps <= 1000 else 24.0


def output_pattern(pic: str, blend: Path, extensions: tuple[str, ...]) -> str:
    """Where Blender writes a scene's frames, as Blender computes it.

    `//` is the .blend's folder; without `#` in the file name Blender appends `####`; the
    frame replaces the last `#` run; the format's extension is added unless already there."""
    path = str(blend.absolute().parent / pic[2:]) if pic.startswith("//") else pic or "/tmp/"
    path = os.path.normpath(path) + ("/" if (pic or "/").endswith("/") else "")
    name = path.rsplit("/", 1)[-1]
    if "#" not in name:
        path += "####"
    if extensions and not path.lower().endswith(extensions):
        path = path.rstrip(".") + extensions[0]
    return path
