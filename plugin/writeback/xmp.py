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
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
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


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: str) -> str:
    """``value`` without the characters XML 1.0 cannot hold (a control character in a name would make the
    sidecar unreadable to every parser)."""
    return _XML_INVALID.sub("", value)


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


SIDECAR_SUFFIXES = frozenset({".xmp", ".aae", ".json", ".pp3", ".dop", ".on1", ".thm"})


def sidecar_path(photo: Path, naming: Naming = "photo.ext.xmp") -> Path:
    """Where the sidecar of a local photo goes (see :func:`sidecar_name`)."""
    try:
        with os.scandir(photo.parent) as entries:
            names = [e.name for e in entries]
    except OSError:
        names = []
    return photo.parent / sidecar_name(photo.name, names, naming)


def sidecar_name(photo_name: str, folder_names: list[str], naming: Naming = "photo.ext.xmp") -> str:
    """The sidecar's name: an existing one of either name (any case) is used; else the configured naming.

    ``IMG_1.xmp`` belongs to ``IMG_1.jpg`` only when no other photo shares the stem: beside ``IMG_1.cr2`` or
    ``IMG_1.png`` it is theirs too (a Lightroom raw's sidecar), so piccl uses ``IMG_1.jpg.xmp`` instead.
    """
    stem_of = PurePosixPath(photo_name).stem
    with_ext, stem = photo_name + ".xmp", stem_of + ".xmp"
    by_lower = {name.lower(): name for name in folder_names}
    shared_stem = any(PurePosixPath(n).stem.lower() == stem_of.lower() and n != photo_name
                      and PurePosixPath(n).suffix.lower() not in SIDECAR_SUFFIXES for n in folder_names)
    order = [with_ext] + ([] if shared_stem else [stem])
    if naming == "photo.xmp" and not shared_stem:
        order.reverse()
    for candidate in order:
        if candidate.lower() in by_lower:
            return by_lower[candidate.lower()]
    return order[0]


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
    return parse_bytes(path.read_bytes(), path.name)


def parse_bytes(data: bytes, name: str) -> tuple[ET.ElementTree, dict[str, str]]:
    """:func:`_parse` for a sidecar already read (from a WebDAV server); ``name`` is for messages."""
    path = PurePosixPath(name)
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
    items = [li.text or "" for li in element.iter(q("rdf:li"))]
    if not items and (element.text or "").strip():
        return [element.text.strip()]  # a lenient writer's bare value: one item, kept
    return items


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
        ET.SubElement(container, q("rdf:li")).text = xml_text(item)


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
        ET.SubElement(descriptions[0], q(name)).text = xml_text(value)


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


def _field(node: ET.Element, name: str) -> ET.Element | str | None:
    """A struct field in any RDF form: an attribute, a child element, or either inside an rdf:Description
    (exiftool writes children, exiv2/digiKam attributes of a nested rdf:Description)."""
    for holder in (node, node.find(q("rdf:Description"))):
        if holder is None:
            continue
        if q(name) in holder.attrib:
            return holder.attrib[q(name)]
        child = holder.find(q(name))
        if child is not None:
            return child
    return None


def _text(value: ET.Element | str | None) -> str | None:
    return value if isinstance(value, str) or value is None else (value.text or "").strip()


def _number_key(name: str, numbers: list[str | None]) -> str | None:
    """A region's identity: its name and its numbers to 4 decimals (any writer's spelling of them)."""
    try:
        return f"{name}|" + ",".join(f"{float(v or 'nan'):.4f}" for v in numbers)
    except ValueError:
        return None


def _mwg_key(li: ET.Element) -> str | None:
    name, area = _text(_field(li, "mwg-rs:Name")), _field(li, "mwg-rs:Area")
    if name is None or not isinstance(area, ET.Element):
        return None
    return _number_key(name, [_text(_field(area, f"stArea:{k}")) for k in ("x", "y", "w", "h")])


