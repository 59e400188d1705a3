"""XMP sidecars: piccl's tags, people (face regions) and places, merged into the sidecar beside a photo.

What is written, and who reads it:

* keywords: ``dc:subject`` (flat: every app), ``lr:hierarchicalSubject`` (``piccl|animal|dog``,
  ``People|Anna``, ``Places|Portugal|Lisbon``: Lightroom, darktable, digiKam, Immich, PhotoPrism) and
  ``digiKam:TagsList`` (the same with ``/``);
* people as face regions, in both schemas apps read: MWG (``mwg-rs:Regions``: digiKam, Immich, darktable,
  Lightroom) and Microsoft Photo (``MP:RegionInfo``: Windows, older digiKam), relative to the image as
  stored, so the inverse of its EXIF orientation is applied to piccl's upright boxes;
* the place (``photoshop:City``, ``photoshop:State``, ``photoshop:Country``) when one is known.

A sidecar is merged, never clobbered: every element piccl does not own stays as it is (the XML tree is
edited in place, with its namespace prefixes). What piccl wrote last is recorded in its own namespace
(``piccl:Owned``), so a keyword or region piccl no longer holds is removed, and only that one: a
keyword the user had before piccl came is never taken for piccl's. The file is replaced atomically, and
only when its content changes.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from defusedxml import ElementTree as SafeET

Naming = Literal["photo.ext.xmp", "photo.xmp"]

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    "mwg-rs": "http://www.metadataworkinggroup.com/schemas/regions/",
    "stArea": "http://ns.adobe.com/xmp/sType/Area#",
    "stDim": "http://ns.adobe.com/xap/1.0/sType/Dimensions#",
    "MP": "http://ns.microsoft.com/photo/1.2/",
    "MPRI": "http://ns.microsoft.com/photo/1.2/t/RegionInfo#",
    "MPReg": "http://ns.microsoft.com/photo/1.2/t/Region#",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "piccl": "https://github.com/piccl/ns/1.0/",
}
XPACKET_BEGIN = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
XPACKET_END = '\n<?xpacket end="w"?>\n'
MAX_SIDECAR_BYTES = 10_000_000  # a larger "sidecar" is not one we should parse


def q(name: str) -> str:
    """'dc:subject' -> '{http://purl.org/dc/elements/1.1/}subject' (ElementTree's qualified name)."""
    prefix, local = name.split(":")
    return f"{{{NS[prefix]}}}{local}"


class SidecarError(Exception):
    """A sidecar that cannot be read or written (said in words, never a crash of the run)."""


@dataclass(frozen=True, slots=True)
class FaceRegion:
    """A named face, in the upright photo's normalised coordinates (0..1, top-left x/y, width, height)."""

    name: str
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True, slots=True)
class Place:
    country: str | None = None
    state: str | None = None
    city: str | None = None


@dataclass(frozen=True, slots=True)
class SidecarContent:
    """What piccl wants in a photo's sidecar."""

    subjects: tuple[str, ...] = ()  # dc:subject
    hierarchical: tuple[str, ...] = ()  # lr:hierarchicalSubject, '|'-separated
    regions: tuple[FaceRegion, ...] = ()
    place: Place | None = None
    orientation: int = 1  # the photo's EXIF orientation (regions are written relative to the stored image)
    stored_size: tuple[int, int] = (0, 0)  # the stored image's width and height, in pixels

    @property
    def tags_list(self) -> tuple[str, ...]:
        return tuple(h.replace("|", "/") for h in self.hierarchical)


@dataclass(slots=True)
class WriteResult:
    path: Path
    changed: bool
    created: bool = False
    removed: list[str] = field(default_factory=list)  # piccl's keywords taken out


