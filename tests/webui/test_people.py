"""People: the People page, a person's photos and faces, the unassigned faces, and every correction from the UI.

Faces and people are written straight into the database of a scanned synthetic library (no face model runs):
boxes on its real 800 x 600 photos, small float16 embeddings.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from plugin.people.service import refresh_people
from plugin.store.models import Face, FaceRejection, Person, Photo
from tests.webui.conftest import UI

BOX = (200.0, 200.0, 120.0, 120.0)  # x, y, w, h in the 800 x 600 photo's pixels


@pytest.fixture
def people_ui(make_ui: Callable[..., UI], tmp_path: Path) -> UI:
    """The synthetic library scanned without models (no faces found by itself), logged in."""
    empty = tmp_path / "no-models"
    empty.mkdir()
    ui = make_ui(models_dir=empty, inference={"download": False})
    assert ui.login().status_code == 302
    return ui


def _vector(seed: int) -> bytes:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return (v / np.linalg.norm(v)).astype(np.float16).tobytes()


def _photos(ui: UI, count: int, start: datetime | None = None) -> list[int]:
    """``count`` photo rows without files (placeholder thumbnails), a day apart when ``start`` is given."""
    ids = []
    with ui.sessions() as session:
        for i in range(count):
            photo = Photo(library_id=1, relpath=f"people/p{i:03d}.jpg", size=1, mtime_ns=1, status="ok",
                          content_hash=f"{i + 1:064x}", width=800, height=600,
                          taken_at=start + timedelta(days=i) if start else None)
            session.add(photo)
            session.flush()
            ids.append(photo.id)
        session.commit()
    return ids


def _faces(ui: UI, photo_ids: list[int], person_id: int | None = None, box: tuple[float, ...] = BOX,
           **fields: Any) -> list[int]:
    """One face on each photo, in ``person_id`` (or in no one)."""
    with ui.sessions() as session:
        faces = []
        for photo_id in photo_ids:
            idx = session.scalar(select(func.count()).select_from(Face).where(Face.photo_id == photo_id)) or 0
            face = Face(photo_id=photo_id, idx=idx, x=box[0], y=box[1], w=box[2], h=box[3], score=0.9,
                        sharpness=100.0, embed_model="test-128", embedding=_vector(photo_id * 100 + idx),
                        person_id=person_id, **fields)
            session.add(face)
            faces.append(face)
        session.flush()
        if person_id is not None:
            refresh_people(session, [person_id], delete_empty=False)
        session.commit()
        return [f.id for f in faces]


def _person(ui: UI, name: str | None, photo_ids: list[int], **fields: Any) -> tuple[int, list[int]]:
    """A person (named or not) with a face on each of ``photo_ids``."""
    with ui.sessions() as session:
        person = Person(name=name, **fields)
        session.add(person)
        session.commit()
        person_id = person.id
    return person_id, _faces(ui, photo_ids, person_id)


def _people_order(page: str) -> list[int]:
    return [int(v) for v in re.findall(r'data-person="(\d+)"', page)]


def _face_ids(page: str) -> list[int]:
    return [int(v) for v in re.findall(r'data-face="(\d+)"', page)]


def _faces_of(ui: UI, person_id: int) -> list[int]:
    with ui.sessions() as session:
        return sorted(session.scalars(select(Face.id).where(Face.person_id == person_id)))


def _get(ui: UI, person_id: int) -> Person | None:
    with ui.sessions() as session:
        return session.get(Person, person_id)


def _post(ui: UI, url: str, **data: Any) -> Any:
    return ui.client.post(url, data={"csrf_token": ui.csrf(), **data})


def _flash(ui: UI, url: str = "/people/") -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<p class="flash \w+">([^<]*)</p>', ui.client.get(url).text)]


def test_people_page_lists_unnamed_people_first_with_their_counts(people_ui: UI) -> None:
    # GIVEN two named and two unnamed people, in different numbers of photos, and one face in no one
    photos = _photos(people_ui, 8)
    zoe, _ = _person(people_ui, "Zoe", photos[:1])
    small, _ = _person(people_ui, None, photos[1:2])
    big, _ = _person(people_ui, None, photos[2:5])
    anna, _ = _person(people_ui, "anna", photos[5:7])
    _faces(people_ui, photos[7:8])
    # WHEN the People page is opened
    page = people_ui.client.get("/people/")
    assert page.status_code == 200
    # THEN the unnamed come first, the biggest first, then the named by name, each with its photo count
    assert _people_order(page.text) == [big, small, anna, zoe]
    cards = dict(re.findall(r'data-person="(\d+)">(.*?)</figure>', page.text, re.S))
    assert '<span class="n">3 photos</span>' in cards[str(big)]
    assert '<span class="n">1 photo</span>' in cards[str(zoe)] and '<b class="who">Zoe</b>' in cards[str(zoe)]
    # AND the unnamed ask for a name, with the names known so far to pick from
    assert "Unnamed — name them" in cards[str(small)] and 'aria-label="Name this person"' in cards[str(small)]
    assert "Unnamed — name them" not in cards[str(anna)] and 'aria-label="Name this person"' not in cards[str(anna)]
    assert '<datalist id="people-names"><option value="anna"><option value="Zoe"></datalist>' in page.text
    # AND each card shows its cover face, a link to the unassigned faces says how many wait there
    assert re.search(r'src="/people/faces/\d+/thumb\?v=[0-9a-f]+-200-200-120-120"', page.text)
    assert re.search(r'href="/people/unassigned" class="">Unassigned faces <span class="count">1</span>', page.text)
    assert 'href="/people/" class="on">People</a>' in page.text  # the nav


def test_the_people_grid_pages_to_the_end(people_ui: UI) -> None:
    # GIVEN more people than one page holds (120)
    with people_ui.sessions() as session:
        session.add_all(Person(name=f"P{i:03d}") for i in range(130))
        session.commit()
    # WHEN the grid is scrolled to the end THEN every person comes once, by name
    page = people_ui.client.get("/people/").text
    ids, more = _people_order(page), re.search(r'data-more="([^"]+)"', page)
    assert len(ids) == 120 and more
    rest = people_ui.client.get(html.unescape(more.group(1))).text
    assert "<html" not in rest and "data-more" not in rest
    with people_ui.sessions() as session:
        by_name = list(session.scalars(select(Person.id).order_by(Person.name)))
    assert ids + _people_order(rest) == by_name


def test_naming_and_renaming_a_person(people_ui: UI) -> None:
    photos = _photos(people_ui, 2)
    person, _ = _person(people_ui, None, photos)
    # WHEN an unnamed person is named from the People page
    response = _post(people_ui, f"/people/{person}/name", name="  Mia   Rose ", next="/people/")
    # THEN the name is kept tidied, and the People page is shown again, saying so
    assert response.status_code == 302 and response.headers["Location"] == "/people/"
    assert _get(people_ui, person).name == "Mia Rose"
    assert _flash(people_ui) == ["Named Mia Rose."]
    # WHEN renamed from their page THEN the new name stands, and the page comes back
    response = _post(people_ui, f"/people/{person}/name", name="Mia", next=f"/people/{person}")
    assert response.headers["Location"] == f"/people/{person}"
    assert _get(people_ui, person).name == "Mia"
    assert 'value="Mia"' in people_ui.client.get(f"/people/{person}").text
    # WHEN the name is empty THEN nothing changes and the error says why
    response = _post(people_ui, f"/people/{person}/name", name="   ", next=f"/people/{person}")
    assert response.status_code == 302
    assert _get(people_ui, person).name == "Mia"
    assert "Not done: a name cannot be empty." in _flash(people_ui, f"/people/{person}")
    # AND an unknown person is a 404
    assert _post(people_ui, "/people/999/name", name="X").status_code == 404


def test_naming_someone_with_a_name_taken_makes_them_one_person(people_ui: UI) -> None:
    photos = _photos(people_ui, 3)
    anna, anna_faces = _person(people_ui, "Anna", photos[:1])
    other, other_faces = _person(people_ui, None, photos[1:3])
    # WHEN an unnamed person is given Anna's name (in other letters)
    response = _post(people_ui, f"/people/{other}/name", name="ANNA", next="/people/")
    # THEN they are merged into Anna, whose page opens
    assert response.headers["Location"] == f"/people/{anna}"
    assert _get(people_ui, other) is None
    assert _faces_of(people_ui, anna) == sorted(anna_faces + other_faces)
    assert _get(people_ui, anna).photo_count == 3


def test_a_name_in_other_letters_is_the_same_name_in_any_alphabet(people_ui: UI) -> None:
    # GIVEN Élodie and Ødegaard, and two unnamed people
    photos = _photos(people_ui, 4)
    elodie, elodie_faces = _person(people_ui, "Élodie", photos[:1])
    odegaard, odegaard_faces = _person(people_ui, "Ødegaard", photos[1:2])
    first, first_faces = _person(people_ui, None, photos[2:3])
    second, second_faces = _person(people_ui, None, photos[3:4])
    # WHEN one is named "ÉLODIE" and the other merged into "ødegaard"
    named = _post(people_ui, f"/people/{first}/name", name="ÉLODIE", next="/people/")
    merged = _post(people_ui, f"/people/{second}/merge", into="ødegaard", next=f"/people/{second}")
    # THEN each is one person with the one named so, on every database (SQLite's lower() knows ASCII only)
    assert named.headers["Location"] == f"/people/{elodie}" and merged.headers["Location"] == f"/people/{odegaard}"
    assert _faces_of(people_ui, elodie) == sorted(elodie_faces + first_faces)
    assert _faces_of(people_ui, odegaard) == sorted(odegaard_faces + second_faces)
    assert _get(people_ui, elodie).name == "Élodie"


def test_a_name_with_a_control_character_is_refused(people_ui: UI) -> None:
    # GIVEN Mia
    photos = _photos(people_ui, 2)
    mia, faces = _person(people_ui, "Mia", photos)
    url = f"/people/{mia}"
    # WHEN she is renamed with a NUL in the name (which PostgreSQL refuses to store)
    assert _post(people_ui, f"{url}/name", name="Mi\x00a", next=url).status_code == 302
    # THEN nothing changes and the error says why
    assert _get(people_ui, mia).name == "Mia"
    assert "Not done: a name cannot hold control characters." in _flash(people_ui, url)
    # WHEN her faces are moved to such a name, or she is merged into one THEN no one is made or found
    assert _post(people_ui, f"{url}/faces", action="move", target="Zo\x00e", face_id=faces[0]).status_code == 302
    assert "Not done: a name cannot hold control characters." in _flash(people_ui, url)
    assert _post(people_ui, f"{url}/merge", into="Mi\x00a", next=url).status_code == 302
    assert any(m.startswith("Not done: no one is called Mi") for m in _flash(people_ui, url))
    assert _faces_of(people_ui, mia) == faces
    with people_ui.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 1


def test_merge_keeps_every_face_exactly_once(people_ui: UI) -> None:
    # GIVEN an unnamed person and Bo, who share a photo
    photos = _photos(people_ui, 4)
    source, source_faces = _person(people_ui, None, photos[:3])
    bo, bo_faces = _person(people_ui, "Bo", photos[2:4])
    # WHEN the unnamed one is merged into "bo" from their page
    response = _post(people_ui, f"/people/{source}/merge", into="bo", next=f"/people/{source}")
    # THEN Bo has every face of both, each once, and the merged person is gone
    assert response.status_code == 302 and response.headers["Location"] == f"/people/{bo}"
    assert _get(people_ui, source) is None
    assert _faces_of(people_ui, bo) == sorted(source_faces + bo_faces)
    with people_ui.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Face)) == 5
    assert (_get(people_ui, bo).face_count, _get(people_ui, bo).photo_count) == (5, 4)
    assert "Merged this unnamed person into Bo: 4 photos now." in _flash(people_ui, f"/people/{bo}")
    # WHEN the name is no one's, or the person's own THEN nothing happens and the error says so
    _post(people_ui, f"/people/{bo}/merge", into="Nobody", next=f"/people/{bo}")
    assert "Not done: no one is called Nobody." in _flash(people_ui, f"/people/{bo}")
    _post(people_ui, f"/people/{bo}/merge", into="Bo", next=f"/people/{bo}")
    assert "Not done: that is this person." in _flash(people_ui, f"/people/{bo}")
    assert _faces_of(people_ui, bo) == sorted(source_faces + bo_faces)


def test_moving_faces_to_a_new_person_and_to_someone_known(people_ui: UI) -> None:
    photos = _photos(people_ui, 6)
    person, faces = _person(people_ui, "Al", photos[:5])
    anna, anna_faces = _person(people_ui, "Anna", photos[5:6])
    # WHEN two of Al's faces are moved to "Cleo", whom no one is called yet
    response = _post(people_ui, f"/people/{person}/faces", action="move", target="Cleo", face_id=faces[:2],
                     next=f"/people/{person}/faces")
    assert response.headers["Location"] == f"/people/{person}/faces"
    # THEN a new person Cleo has them, confirmed; Al has the rest and may never get them back
    with people_ui.sessions() as session:
        cleo = session.scalars(select(Person).where(Person.name == "Cleo")).one()
        moved = session.scalars(select(Face).where(Face.id.in_(faces[:2]))).all()
        assert {f.person_id for f in moved} == {cleo.id} and all(f.confirmed for f in moved)
        assert cleo.origin == "user" and cleo.face_count == 2
        rejected = set(session.scalars(select(FaceRejection.face_id).where(FaceRejection.person_id == person)))
    assert rejected == set(faces[:2])
    assert _faces_of(people_ui, person) == faces[2:]
    assert "Moved 2 faces to Cleo." in _flash(people_ui, f"/people/{person}/faces")
    # WHEN one more is moved to "anna", whom someone is called THEN Anna gets it; no new person is made
    _post(people_ui, f"/people/{person}/faces", action="move", target="anna", face_id=faces[2])
    assert _faces_of(people_ui, anna) == sorted([*anna_faces, faces[2]])
    with people_ui.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 3
    # WHEN no name is typed THEN nothing moves
    _post(people_ui, f"/people/{person}/faces", action="move", target=" ", face_id=faces[3])
    assert _faces_of(people_ui, person) == faces[3:]


def test_not_this_person_sends_the_face_to_the_unassigned_faces(people_ui: UI) -> None:
    photos = _photos(people_ui, 3)
    person, faces = _person(people_ui, "Dee", photos)
    # WHEN the user says a face is not Dee
    faces_page = people_ui.client.get(f"/people/{person}/faces").text
    assert sorted(_face_ids(faces_page)) == faces and ">Not Dee</button>" in faces_page
    response = _post(people_ui, f"/people/{person}/faces", action="remove", face_id=faces[0],
                     next=f"/people/{person}/faces")
    assert response.headers["Location"] == f"/people/{person}/faces"
    # THEN the face is in no one, remembered as not Dee
    with people_ui.sessions() as session:
        face = session.get(Face, faces[0])
        assert face is not None and face.person_id is None and not face.confirmed
        assert session.scalars(select(FaceRejection.person_id).where(FaceRejection.face_id == faces[0])).all() == [
            person]
    # AND it is on the unassigned faces page, no longer on Dee's
    assert _face_ids(people_ui.client.get("/people/unassigned").text) == [faces[0]]
    assert faces[0] not in _face_ids(people_ui.client.get(f"/people/{person}/faces").text)
    assert _get(people_ui, person).face_count == 2


def test_an_unnamed_person_left_without_faces_goes(people_ui: UI) -> None:
    photos = _photos(people_ui, 1)
    person, faces = _person(people_ui, None, photos)
    # WHEN their only face is taken out THEN the person is gone and the People page opens
    response = _post(people_ui, f"/people/{person}/faces", action="remove", face_id=faces,
                     next=f"/people/{person}/faces")
    assert response.headers["Location"] == "/people/"
    assert _get(people_ui, person) is None
    assert people_ui.client.get(f"/people/{person}").status_code == 404


def test_not_a_face_and_confirm(people_ui: UI) -> None:
    photos = _photos(people_ui, 3)
    person, faces = _person(people_ui, "Eve", photos)
    # WHEN a detection is marked as no face THEN it leaves Eve and shows nowhere
    _post(people_ui, f"/people/{person}/faces", action="not_a_face", face_id=faces[0])
    with people_ui.sessions() as session:
        face = session.get(Face, faces[0])
        assert face is not None and face.not_a_face and face.person_id is None
    assert faces[0] not in _face_ids(people_ui.client.get(f"/people/{person}/faces").text)
    assert faces[0] not in _face_ids(people_ui.client.get("/people/unassigned").text)
    assert _get(people_ui, person).face_count == 2
    # WHEN a face is confirmed THEN it is the user's from now on, marked on the page, listed after the others
    _post(people_ui, f"/people/{person}/faces", action="confirm", face_id=faces[1])
    with people_ui.sessions() as session:
        assert session.get(Face, faces[1]).confirmed
    page = people_ui.client.get(f"/people/{person}/faces").text
    assert _face_ids(page) == [faces[2], faces[1]]
    assert re.search(rf'class="tile face confirmed" data-face="{faces[1]}"', page)


def test_face_actions_refuse_what_they_cannot_do(people_ui: UI) -> None:
    photos = _photos(people_ui, 2)
    person, faces = _person(people_ui, "Fay", photos[:1])
    other, other_faces = _person(people_ui, "Gus", photos[1:])
    url = f"/people/{person}/faces"
    # WHEN nothing is selected, or a face of someone else, or an unknown action
    _post(people_ui, url, action="remove", next=url)
    assert "Not done: select one or more faces first." in _flash(people_ui, url)
    _post(people_ui, url, action="remove", face_id=other_faces, next=url)
    assert "Not done: 1 selected face no longer Fay's." in _flash(people_ui, url)
    assert _post(people_ui, url, action="explode", face_id=faces).status_code == 400
    # THEN nothing changed
    assert (_faces_of(people_ui, person), _faces_of(people_ui, other)) == (faces, other_faces)
    with people_ui.sessions() as session:
        assert session.scalar(select(func.count()).select_from(FaceRejection)) == 0


def test_unassigned_faces_get_a_name(people_ui: UI) -> None:
    # GIVEN faces in no one: two clear ones, one too small to group, and Hal with one face
    photos = _photos(people_ui, 5)
    small = _faces(people_ui, photos[:1], quality="small")
    clear = _faces(people_ui, photos[1:3])
    hal, hal_faces = _person(people_ui, "Hal", photos[3:4])
    last = _faces(people_ui, photos[4:5])
    # WHEN the unassigned faces are opened THEN the clear ones come first (newest first), the small one last
    page = people_ui.client.get("/people/unassigned").text
    assert _face_ids(page) == [last[0], *reversed(clear), small[0]]
    assert 'Unassigned faces <span class="count">4</span>' in page
    # WHEN two are named "Ivy" THEN a new person Ivy has them
    response = _post(people_ui, "/people/unassigned", action="name", name="Ivy", face_id=clear,
                     next="/people/unassigned")
    assert response.headers["Location"] == "/people/unassigned"
    with people_ui.sessions() as session:
        ivy = session.scalars(select(Person).where(Person.name == "Ivy")).one()
    assert _faces_of(people_ui, ivy.id) == clear
    assert "2 faces named Ivy." in _flash(people_ui, "/people/unassigned")
    # WHEN one is named "hal" THEN Hal gets it
    _post(people_ui, "/people/unassigned", action="name", name="hal", face_id=last)
    assert _faces_of(people_ui, hal) == sorted(hal_faces + last)
    # WHEN the small one is no face THEN nothing is left to name
    _post(people_ui, "/people/unassigned", action="not_a_face", face_id=small)
    assert "Every face found is in someone." in people_ui.client.get("/people/unassigned").text


def test_hidden_people_leave_the_people_page(people_ui: UI) -> None:
    photos = _photos(people_ui, 2)
    shown, _ = _person(people_ui, "Jo", photos[:1])
    stranger, _ = _person(people_ui, None, photos[1:])
    # WHEN someone is hidden from their page
    response = _post(people_ui, f"/people/{stranger}/hide", hidden="1", next=f"/people/{stranger}")
    assert response.headers["Location"] == f"/people/{stranger}"
    # THEN the People page lists them no more, but offers the hidden ones
    page = people_ui.client.get("/people/").text
    assert _people_order(page) == [shown]
    assert 'href="/people/?hidden=1" class="">Hidden <span class="count">1</span>' in page
    hidden = people_ui.client.get("/people/?hidden=1").text
    assert _people_order(hidden) == [stranger] and ">Show again</button>" in hidden
    assert "Show on People again" in people_ui.client.get(f"/people/{stranger}").text
    # WHEN shown again THEN they are back
    _post(people_ui, f"/people/{stranger}/hide", hidden="0", next="/people/?hidden=1")
    assert _people_order(people_ui.client.get("/people/").text) == [stranger, shown]


def test_a_persons_photos_newest_first_and_their_faces_paged(people_ui: UI) -> None:
    # GIVEN Kim in 130 photos over 130 days, one of them since trashed
    photos = _photos(people_ui, 130, start=datetime(2022, 1, 1))
    person, faces = _person(people_ui, "Kim", photos)
    with people_ui.sessions() as session:
        session.get(Photo, photos[0]).trashed_at = datetime(2024, 1, 1)
        session.commit()
    # WHEN their page is opened THEN their photos come newest first, a page at a time, without the trashed one
    page = people_ui.client.get(f"/people/{person}").text
    shown = [int(v) for v in re.findall(r'<figure class="tile" data-id="(\d+)"', page)]
    assert shown == list(reversed(photos))[:60]
    more = re.search(r'data-more="([^"]+)"', page)
    assert more and html.unescape(more.group(1)).startswith(f"/people/{person}/tiles?cursor=")
    # AND their faces come 120 a page, every face once
    first = people_ui.client.get(f"/people/{person}/faces").text
    link = re.search(r'href="([^"]+)">More faces</a>', first)
    assert len(_face_ids(first)) == 120 and link
    second = people_ui.client.get(html.unescape(link.group(1))).text
    assert sorted(_face_ids(first) + _face_ids(second)) == faces[1:]
    assert "More faces" not in second and ">First faces</a>" in second


def test_face_crops_are_jpegs_with_an_etag(people_ui: UI) -> None:
    # GIVEN a face on a real photo file, whose crop the scan did not leave
    pid = people_ui.photo_id("2024/sharp.jpg")
    [face] = _faces(people_ui, [pid])
    # WHEN its crop is asked for THEN it is made from the photo: a small square JPEG with an ETag, private
    first = people_ui.client.get(f"/people/faces/{face}/thumb")
    assert first.status_code == 200 and first.mimetype == "image/jpeg"
    assert first.data[:3] == b"\xff\xd8\xff"
    assert "private" in first.headers["Cache-Control"]
    etag = first.headers["ETag"]
    assert etag.endswith('-200-200-120-120"')
    assert list((people_ui.settings.data_dir / "thumbnails").rglob("*-200-200-120-120.jpg"))
    # AND asked again with its ETag THEN 304; a URL with the right version may be kept for good
    assert people_ui.client.get(f"/people/faces/{face}/thumb", headers={"If-None-Match": etag}).status_code == 304
    page = people_ui.client.get(f"/people/{_person(people_ui, 'Lu', [pid])[0]}").text
    version = re.search(r'src="(/people/faces/\d+/thumb)"', page)
    assert version  # the avatar
    cards = people_ui.client.get("/people/").text
    versioned = html.unescape(re.findall(r'src="(/people/faces/\d+/thumb\?v=[^"]+)"', cards)[0])
    assert "immutable" in people_ui.client.get(versioned).headers["Cache-Control"]
    # AND an unknown face is a 404; a face whose file is gone is the placeholder
    assert people_ui.client.get("/people/faces/999/thumb").status_code == 404
    [gone] = _faces(people_ui, _photos(people_ui, 1))
    assert people_ui.client.get(f"/people/faces/{gone}/thumb").mimetype == "image/svg+xml"


def test_photo_page_shows_face_boxes_and_names(people_ui: UI) -> None:
    # GIVEN a photo with Max's face, an unnamed person's, one in no one, and one that is no face
    pid = people_ui.photo_id("2024/sharp.jpg")
    person, [max_face] = _person(people_ui, "Max <3", [pid])
    unnamed, _ = _person(people_ui, None, [pid])
    with people_ui.sessions() as session:
        session.get(Face, max_face).x, session.get(Face, max_face).y = 200.0, 200.0
        session.commit()
    _faces(people_ui, [pid], box=(600.0, 500.0, 100.0, 100.0))
    _faces(people_ui, [pid], box=(10.0, 10.0, 50.0, 50.0), not_a_face=True)
    # WHEN the photo's page is opened
    page = people_ui.client.get(f"/photos/{pid}").text
    # THEN each face has a box in percent of the photo, labelled with the name (escaped) or "?"
    boxes = re.findall(r'<a class="facebox([^"]*)" data-box="([^"]+)"\s+href="([^"]+)"><span>([^<]*)</span>', page)
    assert boxes == [
        ("", "25.00 33.33 15.00 20.00", f"/people/{person}", "Max &lt;3"),
        (" unknown", "25.00 33.33 15.00 20.00", f"/people/{unnamed}", "?"),
        (" unknown up", "75.00 83.33 12.50 16.67", "/people/unassigned", "?"),
    ]
    # AND a line under the photo names the people in it
    line = re.search(r'<p class="people-line">(.*?)</p>', page, re.S)
    assert line
    assert f'<a class="chip" href="/people/{person}">Max &lt;3</a>' in line.group(1)
    assert f'<a class="chip" href="/people/{unnamed}">Unnamed</a>' in line.group(1)
    assert "1 unassigned face<" in line.group(1)
    # AND a photo without faces has neither
    other = people_ui.client.get(f"/photos/{people_ui.photo_id('2023/dark.jpg')}").text
    assert "facebox" not in other and "people-line" not in other


def test_people_pages_need_a_login(people_ui: UI) -> None:
    photos = _photos(people_ui, 1)
    person, [face] = _person(people_ui, "Ned", photos)
    people_ui.client.post("/logout", data={"csrf_token": people_ui.csrf()})
    for url in ("/people/", f"/people/{person}", f"/people/{person}/faces", "/people/unassigned",
                f"/people/faces/{face}/thumb"):
        # WHEN someone not logged in opens a People page THEN they are sent to the login
        response = people_ui.client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
    # AND a correction without the form's token is refused
    people_ui.login()
    assert people_ui.client.post(f"/people/{person}/name", data={"name": "Evil"}).status_code == 400
    assert _get(people_ui, person).name == "Ned"