def _mp_key(li: ET.Element) -> str | None:
    name, rect = _text(_field(li, "MPReg:PersonDisplayName")), _text(_field(li, "MPReg:Rectangle"))
    if name is None or rect is None:
        return None
    return _number_key(name, [part.strip() for part in rect.split(",")])


def _region_bag(descriptions: list[ET.Element], container: str, inner: str,
                create: bool) -> tuple[ET.Element | None, bool]:
    """The rdf:Bag of a region container (created when there is none: True), or None when the container is
    there in a shape piccl does not know: then piccl leaves it, and the user's regions, alone."""
    _, element = _property(descriptions, container)
    if element is None and not create:
        return None, False
    if element is None:
        element = ET.SubElement(descriptions[0], q(container))
        element.set(q("rdf:parseType"), "Resource")
        return ET.SubElement(ET.SubElement(element, q(inner)), q("rdf:Bag")), True
    lists = list(element.iter(q(inner)))
    if not lists:
        return None, False
    bag = lists[0].find(q("rdf:Bag"))
    return bag, False


def _sync_regions(bag: ET.Element, key_of: Callable[[ET.Element], str | None], owned: set[str],
                  wanted: list[tuple[str, Callable[[ET.Element], None]]]) -> list[str]:
    """Remove piccl's regions it no longer holds, add the new ones; the user's regions are not touched."""
    for li in list(bag):
        if key_of(li) in owned:
            bag.remove(li)
    have = {key_of(li) for li in bag}
    for key, fill in wanted:
        if key not in have:
            li = ET.SubElement(bag, q("rdf:li"))
            li.set(q("rdf:parseType"), "Resource")
            fill(li)
    return [key for key, _ in wanted]


def _write_mwg(descriptions: list[ET.Element], owned: set[str], regions: Regions,
               stored_size: tuple[int, int]) -> list[str]:
    if not regions and not owned:
        return []
    bag, created = _region_bag(descriptions, "mwg-rs:Regions", "mwg-rs:RegionList", create=bool(regions))
    if bag is None:
        return []
    if created and all(stored_size):
        regions_element = _property(descriptions, "mwg-rs:Regions")[1]
        assert regions_element is not None
        dims = ET.Element(q("mwg-rs:AppliedToDimensions"))
        dims.set(q("stDim:w"), str(stored_size[0]))
        dims.set(q("stDim:h"), str(stored_size[1]))
        dims.set(q("stDim:unit"), "pixel")
        regions_element.insert(0, dims)

    def filler(name: str, values: list[str]) -> Callable[[ET.Element], None]:
        def fill(li: ET.Element) -> None:
            ET.SubElement(li, q("mwg-rs:Name")).text = xml_text(name)
            ET.SubElement(li, q("mwg-rs:Type")).text = "Face"
            box = ET.SubElement(li, q("mwg-rs:Area"))
            for k, v in zip(("x", "y", "w", "h"), values, strict=True):
                box.set(q(f"stArea:{k}"), v)
            box.set(q("stArea:unit"), "normalized")
        return fill

    wanted = []
    for name, area in regions:
        values = [f"{v:.6f}" for v in area]
        key = _number_key(xml_text(name), values)
        assert key is not None
        wanted.append((key, filler(name, values)))
    return _sync_regions(bag, _mwg_key, owned, wanted)


def _write_mp(descriptions: list[ET.Element], owned: set[str], regions: Regions) -> list[str]:
    if not regions and not owned:
        return []
    bag, _ = _region_bag(descriptions, "MP:RegionInfo", "MPRI:Regions", create=bool(regions))
    if bag is None:
        return []

    def filler(name: str, rect: str) -> Callable[[ET.Element], None]:
        def fill(li: ET.Element) -> None:
            ET.SubElement(li, q("MPReg:PersonDisplayName")).text = xml_text(name)
            ET.SubElement(li, q("MPReg:Rectangle")).text = rect
        return fill

    wanted = []
    for name, (cx, cy, w, h) in regions:
        # MP rectangles are top-left x, y, width, height, normalised.
        numbers = [f"{cx - w / 2:.6f}", f"{cy - h / 2:.6f}", f"{w:.6f}", f"{h:.6f}"]
        key = _number_key(xml_text(name), numbers)
        assert key is not None
        wanted.append((key, filler(name, ", ".join(numbers))))
    return _sync_regions(bag, _mp_key, owned, wanted)


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


