"""What a photo's sidecar should say, from the store: tags, scene, named people with their faces, place."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from plugin.store.models import Face, Photo, readable_in_library
from plugin.tagging import tags_by_class
from plugin.writeback.xmp import FaceRegion, Place, SidecarContent


def sidecar_content(photo: Photo, mapping: str = "piccl2021") -> SidecarContent:
    """``photo`` needs its tags and faces (with people) loaded."""
    by_class = tags_by_class(mapping)
    piccl = sorted({t.tag for t in photo.tags if t.kind == "piccl"})
    objects = sorted({t.tag for t in photo.tags if t.kind == "object"})
    scenes = sorted({t.tag for t in photo.tags if t.kind == "scene" and t.tag != "other"})
    hierarchical = [f"piccl|{tag}" for tag in piccl]
    for label in objects:
        # A class under its PICCL tag (piccl|animal|dog); one outside Table 1 on its own (piccl|vase).
        hierarchical += [f"piccl|{tag}|{label}" for tag in by_class.get(label, ()) if tag in piccl] or [
            f"piccl|{label}"]
    hierarchical += [f"piccl|scene|{scene}" for scene in scenes]
    width, height = photo.width or 0, photo.height or 0
    regions = []
    for face in photo.faces:
        person = face.person
        if face.not_a_face or person is None or not person.name or not width or not height:
            continue
        regions.append(FaceRegion(person.name, face.x / width, face.y / height, face.w / width, face.h / height))
    names = sorted({r.name for r in regions})
    hierarchical += [f"People|{name}" for name in names]
    place = None
    if photo.place_country and photo.place_city:  # piccl's offline reverse geocoding (plugin/places)
        place = Place(country=photo.place_country, state=photo.place_region, city=photo.place_city)
        hierarchical.append(f"Places|{photo.place_country}|{photo.place_city}")
    orientation = photo.orientation or 1
    # The photo's width and height are upright; the stored image is turned for orientations 5-8.
    stored = (height, width) if orientation >= 5 else (width, height)
    return SidecarContent(subjects=tuple(piccl + objects + scenes + names), hierarchical=tuple(hierarchical),
                          regions=tuple(regions), place=place, orientation=orientation, stored_size=stored)


def photos_to_write(session: Session, library_id: int, after_id: int = 0, limit: int = 500) -> list[Photo]:
    """A page of the library's photos that were read, with what their sidecars need."""
    return list(session.scalars(
        select(Photo).where(Photo.library_id == library_id, readable_in_library(), Photo.id > after_id)
        .order_by(Photo.id).limit(limit)
        .options(selectinload(Photo.tags), selectinload(Photo.faces).joinedload(Face.person))))
