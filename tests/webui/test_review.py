"""The review queue: tabs with counts, keep or trash (one or many), undo, and pages that never load all rows."""

from __future__ import annotations

import hashlib
import html
import re

from sqlalchemy import insert, select

from plugin.store.models import Photo, PhotoTag, Recommendation
from tests.webui.conftest import UI


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_tabs_show_counts_and_the_worst_first(logged_in: UI) -> None:
    page = logged_in.client.get("/review/blurry")
    assert page.status_code == 200
    counts = logged_in.client.get("/api/review/counts").json
    assert counts == {"blurry": 2, "dark": 1, "duplicate": 0, "similar": 0}
    assert re.search(r'Blurry <span class="count">2</span>', page.text)
    items = logged_in.client.get("/api/review/blurry").json["items"]
    assert sorted(i["name"] for i in items) == ["blurry.jpg", "shaky.jpg"]
    widths = [float(re.findall(r"([\d.]+)px edges", i["caption"])[0]) for i in items]
    assert widths == sorted(widths, reverse=True)  # the widest edges (the blurriest) first


def test_keep_takes_a_photo_out_of_the_queue_and_undo_brings_it_back(logged_in: UI) -> None:
    pid = logged_in.photo_id("2024/shaky.jpg")
    result = logged_in.post_json("/api/decisions", {"photo_ids": [pid], "decision": "keep"}).json
    assert result["done"] == [pid] and result["counts"]["blurry"] == 1
    assert (logged_in.library / "2024" / "shaky.jpg").exists()  # keeping touches no file
    assert logged_in.post_json("/api/undo", {"photo_ids": [pid]}).json["counts"]["blurry"] == 2


def test_trash_moves_photo_and_sidecar_and_undo_restores_the_same_bytes(logged_in: UI) -> None:
    # GIVEN a blurry photo with a sidecar
    original = logged_in.library / "2024" / "blurry.jpg"
    before = _digest(original.read_bytes())
    pid = logged_in.photo_id("2024/blurry.jpg")
    # WHEN it is trashed from the grid
    result = logged_in.post_json("/api/decisions", {"photo_ids": [pid], "decision": "trash"}).json
    # THEN it leaves the queue and the library, into the trash folder with its sidecar
    assert result["done"] == [pid] and result["counts"]["blurry"] == 1
    trash = logged_in.library / ".piccl-trash" / "2024"
    assert not original.exists() and (trash / "blurry.jpg").exists() and (trash / "blurry.jpg.xmp").exists()
    assert pid not in [i["id"] for i in logged_in.client.get("/api/review/blurry").json["items"]]
    # AND the trash page lists it, and its photo page still shows it
    assert "blurry.jpg" in logged_in.client.get("/trash/").text
    assert logged_in.client.get(f"/photos/{pid}/thumb/sm").mimetype == "image/jpeg"
    # WHEN the user undoes it
    undone = logged_in.post_json("/api/undo", {"photo_ids": [pid]}).json
    # THEN the same bytes are back where they were, and so is the queue entry
    assert undone["done"] == [pid] and undone["counts"]["blurry"] == 2
    assert _digest(original.read_bytes()) == before
    assert (logged_in.library / "2024" / "blurry.jpg.xmp").exists()


def test_many_at_once(logged_in: UI) -> None:
    ids = [logged_in.photo_id("2024/blurry.jpg"), logged_in.photo_id("2024/shaky.jpg")]
    result = logged_in.post_json("/api/decisions", {"photo_ids": ids, "decision": "trash"}).json
    assert sorted(result["done"]) == sorted(ids) and result["counts"]["blurry"] == 0
    bad = logged_in.post_json("/api/decisions", {"photo_ids": ["1; DROP TABLE"], "decision": "trash"})
    assert bad.status_code == 400


