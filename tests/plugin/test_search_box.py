"""The search box: one line read into dates, people, places, tags and file names; every term must hold."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from plugin.scan import Scanner
from plugin.search import Vocabulary, parse_query, search_condition, vocabulary
from plugin.store.models import Face, Person, Photo, PhotoTag
from tests.conftest import PhotoFactory

VOCAB = Vocabulary(tags=frozenset({"dog", "animal", "beach", "person"}), people={"anna": (1,), "barack obama": (2,)},
                   places={"lisbon": ("Lisbon",), "new york": ("New York",), "portugal": ("Portugal",)})


def kinds(text: str) -> list[tuple[str, tuple[str, ...]]]:
    return [(t.text, t.kinds) for t in parse_query(text, VOCAB)]


def test_words_are_read_as_dates_names_places_tags_and_file_names() -> None:
    assert kinds("dog 2023 Lisbon") == [("dog", ("tag",)), ("2023", ("date",)), ("Lisbon", ("place",))]
    assert kinds("Barack Obama new york IMG_12") == [
        ("Barack Obama", ("person",)), ("new york", ("place",)), ("IMG_12", ("file",))]
    assert kinds('"barack obama" aug 2022') == [("barack obama", ("person",)), ("aug 2022", ("date",))]


@pytest.mark.parametrize(("text", "start", "end"), [
    ("2023", datetime(2023, 1, 1), datetime(2024, 1, 1)),
    ("2023-08", datetime(2023, 8, 1), datetime(2023, 9, 1)),
    ("2023-12-31", datetime(2023, 12, 31), datetime(2024, 1, 1)),
    ("aug 2023", datetime(2023, 8, 1), datetime(2023, 9, 1)),
    ("2023 December", datetime(2023, 12, 1), datetime(2024, 1, 1)),
    ("2019-2021", datetime(2019, 1, 1), datetime(2022, 1, 1)),
    ("2023-05..2023-08", datetime(2023, 5, 1), datetime(2023, 9, 1)),
    ("2023-08..2023-05", datetime(2023, 5, 1), datetime(2023, 9, 1)),  # reversed: the same span
    ("2023-2", datetime(2023, 2, 1), datetime(2023, 3, 1)),
    ("2023-08-14 to 2023-08-20", datetime(2023, 8, 14), datetime(2023, 8, 21)),
    ("aug 2023 - sep 2023", datetime(2023, 8, 1), datetime(2023, 10, 1)),
    ("2023 – 2024", datetime(2023, 1, 1), datetime(2025, 1, 1)),
])
def test_dates(text: str, start: datetime, end: datetime) -> None:
    [term] = parse_query(text, VOCAB)
    assert (term.kinds, term.start, term.end) == (("date",), start, end)


def test_not_dates() -> None:
    assert kinds("1234 2023-13 99999") == [("1234", ("file",)), ("2023-13", ("file",)), ("99999", ("file",))]
    # A month with a year no calendar has is no date (it once raised instead)
    assert kinds("aug 0000 dec 9999") == [("aug", ("file",)), ("0000", ("file",)), ("dec", ("file",)),
                                          ("9999", ("file",))]


@pytest.fixture
def library(tmp_path: Path, make_photo: PhotoFactory, settings_for, sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    """GIVEN a scanned library whose photos carry tags, places, a named person and dates."""
    lib = tmp_path / "photos"
    for name in ("lisbon_dog.jpg", "lisbon_beach.jpg", "porto_dog.jpg", "anna_2022.jpg", "IMG_0012.jpg"):
        make_photo(lib / name, 320, 240, seed=len(name))
    Scanner(settings_for(lib), sessions).scan(lib)
    facts = {
        "lisbon_dog.jpg": (datetime(2023, 8, 14, 10), "Lisbon", ["dog", "animal"]),
        "lisbon_beach.jpg": (datetime(2023, 8, 15, 10), "Lisbon", ["beach"]),
        "porto_dog.jpg": (datetime(2023, 5, 1, 10), "Porto", ["dog", "animal"]),
        "anna_2022.jpg": (datetime(2022, 8, 1, 10), None, ["person"]),
        "IMG_0012.jpg": (None, None, []),
    }
    with sessions() as session:
        anna = Person(name="Anna", origin="user")
        session.add(anna)
        session.flush()
        for relpath, (taken, city, tags) in facts.items():
            photo = session.scalars(select(Photo).where(Photo.relpath == relpath)).one()
            session.execute(update(Photo).where(Photo.id == photo.id).values(
                taken_at=taken, place_city=city, place_country="Portugal" if city else None))
            session.query(PhotoTag).filter(PhotoTag.photo_id == photo.id).delete()
            session.add_all(PhotoTag(photo_id=photo.id, kind="object" if t == "dog" else "piccl", tag=t, score=0.9)
                            for t in tags)
            if relpath == "anna_2022.jpg":
                session.add(Face(photo_id=photo.id, idx=0, x=1, y=1, w=10, h=10, score=0.9, person_id=anna.id))
        session.commit()
    return sessions


def find(sessions: sessionmaker[Session], text: str) -> list[str]:
    with sessions() as session:
        terms = parse_query(text, vocabulary(session))
        return sorted(session.scalars(select(Photo.relpath).where(search_condition(terms))))


def test_search_combines_terms(library: sessionmaker[Session]) -> None:
    assert find(library, "dog") == ["lisbon_dog.jpg", "porto_dog.jpg"]
    assert find(library, "dog 2023 Lisbon") == ["lisbon_dog.jpg"]
    assert find(library, "lisbon aug 2023") == ["lisbon_beach.jpg", "lisbon_dog.jpg"]
    assert find(library, "portugal 2023-05") == ["porto_dog.jpg"]
    assert find(library, "anna") == ["anna_2022.jpg"]  # the person, and the file name would match too
    assert find(library, "anna 2023") == []
    assert find(library, "img_0012") == ["IMG_0012.jpg"]
    assert find(library, "2019-2022") == ["anna_2022.jpg"]
    assert find(library, "100%") == []  # LIKE wildcards are the user's characters, not patterns
