"""An animated GIF and WebP from a burst or any selection of photos (the smart-album paper's GIF).

Frames are the photos in capture order, decoded upright at the animation's size, each fitted into
the first frame's size on a black ground. The files go to ``<library>/<gif.folder>/`` under a new
name; an existing file is never replaced (the name gets a number instead), and nothing is written
outside the library.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from plugin.config import GifSettings
from plugin.reading.decode import ReadFailure, ReadOptions, read_photo
from plugin.store.models import Library, Photo
from plugin.trash import inside_library

FORMATS = ("gif", "webp")


class AnimationError(ValueError):
    """An animation that cannot be made (fewer than two readable photos, photos of several libraries)."""


@dataclass(slots=True)
class Animation:
    paths: list[str] = field(default_factory=list)  # relative to the library root
    library_id: int = 0
    frames: int = 0
    skipped: dict[int, str] = field(default_factory=dict)  # photo id -> why it is not a frame


def _frame(path: Path, settings: GifSettings, max_pixels: int) -> Image.Image | str:
    try:
        data = path.read_bytes()
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


def _new_name(folder: Path, stem: str, suffix: str) -> Path:
    for n in range(1, 10_000):
        candidate = folder / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
        if not os.path.lexists(candidate):
            return candidate
    raise AnimationError(f"no free file name for {stem}{suffix} in {folder}")


def _write_new(image: Image.Image, frames: list[Image.Image], folder: Path, stem: str, fmt: str,
               duration_ms: int) -> Path:
    """Write to a temporary name, then link it to a name that does not exist (never replacing a file)."""
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".{stem}.{os.getpid()}.partial.{fmt}"
    try:
        if fmt == "gif":
            image.save(temp, format="GIF", save_all=True, append_images=frames, duration=duration_ms, loop=0,
                       optimize=True, disposal=1)
        else:
            image.save(temp, format="WEBP", save_all=True, append_images=frames, duration=duration_ms, loop=0,
                       quality=80, method=4)
        while True:
            target = _new_name(folder, stem, f".{fmt}")
            try:
                os.link(temp, target)  # fails if the name was taken meanwhile: try the next
                return target
            except FileExistsError:
                continue
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
        root = Path(library.root)
        photos.sort(key=lambda p: (p.taken_at or datetime.max, p.relpath))
        items = [(p.id, p.relpath) for p in photos]
    result = Animation(library_id=library.id)
    result.skipped = {pid: "not_found" for pid in set(photo_ids) - {pid for pid, _ in items}}
    frames: list[Image.Image] = []
    for photo_id, relpath in items[:settings.max_frames]:
        frame = _frame(inside_library(root, relpath), settings, max_pixels)
        if isinstance(frame, str):
            result.skipped[photo_id] = frame
        else:
            frames.append(frame if not frames else _fit(frame, frames[0].size))
    for photo_id, _ in items[settings.max_frames:]:
        result.skipped[photo_id] = "too_many_frames"
    if len(frames) < 2:
        raise AnimationError("an animation needs at least two readable photos")
    folder = inside_library(root, f"{settings.folder}/x").parent
    stem = f"{Path(items[0][1]).stem}-{len(frames)}frames"
    duration = max(20, round(1000 / settings.fps))
    for fmt in formats:
        path = _write_new(frames[0], frames[1:], folder, stem, fmt, duration)
        result.paths.append(path.relative_to(root.resolve()).as_posix())
    result.frames = len(frames)
    return result
