"""/healthz: reachable without a login (Docker calls it), 200 while every part runs, 503 naming one that does not."""

from __future__ import annotations

from typing import Any

from tests.webui.conftest import UI


def test_healthz_needs_no_login_and_reports_the_parts(ui: UI) -> None:
    # GIVEN the UI with nobody logged in
    # WHEN Docker's health check calls /healthz
    response = ui.client.get("/healthz")
    # THEN it answers 200 with the state of each part and of the database, and nothing about the photos
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["parts"]["web"]["state"] == "running"
    assert "photos" not in response.text


def test_healthz_answers_503_when_a_part_is_down(ui: UI) -> None:
    # GIVEN `piccl run`'s supervisor reporting its analysis part left stopped
    def report() -> dict[str, Any]:
        return {"ok": False, "parts": {"web": {"state": "running"},
                                       "analysis": {"state": "failed", "last_failure": "SystemExit: escaped"}}}

    ui.app.config["PICCL_HEALTH"] = report
    # WHEN /healthz is called without a login
    response = ui.client.get("/healthz")
    # THEN it is 503 and names the part, but not why it failed (that can name a folder)
    assert response.status_code == 503
    assert response.get_json()["status"] == "failing"
    assert response.get_json()["parts"]["analysis"] == {"state": "failed"}
    # WHEN the household asks, logged in THEN it says why
    ui.login()
    assert ui.client.get("/healthz").get_json()["parts"]["analysis"]["last_failure"] == "SystemExit: escaped"