def merged_sidecar(existing: Path | tuple[bytes, str] | None, content: SidecarContent) -> tuple[bytes, list[str]]:
    """The sidecar's new bytes (``existing`` merged with ``content``) and the keywords piccl removed.

    ``existing`` is a local sidecar, or (bytes, name) of one read from a server.
    """
    if existing is None:
        tree, prefixes = _empty_tree(), {}
    elif isinstance(existing, tuple):
        tree, prefixes = parse_bytes(*existing)
    else:
        tree, prefixes = _parse(existing)
    descriptions = _descriptions(tree)
    owned = _owned(descriptions)
    new_owned: dict[str, list[str]] = {}
    removed: list[str] = []
    for key, name, wanted, kind in (("subject", "dc:subject", content.subjects, "rdf:Bag"),
                                    ("hierarchical", "lr:hierarchicalSubject", content.hierarchical, "rdf:Bag"),
                                    ("tagslist", "digiKam:TagsList", content.tags_list, "rdf:Seq")):
        clean = list(dict.fromkeys(xml_text(w) for w in wanted))
        items, new_owned[key], gone = _merge(_array_items(descriptions, name), owned[key], clean)
        _set_array(descriptions, name, items, kind)
        removed += gone if key == "subject" else []
    stored = [(xml_text(r.name), to_stored(r, content.orientation)) for r in content.regions]
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


def write_sidecar(photo: Path, content: SidecarContent, naming: Naming = "photo.ext.xmp",
                  dry_run: bool = False) -> WriteResult:
    """Merge ``content`` into the photo's sidecar (created when missing and there is something to say).

    ``dry_run``: everything but the write (``changed`` says whether the file would change).
    """
    path = sidecar_path(photo, naming)
    if path.is_symlink():  # never read or write through a link: it may point outside the library
        raise SidecarError(f"{path.name}: a symbolic link; left as it is")
    exists = os.path.lexists(path)
    if exists and not path.is_file():
        raise SidecarError(f"{path.name}: not a regular file; left as it is")
    says_something = bool(content.subjects or content.regions or content.place)
    if not says_something and (not exists or not any(_owned(_descriptions(_parse(path)[0])).values())):
        # Nothing to say and nothing of piccl's to take back: the file (if any) is not piccl's to rewrite.
        return WriteResult(path, changed=False)
    data, removed = merged_sidecar(path if exists else None, content)
    if exists and path.read_bytes() == data:
        return WriteResult(path, changed=False)
    if not dry_run:
        _replace(path, data)
    return WriteResult(path, changed=True, created=not exists, removed=removed)


def says_something(content: SidecarContent) -> bool:
    return bool(content.subjects or content.regions or content.place)


def holds_piccl_fields(data: bytes, name: str) -> bool:
    """Whether a sidecar has anything piccl wrote (so piccl may have something to take back)."""
    return any(_owned(_descriptions(parse_bytes(data, name)[0])).values())


def _replace(path: Path, data: bytes) -> None:
    """Write ``path`` atomically: a temporary file in the same folder, flushed, then renamed over it.

    The new file keeps the old one's permissions and, where piccl may (it runs as root in some containers),
    its owner: a sidecar of the user's stays the user's.
    """
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            old = path.stat()
            os.chmod(temp, old.st_mode & 0o777)
            with contextlib.suppress(PermissionError):
                os.chown(temp, old.st_uid, old.st_gid)
        else:
            os.chmod(temp, 0o644)  # mkstemp makes it private; a sidecar is as readable as its photo
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
