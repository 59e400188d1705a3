"""The review UI in a real browser on a phone: log in, trash from the grid and from a photo page, undo both;
name a person on the People page and find the name on their photo; review groups of copies one at a time.

Runs Debian's Chromium through Playwright against the app served by waitress, on a library scanned from
real blurred photos ($PICCL_TESTDATA/blur_deblurgen), or real copies ($PICCL_TESTDATA/neardup_imagededup).
Screenshots land in $PICCL_SCREENSHOTS (or the test's tmp folder) for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from plugin.config import Settings
from plugin.grouping.service import group_of, group_photos
from plugin.people.service import refresh_people
from plugin.scan import Scanner
from plugin.store.models import Face, Person, Photo
from webui import create_app
from webui.extensions import limiter

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "correct horse battery"
PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
                         "is_mobile": True, "has_touch": True}
NO_CHROMIUM = f"{CHROMIUM} is missing: this test drives Debian's chromium (apt-get install chromium)"
pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason=NO_CHROMIUM)
# Reported by Chromium as console errors too; listened for explicitly so none can slip by.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} in ${e.sourceFile}`);
});
"""


@dataclass
class Served:
    url: str
    library: Path
    sessions: sessionmaker[Session]
    trash_dir_name: str

    def relpath(self, photo_id: int) -> str:
        with self.sessions() as session:
            photo = session.get(Photo, photo_id)
            assert photo is not None, photo_id
            return photo.relpath


@dataclass
class Problems:
    """Console errors, uncaught exceptions and CSP violations seen by the page."""

    errors: list[str] = field(default_factory=list)

    def on_console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url')})")

    def on_page_error(self, error: Any) -> None:
        self.errors.append(f"pageerror: {error}")


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PICCL_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def serving(library: Path, settings: Settings, sessions: sessionmaker[Session]) -> Iterator[Served]:
    """The review UI over a scanned library on waitress, on a free port of 127.0.0.1."""
    from waitress import create_server

    app = create_app(settings, sessions)
    limiter.reset()  # login attempts are counted per process: other tests' logins from 127.0.0.1 must not count
    server = create_server(app, host="127.0.0.1", port=0, threads=4, ident="piccl", clear_untrusted_proxy_headers=True)
    stopping = threading.Event()

    def run() -> None:
        try:
            server.run()
        except OSError:
            # Closing the sockets below races the loop's select(): a bad descriptor then means "stopped".
            if not stopping.is_set():
                raise

    thread = threading.Thread(target=run, name="piccl-web-test", daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{server.effective_port}", library.resolve(), sessions,
                     settings.trash_dir_name)
    finally:
        stopping.set()
        server.close()
        for channel in list(server._map.values()):  # keep-alive connections still open
            channel.close()
        server.task_dispatcher.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def served(testdata: Path, tmp_path: Path, settings_for: Callable[..., Settings],
           sessions: sessionmaker[Session]) -> Iterator[Served]:
    """A scanned library of blurred photos, served."""
    source = testdata / "blur_deblurgen"
    if not (source / "level1").is_dir() or not (source / "level2").is_dir():
        pytest.skip(f"{source} lacks level1/ and level2/")
    library = tmp_path / "lib"
    for level in ("level1", "level2"):
        shutil.copytree(source / level, library / level)
    settings = settings_for(library, password=PASSWORD, workers={"kind": "thread"})
    Scanner(settings, sessions).scan(library)
    with serving(library, settings, sessions) as found:
        yield found


