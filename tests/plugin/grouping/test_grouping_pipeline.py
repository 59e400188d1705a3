"""Grouping real photos end to end: scan, groups, keepers, recommendations, the user's keeper, GIF, CLI, export."""

from __future__ import annotations

import csv
import itertools
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from plugin.cli import cli
from plugin.config import Settings
from plugin.grouping.animation import make_animation
from plugin.grouping.service import export_groups, group_photos, set_keeper
from plugin.scan import Scanner
from plugin.store.models import Photo, PhotoGroup, Recommendation


def scan(settings: Settings, sessions: sessionmaker[Session], library: Path) -> list[dict]:
    Scanner(settings, sessions).scan(library)
    group_photos(sessions, settings.similar)
    with sessions() as session:
        return export_groups(session)


def paths_of(group: dict) -> set[str]:
    return {m["path"] for m in group["members"]}


@pytest.fixture
def build(tmp_path: Path, settings_for, sessions: sessionmaker[Session], models_dir: Path):  # type: ignore[no-untyped-def]
    def make(files: dict[str, Path]) -> tuple[Settings, Path]:
        library = tmp_path / "photos"
        for rel, source in files.items():
            (library / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, library / rel)
        settings = settings_for(library, models_dir=models_dir, workers={"kind": "thread", "count": 2})
        return settings, library
    return make


def test_byte_identical_copies_in_two_folders_are_one_duplicate_group(build, sessions, testdata: Path) -> None:  # type: ignore[no-untyped-def]
    photo = testdata / "exif_ianare/jpg/gps/DSCN0010.jpg"
    # GIVEN one photo three times: in two folders and as 'IMG (1).jpg'
    other = testdata / "exif_ianare/jpg/gps/DSCN0012.jpg"
    settings, library = build({"2023/DSCN0010.jpg": photo, "backup/DSCN0010.jpg": photo,
                               "2023/DSCN0010 (1).jpg": photo, "2023/other.jpg": other})
    # WHEN the library is scanned and grouped
    groups = scan(settings, sessions, library)
    # THEN the three copies are one duplicate group that keeps one and recommends the two others
    assert len(groups) == 1 and groups[0]["kind"] == "duplicate"
    assert paths_of(groups[0]) == {"2023/DSCN0010.jpg", "backup/DSCN0010.jpg", "2023/DSCN0010 (1).jpg"}
    assert groups[0]["keeper"] == "2023/DSCN0010.jpg"
    with sessions() as session:
        recs = session.scalars(select(Recommendation).where(Recommendation.reason == "duplicate")).all()
        assert len(recs) == 2 and {r.keep_photo_id for r in recs} == {groups[0]["keeper_id"]}
        assert all(r.evidence["relation"] == "identical" and r.evidence["keeper_name"] == "DSCN0010.jpg" for r in recs)


def test_orientation_1_to_8_copies_group_as_one_photo(build, sessions, testdata: Path) -> None:  # type: ignore[no-untyped-def]
    folder = testdata / "exif_ianare/jpg/orientation"
    settings, library = build({p.name: p for p in folder.glob("*.jpg")})
    groups = scan(settings, sessions, library)
    # THEN each of the two photos is one duplicate group of its eight orientation copies
    assert sorted(sorted(paths_of(g)) for g in groups) == [
        [f"landscape_{i}.jpg" for i in range(1, 9)], [f"portrait_{i}.jpg" for i in range(1, 9)]]
    assert {g["kind"] for g in groups} == {"duplicate"}


def test_nine_gps_photos_of_one_afternoon_are_not_duplicates(build, sessions, testdata: Path) -> None:  # type: ignore[no-untyped-def]
    folder = testdata / "exif_ianare/jpg/gps"
    settings, library = build({p.name: p for p in folder.glob("*.jpg")})
    assert scan(settings, sessions, library) == []


