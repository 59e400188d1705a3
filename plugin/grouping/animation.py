"""An animated GIF and WebP from a burst or any selection of photos (the smart-album paper's GIF).

Frames are the photos in capture order, decoded upright at the animation's size, each fitted into
the first frame's size on a black ground. The files go to ``<library>/<gif.folder>/`` under a new
name; an existing file is never replaced (the name gets a number instead), and nothing is written
outside the library. Scans skip the animations piccl made there (by their names), not the folder.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from plugin.config import GifSettings
from plugin.reading.decode import ReadFailure, ReadOptions, read_photo
from plugin.store.models import Library, Photo
from plugin.trash import UnsafePath, inside_library, move_no_replace

FORMATS = ("gif", "webp")
# The names piccl gives its animations ('IMG_1234-5frames.gif', then '-2', '-3'): scans skip these files in
# the gif folder, and only these, so a folder that also holds the user's photos keeps them scanned.
ANIMATION_NAME = re.compile(r"-\d+frames(-\d+)?\.(gif|webp)$", re.IGNORECASE)


def animation_stem(first_stem: str, frames: int) -> str:
    return f"{first_stem[:100]}-{frames}frames"


def is_animation(relpath: str, folder: str) -> bool:
    """Whether ``relpath`` is an animation piccl made (in its gif folder, with its naming)."""
    return relpath.startswith(folder.rstrip("/") + "/") and ANIMATION_NAME.search(relpath) is not None


class AnimationError(ValueError):
    """An animation that cannot be made (fewer than two readable photos, photos of several libraries)."""


@dataclass(slots=True)
class Animation:
    paths: list[str] = field(default_factory=list)  # relative to the library root
    library_id: int = 0
    frames: int = 0
    skipped: dict[int, str] = field(default_factory=dict)  # photo id -> why it is not a frame


def _frame(root: Path, relpath: str, settings: GifSettings, max_pixels: int) -> Image.Image | str:
    """One frame, or why the photo cannot be one (a bad photo costs its frame, never the animation)."""
    try:
        data = inside_library(root, relpath).read_bytes()
    except UnsafePath:
        return "outside_library"
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    decoded = read_photo(data, ReadOptions(analysis_size=settings.size, max_pixels=max_pixels,
                                           heic_thumbnail_min_side=settings.size))
    if isinstance(decoded, ReadFailure):
        return decoded.reason
    return Image.fromarray(decoded.rgb)


def _fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if image.size == size:
        return image
    scale = min(size[0] / image.width, size[1] / image.height)
    resized = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                           Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", size)
    canvas.paste(resized, ((size[0] - resized.width) // 2, (size[1] - resized.height) // 2))
    return canvas


def _write_new(image: Image.Image, frames: list[Image.Image], folder: Path, stem: str, fmt: str,
               duration_ms: int) -> Path:
    """Write to a temporary file of our own, then move it to a name nobody has (never replacing a file)."""
    folder.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".partial.{fmt}", dir=folder)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            if fmt == "gif":
                image.save(out, format="GIF", save_all=True, append_images=frames, duration=duration_ms, loop=0,
                           optimize=True, disposal=1)
            else:
                image.save(out, format="WEBP", save_all=True, append_images=frames, duration=duration_ms, loop=0,
                           quality=80, method=4)
        for n in range(1, 10_000):
            target = folder / (f"{stem}.{fmt}" if n == 1 else f"{stem}-{n}.{fmt}")
            if os.path.lexists(target):
                continue
            try:
                move_no_replace(temp, target)  # a name taken meanwhile raises: try the next
                return target
            except FileExistsError:
                continue
        raise AnimationError(f"no free file name for {stem}.{fmt} in {folder}")
    finally:
        temp.unlink(missing_ok=True)


def make_animation(sessions: sessionmaker[Session], photo_ids: list[int], settings: GifSettings,
                   formats: tuple[str, ...] = FORMATS, max_pixels: int = 200_000_000) -> Animation:
    """Make the animation of ``photo_ids`` (any order; frames go in capture order)."""
    with sessions() as session:
        photos = list(session.scalars(select(Photo).where(Photo.id.in_(photo_ids), Photo.gone_at.is_(None),
                                                          Photo.trashed_at.is_(None))))
        libraries = {p.library_id for p in photos}
        if len(libraries) > 1:
            raise AnimationError("the photos are in different libraries")
        if not photos:
            raise AnimationError("none of these photos is in the library")
        library = session.get(Library, libraries.pop())
        assert library is not None
        if library.kind != "local":
            raise AnimationError("animations are made in local libraries only, not yet on a WebDAV server")
        root = Path(library.root)
        photos.sort(key=lambda p: (p.taken_at or datetime.max, p.relpath))
        items = [(p.id, p.relpath) for p in photos]
    result = Animation(library_id=library.id)
    result.skipped = {pid: "not_found" for pid in set(photo_ids) - {pid for pid, _ in items}}
    frames: list[Image.Image] = []
    for photo_id, relpath in items[:settings.max_frames]:
        frame = _frame(root, relpath, settings, max_pixels)
        if isinstance(frame, str):
            result.skipped[photo_id] = frame
        else:
            frames.append(frame if not frames else _fit(frame, frames[0].size))
    for photo_id, _ in items[settings.max_frames:]:
        result.skipped[photo_id] = "too_many_frames"
    if len(frames) < 2:
        raise AnimationError("an animation needs at least two readable photos")
    try:
        folder = inside_library(root, f"{settings.folder}/x").parent
    except UnsafePath:
        raise AnimationError(f"the gif folder {settings.folder!r} is not inside the library") from None
    stem = animation_stem(Path(items[0][1]).stem, len(frames))
    duration = max(20, round(1000 / settings.fps))
    for fmt in formats:
        try:
            path = _write_new(frames[0], frames[1:], folder, stem, fmt, duration)
        except OSError as exc:  # a full or read-only share: said, not a crash
            raise AnimationError(f"could not write the {fmt.upper()} in {settings.folder}: "
                                 f"{exc.strerror or exc}") from None
        result.paths.append(path.relative_to(root.resolve()).as_posix())
    result.frames = len(frames)
    return result