@pytest.fixture
def served_copies(testdata: Path, tmp_path: Path, settings_for: Callable[..., Settings],
                  sessions: sessionmaker[Session]) -> Iterator[Served]:
    """Two groups of real copies, scanned (no models: copies are found by hashes), grouped and served: the soy
    sauce photo as two JPEGs and a WebP (taken 2006), the toy photo twice (taken 2005)."""
    base = testdata / "neardup_imagededup" / "base_images"
    webp = testdata / "neardup_imagededup" / "formats_images" / "ukbench09380.webp"
    if not (base / "ukbench09380.jpg").is_file() or not webp.is_file():
        pytest.skip(f"{base.parent} lacks base_images/ukbench09380.jpg or formats_images/ukbench09380.webp")
    library = tmp_path / "lib"
    copies = {"trip/IMG_0001.jpg": base / "ukbench09380.jpg", "trip/IMG_0001 copy.jpg": base / "ukbench09380.jpg",
              "trip/IMG_0001.webp": webp, "home/x.jpg": base / "ukbench00120.jpg",
              "home/y.jpg": base / "ukbench00120.jpg"}
    for relpath, source in copies.items():
        (library / relpath).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, library / relpath)
    no_models = tmp_path / "no-models"
    no_models.mkdir()
    settings = settings_for(library, password=PASSWORD, workers={"kind": "thread"}, models_dir=no_models)
    Scanner(settings, sessions).scan(library)
    group_photos(sessions, settings.similar)
    with serving(library, settings, sessions) as found:
        yield found


