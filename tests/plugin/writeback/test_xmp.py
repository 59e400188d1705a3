"""XMP sidecars, read back by exiftool: keywords, face regions (also for rotated photos), merging, naming."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from plugin.writeback.xmp import FaceRegion, SidecarContent, SidecarError, sidecar_path, to_stored, write_sidecar

pytestmark = pytest.mark.skipif(shutil.which("exiftool") is None,
                                reason="exiftool is not installed (.ci/run installs libimage-exiftool-perl)")

CONTENT = SidecarContent(
    subjects=("animal", "dog", "Anna"), hierarchical=("piccl|animal", "piccl|animal|dog", "People|Anna"),
    regions=(FaceRegion("Anna", 0.10, 0.20, 0.10, 0.15),), stored_size=(640, 480))


def exiftool(path: Path, *tags: str) -> dict[str, object]:
    out = subprocess.run(["exiftool", "-json", "-struct", *(f"-{t}" for t in tags), str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)[0]


def as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "IMG_0001.jpg"
    Image.new("RGB", (640, 480), (90, 120, 150)).save(path)
    return path


def test_keywords_people_and_regions_are_read_back_by_exiftool(photo: Path) -> None:
    # WHEN piccl writes a photo's sidecar
    result = write_sidecar(photo, CONTENT)
    # THEN it is IMG_0001.jpg.xmp and exiftool reads every field piccl wrote
    assert result.created and result.path.name == "IMG_0001.jpg.xmp"
    tags = exiftool(result.path, "XMP-dc:Subject", "XMP-lr:HierarchicalSubject", "XMP-digiKam:TagsList",
                    "RegionInfo", "RegionInfoMP")
    assert tags["Subject"] == ["animal", "dog", "Anna"]
    assert tags["HierarchicalSubject"] == ["piccl|animal", "piccl|animal|dog", "People|Anna"]
    assert tags["TagsList"] == ["piccl/animal", "piccl/animal/dog", "People/Anna"]
    [region] = tags["RegionInfo"]["RegionList"]  # type: ignore[index]
    assert region["Name"] == "Anna" and region["Type"] == "Face"
    area = region["Area"]
    assert (area["X"], area["Y"], area["W"], area["H"]) == pytest.approx((0.15, 0.275, 0.10, 0.15))
    assert tags["RegionInfo"]["AppliedToDimensions"] == {"W": 640, "H": 480, "Unit": "pixel"}  # type: ignore[index]
    [mp] = tags["RegionInfoMP"]["Regions"]  # type: ignore[index]
    assert mp["PersonDisplayName"] == "Anna"
    assert [float(v) for v in mp["Rectangle"].split(",")] == pytest.approx([0.10, 0.20, 0.10, 0.15])


def test_a_sidecar_from_another_app_keeps_its_fields_and_piccl_removes_only_its_own(photo: Path) -> None:
    # GIVEN a sidecar exiftool wrote (as digiKam or darktable would): a rating, a creator, the user's keywords,
    # one of which ('dog') piccl is about to find too, and a region of the user's
    sidecar = photo.with_name(photo.name + ".xmp")
    subprocess.run(["exiftool", "-q", "-o", str(sidecar), "-XMP-xmp:Rating=4", "-XMP-dc:Creator=Ana Silva",
                    "-XMP-dc:Subject=holiday", "-XMP-dc:Subject=dog", "-XMP-lr:HierarchicalSubject=Trips|Lisbon",
                    "-XMP-photoshop:City=Porto", str(photo)], check=True)
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-struct",
                    '-RegionInfo={AppliedToDimensions={W=640,H=480,Unit=pixel},RegionList=[{Name=Bob,Type=Face,'
                    'Area={X=0.8,Y=0.5,W=0.1,H=0.1,Unit=normalized}}]}', str(sidecar)], check=True)
    # WHEN piccl writes its tags and a person
    assert write_sidecar(photo, CONTENT).changed
    # THEN the other fields stay, and both sets of keywords and regions are there
    tags = exiftool(sidecar, "Rating", "Creator", "Subject", "HierarchicalSubject", "City", "RegionInfo")
    assert tags["Rating"] == 4 and as_list(tags["Creator"]) == ["Ana Silva"] and tags["City"] == "Porto"
    assert tags["Subject"] == ["holiday", "dog", "animal", "Anna"]
    assert "Trips|Lisbon" in as_list(tags["HierarchicalSubject"])
    assert {r["Name"] for r in tags["RegionInfo"]["RegionList"]} == {"Bob", "Anna"}  # type: ignore[index]
    # WHEN piccl no longer holds its tags nor the person
    result = write_sidecar(photo, SidecarContent())
    # THEN only piccl's own keywords and region go: the user's 'dog' (there before piccl) and Bob stay
    tags = exiftool(sidecar, "Rating", "Subject", "HierarchicalSubject", "RegionInfo")
    assert result.removed == ["animal", "Anna"]
    assert tags["Subject"] == ["holiday", "dog"] and as_list(tags["HierarchicalSubject"]) == ["Trips|Lisbon"]
    assert [r["Name"] for r in tags["RegionInfo"]["RegionList"]] == ["Bob"]  # type: ignore[index]
    assert tags["Rating"] == 4


def test_writing_again_changes_nothing(photo: Path) -> None:
    first = write_sidecar(photo, CONTENT)
    stamp = first.path.stat().st_mtime_ns
    second = write_sidecar(photo, CONTENT)
    assert not second.changed and first.path.stat().st_mtime_ns == stamp


def test_an_existing_sidecar_of_either_name_is_updated_in_place(photo: Path) -> None:
    # GIVEN a Lightroom-style IMG_0001.xmp
    stem = photo.with_suffix(".xmp")
    subprocess.run(["exiftool", "-q", "-o", str(stem), "-XMP-xmp:Rating=2", str(photo)], check=True)
    # THEN piccl writes into it, not a second sidecar
    assert write_sidecar(photo, CONTENT).path == stem
    assert not photo.with_name(photo.name + ".xmp").exists()
    assert exiftool(stem, "Rating", "Subject")["Rating"] == 2
    # AND the naming setting decides only for photos without a sidecar
    other = photo.with_name("IMG_0002.jpg")
    shutil.copy(photo, other)
    assert sidecar_path(other, "photo.xmp") == other.with_suffix(".xmp")
    assert sidecar_path(other) == other.with_name("IMG_0002.jpg.xmp")


def test_a_sidecar_that_is_not_xmp_is_left_alone(photo: Path) -> None:
    sidecar = photo.with_name(photo.name + ".xmp")
    sidecar.write_text("<not xmp")
    with pytest.raises(SidecarError, match="not valid XML"):
        write_sidecar(photo, CONTENT)
    assert sidecar.read_text() == "<not xmp"


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_regions_land_on_the_face_in_the_stored_image_of_a_rotated_photo(tmp_path: Path, orientation: int) -> None:
    # GIVEN a portrait photo (upright 480 x 640) with a bright "face" at a known upright box, stored turned
    # as a camera stores it, with the EXIF orientation that turns it upright again
    upright = np.full((640, 480, 3), 40, np.uint8)
    box = (60, 400, 120, 90)  # x, y, w, h in upright pixels
    upright[box[1]:box[1] + box[3], box[0]:box[0] + box[2]] = 250
    stored_image = Image.fromarray(upright).transpose({1: Image.Transpose.ROTATE_90, 3: Image.Transpose.ROTATE_180,
                                                       6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270,
                                                       }[orientation]) if orientation != 1 else Image.fromarray(upright)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"portrait_{orientation}.jpg"
    stored_image.save(path, exif=exif, quality=95)
    with Image.open(path) as check:  # the test's own premise: the viewer's upright picture is ours
        from PIL import ImageOps
        assert np.asarray(ImageOps.exif_transpose(check))[box[1] + 45, box[0] + 60].mean() > 200
    region = FaceRegion("Anna", box[0] / 480, box[1] / 640, box[2] / 480, box[3] / 640)
    stored_size = stored_image.size
    # WHEN piccl writes the region
    result = write_sidecar(path, SidecarContent(subjects=("Anna",), regions=(region,), orientation=orientation,
                                                stored_size=stored_size))
    # THEN the area exiftool reads, taken on the stored pixels, covers the bright face
    area = exiftool(result.path, "RegionInfo")["RegionInfo"]["RegionList"][0]["Area"]  # type: ignore[index]
    stored = np.asarray(Image.open(path).convert("L"))
    height, width = stored.shape
    x0, x1 = round((area["X"] - area["W"] / 2) * width), round((area["X"] + area["W"] / 2) * width)
    y0, y1 = round((area["Y"] - area["H"] / 2) * height), round((area["Y"] + area["H"] / 2) * height)
    inside = stored[y0 + 3:y1 - 3, x0 + 3:x1 - 3]
    assert inside.size and inside.mean() > 200
    assert (x1 - x0) * (y1 - y0) == pytest.approx(box[2] * box[3], rel=0.05)
    assert to_stored(region, orientation)[2:] == pytest.approx(
        (area["W"], area["H"]), abs=1e-5)


def test_a_sidecar_that_is_a_link_is_never_followed(photo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.xmp"
    outside.write_text("secret")
    photo.with_name(photo.name + ".xmp").symlink_to(outside)
    with pytest.raises(SidecarError, match="symbolic link"):
        write_sidecar(photo, CONTENT)
    assert outside.read_text() == "secret"


NESTED_DIGIKAM = """<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"
    xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/" xmp:Rating="4">
   <dc:subject>holiday</dc:subject>
   <mwg-rs:Regions>
    <rdf:Description>
     <mwg-rs:RegionList>
      <rdf:Bag>
       <rdf:li>
        <rdf:Description mwg-rs:Name="Bob" mwg-rs:Type="Face">
         <mwg-rs:Area stArea:x="0.8" stArea:y="0.5" stArea:w="0.1" stArea:h="0.1" stArea:unit="normalized"/>
        </rdf:Description>
       </rdf:li>
      </rdf:Bag>
     </mwg-rs:RegionList>
    </rdf:Description>
   </mwg-rs:Regions>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def test_regions_in_the_form_exiv2_writes_are_kept_and_piccl_adds_its_own(photo: Path) -> None:
    # GIVEN a digiKam (exiv2) sidecar: structs as attributes of nested rdf:Descriptions, a bare dc:subject
    sidecar = photo.with_name(photo.name + ".xmp")
    sidecar.write_text(NESTED_DIGIKAM)
    # WHEN piccl writes a keyword and a person, then takes them back
    write_sidecar(photo, CONTENT)
    tags = exiftool(sidecar, "Rating", "Subject", "RegionInfo")
    assert {r["Name"] for r in tags["RegionInfo"]["RegionList"]} == {"Bob", "Anna"}  # type: ignore[index]
    assert tags["Subject"][0] == "holiday" and tags["Rating"] == 4  # type: ignore[index]
    write_sidecar(photo, SidecarContent())
    # THEN the user's region, keyword and rating are all still there
    tags = exiftool(sidecar, "Rating", "Subject", "RegionInfo")
    assert [r["Name"] for r in tags["RegionInfo"]["RegionList"]] == ["Bob"]  # type: ignore[index]
    assert as_list(tags["Subject"]) == ["holiday"] and tags["Rating"] == 4


