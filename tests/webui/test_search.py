"""The search box and the timeline in the review UI."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from plugin.store.models import Photo, PhotoTag
from tests.webui.conftest import UI


def _facts(ui: UI) -> None:
    """GIVEN dates and a tag on the library's photos."""
    with ui.sessions() as session:
        for relpath, taken in (("2024/sharp.jpg", datetime(2024, 3, 2, 9)),
                               ("2024/blurry.jpg", datetime(2024, 3, 5, 9)),
                               ("2024/shaky.jpg", datetime(2023, 7, 1, 9)), ("2023/dark.jpg", None)):
            session.execute(update(Photo).where(Photo.relpath == relpath).values(taken_at=taken))
        session.add(PhotoTag(photo_id=ui.photo_id("2024/sharp.jpg"), kind="object", tag="dog", score=0.9))
        session.commit()


def test_search_shows_how_it_read_the_query_and_the_photos(logged_in: UI) -> None:
    _facts(logged_in)
    page = logged_in.client.get("/search?q=dog+2024")
    assert page.status_code == 200
    assert "dog <small>tag</small>" in page.text and "2024 <small>date</small>" in page.text
    assert "1 photo" in page.text and f"/photos/{logged_in.photo_id('2024/sharp.jpg')}" in page.text
    assert f"/photos/{logged_in.photo_id('2024/blurry.jpg')}\"" not in page.text
    # A word that is nothing else looks in file names
    assert f"/photos/{logged_in.photo_id('2023/dark.jpg')}" in logged_in.client.get("/search?q=dark").text
    assert "No photos match" in logged_in.client.get("/search?q=dog+1999").text
    assert logged_in.client.get("/search?q=aug+0000").status_code == 200  # no crash on an impossible date
    assert logged_in.client.get("/search").status_code == 200


def test_timeline_by_month(logged_in: UI) -> None:
    _facts(logged_in)
    page = logged_in.client.get("/timeline")
    assert page.status_code == 200
    assert page.text.index("March 2024") < page.text.index("July 2023")
    month = logged_in.client.get("/timeline/2024/3")
    assert month.status_code == 200
    assert f"/photos/{logged_in.photo_id('2024/sharp.jpg')}" in month.text
    assert f"/photos/{logged_in.photo_id('2024/shaky.jpg')}" not in month.text
    assert logged_in.client.get("/timeline/2024/13").status_code == 404


def test_search_needs_a_login(ui: UI) -> None:
    assert ui.client.get("/search?q=dog").status_code == 302


def test_the_photos_hub_links_every_view(logged_in: UI) -> None:
    hub = logged_in.client.get("/browse").text
    for link in ('href="/timeline"', 'href="/tags/"', 'href="/library/"', 'action="/search"'):
        assert link in hub