def test_photo_page_keep_and_trash_are_plain_forms_with_undo(logged_in: UI) -> None:
    # GIVEN the photo page of the worst blurry photo, opened from the Blurry tab
    first, second = (i["id"] for i in logged_in.client.get("/api/review/blurry").json["items"])
    name = logged_in.client.get(f"/api/photos/{first}").json["name"]
    page = logged_in.client.get(f"/photos/{first}?reason=blurry")
    assert f'href="/photos/{second}?reason=blurry"' in page.text  # next in the queue
    # WHEN Trash is tapped
    response = logged_in.client.post(f"/photos/{first}/decide",
                                     data={"decision": "trash", "reason": "blurry", "csrf_token": logged_in.csrf()})
    # THEN the next photo of the queue opens, with an Undo for the one just trashed
    assert response.headers["Location"] == f"/photos/{second}?reason=blurry"
    next_page = logged_in.client.get(response.headers["Location"])
    assert f"Trashed {name}." in next_page.text and 'action="/photos/undo"' in next_page.text
    # WHEN Undo is tapped THEN the photo is back in place and in the queue
    logged_in.client.post("/photos/undo", data={"photo_id": str(first), "reason": "blurry",
                                                "csrf_token": logged_in.csrf()})
    assert (logged_in.library / "2024" / name).exists()
    assert logged_in.client.get("/api/review/counts").json["blurry"] == 2


def test_pages_are_keyset_pages_that_cover_the_queue_once(make_ui) -> None:
    # GIVEN 125 flagged rows and a page size of 20
    ui = make_ui(ui={"page_size": 20})
    with ui.sessions() as session:
        ids = []
        for n in range(125):
            pid = session.execute(insert(Photo).values(library_id=1, relpath=f"gen/{n}.jpg", folder="gen", size=1,
                                                       mtime_ns=1, status="ok").returning(Photo.id)).scalar_one()
            ids.append(pid)
        session.execute(insert(Recommendation), [
            {"photo_id": pid, "reason": "dark", "severity": 1 + (n % 7) / 10, "evidence": {"score": 0.6}}
            for n, pid in enumerate(ids)])
        session.commit()
    assert ui.login().status_code == 302
    # WHEN the grid is scrolled to the end
    seen: list[int] = []
    cursor = None
    for _ in range(20):
        page = ui.client.get("/api/review/dark" + (f"?cursor={cursor}" if cursor else "")).json
        assert len(page["items"]) <= 20
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # THEN every photo came exactly once, worst first
    assert len(seen) == len(set(seen)) == 126
    html = ui.client.get("/review/dark").text
    assert html.count('class="tile"') == 20 and 'data-more="/review/dark/tiles?cursor=' in html


def test_library_by_folder_and_by_date(logged_in: UI) -> None:
    root = logged_in.client.get("/library/", follow_redirects=True)
    assert root.status_code == 200 and ">2023<" in root.text and ">2024<" in root.text
    folder = logged_in.client.get("/library/1/folders?folder=2024")
    assert folder.text.count('class="tile"') == 3
    dates = logged_in.client.get("/library/1/dates")
    month = re.search(r'href="(/library/1/dates/\d+/\d+)"', dates.text)
    assert month is not None
    assert logged_in.client.get(month.group(1)).text.count('class="tile"') >= 1
    assert logged_in.client.get("/library/1/folders?folder=nope").status_code == 404


def test_the_library_page_says_how_the_sidecars_stand(logged_in: UI) -> None:
    from plugin.writeback.queue import WritebackJob, writeback_status

    # GIVEN one photo whose sidecar cannot be written (another program left a broken one), the others fine
    with logged_in.sessions() as session:
        photo = session.scalars(select(Photo).where(Photo.status == "ok", Photo.gone_at.is_(None),
                                                    Photo.trashed_at.is_(None)).order_by(Photo.id)).first()
        assert photo is not None
        session.add(PhotoTag(photo_id=photo.id, kind="piccl", tag="animal", score=0.9))
        session.commit()
        relpath = photo.relpath
    (logged_in.library / f"{relpath}.xmp").write_text("<broken")
    WritebackJob(logged_in.sessions, logged_in.settings).run()
    # WHEN the library's root page is opened
    page = html.unescape(logged_in.client.get("/library/", follow_redirects=True).text)
    # THEN it counts the sidecars and names the failure with its reason (the fixture's own blurry.jpg.xmp,
    # '<x:xmpmeta/>' with no namespace, is not XML either, and is refused the same way when it has tags)
    with logged_in.sessions() as session:
        failed = writeback_status(session).failed
    assert failed >= 1 and "XMP sidecars:" in page and f"{failed} failed" in page
    assert f"{relpath}: {relpath.rpartition('/')[2]}.xmp: not valid XML" in page