@pytest.fixture
def phone() -> Iterator[tuple[Any, Problems]]:
    """A page in headless Chromium at a phone's viewport, and what went wrong on it."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=["--no-sandbox", "--disable-dev-shm-usage"])
        context = browser.new_context(**PHONE)
        context.set_default_timeout(10_000)
        context.add_init_script(CSP_LISTENER)
        page = context.new_page()
        problems = Problems()
        page.on("console", problems.on_console)
        page.on("pageerror", problems.on_page_error)
        try:
            yield page, problems
        finally:
            context.close()
            browser.close()


def blurry_count(page: Any) -> Any:
    return page.locator('.tabs a[data-reason="blurry"] .count')


def snap(page: Any, folder: Path, name: str) -> None:
    """A full-page screenshot for a person to look at; and nothing wider than the phone's screen."""
    page.screenshot(path=folder / f"{name}.png", full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["viewport"]["width"], f"{name}: the page is {width} px wide, wider than the phone"


def test_phone_user_trashes_and_undoes_from_the_grid_and_a_photo_page(
        served: Served, phone: tuple[Any, Problems], screenshots: Path) -> None:
    from playwright.sync_api import expect

    page, problems = phone
    trash_root = served.library / served.trash_dir_name

    # GIVEN a scanned library with blurry photos, served behind the household password
    # WHEN the user opens piccl on a phone
    page.goto(served.url + "/")
    # THEN the login form asks for the password
    expect(page).to_have_url(re.compile(r"/login"))
    login = page.locator("form.login")
    expect(login.get_by_label("Password")).to_be_visible()
    page.wait_for_load_state("networkidle")  # a person types after the page (and its favicon fetch) has settled
    snap(page, screenshots, "01-login")

    # WHEN the user logs in through the form
    login.get_by_label("Name").fill("piccl")
    login.get_by_label("Password").fill(PASSWORD)
    login.get_by_role("button", name="Log in").tap()
    # THEN the first try lets them in (the browser's own /favicon.ico request must not spoil the form's CSRF token)
    expect(page.locator("main"), "the login form was refused").not_to_contain_text("The form has expired")
    expect(page, "logging in through the form failed").not_to_have_url(re.compile(r"/login"))
    # WHEN the user opens the Blurry tab
    blurry_tab = page.locator('.tabs a[data-reason="blurry"]')
    blurry_tab.tap()
    # THEN the Blurry queue's grid shows tiles, worst first, with the count in the tab
    expect(page).to_have_url(re.compile(r"/review/blurry$"))
    expect(blurry_tab).to_have_class(re.compile(r"\bon\b"))
    tiles = page.locator("#grid .tile")
    expect(tiles.first).to_be_visible()
    count = int(blurry_count(page).inner_text())
    assert count >= 2, f"the scan found only {count} blurry photos in blur_deblurgen"
    expect(tiles.first.locator("img")).to_have_js_property("complete", True)
    snap(page, screenshots, "02-review-grid")

    # WHEN the user taps a tile's Trash button
    tile = tiles.first
    photo_id = int(tile.get_attribute("data-id") or "0")
    relpath = served.relpath(photo_id)
    original = served.library / relpath
    in_trash = trash_root / relpath
    content = original.read_bytes()
    tile.locator('button[data-act="trash"]').tap()
    # THEN the tile leaves the grid, the count drops by one, and a toast offers Undo
    expect(page.locator(f'#grid .tile[data-id="{photo_id}"]')).to_have_count(0)
    expect(blurry_count(page)).to_have_text(str(count - 1))
    toast = page.locator("#toast")
    expect(toast).to_be_visible()
    expect(toast).to_contain_text(f"Trashed {original.name}")
    snap(page, screenshots, "03-trashed-toast")
    # AND the file moved into the library's trash folder, under the same relative path
    assert in_trash.read_bytes() == content
    assert not original.exists()

    # WHEN the user taps Undo in the toast
    toast.get_by_role("button", name="Undo").tap()
    # THEN the photo is back in the queue, and its file back in place, byte for byte
    expect(page.locator(f'#grid .tile[data-id="{photo_id}"]')).to_have_count(1)
    expect(blurry_count(page)).to_have_text(str(count))
    assert original.read_bytes() == content
    assert not in_trash.exists()

    # WHEN the user taps a tile to open its photo page
    tile = tiles.first
    photo_id = int(tile.get_attribute("data-id") or "0")
    relpath = served.relpath(photo_id)
    original, in_trash = served.library / relpath, trash_root / relpath
    content = original.read_bytes()
    tile.locator("a").tap()
    # THEN the evidence panel shows the edge width against the threshold
    expect(page).to_have_url(re.compile(rf"/photos/{photo_id}\?reason=blurry$"))
    evidence = page.locator("section.evidence")
    expect(evidence.locator("dt", has_text="Edge width")).to_be_visible()
    expect(evidence.locator("dd").first).to_have_text(
        re.compile(r"^\d+\.\d\d px against a threshold of \d+\.\d\d px \(wider is blurrier\)$"))
    expect(evidence.locator(".badge.bad", has_text="blurry")).to_be_visible()
    expect(page.locator("#viewer img")).to_have_js_property("complete", True)
    snap(page, screenshots, "04-photo-page")

    # WHEN the user presses Trash on the photo page (a plain form)
    page.locator('#decide button[value="trash"]').tap()
    # THEN the next photo opens with a flash offering Undo, and the file is in the trash
    expect(page).not_to_have_url(re.compile(rf"/photos/{photo_id}\?"))
    expect(page).to_have_url(re.compile(r"/photos/\d+\?reason=blurry$"))
    flash = page.locator("form.flash.undo")
    expect(flash).to_contain_text(f"Trashed {Path(relpath).name}.")
    expect(flash.get_by_role("button", name="Undo")).to_be_visible()
    snap(page, screenshots, "05-photo-trashed-flash")
    assert in_trash.read_bytes() == content
    assert not original.exists()

    # WHEN the user taps Undo in the flash
    flash.get_by_role("button", name="Undo").tap()
    # THEN the photo's page is back with Keep and Trash, and its file back in place, byte for byte
    expect(page).to_have_url(re.compile(rf"/photos/{photo_id}\?reason=blurry$"))
    expect(page.locator('#decide button[value="trash"]')).to_be_visible()
    assert original.read_bytes() == content
    assert not in_trash.exists()
    # AND the queue counts it again
    page.goto(served.url + "/review/blurry")
    expect(blurry_count(page)).to_have_text(str(count))
    expect(page.locator(f'#grid .tile[data-id="{photo_id}"]')).to_have_count(1)

    # WHEN the user selects two photos of the grid and taps GIF in the selection bar
    for tile in tiles.all()[:2]:
        tile.locator(".pick input").check()
    selbar = page.locator("#selbar")
    expect(selbar).to_be_visible()
    page.screenshot(path=screenshots / "06-selection-bar.png")  # the viewport: the bar is fixed at its foot
    selbar.get_by_role("button", name="GIF").tap()
    # THEN the toast says where the animation was saved in the library, and it is there
    expect(toast).to_contain_text(re.compile(r"Saved piccl-gifs/\S+\.gif and piccl-gifs/\S+\.webp \(2 frames\)"))
    assert len(list((served.library / "piccl-gifs").glob("*.gif"))) == 1
    expect(toast.get_by_role("button", name="Undo")).to_be_hidden()  # nothing to undo: no file was moved
    page.screenshot(path=screenshots / "07-gif-toast.png")

    # THEN no page logged an error, threw, or broke its Content Security Policy
    assert problems.errors == []


def log_in(page: Any, url: str) -> None:
    """Open ``url``, which asks for the login first, and log in through the form."""
    from playwright.sync_api import expect

    page.goto(url)
    expect(page).to_have_url(re.compile(r"/login"))
    page.wait_for_load_state("networkidle")
    login = page.locator("form.login")
    login.get_by_label("Name").fill("piccl")
    login.get_by_label("Password").fill(PASSWORD)
    login.get_by_role("button", name="Log in").tap()
    expect(page, "logging in through the form failed").not_to_have_url(re.compile(r"/login"))


def test_phone_user_names_a_person_and_finds_the_name_on_their_photo(
        served: Served, phone: tuple[Any, Problems], screenshots: Path) -> None:
    from playwright.sync_api import expect

    page, problems = phone
    # GIVEN a face that piccl grouped into a person not named yet, on one of the photos
    with served.sessions() as session:
        photo = session.scalars(select(Photo).where(Photo.status == "ok", Photo.width.is_not(None))
                                .order_by(Photo.id)).first()
        assert photo is not None
        person = Person()
        session.add(person)
        session.flush()
        width, height = photo.width or 0, photo.height or 0
        session.add(Face(photo_id=photo.id, idx=99, x=width * 0.3, y=height * 0.25, w=width * 0.2, h=height * 0.3,
                         score=0.9, person_id=person.id))
        session.flush()
        refresh_people(session, [person.id])
        session.commit()
        photo_id, person_id = photo.id, person.id

    # WHEN the user logs in on a phone and opens People from the menu
    log_in(page, served.url + "/people/")
    expect(page).to_have_url(re.compile(r"/people/$"))
    page.locator(".top nav a", has_text="People").tap()
    # THEN the person's card shows their face and asks for a name
    card = page.locator(f'.person-card[data-person="{person_id}"]')
    expect(card.locator("img")).to_have_js_property("complete", True)
    assert card.locator("img").evaluate("img => img.naturalWidth") > 0
    expect(card.locator("figcaption")).to_have_text("Unnamed — name them")
    expect(card.locator(".n")).to_have_text("1 photo")
    field = card.get_by_label("Name this person")
    snap(page, screenshots, "people-01-people")

    # WHEN they type a name and save
    field.fill("Grandma Rose")
    card.get_by_role("button", name="Save").tap()
    # THEN the People page says so and the card carries the name
    expect(page.locator(".flash")).to_contain_text("Named Grandma Rose.")
    expect(card.locator(".who")).to_have_text("Grandma Rose")

    # WHEN they open the person, then the photo from the person's grid
    card.locator("a").first.tap()
    expect(page).to_have_url(re.compile(rf"/people/{person_id}$"))
    expect(page.get_by_label("Name")).to_have_value("Grandma Rose")
    tile = page.locator(f'.grid .tile[data-id="{photo_id}"]')
    expect(tile.locator("img")).to_have_js_property("complete", True)
    snap(page, screenshots, "people-02-person")
    tile.locator("a").tap()
    # THEN the photo page draws a box over the face, labelled with the name, and names her under the photo
    expect(page).to_have_url(re.compile(rf"/photos/{photo_id}$"))
    image = page.locator("#viewer img")
    expect(image).to_have_js_property("complete", True)
    box = page.locator(".facebox", has_text="Grandma Rose")
    expect(box).to_be_visible()
    expect(page.locator(".people-line")).to_contain_text("Grandma Rose")
    # AND the box sits where the face is on the displayed image (within two pixels)
    shown, drawn = image.bounding_box(), box.bounding_box()
    assert shown and drawn
    for got, want in ((drawn["x"], shown["x"] + 0.3 * shown["width"]),
                      (drawn["y"], shown["y"] + 0.25 * shown["height"]),
                      (drawn["width"], 0.2 * shown["width"]), (drawn["height"], 0.3 * shown["height"])):
        assert abs(got - want) <= 2, (drawn, shown)
    snap(page, screenshots, "people-03-photo")
    # AND its label leads back to her page
    box.tap()
    expect(page).to_have_url(re.compile(rf"/people/{person_id}$"))

    # THEN no page logged an error, threw, or broke its Content Security Policy
    assert problems.errors == []


def test_phone_user_reviews_groups_of_copies_one_at_a_time(
        served_copies: Served, phone: tuple[Any, Problems], screenshots: Path) -> None:
    from playwright.sync_api import expect

    page, problems = phone
    served = served_copies
    with served.sessions() as session:
        trip, home = (group_of(session, session.scalar(select(Photo.id).where(Photo.relpath == relpath)) or 0)
                      for relpath in ("trip/IMG_0001.jpg", "home/x.jpg"))
        assert trip is not None and home is not None
        trip_keeper, home_keeper = trip.keeper_photo_id, home.keeper_photo_id
        trip_others = [m.photo_id for m in trip.members if m.photo_id != trip_keeper]

    # GIVEN two groups of copies, the newer of three photos
    # WHEN the user logs in on a phone and opens the Duplicates tab
    log_in(page, served.url + "/review/duplicate")
    tab = page.locator('.tabs a[data-reason="duplicate"]')
    expect(tab).to_have_class(re.compile(r"\bon\b"))
    expect(tab.locator(".count")).to_have_text("3")
    # THEN one group shows: its photos side by side in a strip that snaps as it swipes, the keeper first and marked
    strip = page.locator("#strip")
    shots = strip.locator("figure.shot")
    expect(shots).to_have_count(3)
    keeper = shots.first
    expect(keeper).to_have_attribute("data-id", str(trip_keeper))
    expect(keeper.locator(".badge.keep")).to_have_text("Keep")
    for shot in shots.all():
        expect(shot.locator("img")).to_have_js_property("complete", True)
        assert shot.locator("img").evaluate("img => img.naturalWidth") > 0
    expect(shots.nth(1).get_by_role("button", name="Keep this one instead")).to_be_visible()
    assert strip.evaluate("el => getComputedStyle(el).scrollSnapType").startswith("x")
    assert strip.evaluate("el => el.scrollWidth > el.clientWidth"), "three photos should not fit a phone's width"
    expect(page.locator(".group-head")).to_contain_text("2 groups to review")
    # AND the four review tabs fit the phone's width (none hides behind a scroll)
    assert page.locator(".tabs").evaluate("el => el.scrollWidth <= el.clientWidth")
    snap(page, screenshots, "groups-01-duplicates")
    # AND a swipe (a scroll of the strip) brings the next photo into view
    strip.evaluate("el => el.scrollBy({left: el.clientWidth * 0.9})")
    expect(shots.nth(1)).to_be_in_viewport()
    page.screenshot(path=screenshots / "groups-02-swiped.png")

    # WHEN the user taps "Trash the others"
    page.get_by_role("button", name="Trash the others").tap()
    # THEN the next group opens, with a flash that offers Undo, and the two copies are in the trash folder
    expect(page).to_have_url(re.compile(rf"/groups/{home.id}\?reason=duplicate$"))
    flash = page.locator("form.flash.undo")
    expect(flash).to_contain_text("Kept IMG_0001.jpg and trashed 2 others.")
    expect(page.locator("#strip figure.shot")).to_have_count(2)
    expect(page.locator(".tabs a[data-reason='duplicate'] .count")).to_have_text("1")
    snap(page, screenshots, "groups-03-next-group")
    trash_root = served.library / served.trash_dir_name
    assert sorted(p.name for p in (trash_root / "trip").iterdir()) == ["IMG_0001 copy.jpg", "IMG_0001.webp"]
    assert (served.library / served.relpath(trip_keeper)).is_file()
    assert all(served.relpath(pid).startswith(served.trash_dir_name) for pid in trip_others)

    # WHEN the user taps "Make GIF" on this group
    page.get_by_role("button", name="Make GIF").tap()
    # THEN the page says where the GIF and the WebP were saved in the library
    expect(page.locator(".flash").last).to_contain_text(re.compile(r"Saved piccl-gifs/\S+\.gif and piccl-gifs/"))
    assert len(list((served.library / "piccl-gifs").glob("*.gif"))) == 1

    # WHEN the user trashes the other copy of this last group too
    page.get_by_role("button", name="Trash the others").tap()
    # THEN the tab says there is nothing left to review
    expect(page).to_have_url(re.compile(r"/review/duplicate$"))
    expect(page.locator(".empty-state")).to_have_text("No duplicates to review.")
    snap(page, screenshots, "groups-04-empty")
    assert (served.library / served.relpath(home_keeper)).is_file()

    # THEN no page logged an error, threw, or broke its Content Security Policy
    assert problems.errors == []


@pytest.fixture
def served_trip(tmp_path: Path, make_photo: Callable[..., Path], settings_for: Callable[..., Settings],
                sessions: sessionmaker[Session]) -> Iterator[Served]:
    """Four synthetic photos in trip/ (taken 1-4 July 2024), scanned without models and served: albums need no
    test data."""
    library = tmp_path / "lib"
    for i in range(4):
        make_photo(library / "trip" / f"IMG_{i:04d}.jpg", 800, 600, seed=10 + i,
                   exif_ifd={0x9003: f"2024:07:0{i + 1} 10:00:00"})
    no_models = tmp_path / "no-models"
    no_models.mkdir()
    settings = settings_for(library, password=PASSWORD, workers={"kind": "thread"}, models_dir=no_models)
    Scanner(settings, sessions).scan(library)
    with serving(library, settings, sessions) as found:
        yield found


def test_phone_user_makes_an_album_fills_it_from_a_grid_and_hearts_a_photo(
        served_trip: Served, phone: tuple[Any, Problems], screenshots: Path) -> None:
    from playwright.sync_api import expect

    from plugin.store.models import AlbumPhoto, Favorite, Library

    page, problems = phone
    served = served_trip
    with served.sessions() as session:
        library_id = session.scalar(select(Library.id))

    # WHEN the user logs in on a phone and opens Albums
    log_in(page, served.url + "/albums/")
    expect(page).to_have_url(re.compile(r"/albums/$"))
    # THEN Favourites comes first, empty, with a field to make an album above
    favourites = page.locator('.album-card[data-album="favourites"]')
    expect(favourites.locator(".n")).to_have_text("0 photos")
    snap(page, screenshots, "albums-01-albums")
    # WHEN they make an album
    page.get_by_label("New album name").fill("Beach day")
    page.get_by_role("button", name="Create").tap()
    # THEN its page opens, empty, saying how to fill it
    expect(page).to_have_url(re.compile(r"/albums/\d+$"))
    album_url = page.url
    expect(page.locator(".flash")).to_contain_text("Made the album Beach day.")
    expect(page.locator(".empty-state")).to_contain_text("No photos in Beach day yet")
    snap(page, screenshots, "albums-02-new-album")

    # WHEN they open the library's folder, select two photos and tap "Add to album" in the selection bar
    page.goto(f"{served.url}/library/{library_id}/folders?folder=trip")
    tiles = page.locator(".grid .tile")
    expect(tiles).to_have_count(4)
    chosen = {int(tile.get_attribute("data-id") or "0") for tile in tiles.all()[:2]}
    for tile in tiles.all()[:2]:
        tile.locator(".pick input").check()
    selbar = page.locator("#selbar")
    expect(selbar).to_be_visible()
    expect(selbar.locator("#selcount")).to_have_text("2")
    page.screenshot(path=screenshots / "albums-03-selection.png")  # the viewport: the bar is fixed at its foot
    selbar.get_by_role("button", name="Add to album").tap()
    # THEN a sheet offers their albums, and a field for a new one
    sheet = page.locator("#album-sheet")
    expect(sheet).to_be_visible()
    choice = sheet.get_by_role("button", name=re.compile(r"^Beach day"))
    expect(choice).to_be_visible()
    expect(sheet.get_by_label("New album name")).to_be_visible()
    page.screenshot(path=screenshots / "albums-04-chooser.png")
    # WHEN they choose the album
    choice.tap()
    # THEN the toast says what was added, the sheet closes and the selection is cleared
    toast = page.locator("#toast")
    expect(toast).to_contain_text("Added 2 photos to Beach day.")
    expect(sheet).to_be_hidden()
    expect(selbar).to_be_hidden()
    page.screenshot(path=screenshots / "albums-05-added.png")
    with served.sessions() as session:
        assert set(session.scalars(select(AlbumPhoto.photo_id))) == chosen

    # WHEN they open the album
    page.goto(album_url)
    # THEN the two photos are there, with the count
    album_tiles = page.locator(".grid .tile")
    expect(album_tiles).to_have_count(2)
    expect(page.locator("#album-count")).to_have_text("2")
    for tile in album_tiles.all():
        expect(tile.locator("img")).to_have_js_property("complete", True)
        assert tile.locator("img").evaluate("img => img.naturalWidth") > 0
    snap(page, screenshots, "albums-06-album")
    # WHEN they select one and tap Remove in the album's selection bar
    album_tiles.last.locator(".pick input").check()
    expect(selbar.get_by_role("button", name="Remove")).to_be_visible()
    page.screenshot(path=screenshots / "albums-07-album-selection.png")
    selbar.get_by_role("button", name="Remove").tap()
    # THEN it leaves the album's grid (not the library), and the toast offers Undo
    expect(album_tiles).to_have_count(1)
    expect(page.locator("#album-count")).to_have_text("1")
    expect(toast).to_contain_text("Took 1 photo out of Beach day.")
    with served.sessions() as session:
        assert len(set(session.scalars(select(AlbumPhoto.photo_id)))) == 1
    # WHEN they tap Undo
    toast.get_by_role("button", name="Undo").tap()
    # THEN it is back
    expect(album_tiles).to_have_count(2)
    expect(page.locator("#album-count")).to_have_text("2")

    # WHEN they open a photo from the album and tap the heart twice in a row (a double tap)
    album_tiles.first.locator("a").tap()
    expect(page).to_have_url(re.compile(r"/photos/\d+$"))
    photo_id = int(page.url.rsplit("/", 1)[1])
    heart = page.locator("#album-bar button.heart")
    expect(heart).to_have_attribute("aria-pressed", "false")
    heart.dblclick()
    # THEN the photo is hearted, once, and its page says it is in Favourites and the album
    expect(page.locator("#album-bar button.heart")).to_have_attribute("aria-pressed", "true")
    album_line = page.locator(".album-line")
    expect(album_line).to_contain_text("Favourites")
    expect(album_line).to_contain_text("Beach day")
    # AND "Add to album" opens to the other albums (none here) and a field for a new one
    page.locator("#album-bar summary").tap()
    expect(page.locator("#album-bar").get_by_label("New album name")).to_be_visible()
    snap(page, screenshots, "albums-08-hearted")
    with served.sessions() as session:
        assert session.scalars(select(Favorite.photo_id)).all() == [photo_id]

    # WHEN they go back to Albums
    page.goto(served.url + "/albums/")
    # THEN Favourites has the photo, the album its two, each with a cover
    expect(favourites.locator(".n")).to_have_text("1 photo")
    expect(page.locator(".album-card:not(.favourites) .n")).to_have_text("2 photos")
    for cover in page.locator(".album-card img").all():
        expect(cover).to_have_js_property("complete", True)
    snap(page, screenshots, "albums-09-albums-filled")
    # WHEN they open Favourites
    favourites.locator("a").first.tap()
    # THEN the hearted photo is there
    expect(page).to_have_url(re.compile(r"/albums/favourites$"))
    expect(page.locator(".grid .tile")).to_have_count(1)
    expect(page.locator(f'.grid .tile[data-id="{photo_id}"]')).to_have_count(1)
    snap(page, screenshots, "albums-10-favourites")

    # THEN no page logged an error, threw, or broke its Content Security Policy
    assert problems.errors == []