def test_each_sharp_and_blurred_pair_keeps_the_sharp_one(build, sessions, testdata: Path) -> None:  # type: ignore[no-untyped-def]
    folder = testdata / "blur_deblurgen"
    with open(folder / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    sharp = {r["pair_id"]: r["file"] for r in rows if r["label"] == "sharp"}
    settings, library = build({r["file"]: folder / r["file"] for r in rows})
    groups = scan(settings, sessions, library)
    group_of = {m["path"]: g for g in groups for m in g["members"]}
    pairs = [(r["file"], sharp[r["pair_id"]]) for r in rows if r["label"] != "sharp" and r["pair_id"] in sharp]
    together = [(b, s) for b, s in pairs if b in group_of and group_of[b] is group_of.get(s)]
    # THEN every pair is grouped, and each keeps a sharp original, never the blurred photo
    assert len(together) == len(pairs)
    assert all(group_of[b]["keeper"] in sharp.values() for b, _ in together)


def test_imagededup_ground_truth_precision_and_recall(build, sessions, testdata: Path) -> None:  # type: ignore[no-untyped-def]
    folder = testdata / "neardup_imagededup"
    settings, library = build({str(p.relative_to(folder)): p for p in folder.rglob("*")
                               if p.is_file() and p.suffix != ".json"})
    groups = scan(settings, sessions, library)
    with sessions() as session:
        read = session.scalars(select(Photo.relpath).where(Photo.status == "ok")).all()

    def identity(path: str) -> str:
        found = re.search(r"ukbench\d+", path)
        return "ukbench00120" if path.endswith("alpha_channel_image.png") else found.group(0) if found else path

    truth = {frozenset(p) for p in itertools.combinations(read, 2) if identity(p[0]) == identity(p[1])}
    predicted = {frozenset(p) for g in groups for p in itertools.combinations(sorted(paths_of(g)), 2)}
    # THEN (targets: precision >= 0.95, recall >= 0.90) rotated, mirrored, grey, resized and re-encoded copies
    tp = len(truth & predicted)
    assert tp / len(predicted) >= 0.95 and tp / len(truth) >= 0.90
    near = next(g for g in groups if "ukbench00120_gray.jpg" in paths_of(g))
    relations = {m["path"]: m["relation"] for m in near["members"]}
    assert near["kind"] == "near_duplicate" and relations["ukbench00120_gray.jpg"] == "mono"
    assert relations["mixed_images/ukbench00120_hflip.jpg"] == "mirrored"


def test_the_users_keeper_survives_regrouping_and_a_gif_never_overwrites(build, sessions, testdata: Path) -> None:  # type: ignore[no-untyped-def]
    folder = testdata / "exif_ianare/jpg/orientation"
    settings, library = build({p.name: p for p in folder.glob("landscape_*.jpg")})
    [group] = scan(settings, sessions, library)
    other = next(m["photo_id"] for m in group["members"] if m["photo_id"] != group["keeper_id"])
    # WHEN the user keeps another photo, and the library is grouped again
    set_keeper(sessions, group["id"], other)
    group_photos(sessions, settings.similar)
    with sessions() as session:
        stored = session.get(PhotoGroup, group["id"])
        assert stored is not None and stored.keeper_photo_id == other and stored.keeper_by == "user"
        recs = session.scalars(select(Recommendation).where(Recommendation.reason == "duplicate")).all()
        assert {r.keep_photo_id for r in recs} == {other} and other not in {r.photo_id for r in recs}
    # WHEN a GIF is made from the group while a file already has its name
    ids = [m["photo_id"] for m in group["members"]]
    first = make_animation(sessions, ids, settings.gif)
    taken = library / first.paths[0]
    before = taken.read_bytes()
    second = make_animation(sessions, ids, settings.gif)
    # THEN the second one gets a new name, the first is untouched, both formats exist, frames in capture order
    assert first.frames == 8 and {Path(p).suffix for p in first.paths} == {".gif", ".webp"}
    assert second.paths[0] != first.paths[0] and taken.read_bytes() == before
    assert all(p.startswith("piccl-gifs/") for p in first.paths + second.paths)
    # AND a rescan does not take piccl's own animations for photos
    summary = Scanner(settings, sessions).scan(library)
    assert summary.photos == 8


def test_cli_groups_gif_and_export(build, testdata: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    photo = testdata / "exif_ianare/jpg/gps/DSCN0010.jpg"
    _, library = build({"a/x.jpg": photo, "b/x.jpg": photo})
    monkeypatch.setenv("PICCL_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("PICCL_WORKERS__KIND", "thread")
    runner = CliRunner()
    scanned = runner.invoke(cli, ["scan", str(library)])
    assert scanned.exit_code == 0 and "groups" in scanned.output, scanned.output
    listed = json.loads(runner.invoke(cli, ["groups", "--json"]).stdout)
    assert listed["report"]["groups"] == {"duplicate": 1} and listed["groups"][0]["keeper"] == "a/x.jpg"
    made = runner.invoke(cli, ["gif", "--group", str(listed["groups"][0]["id"]), "--format", "gif"])
    assert made.exit_code == 0 and made.stdout.strip().endswith(".gif"), made.output
    assert (library / made.stdout.strip()).is_file()
    records = [json.loads(line) for line in runner.invoke(cli, ["export"]).stdout.splitlines()]
    by_path = {r["relpath"]: r for r in records}
    assert by_path["b/x.jpg"]["groups"][0] | {"id": 0} == {
        "id": 0, "kind": "duplicate", "keeper": "a/x.jpg", "keeper_id": by_path["b/x.jpg"]["groups"][0]["keeper_id"],
        "reason": "equally good copies: the first by path", "keeper_by": "auto", "relation": "identical",
        "method": "default"}
    assert by_path["b/x.jpg"]["recommendation"]["reasons"] == ["duplicate"]


def test_the_gif_folder_keeps_the_users_photos_scanned_and_a_missing_frame_is_skipped(  # type: ignore[no-untyped-def]
        build, sessions, testdata: Path) -> None:
    folder = testdata / "exif_ianare/jpg/orientation"
    # GIVEN the user's own photo in the gif folder, beside three photos
    settings, library = build({"a.jpg": folder / "landscape_1.jpg", "b.jpg": folder / "landscape_2.jpg",
                               "c.jpg": folder / "landscape_3.jpg",
                               "piccl-gifs/mine.jpg": testdata / "exif_ianare/jpg/gps/DSCN0010.jpg"})
    Scanner(settings, sessions).scan(library)
    with sessions() as session:
        ids = dict(session.execute(select(Photo.relpath, Photo.id)).all())
    assert "piccl-gifs/mine.jpg" in ids
    # WHEN one photo vanished before its frame was read
    (library / "c.jpg").unlink()
    made = make_animation(sessions, [ids["a.jpg"], ids["b.jpg"], ids["c.jpg"]], settings.gif, formats=("gif",))
    # THEN the animation is made of the others and says which was skipped and why
    assert made.frames == 2 and made.skipped == {ids["c.jpg"]: "unreadable: No such file or directory"}
    # AND a rescan skips piccl's animation but still reads the user's photo in that folder
    summary = Scanner(settings, sessions).scan(library)
    assert summary.ignored.get("piccl_animation") == 1 and summary.photos == 3


def test_exposure_brackets_are_similar_shots(build, sessions, testdata: Path) -> None:  # type: ignore[no-untyped-def]
    folder = testdata / "exif_ianare/jpg/hdr"
    settings, library = build({p.name: p for p in folder.glob("*.jpg")})
    groups = scan(settings, sessions, library)
    # THEN each camera's pair (taken 26 s and 0.5 s apart, another exposure) is one group of similar shots
    assert sorted(sorted(paths_of(g)) for g in groups) == [["canon_hdr_NO.jpg", "canon_hdr_YES.jpg"],
                                                            ["iphone_hdr_NO.jpg", "iphone_hdr_YES.jpg"]]
    assert {g["kind"] for g in groups} == {"similar"}
