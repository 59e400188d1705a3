"""What is in the photos: the photo page's "What's in it", the tag browser, and the library's tag filter."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from plugin.store.models import Analysis, Photo, PhotoTag
from tests.webui.conftest import UI, tile_ids, walk_grid

# Real COCO photos ($PICCL_TESTDATA/objects_coco_mini/train2017), with what their labels.csv says is in them.
KITCHEN = "000000535506.jpg"  # a person, a microwave, a bottle, 14 books
CAT = "000000358083.jpg"  # two cats, three toilets


def _no_models(tmp_path: Path) -> dict[str, Any]:
    """Settings with no model anywhere: an empty models_dir (PICCL_MODELS_DIR would be read otherwise), no download."""
    empty = tmp_path / "no-models"
    empty.mkdir(exist_ok=True)
    return {"models_dir": empty, "inference": {"download": False}}


def _add_photos(ui: UI, folder: str, count: int, tags: Callable[[int], list[tuple[str, str]]] = lambda i: [],
                **fields: Any) -> list[int]:
    """``count`` photo rows in ``folder`` (no files: their thumbnails are placeholders), tagged by ``tags(i)``."""
    ids = []
    with ui.sessions() as session:
        for i in range(count):
            values = {"status": "ok", "content_hash": f"{i:064x}", **fields}
            photo = Photo(library_id=1, relpath=f"{folder}/p{i:03d}.jpg", size=1, mtime_ns=1,
                          **{k: (v(i) if callable(v) else v) for k, v in values.items()})
            photo.tags = [PhotoTag(kind=kind, tag=tag, score=0.9) for kind, tag in tags(i)]
            session.add(photo)
            session.flush()
            ids.append(photo.id)
        session.commit()
    return ids


def _tag(ui: UI, relpath: str, kind: str, tag: str) -> int:
    pid = ui.photo_id(relpath)
    with ui.sessions() as session:
        session.add(PhotoTag(photo_id=pid, kind=kind, tag=tag, score=0.8))
        session.commit()
    return pid


@pytest.fixture
def coco_ui(make_ui: Callable[..., UI], library: Path, testdata: Path, models_dir: Path) -> UI:
    """The synthetic library plus two real COCO photos in coco/, scanned with the real models, logged in."""
    source = testdata / "objects_coco_mini" / "train2017"
    (library / "coco").mkdir()
    for name, target in ((KITCHEN, "kitchen.jpg"), (CAT, "cat.jpg")):
        if not (source / name).is_file():
            pytest.skip(f"{source / name} is missing from the test data")
        shutil.copyfile(source / name, library / "coco" / target)
    ui = make_ui(models_dir=models_dir, inference={"download": False})
    assert ui.login().status_code == 302
    return ui


@pytest.fixture
def bare_ui(make_ui: Callable[..., UI], tmp_path: Path) -> UI:
    """The synthetic library scanned without models (fast; its tags are added by the tests), logged in."""
    ui = make_ui(ui={"page_size": 10}, **_no_models(tmp_path))
    assert ui.login().status_code == 302
    return ui


def test_photo_page_says_whats_in_a_real_photo(coco_ui: UI) -> None:
    # GIVEN a kitchen photo with a person, a microwave and books, scanned with the detector and the scene rule
    page = coco_ui.client.get(f"/photos/{coco_ui.photo_id('coco/kitchen.jpg')}")
    # WHEN its page is shown THEN "What's in it" names the scene, and why
    assert page.status_code == 200
    assert "What's in it" in page.text
    assert 'href="/tags/people?kind=scene"' in page.text and "people box covers" in page.text
    # AND the PICCL tags are chips linking to their tag pages
    for tag in ("person", "device", "book"):
        assert f'class="chip" href="/tags/{tag}?kind=piccl"' in page.text, tag
    assert 'href="/tags/animal?kind=piccl"' not in page.text
    # AND the objects are listed with a count when there are several, each linking to its own tag page
    assert 'href="/tags/microwave?kind=object">microwave</a>' in page.text
    assert re.search(r'>book</a> ×\d+', page.text)
    # AND the cat photo is an animal scene with the animal and furniture tags
    cat = coco_ui.client.get(f"/photos/{coco_ui.photo_id('coco/cat.jpg')}").text
    assert 'href="/tags/animal?kind=scene"' in cat and "animal box covers" in cat
    assert 'href="/tags/animal?kind=piccl"' in cat and 'href="/tags/furniture?kind=piccl"' in cat
    assert 'href="/tags/cat?kind=object">cat</a>' in cat


def test_tag_browser_counts_and_grids_real_detections(coco_ui: UI) -> None:
    kitchen, cat = coco_ui.photo_id("coco/kitchen.jpg"), coco_ui.photo_id("coco/cat.jpg")
    with coco_ui.sessions() as session:
        cats = len(session.scalars(select(PhotoTag.photo_id).where(PhotoTag.kind == "object",
                                                                   PhotoTag.tag == "cat")).all())
    assert cats >= 1
    # WHEN the tag list is opened THEN the PICCL tags come in the paper's order, then scenes, then objects, with counts
    index = coco_ui.client.get("/tags/").text
    assert 'href="/browse"' in index and 'href="/tags/">Tags</a>' in coco_ui.client.get("/browse").text  # the hub
    assert index.index('href="/tags/person?kind=piccl"') < index.index('href="/tags/animal?kind=piccl"')
    assert index.index('href="/tags/animal?kind=piccl"') < index.index('href="/tags/people?kind=scene"')
    assert index.index('href="/tags/people?kind=scene"') < index.index('href="/tags/cat?kind=object"')
    assert re.search(rf'href="/tags/cat\?kind=object">cat <span class="count">{cats}</span>', index)
    # WHEN a tag is opened THEN its grid has the photos with that tag only
    animals = walk_grid(coco_ui, "/tags/animal?kind=piccl")
    assert cat in animals and kitchen not in animals
    assert kitchen in walk_grid(coco_ui, "/tags/microwave?kind=object")
    # AND a tag's kind is found when not given; a tag that is no tag of that kind is a 404
    assert cat in walk_grid(coco_ui, "/tags/cat")
    assert coco_ui.client.get("/tags/cat?kind=scene").status_code == 404
    assert coco_ui.client.get("/tags/unicorn").status_code == 404
    # AND the library's folder grid filters by tag
    coco = "/library/1/folders?folder=coco"
    assert set(tile_ids(coco_ui.client.get(coco).text)) == {kitchen, cat}
    assert tile_ids(coco_ui.client.get(coco + "&tag=animal").text) == [cat]
    assert tile_ids(coco_ui.client.get(coco + "&tag=object:microwave").text) == [kitchen]


def test_without_models_the_page_says_not_installed(make_ui: Callable[..., UI], tmp_path: Path) -> None:
    # GIVEN a library scanned with no model installed and downloads off
    ui = make_ui(**_no_models(tmp_path))
    assert ui.login().status_code == 302
    pid = ui.photo_id("2024/sharp.jpg")
    with ui.sessions() as session:
        objects = session.scalar(select(Analysis).where(Analysis.photo_id == pid, Analysis.analyzer == "objects"))
        assert objects is not None and objects.evidence["not_installed"] == "model yolox_nano not installed"
    # WHEN its photo page is shown THEN it says so instead of tags and a scene
    page = ui.client.get(f"/photos/{pid}")
    assert page.status_code == 200
    assert "Tags: model not installed" in page.text and "Scene: model not installed" in page.text
    # AND the tag list is empty but fine
    index = ui.client.get("/tags/")
    assert index.status_code == 200 and "No photos with these yet." in index.text
    assert "No photos tagged person." in ui.client.get("/tags/person").text


def test_photos_without_those_analyses_still_show(bare_ui: UI) -> None:
    # GIVEN a photo from before the analyzers (no objects or scene rows), one whose analyzer failed,
    # and a row of a photo that could not be read at all
    old, failed = bare_ui.photo_id("2024/sharp.jpg"), bare_ui.photo_id("2024/shaky.jpg")
    with bare_ui.sessions() as session:
        session.execute(delete(Analysis).where(Analysis.photo_id == old, Analysis.analyzer.in_(("objects", "scene"))))
        for row in session.scalars(select(Analysis).where(Analysis.photo_id == failed,
                                                          Analysis.analyzer.in_(("objects", "scene")))):
            row.evidence = {"error": "RuntimeError: boom"}
        session.commit()
    [broken] = _add_photos(bare_ui, "bad", 1, status="error", error_reason="unreadable", content_hash=None)
    # WHEN their pages are shown THEN they render, without a "What's in it" or with what went wrong
    page = bare_ui.client.get(f"/photos/{old}")
    assert page.status_code == 200 and "What's in it" not in page.text
    page = bare_ui.client.get(f"/photos/{failed}")
    assert page.status_code == 200 and "Tags: failed" in page.text and "Scene: failed" in page.text
    assert bare_ui.client.get(f"/photos/{broken}").status_code == 200


def test_tag_grid_is_newest_first_and_pages_to_the_end(bare_ui: UI) -> None:
    # GIVEN 25 landscape photos over 25 days, two taken at the same moment, one undated,
    # and a trashed and a gone one with the same tag
    start = datetime(2023, 5, 1, 12)
    ids = _add_photos(bare_ui, "trip", 25, tags=lambda i: [("scene", "landscape"), ("piccl", "person")],
                      taken_at=lambda i: None if i == 7 else start + timedelta(days=min(i, 20)))
    hidden = _add_photos(bare_ui, "hidden", 2, tags=lambda i: [("scene", "landscape")], taken_at=start,
                         trashed_at=lambda i: start if i == 0 else None, gone_at=lambda i: start if i == 1 else None)
    with bare_ui.sessions() as session:
        taken = {p.id: p.taken_at for p in session.scalars(select(Photo).where(Photo.id.in_(ids)))}
    expected = sorted((pid for pid in ids if taken[pid]), key=lambda pid: (taken[pid], pid), reverse=True)
    expected.append(ids[7])  # the undated one comes last
    # WHEN the tag's page is opened and scrolled to the end (10 a page)
    first = bare_ui.client.get("/tags/landscape?kind=scene")
    assert len(tile_ids(first.text)) == 10 and "/tags/landscape/tiles?kind=scene&amp;cursor=" in first.text
    shown = walk_grid(bare_ui, "/tags/landscape?kind=scene")
    # THEN every photo comes once, newest first (ties by id), none trashed or gone
    assert shown == expected
    assert not set(hidden) & set(shown)
    # AND the tag list counts the photos shown
    assert 'href="/tags/landscape?kind=scene">landscape <span class="count">25</span>' in bare_ui.client.get(
        "/tags/").text


def test_folder_grid_filters_by_tag(bare_ui: UI) -> None:
    # GIVEN tags on some photos of 2024, and a folder of 25 photos of which every other one shows a dog
    sharp = _tag(bare_ui, "2024/sharp.jpg", "piccl", "person")
    blurry = _tag(bare_ui, "2024/blurry.jpg", "scene", "landscape")
    _tag(bare_ui, "2023/dark.jpg", "piccl", "person")
    many = _add_photos(bare_ui, "many", 25, tags=lambda i: [("object", "dog"), ("piccl", "animal")] if i % 2 else [])
    # WHEN the folder is filtered THEN only its photos with that tag are in the grid
    page = bare_ui.client.get("/library/1/folders?folder=2024&tag=person")
    assert page.status_code == 200 and tile_ids(page.text) == [sharp]
    assert '<option value="person" selected>' in page.text
    assert tile_ids(bare_ui.client.get("/library/1/folders?folder=2024&tag=scene:landscape").text) == [blurry]
    nothing = bare_ui.client.get("/library/1/folders?folder=2024&tag=object:dog").text
    assert tile_ids(nothing) == [] and "No photos tagged dog in this folder." in nothing
    assert len(tile_ids(bare_ui.client.get("/library/1/folders?folder=2024").text)) == 3
    # AND the filter pages like the grid it filters, and follows into subfolders
    assert walk_grid(bare_ui, "/library/1/folders?folder=many&tag=object:dog") == many[1::2]
    assert walk_grid(bare_ui, "/library/1/folders?folder=many&tag=dog") == many[1::2]
    root = bare_ui.client.get("/library/1/folders?tag=person").text
    assert "/library/1/folders?folder=2024&amp;tag=person" in root
    # AND a tag that is none is a 404, not an unfiltered grid
    assert bare_ui.client.get("/library/1/folders?folder=2024&tag=unicorn").status_code == 404
    assert bare_ui.client.get("/library/1/folders?folder=2024&tag=scene:dog").status_code == 404


def test_tag_pages_need_a_login(make_ui: Callable[..., UI], tmp_path: Path) -> None:
    ui = make_ui(**_no_models(tmp_path))
    for url in ("/tags/", "/tags/person", "/tags/person/tiles?kind=piccl", "/library/1/folders?tag=person"):
        # WHEN someone not logged in opens a tag page THEN they are sent to the login
        response = ui.client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
