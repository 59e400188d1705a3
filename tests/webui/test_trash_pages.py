"""The trash page: restore, and empty for good only after a confirmation."""

from __future__ import annotations

import re

from tests.webui.conftest import UI


def _trash(ui: UI, relpath: str) -> int:
    pid = ui.photo_id(relpath)
    assert ui.post_json("/api/decisions", {"photo_ids": [pid], "decision": "trash"}).json["done"] == [pid]
    return pid


def _entry_ids(ui: UI) -> list[int]:
    return [int(v) for v in re.findall(r'name="entry_id" value="(\d+)"', ui.client.get("/trash/").text)]


def test_restore_from_the_trash_page(logged_in: UI) -> None:
    pid = _trash(logged_in, "2024/blurry.jpg")
    [entry] = _entry_ids(logged_in)
    response = logged_in.client.post("/trash/restore", data={"entry_id": str(entry), "csrf_token": logged_in.csrf()})
    assert response.status_code == 302
    assert (logged_in.library / "2024" / "blurry.jpg").exists()
    # restoring from the trash is a decision to keep: the photo does not come back to the queue
    assert pid not in [i["id"] for i in logged_in.client.get("/api/review/blurry").json["items"]]


def test_empty_needs_confirmation_and_keeps_recent_photos(logged_in: UI) -> None:
    _trash(logged_in, "2024/blurry.jpg")
    in_trash = logged_in.library / ".piccl-trash" / "2024" / "blurry.jpg"
    # WHEN emptying is posted without the confirmation field THEN nothing is deleted
    logged_in.client.post("/trash/empty", data={"csrf_token": logged_in.csrf(), "scope": "all"})
    assert in_trash.exists()
    assert logged_in.post_json("/api/trash/empty", {"everything": True}).status_code == 400
    # WHEN confirmed with the default scope THEN a photo trashed today stays (retention period)
    assert "Delete for good" in logged_in.client.get("/trash/empty").text
    logged_in.client.post("/trash/empty", data={"csrf_token": logged_in.csrf(), "confirm": "delete",
                                                "scope": "expired"})
    assert in_trash.exists()
    # WHEN the user asks for everything THEN it is deleted for good, sidecar included
    logged_in.client.post("/trash/empty", data={"csrf_token": logged_in.csrf(), "confirm": "delete", "scope": "all"})
    assert not in_trash.exists() and not in_trash.with_name("blurry.jpg.xmp").exists()
    assert _entry_ids(logged_in) == []
