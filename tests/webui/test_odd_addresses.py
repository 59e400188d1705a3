"""Addresses and requests asking for what no row can hold: a NUL in a name, a number past 64 bits.

Each is answered as anything else that matches nothing, on every database: PostgreSQL refuses a NUL in a query
and a number past 64 bits as an OFFSET, and SQLite cannot bind such a number at all.
"""

from __future__ import annotations

from sqlalchemy import select

from plugin.store.models import Library
from tests.webui.conftest import UI, tile_ids


def _answer(ui: UI, url: str) -> tuple[int, list[int], bool]:
    response = ui.client.get(url)
    return response.status_code, tile_ids(response.text), "No photos match" in response.text


def test_a_nul_in_a_name_looked_for_finds_nothing(logged_in: UI) -> None:
    # GIVEN a scanned library, logged in
    with logged_in.sessions() as session:
        library_id = session.scalar(select(Library.id))
    folders = f"/library/{library_id}/folders"
    for odd, plain in [("/search?q=sharp%00", "/search?q=nosuchname"),
                       ("/search/tiles?q=2024%00", "/search/tiles?q=nosuchname"),
                       (f"{folders}/tiles?folder=2024%00", f"{folders}/tiles?folder=nosuchfolder"),
                       (f"{folders}?folder=2024%00", f"{folders}?folder=nosuchfolder"),
                       ("/places/FR/city?name=Paris%00", "/places/FR/city?name=Nowhere"),
                       ("/places/FR/city/tiles?name=Paris&region=%00", "/places/FR/city/tiles?name=Nowhere")]:
        # WHEN a search, a folder or a city is asked for with a NUL in its name
        # THEN the answer is the one for a name nothing has
        assert _answer(logged_in, odd) == _answer(logged_in, plain), odd
    assert _answer(logged_in, "/search?q=sharp%00")[:2] == (200, [])
    # AND the same name without the NUL still finds its photo
    assert tile_ids(logged_in.client.get("/search?q=sharp").text) == [logged_in.photo_id("2024/sharp.jpg")]


def test_a_cursor_or_an_offset_past_64_bits_starts_from_the_beginning(logged_in: UI) -> None:
    # GIVEN a scanned library, logged in
    huge = "9" * 20
    for url in ["/review/blurry", "/review/dark/tiles", "/trash/", "/timeline/2024/1", "/people/unassigned",
                "/albums/favourites", "/events/"]:
        # WHEN a page is asked for after a photo whose id no database can hold
        # THEN it is the first page, as for a cursor that names no photo
        assert _answer(logged_in, f"{url}?cursor={huge}") == _answer(logged_in, url), url
    odd, plain = logged_in.client.get(f"/api/review/dark?cursor={huge}"), logged_in.client.get("/api/review/dark")
    assert odd.status_code == 200 and odd.json == plain.json
    # AND the people cards asked for from such an offset start from the first
    assert logged_in.client.get(f"/people/cards?offset={huge}").status_code == 200
    # AND a digit that is no number is no cursor either
    assert logged_in.client.get("/review/blurry?cursor=²").status_code == 200


def test_an_id_past_64_bits_in_a_request_is_refused_as_no_id(logged_in: UI) -> None:
    # GIVEN a scanned library, logged in
    token = logged_in.csrf()
    for url, body in [("/api/decisions", {"photo_ids": [2**64], "decision": "keep"}),
                      ("/api/undo", {"photo_ids": [-(2**64)]}),
                      ("/api/gif", {"photo_ids": [2**64, 2**64 + 1]})]:
        # WHEN an API call names a photo by an id no database can hold
        response = logged_in.client.post(url, json=body, headers={"X-CSRFToken": token})
        # THEN it is refused, as any other id that is not one
        assert response.status_code == 400 and "ids" in response.json["message"], url


def test_an_album_id_past_64_bits_in_a_form_names_no_album(logged_in: UI) -> None:
    # GIVEN a photo's page, logged in
    photo_id = logged_in.photo_id("2024/sharp.jpg")
    # WHEN "Add to album" posts an album id no database can hold
    response = logged_in.client.post(f"/albums/photo/{photo_id}/add", data={"album_id": "9" * 20,
                                                                            "csrf_token": logged_in.csrf()})
    # THEN it is refused as a request without an album, not a server error
    assert response.status_code == 400