def sidecar_path(photo: Path, naming: Naming = "photo.ext.xmp") -> Path:
    """Where the sidecar goes: an existing one of either name is used; else the configured naming."""
    with_ext, stem = photo.with_name(photo.name + ".xmp"), photo.with_suffix(".xmp")
    for candidate in (with_ext, stem) if naming == "photo.ext.xmp" else (stem, with_ext):
        if candidate.is_file():
            return candidate
    return with_ext if naming == "photo.ext.xmp" else stem


# -- geometry ----------------------------------------------------------------------------------------------

def to_stored(region: FaceRegion, orientation: int) -> tuple[float, float, float, float]:
    """An upright normalised box -> the stored image's (centre x, centre y, w, h), inverting the orientation."""
    corners = [(region.x, region.y), (region.x + region.w, region.y + region.h)]
    mapped = [_inverse(u, v, orientation) for u, v in corners]
    xs, ys = [p[0] for p in mapped], [p[1] for p in mapped]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    return (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0


def _inverse(u: float, v: float, orientation: int) -> tuple[float, float]:
    """Upright (u, v) -> stored (x, y), normalised. Orientation 6: the stored image is shown turned right."""
    return {
        2: (1 - u, v), 3: (1 - u, 1 - v), 4: (u, 1 - v), 5: (v, u),
        6: (v, 1 - u), 7: (1 - v, 1 - u), 8: (1 - v, u),
    }.get(orientation, (u, v))


# -- reading and writing -------------------------------------------------------------------------------------

def _empty_tree() -> ET.ElementTree:
    root = ET.Element(q("x:xmpmeta"))
    rdf = ET.SubElement(root, q("rdf:RDF"))
    description = ET.SubElement(rdf, q("rdf:Description"))
    description.set(q("rdf:about"), "")
    return ET.ElementTree(root)


def _parse(path: Path) -> tuple[ET.ElementTree, dict[str, str]]:
    """The sidecar's tree and its own namespace prefixes (kept when it is written back)."""
    data = path.read_bytes()
    if len(data) > MAX_SIDECAR_BYTES:
        raise SidecarError(f"{path.name}: larger than {MAX_SIDECAR_BYTES // 1_000_000} MB, not a sidecar to edit")
    prefixes: dict[str, str] = {}
    try:
        for _event, (prefix, uri) in SafeET.iterparse(io.BytesIO(data), events=("start-ns",)):
            prefixes.setdefault(uri, prefix)
        root = SafeET.fromstring(data)
    except ET.ParseError as exc:
        raise SidecarError(f"{path.name}: not valid XML ({exc}); left as it is") from None
    except Exception as exc:  # defusedxml refuses entities and DTDs: a hostile file
        raise SidecarError(f"{path.name}: refused ({type(exc).__name__}); left as it is") from None
    if root.tag == q("rdf:RDF"):  # a bare RDF document (some tools): wrap it
        wrapper = ET.Element(q("x:xmpmeta"))
        wrapper.append(root)
        root = wrapper
    if root.tag != q("x:xmpmeta") or root.find(q("rdf:RDF")) is None:
        raise SidecarError(f"{path.name}: not an XMP packet; left as it is")
    return ET.ElementTree(root), prefixes


def _serialise(tree: ET.ElementTree, prefixes: dict[str, str]) -> bytes:
    # ElementTree names namespaces from one global table: the file's own prefixes first, then ours.
    for uri, prefix in {**{uri: p for p, uri in NS.items()}, **prefixes}.items():
        if prefix:
            with contextlib.suppress(ValueError):  # a reserved prefix (ns0, xml): ElementTree picks one
                ET.register_namespace(prefix, uri)
    ET.indent(tree, space=" ")
    body = ET.tostring(tree.getroot(), encoding="unicode")
    return (XPACKET_BEGIN + body + XPACKET_END).encode("utf-8")


def _descriptions(tree: ET.ElementTree) -> list[ET.Element]:
    rdf = tree.getroot().find(q("rdf:RDF"))
    assert rdf is not None
    found = rdf.findall(q("rdf:Description"))
    if not found:
        description = ET.SubElement(rdf, q("rdf:Description"))
        description.set(q("rdf:about"), "")
        found = [description]
    return found


def _property(descriptions: list[ET.Element], name: str) -> tuple[ET.Element, ET.Element | None]:
    """The description holding property ``name`` (element form) and the element; the first one when none."""
    for description in descriptions:
        element = description.find(q(name))
        if element is not None:
            return description, element
    return descriptions[0], None


def _array_items(descriptions: list[ET.Element], name: str) -> list[str]:
    _, element = _property(descriptions, name)
    if element is None:
        return []
    return [li.text or "" for li in element.iter(q("rdf:li"))]


def _set_array(descriptions: list[ET.Element], name: str, items: list[str], kind: str = "rdf:Bag") -> None:
    description, element = _property(descriptions, name)
    if not items:
        if element is not None:
            description.remove(element)
        return
    if element is None:
        element = ET.SubElement(description, q(name))
    container = next(iter(element), None)
    if container is None or container.tag not in (q("rdf:Bag"), q("rdf:Seq"), q("rdf:Alt")):
        element.clear()
        container = ET.SubElement(element, q(kind))
    for li in list(container):
        container.remove(li)
    for item in items:
        ET.SubElement(container, q("rdf:li")).text = item


def _simple(descriptions: list[ET.Element], name: str) -> str | None:
    for description in descriptions:
        if q(name) in description.attrib:
            return description.attrib[q(name)]
        element = description.find(q(name))
        if element is not None:
            return element.text
    return None


def _set_simple(descriptions: list[ET.Element], name: str, value: str | None) -> None:
    for description in descriptions:  # either form, wherever it is: one value in the end
        description.attrib.pop(q(name), None)
        for element in description.findall(q(name)):
            description.remove(element)
    if value:
        ET.SubElement(descriptions[0], q(name)).text = value


def _merge(have: list[str], previously_owned: list[str], wanted: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(the new array, what piccl owns now, what piccl removed).

    Piccl's previous items it no longer wants go; wanted ones are added; an item that was there before piccl
    wrote it is never claimed as piccl's (the user's keyword stays when piccl drops its own).
    """
    owned_before = set(previously_owned)
    wanted_set = set(wanted)
    removed = [item for item in have if item in owned_before and item not in wanted_set]
    kept = [item for item in have if item not in removed]
    owned = [item for item in wanted if item in owned_before or item not in kept]
    result = kept + [item for item in dict.fromkeys(wanted) if item not in kept]
    return result, owned, removed


# (name, stored-image area as centre x, centre y, width, height), normalised.
Regions = list[tuple[str, tuple[float, float, float, float]]]


def _area_text(area: tuple[float, float, float, float]) -> list[str]:
    return [f"{v:.6f}" for v in area]


def _region_key(name: str, values: list[str]) -> str:
    # The values as written (text, not re-rounded floats): a region piccl wrote is recognised to the digit.
    return f"{name}|" + ",".join(values)


def _mwg_regions(descriptions: list[ET.Element]) -> tuple[ET.Element | None, ET.Element | None]:
    _, regions = _property(descriptions, "mwg-rs:Regions")
    if regions is None:
        return None, None
    bag = regions.find(f"{q('mwg-rs:RegionList')}/{q('rdf:Bag')}")
    return regions, bag


def _mwg_key(li: ET.Element) -> str | None:
    name = li.findtext(q("mwg-rs:Name"))
    area = li.find(q("mwg-rs:Area"))
    if name is None or area is None:
        return None
    return _region_key(name, [area.get(q(f"stArea:{k}"), "") for k in ("x", "y", "w", "h")])


def _write_mwg(descriptions: list[ET.Element], owned: set[str], regions: Regions,
               stored_size: tuple[int, int]) -> list[str]:
    element, bag = _mwg_regions(descriptions)
    if element is None and not regions:
        return []
    if element is None:
        element = ET.SubElement(descriptions[0], q("mwg-rs:Regions"))
        element.set(q("rdf:parseType"), "Resource")
    if bag is None:
        region_list = element.find(q("mwg-rs:RegionList"))
        if region_list is None:
            region_list = ET.SubElement(element, q("mwg-rs:RegionList"))
        bag = ET.SubElement(region_list, q("rdf:Bag"))
    for li in list(bag):
        if _mwg_key(li) in owned:
            bag.remove(li)
    have = {_mwg_key(li) for li in bag}
    written = []
    for name, area in regions:
        values = _area_text(area)
        key = _region_key(name, values)
        written.append(key)
        if key in have:
            continue
        li = ET.SubElement(bag, q("rdf:li"))
        li.set(q("rdf:parseType"), "Resource")
        ET.SubElement(li, q("mwg-rs:Name")).text = name
        ET.SubElement(li, q("mwg-rs:Type")).text = "Face"
        box = ET.SubElement(li, q("mwg-rs:Area"))
        for k, v in zip(("x", "y", "w", "h"), values, strict=True):
            box.set(q(f"stArea:{k}"), v)
        box.set(q("stArea:unit"), "normalized")
    if element.find(q("mwg-rs:AppliedToDimensions")) is None and all(stored_size):
        dims = ET.Element(q("mwg-rs:AppliedToDimensions"))
        dims.set(q("stDim:w"), str(stored_size[0]))
        dims.set(q("stDim:h"), str(stored_size[1]))
        dims.set(q("stDim:unit"), "pixel")
        element.insert(0, dims)
    if not len(bag):
        for description in descriptions:
            if element in list(description):
                description.remove(element)
    return written


def _mp_key(li: ET.Element) -> str | None:
    name, rect = li.findtext(q("MPReg:PersonDisplayName")), li.findtext(q("MPReg:Rectangle"))
    return None if name is None or rect is None else f"{name}|{rect.replace(' ', '')}"


def _write_mp(descriptions: list[ET.Element], owned: set[str], regions: Regions) -> list[str]:
    _, info = _property(descriptions, "MP:RegionInfo")
    if info is None and not regions:
        return []
    if info is None:
        info = ET.SubElement(descriptions[0], q("MP:RegionInfo"))
        info.set(q("rdf:parseType"), "Resource")
    container = info.find(q("MPRI:Regions"))
    if container is None:
        container = ET.SubElement(info, q("MPRI:Regions"))
    bag = container.find(q("rdf:Bag"))
    if bag is None:
        bag = ET.SubElement(container, q("rdf:Bag"))
    for li in list(bag):
        if _mp_key(li) in owned:
            bag.remove(li)
    have = {_mp_key(li) for li in bag}
    written = []
    for name, (cx, cy, w, h) in regions:
        # MP rectangles are top-left x, y, width, height, normalised.
        rect = f"{cx - w / 2:.6f}, {cy - h / 2:.6f}, {w:.6f}, {h:.6f}"
        key = f"{name}|{rect.replace(' ', '')}"
        written.append(key)
        if key in have:
            continue
        li = ET.SubElement(bag, q("rdf:li"))
        li.set(q("rdf:parseType"), "Resource")
        ET.SubElement(li, q("MPReg:PersonDisplayName")).text = name
        ET.SubElement(li, q("MPReg:Rectangle")).text = rect
    if not len(bag):
        for description in descriptions:
            if info in list(description):
                description.remove(info)
    return written


OWNED_FIELDS = ("subject", "hierarchical", "tagslist", "mwg", "mp", "place")


def _owned(descriptions: list[ET.Element]) -> dict[str, list[str]]:
    _, element = _property(descriptions, "piccl:Owned")
    owned: dict[str, list[str]] = {name: [] for name in OWNED_FIELDS}
    if element is None:
        return owned
    for name in OWNED_FIELDS:
        sub = element.find(f"{{{NS['piccl']}}}{name}")
        if sub is not None:
            owned[name] = [li.text or "" for li in sub.iter(q("rdf:li"))]
    return owned


def _set_owned(descriptions: list[ET.Element], owned: dict[str, list[str]]) -> None:
    description, element = _property(descriptions, "piccl:Owned")
    if element is not None:
        description.remove(element)
    if not any(owned.values()):
        return
    element = ET.SubElement(descriptions[0], q("piccl:Owned"))
    element.set(q("rdf:parseType"), "Resource")
    for name in OWNED_FIELDS:
        if owned[name]:
            bag = ET.SubElement(ET.SubElement(element, f"{{{NS['piccl']}}}{name}"), q("rdf:Bag"))
            for item in owned[name]:
                ET.SubElement(bag, q("rdf:li")).text = item


def merged_sidecar(existing: Path | None, content: SidecarContent) -> tuple[bytes, list[str]]:
    """The sidecar's new bytes (``existing`` merged with ``content``) and the keywords piccl removed."""
    tree, prefixes = _parse(existing) if existing is not None else (_empty_tree(), {})
    descriptions = _descriptions(tree)
    owned = _owned(descriptions)
    new_owned: dict[str, list[str]] = {}
    removed: list[str] = []
    for key, name, wanted, kind in (("subject", "dc:subject", content.subjects, "rdf:Bag"),
                                    ("hierarchical", "lr:hierarchicalSubject", content.hierarchical, "rdf:Bag"),
                                    ("tagslist", "digiKam:TagsList", content.tags_list, "rdf:Seq")):
        items, new_owned[key], gone = _merge(_array_items(descriptions, name), owned[key], list(wanted))
        _set_array(descriptions, name, items, kind)
        removed += gone if key == "subject" else []
    stored = [(r.name, to_stored(r, content.orientation)) for r in content.regions]
    new_owned["mwg"] = _write_mwg(descriptions, set(owned["mwg"]), stored, content.stored_size)
    new_owned["mp"] = _write_mp(descriptions, set(owned["mp"]), stored)
    new_owned["place"] = _write_place(descriptions, owned["place"], content.place)
    _set_owned(descriptions, new_owned)
    return _serialise(tree, prefixes), removed


def _write_place(descriptions: list[ET.Element], owned: list[str], place: Place | None) -> list[str]:
    """City, state, country: set when piccl knows them and the field is empty or still piccl's value."""
    previous = dict(item.split("=", 1) for item in owned if "=" in item)
    written = []
    for field_name, value in (("photoshop:Country", place.country if place else None),
                              ("photoshop:State", place.state if place else None),
                              ("photoshop:City", place.city if place else None)):
        current = _simple(descriptions, field_name)
        mine = current is not None and previous.get(field_name) == current
        if current and not mine:
            continue  # the user's (or another app's) value: never overwritten
        _set_simple(descriptions, field_name, value)
        if value:
            written.append(f"{field_name}={value}")
    return written


def write_sidecar(photo: Path, content: SidecarContent, naming: Naming = "photo.ext.xmp") -> WriteResult:
    """Merge ``content`` into the photo's sidecar (created when missing and there is something to say)."""
    path = sidecar_path(photo, naming)
    if path.is_symlink():  # never read or write through a link: it may point outside the library
        raise SidecarError(f"{path.name}: a symbolic link; left as it is")
    exists = path.is_file()
    if not exists and not (content.subjects or content.regions or content.place):
        return WriteResult(path, changed=False)
    data, removed = merged_sidecar(path if exists else None, content)
    if exists and path.read_bytes() == data:
        return WriteResult(path, changed=False)
    _replace(path, data)
    return WriteResult(path, changed=True, created=not exists, removed=removed)


def _replace(path: Path, data: bytes) -> None:
    """Write ``path`` atomically: a temporary file in the same folder, flushed, then renamed over it."""
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        # mkstemp makes the file private; a sidecar is as readable as the photo beside it.
        os.chmod(temp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
