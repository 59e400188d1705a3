"""Reading photos: sniffing, DCT scaling, orientation, odd pixel formats, broken files."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from plugin.reading.decode import DecodedPhoto, ReadFailure, ReadOptions, read_photo
from tests.conftest import PhotoFactory, textured

OPTIONS = ReadOptions()


def _read(path: Path, options: ReadOptions = OPTIONS) -> DecodedPhoto | ReadFailure:
    return read_photo(path.read_bytes(), options)


def test_jpeg_is_dct_scaled_to_the_analysis_size(tmp_path: Path, make_photo: PhotoFactory) -> None:
    # GIVEN a 12 MP JPEG (4032 x 3024, a phone's size)
    path = make_photo(tmp_path / "phone.jpg", 4032, 3024)
    # WHEN it is read
    photo = _read(path)
    # THEN libjpeg reduced it by 4 in the IDCT, and the analysis image is about 1024 px
    assert isinstance(photo, DecodedPhoto)
    assert photo.decoded_from == "jpeg-dct-1/4"
    assert (photo.width, photo.height) == (4032, 3024)
    assert photo.grey.shape == (756, 1008)
    assert photo.rgb.shape == (756, 1008, 3)


def test_small_photos_are_never_upscaled(tmp_path: Path, make_photo: PhotoFactory) -> None:
    photo = _read(make_photo(tmp_path / "small.png", 300, 200, fmt="PNG"))
    assert isinstance(photo, DecodedPhoto)
    assert photo.grey.shape == (200, 300)
    assert photo.decoded_from == "full"


def test_large_png_is_resized_to_exactly_the_analysis_size(tmp_path: Path, make_photo: PhotoFactory) -> None:
    photo = _read(make_photo(tmp_path / "big.png", 2400, 1600, fmt="PNG"))
    assert isinstance(photo, DecodedPhoto)
    assert max(photo.grey.shape) == 1024


def test_format_is_sniffed_from_content_not_extension(tmp_path: Path, make_photo: PhotoFactory) -> None:
    # GIVEN a PNG named .jpg and a JPEG named .heic
    png = make_photo(tmp_path / "really_png.jpg", 64, 48, fmt="PNG")
    jpeg = make_photo(tmp_path / "really_jpeg.heic", 64, 48)
    # THEN each is read as what it is
    assert _read(png).format == "PNG"  # type: ignore[union-attr]
    assert _read(jpeg).format == "JPEG"  # type: ignore[union-attr]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_comes_out_upright(tmp_path: Path, orientation: int) -> None:
    # GIVEN an upright picture stored the way a camera would store it with this orientation tag
    upright = textured(320, 200, seed=3)
    inverse = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
               4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90,
               7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270}[orientation]
    stored = Image.fromarray(upright)
    if inverse is not None:
        stored = stored.transpose(inverse)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    stored.save(buffer, "PNG", exif=exif.tobytes())
    # WHEN it is read
    photo = read_photo(buffer.getvalue(), OPTIONS)
    # THEN the pixels are the upright picture and the size is the upright size
    assert isinstance(photo, DecodedPhoto)
    assert (photo.width, photo.height) == (320, 200)
    assert np.array_equal(photo.rgb, upright)


def test_sixteen_bit_greyscale_is_scaled_not_clipped() -> None:
    ramp = (np.linspace(0, 65535, 256 * 64).reshape(64, 256)).astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(ramp).save(buffer, "PNG")
    photo = read_photo(buffer.getvalue(), OPTIONS)
    assert isinstance(photo, DecodedPhoto)
    assert photo.grey.min() == 0 and photo.grey.max() == 255
    assert 100 < float(photo.grey.mean()) < 155


@pytest.mark.parametrize(
    ("data", "status", "reason"),
    [
        (b"", "error", "empty_file"),
        (b"%PDF-1.4 hello", "skipped", "not_an_image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "error", "decode_failed"),
    ],
)
def test_broken_input_gives_a_reason(data: bytes, status: str, reason: str) -> None:
    result = read_photo(data, OPTIONS)
    assert isinstance(result, ReadFailure)
    assert (result.status, result.reason) == (status, reason)


def test_truncated_jpeg_is_an_error_with_reason(tmp_path: Path, make_photo: PhotoFactory) -> None:
    data = make_photo(tmp_path / "t.jpg", 800, 600).read_bytes()
    result = read_photo(data[: len(data) // 2], OPTIONS)
    assert isinstance(result, ReadFailure)
    assert result.reason == "truncated"


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path, make_photo: PhotoFactory) -> None:
    path = make_photo(tmp_path / "big.png", 2000, 1500, fmt="PNG")
    result = _read(path, ReadOptions(max_pixels=1_000_000))
    assert isinstance(result, ReadFailure)
    assert (result.status, result.reason) == ("skipped", "decompression_bomb")
    assert "exceeds" in result.detail


# --- real files ------------------------------------------------------------------------------------


def test_every_corrupt_and_edge_case_ends_ok_or_with_a_reason(testdata: Path) -> None:
    # GIVEN Pillow's own torture set plus broken files from other projects
    root = testdata / "corrupt_and_edge_cases"
    rows = list(csv.DictReader((root / "expectations.csv").open()))
    outcomes: dict[str, DecodedPhoto | ReadFailure] = {}
    for row in rows:
        # WHEN each is read
        outcomes[row["file"]] = _read(root / row["file"])
    # THEN none raised; failures carry a reason; what Pillow decodes, piccl decodes
    # (except formats that are not photos: ICO, an animated PNG's odd frames aside)
    for row in rows:
        result = outcomes[row["file"]]
        if isinstance(result, ReadFailure):
            assert result.reason and result.detail, row["file"]
            if row["pillow13_outcome"] == "decodes":
                assert result.reason == "unsupported_format", (row["file"], result)
    decoded = sum(isinstance(r, DecodedPhoto) for r in outcomes.values())
    assert decoded >= 170


def test_orientation_samples_are_upright(testdata: Path) -> None:
    # GIVEN the same scene saved with orientation 1..8 (landscape and portrait), each re-encoded
    folder = testdata / "exif_ianare" / "jpg" / "orientation"
    flips = [lambda a: a, np.fliplr, np.flipud, lambda a: np.rot90(a, 2)]
    for shape in ("landscape", "portrait"):
        reference = _read(folder / f"{shape}_1.jpg")
        assert isinstance(reference, DecodedPhoto)
        ref = reference.grey.astype(float)
        for n in range(2, 9):
            photo = _read(folder / f"{shape}_{n}.jpg")
            assert isinstance(photo, DecodedPhoto)
            # THEN each comes out with the reference's shape, and closer to it than any flip of itself
            assert photo.grey.shape == ref.shape, (shape, n)
            diffs = [float(np.abs(flip(photo.grey).astype(float) - ref).mean()) for flip in flips]
            assert diffs[0] == min(diffs), (shape, n, diffs)


def test_heic_photos_decode_with_exif(testdata: Path) -> None:
    photo = _read(testdata / "heic" / "photoprism" / "iphone_15_pro.heic")
    assert isinstance(photo, DecodedPhoto)
    assert photo.format == "HEIF"
    assert (photo.width, photo.height) == (3024, 4032)  # upright portrait
    assert photo.exif.make == "Apple"
    assert photo.exif.taken_at is not None
    assert photo.grey.shape[0] > photo.grey.shape[1]


def test_heic_burst_is_one_photo_with_its_frames(testdata: Path) -> None:
    photo = _read(testdata / "heic" / "pillow_heif" / "heif_other" / "nokia" / "bird_burst.heic")
    assert isinstance(photo, DecodedPhoto)
    assert photo.frames == 4


def test_200_megapixel_heic_uses_its_thumbnail(testdata: Path) -> None:
    photo = _read(testdata / "heic" / "pillow_heif" / "heif_special" / "200MP.heic")
    assert isinstance(photo, DecodedPhoto)
    assert photo.decoded_from.startswith("heif-thumbnail")
    assert photo.width * photo.height > 190_000_000


def test_broken_heic_files_fail_with_reasons(testdata: Path) -> None:
    # (heif_truncated/truncated.heic is cut inside its second image; its primary image is whole and decodes)
    for name in ("heif_corrupted/corrupted.heic", "heif_corrupted/corrupted.hif", "heif_corrupted/empty.heic"):
        result = _read(testdata / "heic" / "pillow_heif" / name)
        assert isinstance(result, ReadFailure), name
        assert result.status == "error", (name, result)


def test_avif_orientation_is_applied(testdata: Path) -> None:
    folder = testdata / "heic" / "pillow_avif"
    reference = _read(folder / "rot0mir0.avif")
    rotated = _read(folder / "rot1mir0.avif")
    assert isinstance(reference, DecodedPhoto) and isinstance(rotated, DecodedPhoto)
    assert rotated.grey.shape == reference.grey.shape[::-1] or rotated.grey.shape == reference.grey.shape


def test_repairable_damage_is_recorded_with_the_photo(testdata: Path) -> None:
    # GIVEN a JPEG whose EXIF block is cut short (Pillow warns and carries on)
    photo = _read(testdata / "corrupt_and_edge_cases" / "pillow" / "hopper_bad_exif.jpg")
    # THEN the photo is read and the damage is noted against it
    assert isinstance(photo, DecodedPhoto)
    assert any("Corrupt EXIF" in w for w in photo.exif.warnings)