def test_piccl_knows_its_region_after_another_tool_rewrote_the_sidecar(photo: Path) -> None:
    sidecar = write_sidecar(photo, CONTENT).path
    # GIVEN exiftool rewrote the sidecar (its own spelling of the region struct)
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-XMP-xmp:Rating=5", str(sidecar)], check=True)
    # WHEN the face moves in piccl
    moved = SidecarContent(subjects=CONTENT.subjects, hierarchical=CONTENT.hierarchical,
                           regions=(FaceRegion("Anna", 0.5, 0.5, 0.1, 0.15),), stored_size=(640, 480))
    write_sidecar(photo, moved)
    # THEN there is one Anna, at the new place, and the rating stays
    tags = exiftool(sidecar, "Rating", "RegionInfo")
    [anna] = tags["RegionInfo"]["RegionList"]  # type: ignore[index]
    assert anna["Area"]["X"] == pytest.approx(0.55) and tags["Rating"] == 5


def test_a_sidecar_with_nothing_of_piccls_is_not_rewritten(photo: Path) -> None:
    sidecar = photo.with_name(photo.name + ".xmp")
    sidecar.write_text(NESTED_DIGIKAM)
    assert not write_sidecar(photo, SidecarContent()).changed
    assert sidecar.read_text() == NESTED_DIGIKAM


