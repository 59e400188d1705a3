"""The best shot of a group: criteria in order, each reason shown."""

from __future__ import annotations

from plugin.grouping.keeper import ShotQuality, choose_keeper


def shot(photo_id: int, **facts: object) -> ShotQuality:
    base: dict[str, object] = {"relpath": f"p/{photo_id}.jpg", "pixels": 12_000_000, "file_size": 3_000_000,
                               "sharpness": 0.8, "darkness": 0.1, "camera_time": True}
    base.update(facts)
    return ShotQuality(photo_id=photo_id, **base)  # type: ignore[arg-type]


def test_a_copy_keeps_the_higher_resolution_even_when_the_small_one_looks_sharper() -> None:
    choice = choose_keeper("duplicate", [shot(1, pixels=300 * 300, sharpness=1.5), shot(2)])
    assert choice.photo_id == 2 and choice.reason.startswith("higher resolution copy")


def test_a_colour_original_beats_its_black_and_white_version() -> None:
    assert choose_keeper("near_duplicate", [shot(1, mono=True), shot(2)]).reason.startswith("in colour")


def test_the_sharp_shot_of_a_burst_is_kept_over_a_blurry_one() -> None:
    choice = choose_keeper("similar", [shot(1, sharpness=0.3, blurry=True), shot(2, sharpness=0.9), shot(3)])
    assert choice.photo_id == 2 and "not blurry or dark" in choice.reason


def test_sharper_faces_decide_between_equally_sharp_shots() -> None:
    choice = choose_keeper("similar", [shot(1, face_sharpness=(300.0, 50.0)), shot(2, face_sharpness=(310.0, 290.0)),
                                       shot(3, face_sharpness=(320.0,))])
    assert choice.photo_id == 2 and choice.reason == "sharper faces"


def test_better_exposure_decides_when_sharpness_ties() -> None:
    choice = choose_keeper("similar", [shot(1, darkness=0.45), shot(2, darkness=0.05)])
    assert choice.photo_id == 2 and choice.reason == "better exposed"


def test_a_copy_that_lost_the_camera_date_is_not_kept_for_being_larger() -> None:
    # GIVEN the original JPEG and a PNG made from it (larger file, no EXIF date)
    choice = choose_keeper("duplicate", [shot(1, file_size=9_000_000, camera_time=False), shot(2)])
    assert choice.photo_id == 2 and "camera's date" in choice.reason


def test_identical_copies_keep_the_shallowest_path() -> None:
    choice = choose_keeper("duplicate", [shot(1, relpath="2023/copy/IMG_1.jpg"), shot(2, relpath="2023/IMG_1.jpg")])
    assert choice.photo_id == 2 and choice.reason == "equally good copies: the first by path"


def test_the_balanced_frame_of_a_bracket_beats_the_blown_out_one() -> None:
    choice = choose_keeper("similar", [shot(1, clipped=0.12), shot(2, clipped=0.01)])
    assert choice.photo_id == 2 and choice.reason == "better exposed"
