"""Private by default: every route needs the login, every state change a CSRF token."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.webui.conftest import UI

SAMPLE_ARGS = {"reason": "blurry", "photo_id": 1, "library_id": 1, "size": "sm", "year": 2024, "month": 1,
               "tag": "person", "person_id": 1, "face_id": 1, "group_id": 1, "album_id": 1,
               "code": "FR", "event_id": 1}
# /healthz is public on purpose (Docker calls it) and says nothing about the photos: tests/webui/test_health.py.
PUBLIC = {"auth.login", "auth.setup", "static", "health.healthz"}


def _routes(ui: UI, method: str) -> list[tuple[str, str]]:
    routes = []
    for rule in ui.app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or method not in (rule.methods or set()):
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = url.replace(f"<int:{arg}>", str(SAMPLE_ARGS[arg])).replace(f"<{arg}>", str(SAMPLE_ARGS[arg]))
        routes.append((rule.endpoint, url))
    return routes


def test_every_route_needs_the_login(ui: UI) -> None:
    # GIVEN no login
    routes = _routes(ui, "GET") + _routes(ui, "POST")
    assert len(routes) > 15
    for endpoint, url in routes:
        # WHEN any route is asked for
        method = "POST" if (endpoint, url) in _routes(ui, "POST") else "GET"
        response = ui.client.open(url, method=method, headers={"X-CSRFToken": ui.csrf()})
        # THEN pages send to the login and the API answers 401
        if url.startswith("/api/"):
            assert response.status_code == 401, (endpoint, url)
        else:
            assert response.status_code == 302 and "/login" in response.headers["Location"], (endpoint, url)


def test_every_post_needs_a_csrf_token(logged_in: UI) -> None:
    # GIVEN a logged-in session
    for endpoint, url in _routes(logged_in, "POST"):
        # WHEN a state change comes without the token (a form from another site)
        response = logged_in.client.post(url, data={"decision": "trash", "photo_id": "1", "entry_id": "1"})
        # THEN it is refused and nothing happens
        assert response.status_code == 400, (endpoint, url)
    assert (logged_in.library / "2024" / "blurry.jpg").exists()


def test_login_with_a_wrong_password_is_refused_and_rate_limited(ui: UI) -> None:
    # WHEN the password is wrong THEN the login page says so
    response = ui.login("not the password")
    assert response.status_code == 401 and "Wrong name or password" in response.text
    # WHEN someone keeps guessing THEN they are slowed down
    codes = [ui.login(f"guess {i}").status_code for i in range(12)]
    assert 429 in codes
    assert ui.client.get("/review/blurry").status_code == 302


def test_login_sets_a_private_cookie_and_security_headers(ui: UI) -> None:
    # WHEN the household logs in
    response = ui.login()
    # THEN the session cookie is HttpOnly and SameSite, and pages forbid framing and foreign scripts
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = ui.client.get("/review/blurry")
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_login_never_redirects_to_another_site(ui: UI) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        token = ui.csrf()
        response = ui.client.post(f"/login?next={target}",
                                  data={"username": "piccl", "password": "correct horse battery", "csrf_token": token})
        assert response.headers["Location"] == "/", target
        ui.client.post("/logout", data={"csrf_token": ui.csrf()})


def test_first_run_asks_for_a_password(make_ui: Callable[..., UI]) -> None:
    # GIVEN no password configured and no account yet
    ui = make_ui(password=None)
    # WHEN the first visitor arrives THEN they are asked to set the password
    assert ui.client.get("/review/blurry").headers["Location"].endswith("/setup")
    token = ui.csrf()
    short = ui.client.post("/setup", data={"password": "short", "confirm": "short", "csrf_token": token})
    assert "at least 8" in short.text
    done = ui.client.post("/setup", data={"password": "a long password", "confirm": "a long password",
                                          "csrf_token": token})
    assert done.status_code == 302
    assert ui.client.get("/review/blurry").status_code == 200
    # AND once set, setup is closed to everyone else
    other = ui.app.test_client()
    assert other.get("/setup").headers["Location"].endswith("/login")


def test_a_new_password_ends_old_logins(make_ui: Callable[..., UI], logged_in: UI) -> None:
    # GIVEN a device logged in with the old password
    assert logged_in.client.get("/review/blurry").status_code == 200
    # WHEN piccl restarts with a new PICCL_PASSWORD (same database)
    make_ui(password="a brand new password")
    # THEN the old login no longer works
    assert logged_in.client.get("/review/blurry").status_code == 302


def test_login_can_be_turned_off_but_csrf_stays(make_ui: Callable[..., UI]) -> None:
    # GIVEN login explicitly turned off for a trusted LAN
    ui = make_ui(ui={"login_required": False})
    # THEN pages open without a login, but a state change still needs the token
    assert ui.client.get("/review/blurry").status_code == 200
    assert ui.client.post("/api/decisions", json={"photo_ids": [1], "decision": "keep"}).status_code == 400


@pytest.mark.parametrize("path", ["/setup", "/login"])
def test_public_pages_render(ui: UI, path: str) -> None:
    assert ui.client.get(path).status_code in (200, 302)