def test_names_with_control_characters_still_make_valid_xmp(photo: Path) -> None:
    content = SidecarContent(subjects=("An\x1bna",), regions=(FaceRegion("An\x1bna", 0.1, 0.1, 0.1, 0.1),))
    path = write_sidecar(photo, content).path
    assert as_list(exiftool(path, "Subject")["Subject"]) == ["Anna"]
    assert not write_sidecar(photo, content).changed  # and it reads back as piccl's own


def test_photos_sharing_a_stem_get_sidecars_of_their_own(tmp_path: Path) -> None:
    jpg, png = tmp_path / "IMG_1.jpg", tmp_path / "IMG_1.png"
    Image.new("RGB", (64, 48)).save(jpg)
    Image.new("RGB", (64, 48)).save(png)
    # GIVEN the 'photo.xmp' naming, which would give both photos IMG_1.xmp
    a = write_sidecar(jpg, SidecarContent(subjects=("dog",)), naming="photo.xmp").path
    b = write_sidecar(png, SidecarContent(subjects=("food",)), naming="photo.xmp").path
    # THEN each has its own, named after the whole file name
    assert (a.name, b.name) == ("IMG_1.jpg.xmp", "IMG_1.png.xmp")
    # AND a photo alone with its stem uses IMG_2.xmp, found again whatever its case
    alone = tmp_path / "IMG_2.jpg"
    Image.new("RGB", (64, 48)).save(alone)
    (tmp_path / "IMG_2.XMP").write_text(NESTED_DIGIKAM)
    assert write_sidecar(alone, SidecarContent(subjects=("dog",))).path.name == "IMG_2.XMP"


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root (piccl runs as root in a container)")
def test_a_rewritten_sidecar_keeps_its_owner_and_mode(photo: Path) -> None:
    sidecar = write_sidecar(photo, CONTENT).path
    os.chown(sidecar, 1000, 1000)
    os.chmod(sidecar, 0o664)
    write_sidecar(photo, SidecarContent(subjects=("cat",)))
    info = sidecar.stat()
    assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (1000, 1000, 0o664)
